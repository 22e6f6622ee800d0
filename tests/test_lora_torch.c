/* LoRA against PyTorch: the PEFT adapter folders and float64 reference of
 * tests/fixtures/lora (scripts/make_lora_reference.py, PEFT's LoRA Linear
 * forward W x + lora_B(lora_A(x)) * scaling in plain torch autograd) on the
 * base model tests/fixtures/reference/llama_gqa. Per adapter (adapter_qv:
 * r 4, alpha 8, q/v; adapter_all_rslora: r 3, alpha 6, rsLoRA, all seven
 * projections; A and B both random) the adapter is read with
 * anc_lora_load_peft, the packed batch of the fixture runs forward, and
 * backward with a frozen base (grads NULL) and d_token_logp = coef gives
 * dJ/d(every lora_A / lora_B), J = sum_t coef[t] * logp[t].
 *
 * Stated bounds (max abs error over the tensor <= bound x max|reference|):
 * - fp32: logits 1e-4 (as test_model), per-token log-probs 1e-5, each
 *   adapter gradient tensor 1e-4 (floor 1e-6 on max|reference|). Measured:
 *   see FP32_* below.
 * - bf16 (anc_model_set_bf16: operands of every linear product rounded to
 *   bf16, fp32 accumulation): per-token log-prob within BF16_LOGP_REL x
 *   max|logit| nats, as test_model states it; each gradient tensor within
 *   BF16_GRAD_REL x max|reference|. Measured: see BF16_* below.
 * The test also checks the adapter matters: the adapted log-probs differ
 * from the base model's by far more than the fp32 bound. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"

/* fp32: measured worst (logits, log-probs, gradients) x max|ref| on these
 * cases: adapter_qv 7.3e-7, 1.8e-7, 2.7e-6; adapter_all_rslora 5.4e-7,
 * 1.9e-7, 3.1e-6 (fp32 rounding; 30x or more below the bounds). The bounds
 * are the project's fp32 ones, stated before measuring, not tuned. */
#define FP32_LOGITS_REL 1e-4
#define FP32_LOGP_REL 1e-5
#define FP32_GRAD_REL 1e-4
/* bf16: measured worst on these cases: token log-probs 0.0033 (adapter_qv)
 * and 0.0071 (adapter_all_rslora) x max|logit|; the log-prob bound is
 * test_model's, 3.5x room. Gradients: 0.061 (adapter_qv, layer 0
 * q_proj.lora_B: the smallest gradient, max|ref| 1.17 against 9.4 for
 * v_proj, at the far end of the backward) and 0.034 (adapter_all_rslora)
 * x max|ref|; the RMS error of every tensor is at most 0.013 x max|ref|
 * (bound BF16_GRAD_RMS_REL 0.03, over 2x: it catches a broad error that
 * the max bound would let through). For
 * comparison the bf16 error of the full layer-0 q_proj weight gradient of
 * the merged model on the same batch is 0.038. test_model's 0.08 would
 * leave only 1.3x room over 0.061, so the bound is 0.12, 2x the worst
 * measured, as test_model's bounds leave about 2x. */
#define BF16_LOGP_REL 0.025
#define BF16_GRAD_REL 0.12
#define BF16_GRAD_RMS_REL 0.03

typedef struct {
    anc_safetensors *st;
    int32_t *tokens;
    int64_t *offsets;
    uint8_t *mask;
    float *coef;
    int64_t N;
    int S;
    anc_batch b;
} lora_cases;


static void *copy_raw(anc_safetensors *st, const char *name, anc_dtype dt, uint64_t *n) {
    const anc_st_tensor *t = anc_st_find(st, name);
    if (!t) fail_msg("expected tensor %s missing from cases.safetensors", name);
    assert_int_equal(t->dtype, dt);
    void *p = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(p, t->data, t->nbytes);
    *n = t->n_elems;
    return p;
}

