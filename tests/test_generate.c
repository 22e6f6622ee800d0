/* KV-cache decoding: logits equal the training forward's, greedy decoding
 * of the real stories260K reproduces llama2.c's own output, decoding several
 * sequences together gives the same results as one at a time, and sampling
 * honours temperature / top-k / top-p. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model/llama2c.h"
#include "model/decode.h"
#include "model/generate.h"

/* Prefill a sequence in two chunks, then decode token by token: every
 * step's logits must equal the packed forward's logits at that position. */
static void check_decode_matches_forward(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/reference/%s", name);
    char *dir = tu_path(ANCHOR_SOURCE_DIR, rel);
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_model_load_hf(&m, dir, &err), &err);
    free(dir);
    const int V = m->cfg.vocab_size, N = 13;
    int32_t tokens[13];
    tu_rng r = {77};
    for (int i = 0; i < N; i++) tokens[i] = (int32_t)(tu_rng_uniform(&r) * (float)V) % V;
    int64_t off[2] = {0, N};
    anc_batch b = {N, tokens, 1, off, NULL};
    anc_acts *a = anc_acts_create();
    TU_CHECK(anc_model_forward(m, a, &b, NULL, NULL, NULL, &err), &err);
    int64_t rows[13];
    for (int i = 0; i < N; i++) rows[i] = i;
    float *ref = malloc(sizeof(float) * (size_t)N * V), *got = malloc(sizeof(float) * (size_t)V);
    TU_CHECK(anc_model_logits_rows(m, a, rows, N, ref, &err), &err);

    anc_kv_cache *kv = NULL;
    TU_CHECK(anc_kv_create(&kv, m, 3, 32, &err), &err);
    int slot = 2, n5 = 5;
    const int32_t *p = tokens;
    TU_CHECK(anc_decode_step(m, kv, &slot, &p, &n5, 1, got, &err), &err);
    tu_assert_close("prefill logits", got, ref + (size_t)4 * V, (size_t)V, 1e-5, 1e-3);
    int n3 = 3;
    p = tokens + 5;
    TU_CHECK(anc_decode_step(m, kv, &slot, &p, &n3, 1, got, &err), &err);
    tu_assert_close("second chunk logits", got, ref + (size_t)7 * V, (size_t)V, 1e-5, 1e-3);
    for (int t = 8; t < N; t++) {
        int one = 1;
        p = tokens + t;
        TU_CHECK(anc_decode_step(m, kv, &slot, &p, &one, 1, got, &err), &err);
        tu_assert_close("decode logits", got, ref + (size_t)t * V, (size_t)V, 1e-5, 1e-3);
    }
    assert_int_equal(anc_kv_len(kv, slot), N);
    /* a full slot refuses more tokens */
    anc_kv_cache *small = NULL;
    TU_CHECK(anc_kv_create(&small, m, 1, 4, &err), &err);
    int zero = 0;
    p = tokens;
    assert_int_equal(anc_decode_step(m, small, &zero, &p, &n5, 1, got, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "more than the cache"));
    anc_kv_free(small);
    anc_kv_free(kv);
    free(ref);
    free(got);
    anc_acts_free(a);
    anc_model_free(m);
}

static void test_decode_matches_forward(void **state) {
    (void)state;
    check_decode_matches_forward("llama_gqa");
    check_decode_matches_forward("qwen2_tied");
    check_decode_matches_forward("llama3_rope");
}

