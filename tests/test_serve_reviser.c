/* Issue 14 part 3: a model served by `anchor serve` is the reviser of
 * `anchor revise --reviser http://127.0.0.1:PORT/v1` and of a pipeline step
 * (`anchor run`), producing real CLAIR pairs; a rerun sends nothing (every
 * reply is in the run store). The served model is set by hand so that its
 * greedy reply is a CLAIR reply (see make_reviser_model). */
#include "testutil.h"
#include "testlib_serve.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo/tokenizer.h"
#include "model/model.h"

/* The running server, killed by the teardown when a test failed. */
static pid_t g_pid;

static int teardown(void **state) {
    (void)state;
    if (g_pid > 0) {
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
    }
    g_pid = 0;
    return 0;
}

/* `anchor serve --port 0 ARGS` in dir; *port once it printed its URL. */
static pid_t serve_start(const char *dir, const char *args, int *port) {
    char *err_path = tu_path(dir, "serve.err");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' serve --port 0 %s </dev/null >/dev/null 2>'%s'", dir, tu_cli(), args,
             err_path);
    pid_t pid = tu_serve_spawn(cmd, err_path, port);
    g_pid = pid;
    free(err_path);
    return pid;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    char **b = ud;
    size_t have = *b ? strlen(*b) : 0;
    char *nb = realloc(*b, have + sz * n + 1);
    if (!nb) return 0;
    memcpy(nb + have, p, sz * n);
    nb[have + sz * n] = '\0';
    *b = nb;
    return sz * n;
}

/* requests_served of GET /health. */
static long health_served(int port) {
    CURL *c = curl_easy_init();
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    assert_non_null(j);
    long n = (long)json_integer_value(json_object_get(j, "requests_served"));
    json_decref(j);
    free(body);
    return n;
}

/* A model that answers every prompt, greedily, with "corrected student
 * solution:" + " Numbers in order" and EOS: one layer whose attention and
 * MLP are zero, so the logits depend on the last token only (a bigram
 * table: any token -> A -> B -> EOS), over the demo tokenizer with A and B
 * as two added tokens. */
static void make_reviser_model(const char *dir) {
    char *tj = NULL, *tc = NULL;
    anc_error err = {0};
    TU_CHECK(anc_demo_tokenizer_json(&tj, &tc, &err), &err);
    json_error_t je;
    json_t *root = json_loads(tj, 0, &je);
    assert_non_null(root);
    json_t *added = json_object_get(root, "added_tokens");
    int V0 = (int)json_object_size(json_object_get(json_object_get(root, "model"), "vocab"));
    for (size_t i = 0; i < json_array_size(added); i++) {
        int id = (int)json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id + 1 > V0) V0 = id + 1;
    }
    const char *pieces[2] = {"corrected student solution:", " Numbers in order"};
    for (int k = 0; k < 2; k++)
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", V0 + k, "content", pieces[k],
                                               "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 0));
    anc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arch = ANC_ARCH_LLAMA;
    cfg.vocab_size = V0 + 2;
    cfg.hidden_size = (cfg.vocab_size + 1) & ~1; /* one-hot embeddings */
    cfg.intermediate_size = 8;
    cfg.num_layers = 1;
    cfg.num_heads = 2;
    cfg.num_kv_heads = 1;
    cfg.head_dim = cfg.hidden_size / 2;
    cfg.max_position_embeddings = 2048; /* the CLAIR prompt in characters */
    cfg.rms_norm_eps = 1e-5f;
    cfg.rope_theta = 10000.0f;
    cfg.bos_token_id = 1;
    cfg.eos_token_id = 2;
    cfg.torch_dtype = ANC_DT_F32;
    assert_true(cfg.vocab_size <= cfg.hidden_size);
    anc_model *m = NULL;
    TU_CHECK(anc_model_create(&m, &cfg, &err), &err);
    for (size_t i = 0; i < m->n_specs; i++) {
        const anc_param_spec *sp = &m->specs[i];
        for (size_t k = 0; k < sp->n_elems; k++) m->params[sp->offset + k] = sp->ndim == 1 ? 1.0f : 0.0f;
    }
    const int C = cfg.hidden_size, A = V0, B = V0 + 1, EOS = 2;
    for (int t = 0; t < cfg.vocab_size; t++) {
        m->w.embed[(size_t)t * C + t] = 1.0f;
        int next = t == A ? B : t == B ? EOS : A;
        m->w.lm_head[(size_t)next * C + t] = 10.0f;
    }
    TU_CHECK(anc_model_save_hf(m, dir, ANC_DT_F32, &err), &err);
    anc_model_free(m);
    char *tjs = json_dumps(root, JSON_INDENT(1));
    char *p1 = tu_path(dir, "tokenizer.json"), *p2 = tu_path(dir, "tokenizer_config.json");
    tu_write_file(p1, tjs, strlen(tjs));
    tu_write_file(p2, tc, strlen(tc));
    free(p1);
    free(p2);
    free(tjs);
    json_decref(root);
    free(tj);
    free(tc);
}

