/* Memory plan of a run (model/memplan.h).
 * - anc_lora_param_count equals the n_params of a real anc_lora_create on
 *   the reference fixtures (GQA, q/k/v biases with a tied head, llama3
 *   rope) for several r and targets.
 * - Full fine-tuning counts the fp32 slab, a gradient slab and AdamW m, v
 *   (4 + 4 + 8 bytes per parameter of anc_param_layout) plus the
 *   optimiser's 1-byte decay mask (anc_optim_init); --bf16 adds a 2-byte
 *   copy; a bf16 LoRA base is 2 bytes per parameter with the 1-D tensors
 *   in fp32, counted here from the layout. Checkpointing lowers the
 *   activations, the total grows with tokens.
 * - Llama-3.1-8B shapes: 8,030,261,248 parameters and PEFT's 41,943,040
 *   adapter parameters for r = 16 all-linear (the published figures); a
 *   LoRA bf16 + checkpointing plan at 1024 tokens under 20 GiB, full fp32
 *   training over 100 GiB.
 * - anc_mem_available on this machine, and on fake /proc + cgroup trees
 *   (v2, v1 with a limit on an ancestor, unlimited, over the limit).
 * - anchor info prints the plan table. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileutil.h"
#include "model/lora.h"
#include "model/memplan.h"
#include "model/model.h"
#include "model/params.h"

#define GiB (1024.0 * 1024.0 * 1024.0)

static anc_config fixture_config(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/reference/%s/config.json", name);
    char *path = tu_path(ANCHOR_SOURCE_DIR, rel);
    anc_config c;
    anc_error err = {0};
    TU_CHECK(anc_config_load(&c, path, &err), &err);
    free(path);
    return c;
}

/* A Llama config of the given shapes, checked by anc_config_validate. */
static anc_config shapes(int C, int F, int L, int H, int KVH, int D, int V, int tied) {
    anc_config c;
    memset(&c, 0, sizeof c);
    c.arch = ANC_ARCH_LLAMA;
    c.hidden_size = C;
    c.intermediate_size = F;
    c.num_layers = L;
    c.num_heads = H;
    c.num_kv_heads = KVH;
    c.head_dim = D;
    c.vocab_size = V;
    c.tie_word_embeddings = tied;
    c.max_position_embeddings = 8192;
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 500000.0f;
    c.bos_token_id = -1;
    c.eos_token_id = -1;
    c.torch_dtype = ANC_DT_BF16;
    anc_error err = {0};
    TU_CHECK(anc_config_validate(&c, "test", &err), &err);
    return c;
}

static anc_mem_plan plan(const anc_config *c, const anc_mem_plan_opts *o) {
    anc_mem_plan p;
    anc_error err = {0};
    TU_CHECK(anc_mem_plan_compute(c, o, &p, &err), &err);
    return p;
}

/* Slab floats and 1-D floats of cfg, from the layout itself. */
static void layout_counts(const anc_config *c, size_t *total, size_t *n_1d) {
    anc_param_spec *specs = NULL;
    size_t n_specs = 0;
    anc_error err = {0};
    TU_CHECK(anc_param_layout(c, &specs, &n_specs, total, &err), &err);
    *n_1d = 0;
    for (size_t i = 0; i < n_specs; i++)
        if (specs[i].ndim == 1) *n_1d += specs[i].n_elems;
    free(specs);
}

static void test_lora_param_count(void **state) {
    (void)state;
    const char *models[] = {"llama_gqa", "qwen2_tied", "llama3_rope"};
    const unsigned targets[] = {ANC_LORA_DEFAULT_TARGETS, ANC_LORA_ALL_LINEAR, 1u << ANC_LORA_K,
                                (1u << ANC_LORA_O) | (1u << ANC_LORA_DOWN), (1u << ANC_LORA_GATE) | (1u << ANC_LORA_UP)};
    const int ranks[] = {1, 4, 16};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        anc_config c = fixture_config(models[m]);
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
            for (size_t r = 0; r < sizeof ranks / sizeof ranks[0]; r++) {
                anc_lora_config lc;
                anc_lora_config_default(&lc);
                lc.r = ranks[r];
                lc.targets = targets[t];
                anc_lora *l = NULL;
                anc_error err = {0};
                TU_CHECK(anc_lora_create(&l, &c, &lc, &err), &err);
                if (anc_lora_param_count(&c, &lc) != l->n_params)
                    fail_msg("%s r=%d targets=0x%x: counted %zu, anc_lora_create made %zu", models[m], lc.r, lc.targets,
                             anc_lora_param_count(&c, &lc), l->n_params);
                anc_lora_free(l);
            }
    }
    anc_config c = fixture_config("llama_gqa");
    assert_int_equal(anc_lora_param_count(&c, NULL), 0);
    assert_int_equal(anc_lora_param_count(NULL, NULL), 0);
}

