/* Training-step benchmark: one APO-zero optimiser step on one preference
 * pair of 2 x 512 tokens (128 prompt + 384 response tokens per side) for a
 * SmolLM2-135M-shaped random model: forward, loss, backward, gradient
 * clipping and AdamW — reference log-probs precomputed, as in training.
 * --config FILE takes a real model's config.json shape instead (random
 * weights, bench/shapes/), --tokens N the pair's total tokens, --lora-r R
 * LoRA on all-linear (with --bf16 on a frozen bf16 base, as train
 * --use-peft --bf16), --gradient-checkpointing as train's.
 * Prints "key value" lines that bench/run.sh compares with PyTorch
 * (bench/torch_train.py does the identical step). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_model.h"
#include "core/dtype.h"
#include "core/blas.h"
#include "core/rng.h"
#include "model/lora.h"
#include "train/loss.h"
#include "train/optim.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A model of config file path with random weights (uniform, std 0.02;
 * norms 1): a frozen bf16 base when frozen16. NULL after printing why. */
static anc_model *shape_model(const char *path, int frozen16) {
    anc_config cfg;
    anc_error err = {0};
    anc_model *m = NULL;
    if (anc_config_load(&cfg, path, &err) ||
        (frozen16 ? anc_model_create_frozen16(&m, &cfg, &err) : anc_model_create(&m, &cfg, &err))) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    const float a = 0.02f * sqrtf(3.0f);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < m->n_specs; i++) {
        const anc_param_spec *sp = &m->specs[i];
        for (size_t k = 0; k < sp->n_elems; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            float v = sp->ndim == 1 ? 1.0f : a * ((float)(x >> 40) * (2.0f / 16777216.0f) - 1.0f);
            if (sp->ndim == 2 && frozen16) m->params16[sp->offset + k] = anc_f32_to_bf16(v);
            else m->params[sp->offset + k] = v;
        }
    }
    return m;
}

