/* Packed-batch forward and backward of the Llama-family transformer.
 *
 * Per layer l (x[l] is the residual stream entering the layer):
 *   ln1 = rmsnorm(x[l]); q,k,v = linear(ln1); rope(q,k); att = attention(q,k,v)
 *   h[l] = x[l] + linear(att, Wo)
 *   ln2 = rmsnorm(h[l]); gate,up = linear(ln2); x[l+1] = h[l] + linear(silu(gate)*up, Wdown)
 * then lnf = rmsnorm(x[L]) and, for scored tokens only, log-softmax over the
 * vocabulary of lnf[t-1]·W_head (chunked). Everything forward needs for
 * backward is kept in anc_acts except silu(gate)*up, recomputed (cheap). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/lora.h"
#include "model/model.h"
#include "tensor/ops.h"

struct anc_acts {
    int ckpt;                   /* gradient checkpointing: inner activations of one layer at a time */
    int64_t cap_tokens, cap_rows;
    size_t cap_scratch;
    int layers, C, F, QD, KD, H, half_d;
    int64_t n_rows;             /* rows of the last forward */
    int64_t n_tokens;           /* tokens of the last forward */
    int32_t *pos;               /* [N] */
    float *cos_t, *sin_t;       /* [N, D/2] */
    float *x;                   /* [L+1, N, C] residual stream */
    /* inner activations, [S, ...] with S = L slots, or 1 when checkpointing */
    float *h;                   /* [S, N, C] mid-layer residual */
    float *ln1, *ln2;           /* [S, N, C] */
    float *rstd1, *rstd2;       /* [S, N] */
    float *q, *att;             /* [S, N, QD] */
    float *k, *v;               /* [S, N, KD] */
    float *lse;                 /* [S, N, H] */
    float *gate, *up;           /* [S, N, F] */
    float *act;                 /* [N, F] temporary */
    float *lnf;                 /* [N, C] */
    float *rstdf;               /* [N] */
    int64_t *rows;              /* [R] token index whose prediction is scored (t-1) */
    int32_t *targets;           /* [R] */
    float *hrows;               /* [R, C] */
    float *row_logp, *row_lse, *row_lsum, *drow;  /* [R] */
    float *scratch;
    /* backward */
    float *dx, *dln;            /* [N, C] */
    float *dq, *datt;           /* [N, QD] */
    float *dk, *dv;             /* [N, KD] */
    float *dgate, *dup, *dact;  /* [N, F] */
    float *dhrows;              /* [R, C] */
    float *lora_scratch;        /* LoRA's per-projection scratch (anc_lora_scratch_floats) */
    size_t cap_lora;
    anc_mm mm;                  /* bf16 products (model in bf16): oneDNN context + conversion buffers */
    size_t bytes;
};

anc_acts *anc_acts_create(void) { return calloc(1, sizeof(anc_acts)); }

anc_acts *anc_acts_create_forward_only(void) {
    anc_acts *a = anc_acts_create();
    anc_acts_set_checkpointing(a, 1);
    return a;
}

void anc_acts_set_checkpointing(anc_acts *a, int on) {
    on = on != 0;
    if (!a || a->ckpt == on) return;
    a->ckpt = on;
    a->cap_tokens = 0; /* the next forward sizes the buffers for the new mode */
}

void anc_acts_free(anc_acts *a) {
    if (!a) return;
    float **fs[] = {&a->cos_t, &a->sin_t, &a->x, &a->h, &a->ln1, &a->ln2, &a->rstd1, &a->rstd2, &a->q,
                    &a->att, &a->k, &a->v, &a->lse, &a->gate, &a->up, &a->act, &a->lnf, &a->rstdf,
                    &a->hrows, &a->row_logp, &a->row_lse, &a->row_lsum, &a->drow, &a->scratch, &a->dx,
                    &a->dln, &a->dq, &a->datt, &a->dk, &a->dv, &a->dgate, &a->dup, &a->dact, &a->dhrows};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) free(*fs[i]);
    free(a->pos);
    free(a->lora_scratch);
    free(a->rows);
    free(a->targets);
    anc_mm_release(&a->mm);
    free(a);
}

/* The product context for a pass of m: NULL (fp32) unless m is in bf16,
 * then a->mm bound to m's weight slab (the oneDNN context made once). */