static void test_components(void **state) {
    (void)state;
    const char *models[] = {"llama_gqa", "qwen2_tied"};
    for (size_t m = 0; m < 2; m++) {
        anc_config c = fixture_config(models[m]);
        size_t total, n_1d;
        layout_counts(&c, &total, &n_1d);
        assert_int_equal(total, anc_param_count(&c)); /* a tied head counted once */

        anc_mem_plan_opts o = {0};
        o.tokens = 256;
        o.train = 1;
        anc_mem_plan p = plan(&c, &o);
        assert_int_equal(p.n_params, total);
        /* fp32 slab 4 + gradients 4 + AdamW m, v 8 = 16, + the decay mask 1 */
        assert_int_equal(p.weights + p.grads + p.optimizer, (uint64_t)16 * total + (uint64_t)total);
        assert_int_equal(p.weights, (uint64_t)4 * total);
        assert_int_equal(p.grads, (uint64_t)4 * total);
        assert_int_equal(p.adapters, 0);
        assert_int_equal(p.ref, 0);
        assert_true(p.activations >= (uint64_t)anc_model_act_bytes_per_token(&c, 0) * 256);
        assert_true(p.total > p.weights + p.grads + p.optimizer + p.activations + p.vocab);
        assert_true(p.total >= ANC_MEM_OVERHEAD_FIXED);

        o.bf16 = 1; /* + the bf16 copy of the slab */
        anc_mem_plan pb = plan(&c, &o);
        assert_int_equal(pb.weights, (uint64_t)6 * total);
        assert_true(pb.activations > p.activations); /* oneDNN conversion buffers */

        anc_lora_config lc;
        anc_lora_config_default(&lc);
        o.lora = 1;
        o.lora_cfg = &lc;
        anc_mem_plan pl = plan(&c, &o); /* frozen bf16 base */
        assert_int_equal(pl.weights, (uint64_t)2 * total + (uint64_t)4 * n_1d);
        assert_int_equal(pl.grads + pl.optimizer, 0);
        assert_int_equal(pl.n_adapter_params, anc_lora_param_count(&c, &lc));
        assert_int_equal(pl.adapters, (uint64_t)17 * pl.n_adapter_params);
        o.bf16 = 0;
        assert_int_equal(plan(&c, &o).weights, (uint64_t)4 * total);

        /* scoring holds no gradients, moments or backward row buffers */
        anc_mem_plan_opts s = {0};
        s.tokens = 256;
        s.checkpointing = 1;
        anc_mem_plan ps = plan(&c, &s);
        assert_int_equal(ps.grads + ps.optimizer + ps.adapters, 0);
        assert_true(ps.vocab < p.vocab);
        assert_true(ps.total < p.total);

        /* a held reference: at least its weights again */
        anc_mem_plan no_ref = plan(&c, &o);
        o.ref_model_held = 1;
        anc_mem_plan pr = plan(&c, &o);
        assert_true(pr.ref >= pr.weights);
        assert_true(pr.total >= no_ref.total + pr.weights);

        /* fewer scored rows: less vocabulary memory */
        o.ref_model_held = 0;
        o.scored_rows = 16;
        assert_true(plan(&c, &o).vocab < pl.vocab);
    }
}

static void test_scaling(void **state) {
    (void)state;
    /* big matrices: the 1-D tensors are a small share */
    anc_config c = shapes(1024, 4096, 4, 16, 4, 64, 32000, 0);
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    lc.targets = ANC_LORA_ALL_LINEAR;
    anc_mem_plan_opts full = {0}, lora = {0};
    full.tokens = lora.tokens = 1024;
    full.train = lora.train = 1;
    lora.lora = 1;
    lora.lora_cfg = &lc;
    lora.bf16 = 1;
    assert_true((double)plan(&c, &lora).weights < (double)plan(&c, &full).weights / 1.9);

    anc_mem_plan_opts o[] = {full, lora};
    for (int i = 0; i < 2; i++) {
        anc_mem_plan_opts k = o[i];
        anc_mem_plan plain = plan(&c, &k);
        k.checkpointing = 1;
        anc_mem_plan ck = plan(&c, &k);
        assert_true(ck.activations < plain.activations);
        assert_true(ck.total < plain.total);
        uint64_t last = 0;
        const int64_t tokens[] = {1, 64, 512, 1024, 4096, 32768};
        for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
            k.tokens = tokens[t];
            anc_mem_plan p = plan(&c, &k);
            assert_true(p.total > last);
            last = p.total;
        }
    }
}

