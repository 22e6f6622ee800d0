/* Drafting benchmark: tokens/s of KV-cache generation for a
 * SmolLM2-135M-shaped random model, 8 prompts of 64 tokens and 64 new tokens
 * each, decoded one sequence at a time and 8 together; with --batch P, P
 * prompts decoded P together as well. Prints tokens/s and the rate at which
 * the weights are read (bytes of weights per decode step x steps / s).
 *   bench_generate [--layers N] [--new N] [--bf16] [--batch P] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_model.h"
#include "core/blas.h"
#include "core/rng.h"
#include "model/generate.h"
#include "tensor/gemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    anc_blas_select_core(argv);
    int layers = 30, n_new = 64, bf16 = 0, batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--batch")) batch = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--layers")) layers = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--new")) n_new = atoi(argv[++i]);
    }
    anc_model *m = bench_smollm2_model(layers, 3);
    if (!m) return 1;
    const anc_config cfg = m->cfg;
    anc_error err = {0};
    if (bf16) {
        if (anc_model_set_bf16(m, 1, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    }
    printf("precision %s\n", bf16 ? "bf16" : "fp32");
    anc_rng r;
    anc_rng_seed(&r, 4);
    enum { NP = 8, PL = 64 };
    const int n_all = batch > NP ? batch : NP;
    int32_t *prompts = malloc(sizeof(int32_t) * (size_t)n_all * PL);
    anc_gen_request *reqs = calloc((size_t)n_all, sizeof *reqs);
    anc_gen_result *res = calloc((size_t)n_all, sizeof *res);
    if (!prompts || !reqs || !res) return 1;
    for (int i = 0; i < n_all; i++) {
        for (int k = 0; k < PL; k++) prompts[i * PL + k] = (int32_t)anc_rng_below(&r, (uint64_t)cfg.vocab_size);
        reqs[i].prompt = prompts + i * PL;
        reqs[i].n_prompt = PL;
        reqs[i].stream = (uint64_t)i;
    }
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = n_new;
    gc.sampling.temperature = 1.0f;
    gc.seed = 1;
    const double weight_bytes = (double)m->n_params * (bf16 ? 2.0 : 4.0);
    printf("impl anchor\nblas_core %s\nparams %zu\nprompts %d x %d tokens, %d new tokens each\n", anc_blas_corename(),
           m->n_params, NP, PL, n_new);
    printf("kernel %s\n", bf16 ? (anc_gemv_bf16_available() ? "decoding products: anc_gemv_bf16 (AVX512-BF16)"
                                                               : "decoding products: oneDNN matmul")
                              : "OpenBLAS sgemm");
    double rate[3] = {0};
    int par[3] = {1, NP, batch}, n_req[3] = {NP, NP, batch};
    for (int k = 0; k < 3; k++) {
        if (k == 2 && batch <= 0) break;
        gc.parallel = par[k];
        double t0 = now();
        if (anc_generate(m, reqs, n_req[k], &gc, res, NULL, NULL, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
        double t = now() - t0;
        long toks = 0;
        for (int i = 0; i < n_req[k]; i++) toks += res[i].n;
        anc_gen_results_free(res, n_req[k]);
        rate[k] = toks / t;
        /* one decode step reads every weight once for all sequences in it */
        printf("parallel_%d_tok_s %.1f\nparallel_%d_weights_gb_s %.1f\n", par[k], rate[k], par[k],
               rate[k] / par[k] * weight_bytes / 1e9);
    }
    free(prompts);
    free(reqs);
    free(res);
    printf("speedup_parallel %.2f\n", rate[1] / rate[0]);
    anc_model_free(m);
    return 0;
}