static void load_cases(lora_cases *c) {
    memset(c, 0, sizeof *c);
    char *path = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/lora/cases.safetensors");
    anc_error err = {0};
    TU_CHECK(anc_st_open(&c->st, path, &err), &err);
    free(path);
    uint64_t n, nm, no;
    c->tokens = copy_raw(c->st, "tokens", ANC_DT_I32, &n);
    c->N = (int64_t)n;
    c->offsets = copy_raw(c->st, "seq_offsets", ANC_DT_I64, &no);
    c->S = (int)no - 1;
    c->mask = copy_raw(c->st, "score_mask", ANC_DT_U8, &nm);
    assert_int_equal(nm, n);
    c->coef = tu_st_read_f32(c->st, "coef", &n);
    assert_int_equal(n, (uint64_t)c->N);
    c->b = (anc_batch){c->N, c->tokens, c->S, c->offsets, c->mask};
}

static void free_cases(lora_cases *c) {
    anc_st_close(c->st);
    free(c->tokens);
    free(c->offsets);
    free(c->mask);
    free(c->coef);
}

/* max|a - b| over scored tokens, and max|b| there */
static double scored_diff(const lora_cases *c, const float *a, const float *b, double *bmax) {
    double d = 0, m = 0;
    for (int64_t t = 0; t < c->N; t++) {
        if (!c->mask[t]) continue;
        d = fmax(d, fabs((double)a[t] - b[t]));
        m = fmax(m, fabs((double)b[t]));
    }
    if (bmax) *bmax = m;
    return d;
}

typedef struct {
    double logits, logp, grad, grad_rms;  /* worst relative errors */
    double logp_nats;
    char grad_name[160];
} worst_figs;

/* Runs adapter `name` on llama_gqa (bf16 or fp32) and measures it against the fixture. */
static void measure(const lora_cases *c, const char *name, int bf16, worst_figs *w) {
    memset(w, 0, sizeof *w);
    anc_error err = {0};
    anc_model *m = NULL;
    char *mdir = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    TU_CHECK(anc_model_load_hf(&m, mdir, &err), &err);
    free(mdir);
    if (bf16) TU_CHECK(anc_model_set_bf16(m, 1, &err), &err);
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/lora/%s", name);
    char *adir = tu_path(ANCHOR_SOURCE_DIR, rel);
    anc_lora *l = NULL;
    TU_CHECK(anc_lora_load_peft(&l, adir, &m->cfg, &err), &err);
    free(adir);
    assert_true(l->cfg.dropout == 0.0);
    assert_int_equal(l->training, 0);
    TU_CHECK(anc_lora_alloc_grads(l, &err), &err);
    m->lora = l;

    anc_acts *a = anc_acts_create();
    float *tok = calloc((size_t)c->N, sizeof(float));
    TU_CHECK(anc_model_forward(m, a, &c->b, tok, NULL, NULL, &err), &err);

    char key[256];
    uint64_t n;
    snprintf(key, sizeof key, "%s.token_logp", name);
    float *exp_tok = tu_st_read_f32(c->st, key, &n);
    assert_int_equal(n, (uint64_t)c->N);
    snprintf(key, sizeof key, "%s.logits", name);
    float *exp_logits = tu_st_read_f32(c->st, key, &n);
    const int V = m->cfg.vocab_size;
    assert_int_equal(n, (uint64_t)c->N * V);
    double lmax = tu_max_abs(exp_logits, n);

    double tok_max;
    w->logp_nats = scored_diff(c, tok, exp_tok, &tok_max);
    w->logp = w->logp_nats / (bf16 ? lmax : tok_max);

    /* the adapter must matter: far from the base model's log-probs */
    float *base_tok = tu_st_read_f32(c->st, "base.token_logp", NULL);
    double moved = scored_diff(c, exp_tok, base_tok, NULL);
    assert_true(moved > 1000 * FP32_LOGP_REL * tok_max);

    if (!bf16) {
        int64_t *rows = malloc(sizeof(int64_t) * (size_t)c->N);
        for (int64_t i = 0; i < c->N; i++) rows[i] = i;
        float *logits = malloc(sizeof(float) * (size_t)c->N * V);
        TU_CHECK(anc_model_logits_rows(m, a, rows, c->N, logits, &err), &err);
        w->logits = tu_max_abs_diff(logits, exp_logits, n) / lmax;
        tu_assert_close("fp32 logits", logits, exp_logits, n, FP32_LOGITS_REL, 0);
        free(rows);
        free(logits);
        /* token_logp of unscored tokens is 0 in both */
        tu_assert_close("fp32 token_logp", tok, exp_tok, (size_t)c->N, FP32_LOGP_REL, 0);
    }

    /* backward: frozen base, adapter gradients only */
    TU_CHECK(anc_model_backward(m, a, &c->b, c->coef, NULL, &err), &err);
    size_t n_ref = 0;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.grad.", name);
    for (size_t i = 0; i < anc_st_count(c->st); i++)
        if (!strncmp(anc_st_get(c->st, i)->name, prefix, strlen(prefix))) n_ref++;
    assert_int_equal(n_ref, l->n_specs);  /* every adapter tensor has a reference, none left over */
    for (size_t i = 0; i < l->n_specs; i++) {
        const anc_param_spec *s = &l->specs[i];
        snprintf(key, sizeof key, "%s%s", prefix, s->name);
        float *eg = tu_st_read_f32(c->st, key, &n);
        assert_int_equal(n, s->n_elems);
        const float *g = l->grads + s->offset;
        double scale = fmax(tu_max_abs(eg, n), 1e-6), r = tu_max_abs_diff(g, eg, n) / scale, ss = 0;
        for (uint64_t j = 0; j < n; j++) ss += ((double)g[j] - eg[j]) * ((double)g[j] - eg[j]);
        w->grad_rms = fmax(w->grad_rms, sqrt(ss / (double)n) / scale);
        if (r > w->grad) {
            w->grad = r;
            snprintf(w->grad_name, sizeof w->grad_name, "%s", s->name);
        }
        if (!bf16) tu_assert_close(key, g, eg, n, FP32_GRAD_REL, 1e-6);
        free(eg);
    }

    m->lora = NULL;
    anc_lora_free(l);
    free(tok);
    free(exp_tok);
    free(exp_logits);
    free(base_tok);
    anc_acts_free(a);
    anc_model_free(m);
}