static void test_greedy_stories260k(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin");
    char *ids_path = tu_shared_fixture("llama2c/expected_t0_n200_ids.json");
    if (!bin || !ids_path) {
        free(bin);
        free(ids_path);
        skip();
    }
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_llama2c_load(&m, bin, &err), &err);
    json_error_t je;
    json_t *root = json_load_file(ids_path, 0, &je);
    assert_non_null(root);
    json_t *gen = json_object_get(root, "generated_ids");
    int n = (int)json_array_size(gen);
    int32_t bos = 1;
    anc_gen_request req = {&bos, 1, 0};
    anc_gen_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_new_tokens = n;
    cfg.parallel = 1;
    anc_gen_result res;
    TU_CHECK(anc_generate(m, &req, 1, &cfg, &res, NULL, NULL, &err), &err);
    assert_int_equal(res.n, n);
    for (int i = 0; i < n; i++)
        if (res.ids[i] != (int32_t)json_integer_value(json_array_get(gen, (size_t)i)))
            fail_msg("position %d: generated %d, llama2.c %d", i, res.ids[i], (int)json_integer_value(json_array_get(gen, (size_t)i)));
    printf("  stories260K greedy: %d tokens identical to llama2.c's\n", n);
    assert_int_equal(res.finish, ANC_FINISH_LENGTH);
    anc_gen_results_free(&res, 1);
    json_decref(root);
    anc_model_free(m);
    free(bin);
    free(ids_path);
}

/* Eight sampled continuations decoded one at a time and four at a time:
 * identical (each request has its own random stream). */
static void test_parallel_equals_sequential(void **state) {
    (void)state;
    char *dir = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_model_load_hf(&m, dir, &err), &err);
    free(dir);
    int32_t prompts[8][6];
    anc_gen_request reqs[8];
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 6; k++) prompts[i][k] = (int32_t)((i * 31 + k * 7) % 90 + 3);
        reqs[i].prompt = prompts[i];
        reqs[i].n_prompt = 2 + i % 5;
        reqs[i].stream = (uint64_t)i;
    }
    int32_t stop = 5;
    anc_gen_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_new_tokens = 12;
    cfg.sampling.temperature = 1.0f;
    cfg.sampling.top_p = 0.95f;
    cfg.stop_ids = &stop;
    cfg.n_stop_ids = 1;
    cfg.seed = 1234;
    anc_gen_result one[8], four[8];
    cfg.parallel = 1;
    TU_CHECK(anc_generate(m, reqs, 8, &cfg, one, NULL, NULL, &err), &err);
    cfg.parallel = 4;
    TU_CHECK(anc_generate(m, reqs, 8, &cfg, four, NULL, NULL, &err), &err);
    int total = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(one[i].n, four[i].n);
        assert_int_equal(one[i].finish, four[i].finish);
        assert_memory_equal(one[i].ids, four[i].ids, sizeof(int32_t) * (size_t)one[i].n);
        for (int k = 0; k < one[i].n; k++) assert_int_not_equal(one[i].ids[k], stop);
        total += one[i].n;
    }
    assert_true(total > 8);
    anc_gen_results_free(one, 8);
    anc_gen_results_free(four, 8);
    anc_model_free(m);
}

static void test_sampling_rules(void **state) {
    (void)state;
    float base[6] = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f};
    float l[6];
    anc_rng r;
    anc_rng_seed(&r, 9);
    anc_sampling greedy = {0.0f, 0, 1.0f}, k1 = {1.0f, 1, 1.0f}, p_small = {1.0f, 0, 0.01f}, k2 = {1.0f, 2, 1.0f};
    memcpy(l, base, sizeof l);
    assert_int_equal(anc_sample(l, 6, &greedy, &r), 1);
    for (int i = 0; i < 50; i++) {
        memcpy(l, base, sizeof l);
        assert_int_equal(anc_sample(l, 6, &k1, &r), 1);
        memcpy(l, base, sizeof l);
        assert_int_equal(anc_sample(l, 6, &p_small, &r), 1);
        memcpy(l, base, sizeof l);
        int32_t x = anc_sample(l, 6, &k2, &r);
        assert_true(x == 1 || x == 5);
    }
    /* plain sampling follows softmax: ids 1 (p~.35) and 3 (p~.0045) */
    anc_sampling plain = {1.0f, 0, 1.0f};
    int hits1 = 0, hits3 = 0, trials = 20000;
    for (int i = 0; i < trials; i++) {
        memcpy(l, base, sizeof l);
        int32_t x = anc_sample(l, 6, &plain, &r);
        hits1 += x == 1;
        hits3 += x == 3;
    }
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp(base[i]);
    double p1 = exp(3.0) / z;
    /* 5 standard deviations: a deterministic seed, so this never flakes */
    assert_true(fabs(hits1 / (double)trials - p1) < 5 * sqrt(p1 * (1 - p1) / trials));
    assert_true(hits3 < trials / 50);
}