static anc_status bind_mm(const anc_model *m, anc_acts *a, anc_mm **mm, anc_error *err) {
    *mm = NULL;
    if (!m->params16) return ANC_OK;
    if (!a->mm.g) {
        anc_status st = anc_gemm_create(&a->mm.g, err);
        if (st) return st;
    }
    a->mm.slab = m->params;
    a->mm.slab16 = m->params16;
    a->mm.slab_n = m->n_params;
    a->mm.slab_bf16_only = m->frozen16;
    a->mm.status = ANC_OK;
    *mm = &a->mm;
    return ANC_OK;
}

/* The error a bf16 product recorded during the pass, if any. */
static anc_status mm_result(const anc_mm *mm, anc_error *err) {
    if (!mm || !mm->status) return ANC_OK;
    return anc_error_set(err, mm->status, "bf16 matrix product: %s", mm->message);
}

size_t anc_acts_bytes(const anc_acts *a) { return a ? a->bytes : 0; }

/* Reallocates *p to n elements of size sz (contents not kept). */
static int regrow(void *pp, size_t n, size_t sz, size_t *bytes) {
    void **p = pp;
    free(*p);
    *p = malloc(n ? n * sz : sz);
    *bytes += n * sz;
    return *p != NULL;
}

static anc_status ensure_tokens(const anc_model *m, anc_acts *a, int64_t N, int64_t max_len, anc_error *err) {
    const anc_config *c = &m->cfg;
    int same_shape = a->cap_tokens > 0 && a->layers == c->num_layers && a->C == c->hidden_size && a->F == c->intermediate_size &&
                     a->QD == c->num_heads * c->head_dim && a->KD == c->num_kv_heads * c->head_dim &&
                     a->H == c->num_heads && a->half_d == c->head_dim / 2;
    size_t need_scratch = anc_attention_scratch_floats(max_len);
    if (same_shape && N <= a->cap_tokens && need_scratch <= a->cap_scratch) return ANC_OK;
    if (!same_shape || N > a->cap_tokens) {
        a->layers = c->num_layers;
        a->C = c->hidden_size;
        a->F = c->intermediate_size;
        a->QD = c->num_heads * c->head_dim;
        a->KD = c->num_kv_heads * c->head_dim;
        a->H = c->num_heads;
        a->half_d = c->head_dim / 2;
        int64_t cap = N > a->cap_tokens ? N + N / 4 : a->cap_tokens;
        size_t L = (size_t)a->layers, n = (size_t)cap, C = (size_t)a->C, F = (size_t)a->F;
        size_t QD = (size_t)a->QD, KD = (size_t)a->KD, H = (size_t)a->H, hd = (size_t)a->half_d;
        size_t S = a->ckpt ? 1 : L, X = L + 1, b = 0;
        L = S; /* the inner activations below hold S layers */
        int ok = regrow(&a->pos, n, 4, &b) && regrow(&a->cos_t, n * hd, 4, &b) && regrow(&a->sin_t, n * hd, 4, &b) &&
                 regrow(&a->x, X * n * C, 4, &b) && regrow(&a->h, L * n * C, 4, &b) &&
                 regrow(&a->ln1, L * n * C, 4, &b) && regrow(&a->ln2, L * n * C, 4, &b) &&
                 regrow(&a->rstd1, L * n, 4, &b) && regrow(&a->rstd2, L * n, 4, &b) &&
                 regrow(&a->q, L * n * QD, 4, &b) && regrow(&a->att, L * n * QD, 4, &b) &&
                 regrow(&a->k, L * n * KD, 4, &b) && regrow(&a->v, L * n * KD, 4, &b) &&
                 regrow(&a->lse, L * n * H, 4, &b) && regrow(&a->gate, L * n * F, 4, &b) &&
                 regrow(&a->up, L * n * F, 4, &b) && regrow(&a->act, n * F, 4, &b) &&
                 regrow(&a->lnf, n * C, 4, &b) && regrow(&a->rstdf, n, 4, &b);
        /* backward buffers are allocated lazily by ensure_backward */
        float **bw[] = {&a->dx, &a->dln, &a->dq, &a->datt, &a->dk, &a->dv, &a->dgate, &a->dup, &a->dact};
        for (size_t i = 0; i < sizeof bw / sizeof bw[0]; i++) { free(*bw[i]); *bw[i] = NULL; }
        a->bytes = b;
        a->cap_tokens = ok ? cap : 0;
        if (!ok) return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate activations for %lld tokens", (long long)N);
    }
    if (need_scratch > a->cap_scratch) {
        size_t b = 0;
        if (!regrow(&a->scratch, need_scratch, 4, &b)) {
            a->cap_scratch = 0;
            return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate attention scratch for length %lld", (long long)max_len);
        }
        a->cap_scratch = need_scratch;
        a->bytes += b;
    }
    return ANC_OK;
}

