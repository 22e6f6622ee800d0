/* anchor info: what a model is and what it needs, without loading weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "tensor/gemm.h"
#include "core/fileutil.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/memplan.h"
#include "model/model.h"

/* "q_proj,v_proj" or "all-linear" for a target mask, into buf. */
static void target_names(char *buf, size_t n, unsigned targets) {
    if (targets == ANC_LORA_ALL_LINEAR) {
        snprintf(buf, n, "all-linear");
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int m = 0; m < ANC_LORA_NMOD && len < n; m++)
        if (targets & (1u << m)) {
            int w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", anc_lora_module_name((anc_lora_module)m));
            if (w < 0) break;
            len += (size_t)w;
        }
}

/* The memory plan table: full / LoRA training in fp32 / bf16, each with and
 * without gradient checkpointing, and scoring; whether each fits in what
 * this process can still use. */
static int print_plan(const anc_config *cfg, long tokens, const anc_lora_config *lc) {
    anc_error err = {0};
    uint64_t avail = 0;
    const char *avail_src = NULL;
    int have_avail = anc_mem_available_under("", &avail, &avail_src, &err) == ANC_OK;
    char tg[128], b[5][32];
    target_names(tg, sizeof tg, lc->targets);
    printf("memory plan     %ld tokens per micro-batch, all scored, AdamW; LoRA r %d on %s (%zu adapter parameters)\n", tokens,
           lc->r, tg, anc_lora_param_count(cfg, lc));
    printf("                   %-11s %-11s %-11s %-11s %-11s %s\n", "weights", "grads+optim", "activations", "vocab", "total", "fits");
    static const struct {
        const char *name;
        int lora, bf16, ckpt, train;
    } rows[] = {
        {"full fp32", 0, 0, 0, 1},      {"full fp32 +ckpt", 0, 0, 1, 1}, {"full bf16", 0, 1, 0, 1},
        {"full bf16 +ckpt", 0, 1, 1, 1}, {"LoRA fp32", 1, 0, 0, 1},      {"LoRA fp32 +ckpt", 1, 0, 1, 1},
        {"LoRA bf16", 1, 1, 0, 1},      {"LoRA bf16 +ckpt", 1, 1, 1, 1}, {"score fp32", 0, 0, 1, 0},
        {"score bf16", 0, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        anc_mem_plan_opts o = {0};
        o.lora = rows[i].lora;
        o.lora_cfg = lc;
        o.bf16 = rows[i].bf16;
        o.checkpointing = rows[i].ckpt;
        o.tokens = tokens;
        o.train = rows[i].train;
        anc_mem_plan p;
        if (anc_mem_plan_compute(cfg, &o, &p, &err)) return cli_fail("info", &err);
        anc_mem_human(b[0], sizeof b[0], (double)p.weights);
        anc_mem_human(b[1], sizeof b[1], (double)(o.lora ? p.adapters : p.grads + p.optimizer));
        anc_mem_human(b[2], sizeof b[2], (double)p.activations);
        anc_mem_human(b[3], sizeof b[3], (double)p.vocab);
        anc_mem_human(b[4], sizeof b[4], (double)p.total);
        printf("  %-16s %-11s %-11s %-11s %-11s %-11s %s\n", rows[i].name, b[0], o.train ? b[1] : "-", b[2], b[3], b[4],
               !have_avail ? "?" : p.total <= avail ? "yes" : "no");
    }
    printf("                (+ckpt: --gradient-checkpointing; LoRA grads+optim: the adapters with their gradients and AdamW\n"
           "                moments; bf16 LoRA holds the base in bf16 only; total adds %d%% + %llu MiB for the runtime;\n"
           "                scoring counts backward buffers it never allocates: an upper bound)\n",
           ANC_MEM_OVERHEAD_PCT, (unsigned long long)(ANC_MEM_OVERHEAD_FIXED >> 20));
    if (have_avail) {
        anc_mem_human(b[0], sizeof b[0], (double)avail);
        printf("available       %s (%s)\n", b[0], avail_src);
    } else {
        printf("available       unknown (%s)\n", err.message);
    }
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    long tokens = 1024;
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    long lora_r = lc.r;
    cli_list lora_targets = {{0}, 0, 0};
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "Hugging Face model folder (config.json + safetensors)"},
        {"tokens", OPT_COUNT, &tokens, "N", "tokens of the largest micro-batch for the memory plan (default 1024)"},
        {"lora-r", OPT_COUNT, &lora_r, "R", "LoRA rank for the LoRA rows of the memory plan (default 16)"},
        {"lora-target-modules", OPT_LIST, &lora_targets, "NAMES",
         "projections the planned LoRA adapts: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear (default q_proj,v_proj)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "info", "--model DIR|config.json", "Prints the architecture, parameter count and tensor dtypes of a model, and its memory plan: full and LoRA training in fp32 and bf16, with and without gradient checkpointing, and scoring, at --tokens per micro-batch, each against the memory this process can still use (MemAvailable or the cgroup limit).", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model) return cli_usage_error("info", "--model DIR is required");
    if (tokens < 1) return cli_usage_error("info", "--tokens: expected at least 1, got %ld", tokens);
    {
        anc_error lerr = {0};
        lc.r = (int)(lora_r > 65536 ? 65537 : lora_r);
        if (lora_targets.n && anc_lora_parse_targets(lora_targets.v, lora_targets.n, &lc.targets, &lerr))
            return cli_usage_error("info", "--lora-target-modules: %s", lerr.message);
        if (anc_lora_config_check(&lc, &lerr)) return cli_usage_error("info", "--lora-r: %s", lerr.message);
    }

    anc_error err = {0};
    anc_config cfg;
    /* a folder, or a bare config.json: plan a model before downloading it */
    int bare = anc_path_is_file(model);
    char *cfg_path = bare ? strdup(model) : anc_path_join(model, "config.json");
    anc_status st = cfg_path ? anc_config_load(&cfg, cfg_path, &err) : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
    free(cfg_path);
    if (st) return cli_fail("info", &err);

    char **files = NULL;
    size_t n_files = 0;
    if (!bare) {
        char *idx = anc_path_join(model, "model.safetensors.index.json"), *one = anc_path_join(model, "model.safetensors");
        bare = idx && one && !anc_path_exists(idx) && !anc_path_exists(one);
        free(idx);
        free(one);
    }
    if (!bare && (st = anc_model_weight_files(model, &files, &n_files, &err))) return cli_fail("info", &err);
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
    char b1[32];
    printf("model           %s\n", model);
    printf("architecture    %s (%s)\n", anc_arch_name(cfg.arch), anc_arch_model_type(cfg.arch));
    printf("parameters      %zu (%.2f M)%s\n", n_params, n_params / 1e6, cfg.tie_word_embeddings ? ", embeddings tied" : "");
    printf("layers          %d, hidden %d, intermediate %d\n", cfg.num_layers, cfg.hidden_size, cfg.intermediate_size);
    printf("attention       %d heads, %d kv heads, head dim %d%s\n", cfg.num_heads, cfg.num_kv_heads, cfg.head_dim,
           cfg.attention_bias ? ", q/k/v bias" : "");
    printf("vocabulary      %d\n", cfg.vocab_size);
    printf("rope            theta %g%s, max positions %d\n", cfg.rope_theta,
           cfg.rope_scaling.type == ANC_ROPE_LLAMA3 ? ", llama3 scaling" : "", cfg.max_position_embeddings);
    if (bare) {
        printf("weight files    none (the plan below is from config.json alone)\n");
    } else {
        printf("weight files    %zu, %zu tensors, %s on disk:", n_files, n_tensors, (anc_mem_human(b1, sizeof b1, (double)file_bytes), b1));
        for (int d = 0; d < 16; d++)
            if (by_dtype[d]) printf(" %s %zu", anc_dtype_name((anc_dtype)d), by_dtype[d]);
        printf("\n");
    }
    if ((rc = print_plan(&cfg, tokens, &lc))) return rc;
    printf("blas            OpenBLAS kernel %s, %d threads\n", anc_blas_corename(), anc_blas_threads());
#ifdef ANCHOR_HAVE_MPI
    printf("processes       MPI built in: mpirun -np N anchor train|generate|eval is data parallel (docs/distributed.md)\n");
#else
    printf("processes       one (built without MPI: install libopenmpi-dev and rebuild for mpirun)\n");
#endif
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
        anc_mem_human(b1, sizeof b1, 2.0 * n_params);
        printf("precision       fp32 (default); --bf16: products through oneDNN %s, decoding products (<= %d rows) %s, "
               "AVX512-BF16 %s, bf16 weight copy %s\n",
               kernel, ANC_GEMV_MAX_M, anc_gemv_bf16_available() ? "anc_gemv_bf16 (vdpbf16ps, OpenMP)" : "oneDNN too",
               __builtin_cpu_supports("avx512bf16") ? "yes" : "no", b1);
        anc_gemm_free(g);
    }
    return 0;
}