/* --max-new-tokens 100000 on the 512-position stories260K: every sequence
 * ends within the context (library: exactly at it, marked capped; a prompt
 * that fills it gets nothing), and the CLI finishes with a note. */
static void test_generation_capped_at_context(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tok) {
        free(bin);
        free(tok);
        skip();
    }
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_llama2c_load(&m, bin, &err), &err);
    const int ctx = m->cfg.max_position_embeddings;
    assert_int_equal(ctx, 512);
    int32_t *longp = malloc(sizeof(int32_t) * 600);
    for (int i = 0; i < 600; i++) longp[i] = 1 + i % 200;
    anc_gen_request req[3] = {{longp, 3, 0}, {longp, 600, 1}, {longp, 40, 2}};
    anc_gen_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_new_tokens = 100000;
    cfg.sampling.temperature = 1.0f;
    cfg.parallel = 2;
    anc_gen_result res[3];
    TU_CHECK(anc_generate(m, req, 3, &cfg, res, NULL, NULL, &err), &err);
    assert_int_equal(res[0].n, ctx - 3);
    assert_int_equal(res[1].n, 0);
    assert_int_equal(res[2].n, ctx - 40);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].finish, ANC_FINISH_LENGTH);
        assert_int_equal(res[i].capped, 1);
    }
    anc_gen_results_free(res, 3);
    /* below the cap nothing is marked */
    cfg.max_new_tokens = 5;
    TU_CHECK(anc_generate(m, req, 1, &cfg, res, NULL, NULL, &err), &err);
    assert_int_equal(res[0].n, 5);
    assert_int_equal(res[0].capped, 0);
    anc_gen_results_free(res, 1);
    free(longp);

    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1", d, tu_cli(),
                               bin, tok), 0);
    char *pp = tu_path(d, "p.jsonl");
    const char *rows = "{\"prompt\": \"Once upon a time\"}\n{\"prompt\": \"The cat\"}\n";
    tu_write_file(pp, rows, strlen(rows));
    assert_int_equal(tu_system("cd '%s' && '%s' generate --model model --prompts p.jsonl --out o.jsonl --max-new-tokens 100000 "
                               "--temperature 1.5 --seed 3 --parallel 2 >g.out 2>g.err", d, tu_cli()), 0);
    char *op = tu_path(d, "o.jsonl");
    json_error_t je;
    int n_rows = 0;
    FILE *f = fopen(op, "r");
    assert_non_null(f);
    char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        long pt = (long)json_integer_value(json_object_get(o, "prompt_tokens")),
             ct = (long)json_integer_value(json_object_get(o, "completion_tokens"));
        assert_true(pt + ct <= ctx);
        json_decref(o);
        n_rows++;
    }
    fclose(f);
    assert_int_equal(n_rows, 2);
    /* parallel x context far beyond memory: a clear error, nothing allocated */
    assert_int_equal(tu_system("cd '%s' && for i in $(seq 1 10); do cat p.jsonl; done > many.jsonl && '%s' generate --model model "
                               "--prompts many.jsonl --out m.jsonl --samples-per-prompt 100000 --parallel 2000000000 >g.out 2>g.err",
                               d, tu_cli()), 1);
    char *ep = tu_path(d, "g.err");
    char *e = tu_read_file(ep, NULL);
    if (!strstr(e, "KV cache") || !strstr(e, "--parallel")) fail_msg("unexpected error: %s", e);
    free(e);
    /* score: a 50M-character row is dropped (counted) before tokenizing */
    {
        size_t big = 50u << 20;
        char *row = malloc(big + 128);
        assert_non_null(row);
        int h = snprintf(row, 128, "{\"prompt\": \"Hi\", \"rejected\": \"b\", \"chosen\": \"");
        memset(row + h, 'a', big);
        strcpy(row + h + big, "\"}\n{\"prompt\": \"Once\", \"chosen\": \"upon a time\", \"rejected\": \"the cat\"}\n");
        char *sp = tu_path(d, "big.jsonl");
        tu_write_file(sp, row, strlen(row));
        free(row);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(tu_system("cd '%s' && '%s' score --model model --data big.jsonl >s.jsonl 2>s.err", d, tu_cli()), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        printf("  score of a 50M-character row: %.2f s, peak child RSS %.0f MB\n",
               (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9, ru.ru_maxrss / 1024.0);
        char *so = tu_path(d, "s.jsonl"), *se = tu_path(d, "s.err");
        assert_int_equal(tu_count_lines(so), 1);
        char *es = tu_read_file(se, NULL);
        if (!strstr(es, "1 of 2 rows dropped") || !strstr(es, "first at line 1")) fail_msg("unexpected summary: %s", es);
        free(es);
        free(so);
        free(se);
        free(sp);
    }
    free(ep);
    free(op);
    free(pp);
    tu_rmtree(d);
    free(d);
    anc_model_free(m);
    free(bin);
    free(tok);
}

/* kill -9 during generate keeps the finished completions in OUT.partial; the
 * rerun continues with the rest and writes the file an uninterrupted run
 * writes. */
static void test_generate_killed_continues(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tok) {
        free(bin);
        free(tok);
        skip();
    }
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1", d, tu_cli(),
                               bin, tok), 0);
    assert_int_equal(tu_system("cd '%s' && for i in $(seq 1 40); do echo \"{\\\"prompt\\\": \\\"Once upon a time $i\\\"}\"; done > p.jsonl", d), 0);
    const char *gen = "generate --model model --prompts p.jsonl --max-new-tokens 400 --temperature 1 --seed 5";
    assert_int_equal(tu_system("cd '%s' && ('%s' %s --out o.jsonl --parallel 1 >/dev/null 2>&1 & p=$!; i=0; while [ $i -lt 2000 ]; do "
                               "n=$(cat o.jsonl.partial 2>/dev/null | wc -l); [ \"$n\" -ge 4 ] && break; sleep 0.01; i=$((i+1)); done; "
                               "kill -9 $p; wait $p; exit 0)", d, tu_cli(), gen), 0);
    char *part = tu_path(d, "o.jsonl.partial"), *o = tu_path(d, "o.jsonl");
    int kept = tu_count_lines(part) - 1;
    assert_true(kept >= 3);
    assert_true(kept < 40);
    assert_false(tu_system("test -e '%s'", o) == 0);
    assert_int_equal(tu_system("cd '%s' && '%s' %s --out o.jsonl --parallel 1 >/dev/null 2>g.err", d, tu_cli(), gen), 0);
    char *ep = tu_path(d, "g.err");
    char *e = tu_read_file(ep, NULL);
    if (!strstr(e, "continuing: ") || !strstr(e, "of 40 completions kept")) fail_msg("unexpected: %s", e);
    free(e);
    assert_false(tu_system("test -e '%s'", part) == 0);
    assert_int_equal(tu_system("cd '%s' && '%s' %s --out ref.jsonl --parallel 1 >/dev/null 2>&1 && cmp o.jsonl ref.jsonl", d, tu_cli(), gen), 0);
    /* a partial file of other settings is not continued */
    assert_int_equal(tu_system("cd '%s' && printf '{\"anchor_generate\": \"0000000000000001\"}\\n' > x.jsonl.partial && "
                               "'%s' %s --out x.jsonl --parallel 1 >/dev/null 2>g.err && cmp x.jsonl ref.jsonl", d, tu_cli(), gen), 0);
    e = tu_read_file(ep, NULL);
    if (!strstr(e, "other settings; starting over")) fail_msg("unexpected: %s", e);
    free(e);
    free(ep);
    free(part);
    free(o);
    tu_rmtree(d);
    free(d);
    free(bin);
    free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_matches_forward),
        cmocka_unit_test(test_greedy_stories260k),
        cmocka_unit_test(test_generation_capped_at_context),
        cmocka_unit_test(test_generate_killed_continues),
        cmocka_unit_test(test_parallel_equals_sequential),
        cmocka_unit_test(test_sampling_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
