/* KV-cache decoding (see decode.h). Same arithmetic as forward.c's
 * training path, without saving activations: per layer, the new tokens'
 * keys and values are rotated and appended to their slot, and each new token
 * attends to its slot's cache up to its own position. */
#include "model/decode.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"

struct anc_kv_cache {
    int n_slots, max_len, layers, kd;
    float *k, *v;        /* [layers][n_slots][max_len][kd] */
    int *len;            /* [n_slots] */
    /* scratch, grown on demand for T new tokens */
    int64_t cap;
    float *x, *ln, *q, *kn, *vn, *att, *h, *gate, *up, *act, *rstd, *cos_t, *sin_t, *scores, *last;
    int32_t *pos;
    int64_t *first;      /* [n_slots]: the first new token of each sequence of a step */
    size_t cap_scores;
    anc_mm mm;           /* bf16 products when the model is in bf16 */
};

anc_status anc_kv_create(anc_kv_cache **out, const anc_model *m, int n_slots, int max_len, anc_error *err) {
    *out = NULL;
    if (n_slots < 1 || max_len < 1)
        return anc_error_set(err, ANC_ERR_INVALID, "kv cache: need at least one slot of at least one token");
    anc_kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->layers = m->cfg.num_layers;
    kv->kd = m->cfg.num_kv_heads * m->cfg.head_dim;
    size_t n = (size_t)kv->layers * (size_t)n_slots * (size_t)max_len * (size_t)kv->kd;
    kv->k = malloc(n * sizeof(float));
    kv->v = malloc(n * sizeof(float));
    kv->len = calloc((size_t)n_slots, sizeof(int));
    kv->first = calloc((size_t)n_slots, sizeof(int64_t));
    if (!kv->k || !kv->v || !kv->len || !kv->first) {
        anc_kv_free(kv);
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate a KV cache of %d x %d tokens (%.1f MB)", n_slots, max_len,
                             2.0 * n * 4 / 1e6);
    }
    *out = kv;
    return ANC_OK;
}

void anc_kv_free(anc_kv_cache *kv) {
    if (!kv) return;
    float *fs[] = {kv->k, kv->v, kv->x, kv->ln, kv->q, kv->kn, kv->vn, kv->att, kv->h, kv->gate, kv->up, kv->act,
                   kv->rstd, kv->cos_t, kv->sin_t, kv->scores, kv->last};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) free(fs[i]);
    free(kv->pos);
    free(kv->len);
    free(kv->first);
    anc_mm_release(&kv->mm);
    free(kv);
}

void anc_kv_reset(anc_kv_cache *kv, int slot) {
    if (slot >= 0 && slot < kv->n_slots) kv->len[slot] = 0;
}

int anc_kv_len(const anc_kv_cache *kv, int slot) { return slot >= 0 && slot < kv->n_slots ? kv->len[slot] : 0; }

static int grow(float **p, size_t n) {
    free(*p);
    *p = malloc(n ? n * sizeof(float) : sizeof(float));
    return *p != NULL;
}

static anc_status ensure(anc_kv_cache *kv, const anc_config *c, int64_t T, int n, anc_error *err) {
    size_t need_scores = (size_t)T * (size_t)kv->max_len;
    if (T <= kv->cap && need_scores <= kv->cap_scores) return ANC_OK;
    size_t t = (size_t)(T > kv->cap ? T : kv->cap), C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)kv->kd, hd = (size_t)c->head_dim / 2;
    int ok = grow(&kv->x, t * C) && grow(&kv->ln, t * C) && grow(&kv->q, t * QD) && grow(&kv->kn, t * KD) &&
             grow(&kv->vn, t * KD) && grow(&kv->att, t * QD) && grow(&kv->h, t * C) && grow(&kv->gate, t * F) &&
             grow(&kv->up, t * F) && grow(&kv->act, t * F) && grow(&kv->rstd, t) && grow(&kv->cos_t, t * hd) &&
             grow(&kv->sin_t, t * hd) && grow(&kv->scores, t * (size_t)kv->max_len) &&
             grow(&kv->last, (size_t)kv->n_slots * C);
    free(kv->pos);
    kv->pos = malloc(t * sizeof(int32_t));
    if (!ok || !kv->pos) {
        kv->cap = 0;
        kv->cap_scores = 0;
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate decoding scratch for %lld tokens", (long long)T);
    }
    kv->cap = (int64_t)t;
    kv->cap_scores = t * (size_t)kv->max_len;
    (void)n;
    return ANC_OK;
}

/* Attention of n_new queries (rows q[0..n_new) with stride QD, positions
 * p0..p0+n_new-1) over the slot's cache K/V[0..p0+n_new) for every head. */
