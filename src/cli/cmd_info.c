/* anchor info: what a model is and what it needs, without loading weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "tensor/gemm.h"
#include "core/fileutil.h"
#include "io/safetensors.h"
#include "model/model.h"

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) { bytes /= 1024; i++; }
    snprintf(buf, n, "%.1f %s", bytes, u[i]);
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    long tokens = 1024;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "Hugging Face model folder (config.json + safetensors)"},
        {"tokens", OPT_COUNT, &tokens, "N", "tokens per micro-batch for the memory estimate (default 1024)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "info", "--model DIR", "Prints the architecture, parameter count, tensor dtypes and memory needs of a model.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model) return cli_usage_error("info", "--model DIR is required");

    anc_error err = {0};
    anc_config cfg;
    char *cfg_path = anc_path_join(model, "config.json");
    anc_status st = anc_config_load(&cfg, cfg_path, &err);
    free(cfg_path);
    if (st) return cli_fail("info", &err);

    char **files = NULL;
    size_t n_files = 0;
    if ((st = anc_model_weight_files(model, &files, &n_files, &err))) return cli_fail("info", &err);
    size_t by_dtype[16] = {0};
    uint64_t file_bytes = 0;
    size_t n_tensors = 0;
    for (size_t i = 0; i < n_files; i++) {
        anc_safetensors *sf = NULL;
        if ((st = anc_st_open(&sf, files[i], &err))) return cli_fail("info", &err);
        for (size_t k = 0; k < anc_st_count(sf); k++) {
            const anc_st_tensor *t = anc_st_get(sf, k);
            if ((unsigned)t->dtype < 16) by_dtype[t->dtype] += t->n_elems;
            file_bytes += t->nbytes;
            n_tensors++;
        }
        anc_st_close(sf);
        free(files[i]);
    }
    free(files);

    size_t n_params = anc_param_count(&cfg);
    char b1[32], b2[32], b3[32], b4[32];
    printf("model           %s\n", model);
    printf("architecture    %s (%s)\n", anc_arch_name(cfg.arch), anc_arch_model_type(cfg.arch));
    printf("parameters      %zu (%.2f M)%s\n", n_params, n_params / 1e6, cfg.tie_word_embeddings ? ", embeddings tied" : "");
    printf("layers          %d, hidden %d, intermediate %d\n", cfg.num_layers, cfg.hidden_size, cfg.intermediate_size);
    printf("attention       %d heads, %d kv heads, head dim %d%s\n", cfg.num_heads, cfg.num_kv_heads, cfg.head_dim,
           cfg.attention_bias ? ", q/k/v bias" : "");
    printf("vocabulary      %d\n", cfg.vocab_size);
    printf("rope            theta %g%s, max positions %d\n", cfg.rope_theta,
           cfg.rope_scaling.type == ANC_ROPE_LLAMA3 ? ", llama3 scaling" : "", cfg.max_position_embeddings);
    printf("weight files    %zu, %zu tensors, %s on disk:", n_files, n_tensors, (human(b1, sizeof b1, (double)file_bytes), b1));
    for (int d = 0; d < 16; d++)
        if (by_dtype[d]) printf(" %s %zu", anc_dtype_name((anc_dtype)d), by_dtype[d]);
    printf("\n");
    double w = 4.0 * n_params, act = (double)anc_model_act_bytes_per_token(&cfg) * tokens;
    human(b1, sizeof b1, w);
    human(b2, sizeof b2, w + act);
    human(b3, sizeof b3, 4 * w + act);
    human(b4, sizeof b4, act);
    printf("memory (fp32)   weights %s; scoring %s; training with AdamW %s (%ld tokens per micro-batch, activations %s)\n",
           b1, b2, b3, tokens, b4);
    printf("blas            OpenBLAS kernel %s, %d threads\n", anc_blas_corename(), anc_blas_threads());
    {
        /* the bf16 kernel oneDNN picks on this CPU, from one small product */
        anc_gemm *g = NULL;
        anc_error gerr = {0};
        uint16_t a[16 * 16] = {0};
        float c[16 * 16];
        const char *kernel = "unavailable";
        if (anc_gemm_create(&g, &gerr) == ANC_OK &&
            anc_gemm_bf16(g, 0, 1, 16, 16, 16, 1.0f, a, 16, a, 16, 0.0f, c, 16, &gerr) == ANC_OK)
            kernel = anc_gemm_bf16_kernel(g);
        human(b1, sizeof b1, 2.0 * n_params);
        printf("precision       fp32 (default); --bf16: products through oneDNN %s, AVX512-BF16 %s, bf16 weight copy %s\n",
               kernel, __builtin_cpu_supports("avx512bf16") ? "yes" : "no", b1);
        anc_gemm_free(g);
    }
    return 0;
}