static anc_status ensure_rows(const anc_model *m, anc_acts *a, int64_t R, anc_error *err) {
    size_t need = anc_logprob_scratch_floats(R, m->cfg.vocab_size);
    if (need > a->cap_scratch) {
        size_t b = 0;
        if (!regrow(&a->scratch, need, 4, &b)) {
            a->cap_scratch = 0;
            return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate vocabulary scratch");
        }
        a->cap_scratch = need;
        a->bytes += b;
    }
    if (R <= a->cap_rows && a->hrows) return ANC_OK;
    size_t n = (size_t)(R + R / 4 + 1), C = (size_t)m->cfg.hidden_size, b = 0;
    free(a->dhrows);
    a->dhrows = NULL;
    int ok = regrow(&a->rows, n, 8, &b) && regrow(&a->targets, n, 4, &b) && regrow(&a->hrows, n * C, 4, &b) &&
             regrow(&a->row_logp, n, 4, &b) && regrow(&a->row_lse, n, 4, &b) && regrow(&a->row_lsum, n, 4, &b) &&
             regrow(&a->drow, n, 4, &b);
    a->bytes += b;
    a->cap_rows = ok ? (int64_t)n : 0;
    if (!ok) return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate %lld scored rows", (long long)R);
    return ANC_OK;
}

/* Scratch of the model's adapters (none without): for cap_tokens tokens. */
static anc_status ensure_lora(const anc_model *m, anc_acts *a, anc_error *err) {
    if (!m->lora) return ANC_OK;
    int max_in = a->C > a->F ? a->C : a->F;
    if (a->QD > max_in) max_in = a->QD;
    size_t need = anc_lora_scratch_floats(m->lora, a->cap_tokens, max_in);
    if (need <= a->cap_lora && a->lora_scratch) return ANC_OK;
    size_t b = 0;
    if (!regrow(&a->lora_scratch, need, 4, &b)) {
        a->cap_lora = 0;
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate adapter scratch");
    }
    a->cap_lora = need;
    a->bytes += b;
    return ANC_OK;
}

static anc_status ensure_backward(anc_acts *a, anc_error *err) {
    if (a->dx && a->dhrows) return ANC_OK;
    size_t n = (size_t)a->cap_tokens, C = (size_t)a->C, F = (size_t)a->F, QD = (size_t)a->QD, KD = (size_t)a->KD;
    size_t b = 0;
    int ok = 1;
    if (!a->dx)
        ok = regrow(&a->dx, n * C, 4, &b) && regrow(&a->dln, n * C, 4, &b) && regrow(&a->dq, n * QD, 4, &b) &&
             regrow(&a->datt, n * QD, 4, &b) && regrow(&a->dk, n * KD, 4, &b) && regrow(&a->dv, n * KD, 4, &b) &&
             regrow(&a->dgate, n * F, 4, &b) && regrow(&a->dup, n * F, 4, &b) && regrow(&a->dact, n * F, 4, &b);
    if (ok && !a->dhrows) ok = regrow(&a->dhrows, (size_t)a->cap_rows * C, 4, &b);
    a->bytes += b;
    if (!ok) return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate gradient buffers");
    return ANC_OK;
}