static void attend_slot(float *out, const float *q, const float *K, const float *V, int p0, int n_new, int H, int KVH,
                        int D, float *scores) {
    const int QD = H * D, KD = KVH * D, L = p0 + n_new, group = H / KVH;
    const float scale = 1.0f / sqrtf((float)D);
    for (int h = 0; h < H; h++) {
        const int g = h / group;
        /* scores[n_new, L] = scale * q_h K_g^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_new, L, D, scale, q + (size_t)h * D, QD, K + (size_t)g * D,
                    KD, 0.0f, scores, L);
        for (int i = 0; i < n_new; i++) {
            float *row = scores + (size_t)i * L;
            int lim = p0 + i + 1;   /* causal: positions 0..p0+i */
            float mx = row[0];
            for (int j = 1; j < lim; j++) mx = row[j] > mx ? row[j] : mx;
            double sum = 0;
            for (int j = 0; j < lim; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < lim; j++) row[j] *= inv;
            for (int j = lim; j < L; j++) row[j] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_new, D, L, 1.0f, scores, L, V + (size_t)g * D, KD, 0.0f,
                    out + (size_t)h * D, QD);
    }
}

anc_status anc_decode_step(const anc_model *m, anc_kv_cache *kv, const int *slots, const int32_t *const *tokens,
                           const int *n_tokens, int n, float *logits, anc_error *err) {
    const anc_config *c = &m->cfg;
    const int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads, KVH = c->num_kv_heads, D = c->head_dim;
    const int QD = H * D, KD = KVH * D, V = c->vocab_size;
    if (m->lora)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "decode: the model has unmerged LoRA adapters; merge them first (anc_lora_merge)");
    int64_t T = 0;
    for (int i = 0; i < n; i++) {
        int s = slots[i];
        if (s < 0 || s >= kv->n_slots) return anc_error_set(err, ANC_ERR_INVALID, "decode: slot %d out of range", s);
        for (int j = 0; j < i; j++)
            if (slots[j] == s) return anc_error_set(err, ANC_ERR_INVALID, "decode: slot %d given twice", s);
        if (n_tokens[i] < 1) return anc_error_set(err, ANC_ERR_INVALID, "decode: no tokens for slot %d", s);
        if (kv->len[s] + n_tokens[i] > kv->max_len)
            return anc_error_set(err, ANC_ERR_INVALID, "decode: slot %d would hold %d tokens, more than the cache's %d", s,
                                 kv->len[s] + n_tokens[i], kv->max_len);
        for (int j = 0; j < n_tokens[i]; j++)
            if (tokens[i][j] < 0 || tokens[i][j] >= V)
                return anc_error_set(err, ANC_ERR_INVALID, "decode: token id %d outside the vocabulary of %d", tokens[i][j], V);
        T += n_tokens[i];
    }
    anc_status st = ensure(kv, c, T, n, err);
    if (st) return st;
    anc_mm *mm = NULL;
    if (m->params16) {
        if (!kv->mm.g && (st = anc_gemm_create(&kv->mm.g, err))) return st;
        kv->mm.slab = m->params;
        kv->mm.slab16 = m->params16;
        kv->mm.slab_n = m->n_params;
        kv->mm.slab_bf16_only = m->frozen16;
        kv->mm.status = ANC_OK;
        mm = &kv->mm;
    }
    int64_t t = 0;
    for (int i = 0; i < n; i++) {
        kv->first[i] = t;
        for (int j = 0; j < n_tokens[i]; j++, t++) {
            kv->pos[t] = kv->len[slots[i]] + j;
            anc_model_embed_row(m, tokens[i][j], kv->x + (size_t)t * C);
        }
    }
    anc_rope_table(kv->cos_t, kv->sin_t, kv->pos, m->inv_freq, T, D);
    const size_t slot_stride = (size_t)kv->max_len * KD, layer_stride = (size_t)kv->n_slots * slot_stride;
    for (int l = 0; l < c->num_layers; l++) {
        const anc_layer_view *w = &m->w.layers[l];
        anc_rmsnorm_forward(kv->ln, kv->rstd, kv->x, w->attn_norm, T, C, c->rms_norm_eps);
        anc_linear_forward(mm, kv->q, kv->ln, w->wq, w->bq, T, C, QD);
        anc_linear_forward(mm, kv->kn, kv->ln, w->wk, w->bk, T, C, KD);
        anc_linear_forward(mm, kv->vn, kv->ln, w->wv, w->bv, T, C, KD);
        anc_rope_forward(kv->q, kv->cos_t, kv->sin_t, T, H, D);
        anc_rope_forward(kv->kn, kv->cos_t, kv->sin_t, T, KVH, D);
        /* Sequences attend independently, each in its own rows of scores.
         * Under bf16 (OpenBLAS held to one thread, OpenMP the runtime) they
         * are split over OpenMP's threads; in fp32 OpenBLAS threads each
         * product instead, so the loop stays serial. */
#pragma omp parallel for schedule(dynamic, 1) if (mm != NULL && n > 1)
        for (int i = 0; i < n; i++) {
            const int64_t ti = kv->first[i];
            float *K = kv->k + (size_t)l * layer_stride + (size_t)slots[i] * slot_stride;
            float *Vc = kv->v + (size_t)l * layer_stride + (size_t)slots[i] * slot_stride;
            int p0 = kv->len[slots[i]];
            memcpy(K + (size_t)p0 * KD, kv->kn + (size_t)ti * KD, sizeof(float) * (size_t)n_tokens[i] * KD);
            memcpy(Vc + (size_t)p0 * KD, kv->vn + (size_t)ti * KD, sizeof(float) * (size_t)n_tokens[i] * KD);
            attend_slot(kv->att + (size_t)ti * QD, kv->q + (size_t)ti * QD, K, Vc, p0, n_tokens[i], H, KVH, D,
                        kv->scores + (size_t)ti * (size_t)kv->max_len);
        }
        anc_linear_forward(mm, kv->h, kv->att, w->wo, NULL, T, QD, C);
        for (size_t e = 0; e < (size_t)T * C; e++) kv->h[e] += kv->x[e];
        anc_rmsnorm_forward(kv->ln, kv->rstd, kv->h, w->mlp_norm, T, C, c->rms_norm_eps);
        anc_linear_forward(mm, kv->gate, kv->ln, w->w_gate, NULL, T, C, F);
        anc_linear_forward(mm, kv->up, kv->ln, w->w_up, NULL, T, C, F);
        anc_swiglu_forward(kv->act, kv->gate, kv->up, T * F);
        anc_linear_forward(mm, kv->x, kv->act, w->w_down, NULL, T, F, C);
        for (size_t e = 0; e < (size_t)T * C; e++) kv->x[e] += kv->h[e];
    }
    /* final norm and vocabulary projection of each slot's last new token */
    t = 0;
    for (int i = 0; i < n; i++) {
        t += n_tokens[i];
        memcpy(kv->last + (size_t)i * C, kv->x + (size_t)(t - 1) * C, sizeof(float) * C);
        kv->len[slots[i]] += n_tokens[i];
    }
    anc_rmsnorm_forward(kv->ln, kv->rstd, kv->last, m->w.final_norm, n, C, c->rms_norm_eps);
    anc_linear_forward(mm, logits, kv->ln, m->w.lm_head, NULL, n, C, V);
    if (mm && mm->status) return anc_error_set(err, mm->status, "bf16 matrix product: %s", mm->message);
    return ANC_OK;
}