static void test_llama_8b(void **state) {
    (void)state;
    anc_config c = shapes(4096, 14336, 32, 32, 8, 128, 128256, 0);
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    lc.r = 16;
    lc.targets = ANC_LORA_ALL_LINEAR;
    anc_mem_plan_opts o = {0};
    o.lora = 1;
    o.lora_cfg = &lc;
    o.bf16 = 1;
    o.checkpointing = 1;
    o.tokens = 1024;
    o.train = 1;
    anc_mem_plan p = plan(&c, &o);
    assert_int_equal(p.n_params, 8030261248ull);   /* Llama-3.1-8B */
    assert_int_equal(p.n_adapter_params, 41943040); /* PEFT: trainable params r=16 all-linear */
    char b[32];
    anc_mem_human(b, sizeof b, (double)p.total);
    print_message("Llama-3.1-8B LoRA r16 all-linear bf16 ckpt 1024 tokens: %s\n", b);
    assert_true((double)p.total < 20 * GiB);
    assert_true((double)p.weights > 14.9 * GiB); /* 2 bytes x 8.03e9 */

    anc_mem_plan_opts f = {0};
    f.tokens = 1024;
    f.train = 1;
    anc_mem_plan pf = plan(&c, &f);
    anc_mem_human(b, sizeof b, (double)pf.total);
    print_message("Llama-3.1-8B full fp32 1024 tokens: %s\n", b);
    assert_true((double)pf.total > 100 * GiB);
}

static void test_errors(void **state) {
    (void)state;
    anc_config c = fixture_config("llama_gqa");
    anc_mem_plan p;
    anc_error err = {0};
    anc_mem_plan_opts o = {0};
    o.train = 1;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID); /* tokens 0 */
    assert_non_null(strstr(err.message, "at least 1"));
    o.tokens = ANC_MEM_PLAN_MAX_TOKENS + 1;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID);
    o.tokens = 10;
    o.scored_rows = 11;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "[0, 10]"));
    o.scored_rows = 0;
    o.lora = 1;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "LoRA"));
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    lc.r = 0;
    o.lora_cfg = &lc;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID);
    o.lora = 0;
    o.tokens = INT64_MAX;
    assert_int_equal(anc_mem_plan_compute(&c, &o, &p, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "2^40"));
    /* the largest budget on a huge (valid) model: refused, not wrapped */
    anc_config huge = shapes(65536, 262144, 12, 512, 64, 128, 32000, 0);
    o.tokens = ANC_MEM_PLAN_MAX_TOKENS;
    assert_int_equal(anc_mem_plan_compute(&huge, &o, &p, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "2^64"));
    assert_int_equal(p.total, 0);
    o.tokens = 1;
    TU_CHECK(anc_mem_plan_compute(&huge, &o, &p, &err), &err);
    assert_int_equal(anc_mem_plan_compute(NULL, &o, &p, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_mem_plan_compute(&c, NULL, &p, &err), ANC_ERR_INVALID);
    anc_config bad = c;
    bad.num_kv_heads = 3;
    o.tokens = 10;
    assert_int_not_equal(anc_mem_plan_compute(&bad, &o, &p, &err), ANC_OK);
}

static void test_human(void **state) {
    (void)state;
    char b[32];
    anc_mem_human(b, sizeof b, 1.5 * GiB);
    assert_string_equal(b, "1.5 GiB");
    anc_mem_human(b, sizeof b, 512);
    assert_string_equal(b, "512.0 B");
    anc_mem_human(b, sizeof b, 3.0 * 1024 * 1024);
    assert_string_equal(b, "3.0 MiB");
    anc_mem_human(b, 4, 1.5 * GiB);
    assert_string_equal(b, "1.5");
}

static void test_available_here(void **state) {
    (void)state;
    uint64_t bytes = 0;
    anc_error err = {0};
    TU_CHECK(anc_mem_available(&bytes, &err), &err);
    assert_true(bytes > 0);
    char b[32];
    anc_mem_human(b, sizeof b, (double)bytes);
    print_message("available here: %s\n", b);
}