static const char *const ADAPTERS[] = {"adapter_qv", "adapter_all_rslora"};

static void test_fp32_matches_torch(void **state) {
    (void)state;
    lora_cases c;
    load_cases(&c);
    for (size_t k = 0; k < sizeof ADAPTERS / sizeof ADAPTERS[0]; k++) {
        worst_figs w;
        measure(&c, ADAPTERS[k], 0, &w);
        printf("  %s fp32: logits %.2e, token logp %.2e (%.2e nats), worst gradient %.2e (%s) x max|ref| "
               "(bounds %.0e, %.0e, %.0e)\n",
               ADAPTERS[k], w.logits, w.logp, w.logp_nats, w.grad, w.grad_name, FP32_LOGITS_REL, FP32_LOGP_REL,
               FP32_GRAD_REL);
        assert_true(w.logits <= FP32_LOGITS_REL && w.logp <= FP32_LOGP_REL && w.grad <= FP32_GRAD_REL);
    }
    free_cases(&c);
}

static void test_bf16_within_bounds(void **state) {
    (void)state;
    lora_cases c;
    load_cases(&c);
    for (size_t k = 0; k < sizeof ADAPTERS / sizeof ADAPTERS[0]; k++) {
        worst_figs w;
        measure(&c, ADAPTERS[k], 1, &w);
        printf("  %s bf16: max |d token logp| %.4f nats = %.4f x max|logit| (bound %.3f), worst gradient %.4f x "
               "max|ref| (%s; bound %.2f), worst RMS gradient error %.4f x max|ref| (bound %.2f)\n",
               ADAPTERS[k], w.logp_nats, w.logp, BF16_LOGP_REL, w.grad, w.grad_name, BF16_GRAD_REL, w.grad_rms,
               BF16_GRAD_RMS_REL);
        assert_true(w.logp <= BF16_LOGP_REL);
        assert_true(w.grad <= BF16_GRAD_REL);
        assert_true(w.grad_rms <= BF16_GRAD_RMS_REL);
    }
    free_cases(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp32_matches_torch),
        cmocka_unit_test(test_bf16_within_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
