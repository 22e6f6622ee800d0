/* anchor vs llama.cpp on the same model: the SmolLM2-135M-shaped random
 * model (bench_model.h) with SmolLM2's real tokenizer, exported by
 * anchor's GGUF writer (f32, and q8_0 for llama.cpp's usual setting), and
 * anchor's own greedy KV-cache decoding of the same prompts timed here:
 * 8 prompts of 64 random ids, 64 new tokens each (no stop token), decoded
 * one sequence at a time and 8 together, in fp32 and then with --bf16. bench/llamacpp_bench.mjs times
 * llama.cpp (node-llama-cpp) on the GGUF with the prompts this writes;
 * bench/run.sh prints the ratios.
 *   bench_gguf OUT_DIR TOKENIZER_DIR [--layers N] [--new N]
 * Writes OUT_DIR/model-f32.gguf, OUT_DIR/model-q8_0.gguf and
 * OUT_DIR/prompts.json; prints "key value" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_model.h"
#include "core/blas.h"
#include "core/fileutil.h"
#include "core/rng.h"
#include "flow/gguf_model.h"
#include "model/generate.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int export_gguf(const anc_model *m, const char *tok_dir, uint32_t type, const char *path) {
    anc_error err = {0};
    anc_gguf_writer *w = NULL;
    anc_gguf_model_keep keep;
    memset(&keep, 0, sizeof keep);
    anc_gguf_model_counts c;
    anc_gguf_vocab_info vi;
    anc_status st = anc_gguf_writer_create(&w, 0, &err);
    if (!st) st = anc_gguf_put_model(w, m, type, "smollm2-135m-shaped-random", &keep, &c, &err);
    if (!st) st = anc_gguf_put_vocab(w, tok_dir, &m->cfg, NULL, &vi, &err);
    uint64_t bytes = 0;
    double t0 = now();
    if (!st) st = anc_gguf_write(w, path, NULL, NULL, &bytes, &err);
    if (!st) printf("export_%s_s %.2f\nexport_%s_mb %.1f\n", anc_ggml_type_name(type), now() - t0, anc_ggml_type_name(type), bytes / 1e6);
    anc_gguf_writer_free(w);
    anc_gguf_model_keep_free(&keep);
    if (st) fprintf(stderr, "bench_gguf: %s\n", err.message);
    return st ? 1 : 0;
}

int main(int argc, char **argv) {
    anc_blas_select_core(argv);
    if (argc < 3) {
        fprintf(stderr, "usage: bench_gguf OUT_DIR TOKENIZER_DIR [--layers N] [--new N]\n");
        return 2;
    }
    const char *out = argv[1], *tok_dir = argv[2];
    int layers = 30, n_new = 64;
    for (int i = 3; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--layers")) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--new")) n_new = atoi(argv[++i]);
    }
    anc_error err = {0};
    if (anc_mkdirs(out, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    anc_model *m = bench_smollm2_model(layers, 3);
    if (!m) return 1;
    char *g32 = anc_path_join(out, "model-f32.gguf"), *g8 = anc_path_join(out, "model-q8_0.gguf");
    char *pp = anc_path_join(out, "prompts.json");
    if (export_gguf(m, tok_dir, ANC_GGML_F32, g32) || export_gguf(m, tok_dir, ANC_GGML_Q8_0, g8)) return 1;
    enum { NP = 8, PL = 64 };
    int32_t prompts[NP][PL];
    anc_gen_request reqs[NP];
    anc_rng r;
    anc_rng_seed(&r, 4);
    FILE *f = fopen(pp, "w");
    if (!f) return 1;
    fprintf(f, "[");
    for (int i = 0; i < NP; i++) {
        fprintf(f, "%s[", i ? "," : "");
        for (int k = 0; k < PL; k++) {
            prompts[i][k] = (int32_t)anc_rng_below(&r, (uint64_t)m->cfg.vocab_size);
            fprintf(f, "%s%d", k ? "," : "", prompts[i][k]);
        }
        fprintf(f, "]");
        reqs[i].prompt = prompts[i];
        reqs[i].n_prompt = PL;
        reqs[i].stream = (uint64_t)i;
    }
    fprintf(f, "]\n");
    fclose(f);
    printf("impl anchor\nblas_core %s\nparams %zu\nlayers %d\nprompts %d x %d tokens, %d new tokens each, greedy\n",
           anc_blas_corename(), m->n_params, layers, NP, PL, n_new);
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = n_new; /* greedy, no stop ids: every sequence runs to n_new */
    anc_gen_result res[NP];
    const int par[2] = {1, NP};
    const char *names[4] = {"single", "batched", "bf16_single", "bf16_batched"};
    for (int k = 0; k < 4; k++) {
        if (k == 2) { /* anchor --bf16: bf16 weights, the decoding products of tensor/gemv_bf16.c */
            if (anc_model_set_bf16(m, 1, &err)) {
                fprintf(stderr, "(bf16 skipped: %s)\n", err.message);
                break;
            }
            anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
        }
        gc.parallel = par[k % 2];
        double t0 = now();
        if (anc_generate(m, reqs, NP, &gc, res, NULL, NULL, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double t = now() - t0;
        long toks = 0;
        for (int i = 0; i < NP; i++) toks += res[i].n;
        anc_gen_results_free(res, NP);
        printf("anchor_%s_tok_s %.1f\n", names[k], toks / t);
    }
    anc_model_free(m);
    free(g32), free(g8), free(pp);
    return 0;
}