static void put(const char *root, const char *rel, const char *text) {
    char *p = tu_path(root, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    anc_error err = {0};
    TU_CHECK(anc_mkdirs(p, &err), &err);
    *slash = '/';
    tu_write_file(p, text, strlen(text));
    free(p);
}

static uint64_t available_under(const char *root, const char **src) {
    uint64_t bytes = 0;
    anc_error err = {0};
    TU_CHECK(anc_mem_available_under(root, &bytes, src, &err), &err);
    return bytes;
}

static void test_available_fake(void **state) {
    (void)state;
    const char *src = NULL;
    char *d = tu_tmpdir();
    anc_error err = {0};
    uint64_t bytes = 1;
    /* nothing readable */
    assert_int_equal(anc_mem_available_under(d, &bytes, &src, &err), ANC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "MemAvailable"));
    assert_int_equal(bytes, 0);

    /* MemAvailable only (8 GiB), cgroup v2 without a limit */
    put(d, "proc/meminfo", "MemTotal:       16777216 kB\nMemFree:         1000 kB\nMemAvailable:    8388608 kB\n");
    put(d, "proc/self/cgroup", "0::/job/task\n");
    put(d, "sys/fs/cgroup/job/task/memory.max", "max\n");
    put(d, "sys/fs/cgroup/job/task/memory.current", "1000\n");
    assert_int_equal(available_under(d, &src), 8ull << 30);
    assert_string_equal(src, "MemAvailable");

    /* a v2 limit of 2 GiB on the parent, 1.5 GiB used of which 0.5 GiB inactive file cache: 1 GiB left */
    put(d, "sys/fs/cgroup/job/memory.max", "2147483648\n");
    put(d, "sys/fs/cgroup/job/memory.current", "1610612736\n");
    put(d, "sys/fs/cgroup/job/memory.stat", "anon 1073741824\nfile 536870912\nactive_file 0\ninactive_file 536870912\n");
    assert_int_equal(available_under(d, &src), 1ull << 30);
    assert_string_equal(src, "cgroup v2 memory.max");

    /* usage past the limit: nothing left */
    put(d, "sys/fs/cgroup/job/task/memory.max", "1000\n");
    put(d, "sys/fs/cgroup/job/task/memory.current", "5000\n");
    assert_int_equal(available_under(d, &src), 0);

    /* cgroup v1 (a hybrid layout): the memory controller's folder, a limit
     * on the ancestor; "unlimited" (the page counter maximum) on the leaf */
    char *d1 = tu_tmpdir();
    put(d1, "proc/meminfo", "MemAvailable:    8388608 kB\n");
    put(d1, "proc/self/cgroup", "12:cpu,cpuacct:/a\n4:memory:/pool/job\n0::/\n");
    put(d1, "sys/fs/cgroup/memory/pool/job/memory.limit_in_bytes", "9223372036854771712\n");
    put(d1, "sys/fs/cgroup/memory/pool/job/memory.usage_in_bytes", "100\n");
    assert_int_equal(available_under(d1, &src), 8ull << 30);
    put(d1, "sys/fs/cgroup/memory/pool/memory.limit_in_bytes", "4294967296\n");
    put(d1, "sys/fs/cgroup/memory/pool/memory.usage_in_bytes", "1073741824\n");
    put(d1, "sys/fs/cgroup/memory/pool/memory.stat", "cache 0\ntotal_inactive_file 0\n");
    assert_int_equal(available_under(d1, &src), 3ull << 30);
    assert_string_equal(src, "cgroup v1 memory.limit_in_bytes");

    /* no MemAvailable line (old kernels), a cgroup limit still answers */
    put(d1, "proc/meminfo", "MemTotal:       16777216 kB\n");
    assert_int_equal(available_under(d1, &src), 3ull << 30);

    tu_rmtree(d);
    tu_rmtree(d1);
    free(d);
    free(d1);
}

static void test_cli_info(void **state) {
    (void)state;
    char *model = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("'%s' info --model '%s' --tokens 512 --lora-r 8 --lora-target-modules all-linear >'%s/out' 2>'%s/err'",
                               tu_cli(), model, d, d),
                     0);
    char *out_path = tu_path(d, "out");
    char *out = tu_read_file(out_path, NULL);
    const char *rows[] = {"full fp32", "full bf16", "LoRA fp32", "LoRA bf16", "available", "512 tokens", "r 8", "all-linear"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strstr(out, rows[i])) fail_msg("anchor info output lacks \"%s\":\n%s", rows[i], out);
    assert_non_null(strstr(out, "parameters")); /* the rest of the output is kept */
    free(out);
    assert_int_equal(tu_system("'%s' info --model '%s' --lora-target-modules nope >/dev/null 2>'%s/err'", tu_cli(), model, d), 2);
    char *err_path = tu_path(d, "err");
    char *msg = tu_read_file(err_path, NULL);
    assert_non_null(strstr(msg, "q_proj"));
    free(msg);
    assert_int_equal(tu_system("'%s' info --model '%s' --tokens 0 >/dev/null 2>'%s/err'", tu_cli(), model, d), 2);
    free(err_path);
    free(out_path);
    tu_rmtree(d);
    free(d);
    free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_param_count), cmocka_unit_test(test_components), cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_llama_8b),         cmocka_unit_test(test_errors),     cmocka_unit_test(test_human),
        cmocka_unit_test(test_available_here),   cmocka_unit_test(test_available_fake), cmocka_unit_test(test_cli_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