typedef struct { float logit; int32_t id; } cand;

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t anc_sample(float *logits, int V, const anc_sampling *s, anc_rng *rng) {
    if (!(s->temperature > 0)) {
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    const float inv_t = 1.0f / s->temperature;
    if (s->top_k <= 0 && !(s->top_p > 0 && s->top_p < 1)) {
        /* plain softmax sampling: no sort needed */
        float mx = logits[0];
        for (int32_t i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
        double total = 0;
        for (int32_t i = 0; i < V; i++) total += exp((double)(logits[i] - mx) * inv_t);
        double u = anc_rng_uniform(rng) * total, acc = 0;
        for (int32_t i = 0; i < V; i++) {
            acc += exp((double)(logits[i] - mx) * inv_t);
            if (u < acc) return i;
        }
        return V - 1;
    }
    /* transformers' order: temperature, then top-k, then top-p. */
    cand *cs = malloc(sizeof(cand) * (size_t)V);
    if (!cs) {
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    for (int32_t i = 0; i < V; i++) {
        cs[i].logit = logits[i] / s->temperature;
        cs[i].id = i;
    }
    qsort(cs, (size_t)V, sizeof(cand), cand_desc);
    int keep = V;
    if (s->top_k > 0 && s->top_k < keep) keep = s->top_k;
    double mx = cs[0].logit, total = 0;
    for (int i = 0; i < keep; i++) total += exp((double)cs[i].logit - mx);
    if (s->top_p > 0 && s->top_p < 1) {
        double cum = 0;
        int k = 0;
        for (; k < keep; k++) {
            cum += exp((double)cs[k].logit - mx) / total;
            if (cum >= s->top_p) { k++; break; }
        }
        keep = k > 0 ? k : 1;
        total = 0;
        for (int i = 0; i < keep; i++) total += exp((double)cs[i].logit - mx);
    }
    double u = anc_rng_uniform(rng) * total, acc = 0;
    int32_t pick = cs[keep - 1].id;
    for (int i = 0; i < keep; i++) {
        acc += exp((double)cs[i].logit - mx);
        if (u < acc) { pick = cs[i].id; break; }
    }
    free(cs);
    return pick;
}