int main(int argc, char **argv) {
    anc_blas_select_core(argv);
    int layers = 30, steps = 3, prompt = 128, resp = 384, bf16 = 0, lora_r = 0, ckpt = 0;
    double lora_dropout = 0.05;
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (!strcmp(argv[i], "--gradient-checkpointing")) ckpt = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--config")) config = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--tokens")) {
            int tok = atoi(argv[++i]);
            if (tok >= 16) resp = tok / 2 - (prompt = tok / 8);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "--layers")) layers = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--lora-r")) lora_r = atoi(argv[++i]);  /* LoRA on all-linear, frozen base */
        else if (i + 1 < argc && !strcmp(argv[i], "--lora-dropout")) lora_dropout = atof(argv[++i]);
    }
    /* --steps 0: a single step, timed without a warm-up (shapes too large to repeat) */
    if (steps < 0 || steps > 50) steps = 3;
    const int timed_from = steps == 0 ? 0 : 1;
    double t_load = now();
    anc_model *m = config ? shape_model(config, bf16 && lora_r > 0) : bench_smollm2_model_as(layers, 1, bf16 && lora_r > 0);
    if (!m) return 1;
    t_load = now() - t_load;
    {
        anc_error e0 = {0};
        if (bf16 && !m->frozen16 && anc_model_set_bf16(m, 1, &e0)) { fprintf(stderr, "%s\n", e0.message); return 1; }
        if (bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    }
    const anc_config cfg = m->cfg;
    anc_error err = {0};
    anc_rng r;
    anc_rng_seed(&r, 2);
    const int L = prompt + resp;
    const int64_t N = 2 * (int64_t)L;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *mask = malloc((size_t)N);
    int64_t offsets[3] = {0, L, 2 * (int64_t)L};
    for (int64_t t = 0; t < N; t++) {
        int pos = (int)(t % L);
        tokens[t] = (t >= L && pos < prompt) ? tokens[pos] : (int32_t)anc_rng_below(&r, (uint64_t)cfg.vocab_size);
        mask[t] = pos >= prompt;
    }
    anc_batch b = {N, tokens, 2, offsets, mask};
    anc_acts *a = anc_acts_create();
    anc_acts_set_checkpointing(a, ckpt);
    float seq[2], ref[2];
    if (anc_model_forward(m, a, &b, NULL, ref, NULL, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }

    /* LoRA: only the adapters have gradients and AdamW moments; the reference
     * pass above ran on the base before the adapters were attached */
    anc_lora *lora = NULL;
    if (lora_r > 0) {
        anc_lora_config lc;
        anc_lora_config_default(&lc);
        lc.r = lora_r;
        lc.alpha = 2.0 * lora_r;
        lc.dropout = lora_dropout;
        lc.targets = ANC_LORA_ALL_LINEAR;
        if (anc_lora_create(&lora, &m->cfg, &lc, &err) || anc_lora_alloc_grads(lora, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        anc_lora_init(lora, 1);
        lora->training = 1;
        m->lora = lora;
    }
    float *train_params = lora ? lora->params : m->params;
    size_t n_train = lora ? lora->n_params : m->n_params;
    float *grads = lora ? lora->grads : calloc(m->n_params, sizeof(float)), *dtok = calloc((size_t)N, sizeof(float));
    anc_optim opt;
    anc_optim_config oc = {ANC_OPT_ADAMW, 1e-6, 0.9, 0.999, 1e-8, 0.0};
    if (anc_optim_init(&opt, &oc, lora ? lora->specs : m->specs, lora ? lora->n_specs : m->n_specs, n_train, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
    anc_loss_params lp;
    anc_loss_params_default(&lp);
    int32_t lens[2] = {resp, resp};
    double t_step = 0, loss0 = 0;
    for (int s = 0; s <= steps; s++) {   /* step 0 is a warm-up */
        double t0 = now();
        memset(grads, 0, sizeof(float) * n_train);
        if (lora) lora->dropout_pass = (uint64_t)s;
        if (anc_model_forward(m, a, &b, NULL, seq, NULL, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        anc_loss_batch lb;
        memset(&lb, 0, sizeof lb);
        lb.n = 1;
        lb.chosen_logp = &seq[0];
        lb.rejected_logp = &seq[1];
        lb.ref_chosen_logp = &ref[0];
        lb.ref_rejected_logp = &ref[1];
        lb.chosen_len = &lens[0];
        lb.rejected_len = &lens[1];
        anc_loss_out lo;
        float dc, dr;
        if (anc_loss_compute(ANC_LOSS_APO_ZERO, &lp, NULL, &lb, 1.0, &lo, &dc, &dr, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        if (s == 0) loss0 = lo.loss;
        for (int64_t t = 0; t < N; t++) dtok[t] = mask[t] ? (t < L ? dc : dr) : 0.0f;
        if (anc_model_backward(m, a, &b, dtok, lora ? NULL : grads, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        anc_clip_grad_norm(grads, n_train, 1.0);
        anc_optim_step(&opt, train_params, grads, 1e-6);
        if (!lora) anc_model_sync_bf16(m);
        if (s >= timed_from) t_step += now() - t0;
    }
    t_step /= steps > 0 ? steps : 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double P = (double)m->n_params;
    /* peak SGEMM rate measured by bench_engine is the MFU denominator; here
     * report FLOP/s so run.sh can divide. */
    printf("impl anchor\n");
    if (config) printf("shape %s (%d layers, hidden %d)\n", config, cfg.num_layers, cfg.hidden_size);
    printf("precision %s\n", m->frozen16 ? "bf16 (oneDNN products, frozen base in bf16 only)"
                                         : bf16 ? "bf16 (oneDNN products, fp32 master weights)" : "fp32");
    printf("gradient_checkpointing %s\n", ckpt ? "on" : "off");
    printf("init_s %.1f\n", t_load);
    printf("blas_core %s\n", anc_blas_corename());
    printf("params %.0f\n", P);
    if (lora) printf("lora all-linear r %d dropout %g, trainable %zu (%.2f%%)\n", lora_r, lora_dropout, n_train, 100.0 * (double)n_train / P);
    printf("tokens_per_step %lld\n", (long long)N);
    printf("step_s %.4f\n", t_step);
    printf("train_tok_s %.1f\n", N / t_step);
    /* LoRA skips the base weight gradients: forward 2PN + input gradients 2PN */
    printf("train_gflops %.1f\n", (lora ? 4 : 6) * P * N / t_step / 1e9);
    printf("peak_rss_mb %.1f\n", ru.ru_maxrss / 1024.0);
    printf("initial_loss %.6f\n", loss0);
    anc_optim_free(&opt);
    if (!lora) free(grads);
    m->lora = NULL;
    anc_lora_free(lora);
    free(dtok); free(tokens); free(mask);
    anc_acts_free(a);
    anc_model_free(m);
    return 0;
}