anc_status anc_batch_validate(const anc_model *m, const anc_batch *b, anc_error *err) {
    if (b->n_tokens <= 0 || b->n_seqs <= 0 || !b->tokens || !b->seq_offsets)
        return anc_error_set(err, ANC_ERR_INVALID, "batch: empty (tokens %lld, sequences %d)", (long long)b->n_tokens, b->n_seqs);
    if (b->seq_offsets[0] != 0 || b->seq_offsets[b->n_seqs] != b->n_tokens)
        return anc_error_set(err, ANC_ERR_INVALID, "batch: sequence offsets must start at 0 and end at %lld", (long long)b->n_tokens);
    for (int s = 0; s < b->n_seqs; s++) {
        if (b->seq_offsets[s + 1] <= b->seq_offsets[s])
            return anc_error_set(err, ANC_ERR_INVALID, "batch: sequence %d is empty or offsets decrease", s);
        if (b->score_mask && b->score_mask[b->seq_offsets[s]])
            return anc_error_set(err, ANC_ERR_INVALID, "batch: the first token of sequence %d cannot be scored (nothing precedes it)", s);
    }
    for (int64_t t = 0; t < b->n_tokens; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= m->cfg.vocab_size)
            return anc_error_set(err, ANC_ERR_INVALID, "batch: token id %d at position %lld is outside the vocabulary of %d",
                                 b->tokens[t], (long long)t, m->cfg.vocab_size);
    return ANC_OK;
}

static void add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* One layer's inner activations: slot l, or slot 0 when checkpointing. */
typedef struct layer_acts {
    float *h, *ln1, *ln2, *rstd1, *rstd2, *q, *k, *v, *att, *lse, *gate, *up;
} layer_acts;

static layer_acts layer_slot(const anc_acts *a, int l, int64_t N) {
    size_t sl = a->ckpt ? 0 : (size_t)l, n = (size_t)N;
    layer_acts r = {a->h + sl * n * a->C,      a->ln1 + sl * n * a->C,  a->ln2 + sl * n * a->C,
                    a->rstd1 + sl * n,         a->rstd2 + sl * n,       a->q + sl * n * a->QD,
                    a->k + sl * n * a->KD,     a->v + sl * n * a->KD,   a->att + sl * n * a->QD,
                    a->lse + sl * n * a->H,    a->gate + sl * n * a->F, a->up + sl * n * a->F};
    return r;
}

/* Layer l from the residual stream x[l]: its inner activations into its
 * slot and, with write_out, x[l+1]. Backward under checkpointing re-runs it
 * without write_out (x[l+1] is kept and layer l's backward never reads it);
 * the same operations on the same inputs give bit-identical activations. */
static void layer_forward(const anc_model *m, anc_acts *a, const anc_batch *b, int l, anc_mm *mm, int write_out) {
    const anc_config *c = &m->cfg;
    const int64_t N = b->n_tokens;
    const int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads, KVH = c->num_kv_heads, D = c->head_dim;
    const int QD = H * D, KD = KVH * D;
    const size_t NC = (size_t)N * C;
    const anc_lora *lo = m->lora;
    const anc_layer_view *w = &m->w.layers[l];
    float *xl = a->x + (size_t)l * NC, *xn = a->x + (size_t)(l + 1) * NC;
    layer_acts s = layer_slot(a, l, N);

    anc_rmsnorm_forward(s.ln1, s.rstd1, xl, w->attn_norm, N, C, c->rms_norm_eps);
    anc_linear_forward(mm, s.q, s.ln1, w->wq, w->bq, N, C, QD);
    anc_linear_forward(mm, s.k, s.ln1, w->wk, w->bk, N, C, KD);
    anc_linear_forward(mm, s.v, s.ln1, w->wv, w->bv, N, C, KD);
    if (lo) {
        anc_lora_forward(mm, lo, l, ANC_LORA_Q, s.q, s.ln1, N, a->lora_scratch);
        anc_lora_forward(mm, lo, l, ANC_LORA_K, s.k, s.ln1, N, a->lora_scratch);
        anc_lora_forward(mm, lo, l, ANC_LORA_V, s.v, s.ln1, N, a->lora_scratch);
    }
    anc_rope_forward(s.q, a->cos_t, a->sin_t, N, H, D);
    anc_rope_forward(s.k, a->cos_t, a->sin_t, N, KVH, D);
    anc_attention_forward(s.att, s.lse, s.q, s.k, s.v, b->seq_offsets, b->n_seqs, H, KVH, D, a->scratch);
    anc_linear_forward(mm, s.h, s.att, w->wo, NULL, N, QD, C);
    if (lo) anc_lora_forward(mm, lo, l, ANC_LORA_O, s.h, s.att, N, a->lora_scratch);
    add_inplace(s.h, xl, NC);

    anc_rmsnorm_forward(s.ln2, s.rstd2, s.h, w->mlp_norm, N, C, c->rms_norm_eps);
    anc_linear_forward(mm, s.gate, s.ln2, w->w_gate, NULL, N, C, F);
    anc_linear_forward(mm, s.up, s.ln2, w->w_up, NULL, N, C, F);
    if (lo) {
        anc_lora_forward(mm, lo, l, ANC_LORA_GATE, s.gate, s.ln2, N, a->lora_scratch);
        anc_lora_forward(mm, lo, l, ANC_LORA_UP, s.up, s.ln2, N, a->lora_scratch);
    }
    if (!write_out) return;
    anc_swiglu_forward(a->act, s.gate, s.up, (int64_t)N * F);
    anc_linear_forward(mm, xn, a->act, w->w_down, NULL, N, F, C);
    if (lo) anc_lora_forward(mm, lo, l, ANC_LORA_DOWN, xn, a->act, N, a->lora_scratch);
    add_inplace(xn, s.h, NC);
}