static void test_served_reviser(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *md = tu_path(d, "reviser");
    make_reviser_model(md);
    const char *drafts = "{\"id\": \"a\", \"prompt\": \"Sum 3 4\", \"completion\": \"Numbers: 4 3\"}\n"
                         "{\"id\": \"b\", \"prompt\": \"Odd 1 2 3\", \"completion\": \"Numbers: 3 1\"}\n";
    char *dp = tu_path(d, "drafts.jsonl");
    tu_write_file(dp, drafts, strlen(drafts));
    int port = 0;
    pid_t pid = serve_start(d, "--model reviser --parallel 2", &port);
    const char *fmt = "cd '%s' && '%s' revise --input drafts.jsonl --out pairs.jsonl --reviser http://127.0.0.1:%d/v1 "
                      "--api-key-env '' --max-tokens 16 --concurrency 2 >rev.out 2>rev.err";
    assert_int_equal(tu_system(fmt, d, tu_cli(), port), 0);
    assert_int_equal(health_served(port), 2);
    /* each pair: chosen = the served model's revision, rejected = the draft */
    char *pp = tu_path(d, "pairs.jsonl");
    FILE *fp = fopen(pp, "r");
    assert_non_null(fp);
    char line[4096];
    int rows = 0;
    json_error_t je;
    while (fgets(line, sizeof line, fp)) {
        json_t *j = json_loads(line, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "chosen")), "Numbers in order");
        assert_string_equal(json_string_value(json_object_get(j, "source")), "clair");
        assert_non_null(strstr(json_string_value(json_object_get(j, "rejected")), "Numbers: "));
        json_decref(j);
        rows++;
    }
    fclose(fp);
    assert_int_equal(rows, 2);
    /* the rerun sends nothing: every reply is in the run store */
    assert_int_equal(tu_system(fmt, d, tu_cli(), port), 0);
    assert_int_equal(health_served(port), 2);
    /* a pipeline with the served model as its reviser */
    char *yp = tu_path(d, "served.yaml");
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "run_dir: run\nsteps:\n  - name: clair\n    kind: revise\n    input: ../drafts.jsonl\n"
             "    reviser: http://127.0.0.1:%d/v1\n    api_key_env: \"\"\n    max_tokens: 16\n"
             "  - name: contrast\n    kind: stats\n    input: [clair.jsonl]\n", port);
    tu_write_file(yp, yaml, strlen(yaml));
    assert_int_equal(tu_system("cd '%s' && '%s' run served.yaml >run.out 2>run.err", d, tu_cli()), 0);
    char *cp = tu_path(d, "run/clair.jsonl");
    assert_int_equal(tu_count_lines(cp), 2);
    assert_int_equal(health_served(port), 4);
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    g_pid = 0;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(cp);
    free(yp);
    free(pp);
    free(dp);
    free(md);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_served_reviser),
    };
    int rc = cmocka_run_group_tests(tests, NULL, teardown);
    curl_global_cleanup();
    return rc;
}