anc_status anc_model_forward(const anc_model *m, anc_acts *a, const anc_batch *b, float *token_logp,
                             float *seq_logp, float *logit_sum_seq, anc_error *err) {
    anc_status st = anc_batch_validate(m, b, err);
    if (st) return st;
    const anc_config *c = &m->cfg;
    const int64_t N = b->n_tokens;
    int64_t max_len = 0, R = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int64_t len = b->seq_offsets[s + 1] - b->seq_offsets[s];
        if (len > max_len) max_len = len;
    }
    if (b->score_mask)
        for (int64_t t = 0; t < N; t++) R += b->score_mask[t] != 0;
    if ((st = ensure_tokens(m, a, N, max_len, err))) return st;
    if ((st = ensure_rows(m, a, R, err))) return st;
    if ((st = ensure_lora(m, a, err))) return st;
    anc_mm *mm;
    if ((st = bind_mm(m, a, &mm, err))) return st;

    const int C = c->hidden_size, D = c->head_dim, L = c->num_layers, V = c->vocab_size;
    const size_t NC = (size_t)N * C;

    for (int s = 0; s < b->n_seqs; s++)
        for (int64_t t = b->seq_offsets[s]; t < b->seq_offsets[s + 1]; t++) a->pos[t] = (int32_t)(t - b->seq_offsets[s]);
    anc_rope_table(a->cos_t, a->sin_t, a->pos, m->inv_freq, N, D);

    float *x0 = a->x;
    for (int64_t t = 0; t < N; t++) anc_model_embed_row(m, b->tokens[t], x0 + (size_t)t * C);

    for (int l = 0; l < L; l++) layer_forward(m, a, b, l, mm, 1);
    anc_rmsnorm_forward(a->lnf, a->rstdf, a->x + (size_t)L * NC, m->w.final_norm, N, C, c->rms_norm_eps);

    /* Gather the rows whose next-token prediction is scored. */
    int64_t r = 0;
    if (b->score_mask)
        for (int64_t t = 0; t < N; t++)
            if (b->score_mask[t]) {
                a->rows[r] = t - 1;
                a->targets[r] = b->tokens[t];
                memcpy(a->hrows + (size_t)r * C, a->lnf + (size_t)(t - 1) * C, sizeof(float) * C);
                r++;
            }
    a->n_rows = R;
    a->n_tokens = N;
    if (R > 0)
        anc_logprob_forward(mm, a->row_logp, a->row_lse, a->row_lsum, a->hrows, m->w.lm_head, a->targets, R, C, V, a->scratch);

    if ((st = mm_result(mm, err))) return st;
    if (token_logp) memset(token_logp, 0, sizeof(float) * (size_t)N);
    if (seq_logp) memset(seq_logp, 0, sizeof(float) * (size_t)b->n_seqs);
    if (logit_sum_seq) memset(logit_sum_seq, 0, sizeof(float) * (size_t)b->n_seqs);
    int s = 0;
    for (r = 0; r < R; r++) {
        int64_t t = a->rows[r] + 1;
        while (t >= b->seq_offsets[s + 1]) s++;
        if (!isfinite(a->row_logp[r]))
            return anc_error_set(err, ANC_ERR_NUMERIC, "forward: log-probability of token %lld (sequence %d) is not finite", (long long)t, s);
        if (token_logp) token_logp[t] = a->row_logp[r];
        if (seq_logp) seq_logp[s] += a->row_logp[r];
        if (logit_sum_seq) logit_sum_seq[s] += a->row_lsum[r] / (float)V;
    }
    return ANC_OK;
}

anc_status anc_model_backward(const anc_model *m, anc_acts *a, const anc_batch *b, const float *d_token_logp,
                              float *grads, anc_error *err) {
    const anc_config *c = &m->cfg;
    const int64_t N = b->n_tokens, R = a->n_rows;
    if (N != a->n_tokens || !a->x || a->cap_tokens == 0)
        return anc_error_set(err, ANC_ERR_INVALID, "backward: call anc_model_forward on this batch first");
    if (grads && m->frozen16)
        return anc_error_set(err, ANC_ERR_INVALID, "backward: a frozen bf16 base has no fp32 weights to train (pass grads NULL)");
    anc_status st = ensure_backward(a, err);
    if (st) return st;
    if ((st = ensure_lora(m, a, err))) return st;
    const anc_lora *lo = m->lora;
    anc_mm *mm;
    if ((st = bind_mm(m, a, &mm, err))) return st;
    /* a frozen base (grads NULL) gets an all-NULL view: no weight products */
    anc_param_view g = {0};
    if (grads) {
        if ((st = anc_param_view_init(&g, c, grads, err))) return st;
    } else if (!(g.layers = calloc((size_t)c->num_layers, sizeof *g.layers))) {
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }

    const int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads, KVH = c->num_kv_heads, D = c->head_dim;
    const int QD = H * D, KD = KVH * D, L = c->num_layers, V = c->vocab_size;
    const size_t NC = (size_t)N * C;

    /* Vocabulary projection + log-softmax, scattered back to token rows. */
    for (int64_t r = 0; r < R; r++) a->drow[r] = d_token_logp[a->rows[r] + 1];
    memset(a->dhrows, 0, sizeof(float) * (size_t)R * C);
    if (R > 0)
        anc_logprob_backward(mm, a->dhrows, g.lm_head, a->drow, a->hrows, m->w.lm_head, a->targets, a->row_lse, R, C, V,
                             a->scratch);
    memset(a->dln, 0, sizeof(float) * NC);
    for (int64_t r = 0; r < R; r++) {
        float *dst = a->dln + (size_t)a->rows[r] * C;
        const float *src = a->dhrows + (size_t)r * C;
        for (int i = 0; i < C; i++) dst[i] += src[i];
    }
    memset(a->dx, 0, sizeof(float) * NC);
    anc_rmsnorm_backward(a->dx, g.final_norm, a->dln, a->x + (size_t)L * NC, m->w.final_norm, a->rstdf, N, C);

    for (int l = L - 1; l >= 0; l--) {
        const anc_layer_view *w = &m->w.layers[l];
        anc_layer_view *gw = &g.layers[l];
        if (a->ckpt) layer_forward(m, a, b, l, mm, 0);
        layer_acts sa = layer_slot(a, l, N);
        float *xl = a->x + (size_t)l * NC, *hl = sa.h, *ln1 = sa.ln1, *ln2 = sa.ln2;
        float *q = sa.q, *k = sa.k, *v = sa.v, *att = sa.att, *lse = sa.lse, *gate = sa.gate, *up = sa.up;

        /* MLP: x[l+1] = h + down(silu(gate) * up) */
        anc_swiglu_forward(a->act, gate, up, (int64_t)N * F);
        memset(a->dact, 0, sizeof(float) * (size_t)N * F);
        anc_linear_backward(mm, a->dact, gw->w_down, NULL, a->dx, a->act, w->w_down, N, F, C);
        if (lo) anc_lora_backward(mm, lo, l, ANC_LORA_DOWN, a->dact, a->dx, a->act, N, a->lora_scratch);
        anc_swiglu_backward(a->dgate, a->dup, a->dact, gate, up, (int64_t)N * F);
        memset(a->dln, 0, sizeof(float) * NC);
        anc_linear_backward(mm, a->dln, gw->w_gate, NULL, a->dgate, ln2, w->w_gate, N, C, F);
        anc_linear_backward(mm, a->dln, gw->w_up, NULL, a->dup, ln2, w->w_up, N, C, F);
        if (lo) {
            anc_lora_backward(mm, lo, l, ANC_LORA_GATE, a->dln, a->dgate, ln2, N, a->lora_scratch);
            anc_lora_backward(mm, lo, l, ANC_LORA_UP, a->dln, a->dup, ln2, N, a->lora_scratch);
        }
        anc_rmsnorm_backward(a->dx, gw->mlp_norm, a->dln, hl, w->mlp_norm, sa.rstd2, N, C);

        /* Attention: h = x[l] + o(att(rope(q), rope(k), v)) */
        memset(a->datt, 0, sizeof(float) * (size_t)N * QD);
        anc_linear_backward(mm, a->datt, gw->wo, NULL, a->dx, att, w->wo, N, QD, C);
        if (lo) anc_lora_backward(mm, lo, l, ANC_LORA_O, a->datt, a->dx, att, N, a->lora_scratch);
        anc_attention_backward(a->dq, a->dk, a->dv, a->datt, att, lse, q, k, v, b->seq_offsets, b->n_seqs, H, KVH, D,
                               a->scratch);
        anc_rope_backward(a->dq, a->cos_t, a->sin_t, N, H, D);
        anc_rope_backward(a->dk, a->cos_t, a->sin_t, N, KVH, D);
        memset(a->dln, 0, sizeof(float) * NC);
        anc_linear_backward(mm, a->dln, gw->wq, gw->bq, a->dq, ln1, w->wq, N, C, QD);
        anc_linear_backward(mm, a->dln, gw->wk, gw->bk, a->dk, ln1, w->wk, N, C, KD);
        anc_linear_backward(mm, a->dln, gw->wv, gw->bv, a->dv, ln1, w->wv, N, C, KD);
        if (lo) {
            anc_lora_backward(mm, lo, l, ANC_LORA_Q, a->dln, a->dq, ln1, N, a->lora_scratch);
            anc_lora_backward(mm, lo, l, ANC_LORA_K, a->dln, a->dk, ln1, N, a->lora_scratch);
            anc_lora_backward(mm, lo, l, ANC_LORA_V, a->dln, a->dv, ln1, N, a->lora_scratch);
        }
        anc_rmsnorm_backward(a->dx, gw->attn_norm, a->dln, xl, w->attn_norm, sa.rstd1, N, C);
    }
    for (int64_t t = 0; grads && t < N; t++) {
        float *dst = g.embed + (size_t)b->tokens[t] * C;
        const float *src = a->dx + (size_t)t * C;
        for (int i = 0; i < C; i++) dst[i] += src[i];
    }
    anc_param_view_free(&g);
    return mm_result(mm, err);
}

anc_status anc_model_logits_rows(const anc_model *m, anc_acts *a, const int64_t *rows, int64_t n_rows, float *logits,
                                 anc_error *err) {
    const int C = m->cfg.hidden_size, V = m->cfg.vocab_size;
    if (!a->lnf) return anc_error_set(err, ANC_ERR_INVALID, "logits: call anc_model_forward first");
    anc_mm *mm;
    anc_status st = bind_mm(m, a, &mm, err);
    if (st) return st;
    /* Small chunks keep the gathered hidden states bounded. */
    enum { CHUNK = 64 };
    float *buf = malloc(sizeof(float) * CHUNK * (size_t)C);
    if (!buf) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (int64_t r0 = 0; r0 < n_rows; r0 += CHUNK) {
        int64_t n = n_rows - r0 < CHUNK ? n_rows - r0 : CHUNK;
        for (int64_t i = 0; i < n; i++) {
            int64_t row = rows[r0 + i];
            if (row < 0 || row >= a->n_tokens) {
                free(buf);
                return anc_error_set(err, ANC_ERR_INVALID, "logits: row %lld out of range", (long long)row);
            }
            memcpy(buf + i * C, a->lnf + (size_t)row * C, sizeof(float) * C);
        }
        anc_linear_forward(mm, logits + (size_t)r0 * V, buf, m->w.lm_head, NULL, n, C, V);
    }
    free(buf);
    return mm_result(mm, err);
}

size_t anc_model_act_bytes_per_token(const anc_config *c, int checkpointing) {
    size_t L = (size_t)c->num_layers, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)c->num_kv_heads * c->head_dim;
    size_t per_layer = 3 * C + 2 + 2 * QD + 2 * KD + (size_t)c->num_heads + 2 * F;
    size_t kept = checkpointing ? 1 : L; /* layers whose inner activations are held at once */
    size_t fwd = (L + 1) * C + kept * per_layer + F + C + 1 + (size_t)c->head_dim + 1;
    size_t bwd = 2 * C + 2 * QD + 2 * KD + 3 * F;
    return 4 * (fwd + bwd);
}
