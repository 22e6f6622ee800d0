/* Limits of the chat-template engine against crafted sources (issue 19):
 * a model folder from a hub is untrusted input, so no template may crash
 * the program, however long its chains or deep its nesting.
 *
 * - Left-associative chains (+, ~, *, **, and, |filter, .attr, [item], ())
 *   of 30,000-200,000 links are refused at compile time with "nested too
 *   deeply" (they used to overflow the C stack in the evaluator).
 * - Chains a real template might use (200 links) still render right.
 * - 100,000 elif branches render (walked in a loop), 100,000 distinct names
 *   compile (hashed symbols).
 * - Recursion through macros is bounded at render time; the deepest render
 *   allowed runs in a thread with a 6 MiB stack, under ASan too.
 * - End to end: `anchor tokenize --model DIR --data ...` with such a
 *   template in tokenizer_config.json exits with an error, not a signal. */
#include "testutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja/template.h"

/* pre + n copies of unit + post, malloc'd. */
static char *chain(const char *pre, const char *unit, size_t n, const char *post) {
    size_t lp = strlen(pre), lu = strlen(unit), lq = strlen(post);
    char *s = malloc(lp + lu * n + lq + 1);
    assert_non_null(s);
    char *w = s;
    memcpy(w, pre, lp);
    w += lp;
    for (size_t i = 0; i < n; i++, w += lu) memcpy(w, unit, lu);
    memcpy(w, post, lq + 1);
    return s;
}

static const char CTX[] = "{\"x\": {\"a\": {\"a\": 1}}, \"l\": [[1]], \"k\": 99999}";

/* Compiles and renders src (taking ownership of it); returns the status and
 * the output (malloc'd) or the error. */
static anc_status run(char *src, char **out, anc_error *err) {
    anc_template *t = NULL;
    *out = NULL;
    anc_status st = anc_template_compile(&t, src, strlen(src), "t", err);
    if (st == ANC_OK) {
        json_error_t je;
        json_t *ctx = json_loads(CTX, 0, &je);
        assert_non_null(ctx);
        st = anc_template_render(t, ctx, NULL, out, NULL, err);
        json_decref(ctx);
    }
    anc_template_free(t);
    free(src);
    return st;
}

static void expect_refused(const char *what, char *src, const char *needle) {
    char *out;
    anc_error err;
    anc_status st = run(src, &out, &err);
    if (st == ANC_OK) fail_msg("%s: rendered, expected an error", what);
    if (!strstr(err.message, needle)) fail_msg("%s: message \"%s\" lacks \"%s\"", what, err.message, needle);
    if (strncmp(err.message, "t:1:", 4) != 0) fail_msg("%s: message \"%s\" names no position", what, err.message);
}

static void expect_output(const char *what, char *src, const char *expected) {
    char *out;
    anc_error err;
    anc_status st = run(src, &out, &err);
    if (st != ANC_OK) fail_msg("%s: %s", what, err.message);
    if (strcmp(out, expected) != 0) fail_msg("%s: got [%.80s], expected [%s]", what, out, expected);
    free(out);
}

static void test_long_chains_refused(void **state) {
    (void)state;
    expect_refused("200,000-term sum", chain("{{ 1", " + 1", 199999, " }}"), "nested too deeply");
    expect_refused("30,000 filters", chain("{{ 's'", "|upper", 30000, " }}"), "nested too deeply");
    expect_refused("100,000 concatenations", chain("{{ 'a'", " ~ 'a'", 100000, " }}"), "nested too deeply");
    expect_refused("products", chain("{{ 1", " * 1", 100000, " }}"), "nested too deeply");
    expect_refused("powers", chain("{{ 1", " ** 1", 100000, " }}"), "nested too deeply");
    expect_refused("and chain", chain("{{ 1", " and 1", 100000, " }}"), "nested too deeply");
    expect_refused("or chain", chain("{{ 0", " or 0", 100000, " }}"), "nested too deeply");
    expect_refused("attribute chain", chain("{{ x", ".a", 100000, " }}"), "nested too deeply");
    expect_refused("item chain", chain("{{ l", "[0]", 100000, " }}"), "nested too deeply");
    expect_refused("call chain", chain("{{ range", "()", 100000, " }}"), "nested too deeply");
    expect_refused("ternary else chain", chain("{{ 1", " if false else 1", 100000, " }}"), "nested too deeply");
    expect_refused("brackets", chain("{{ ", "(", 100000, "1 }}"), "nested too deeply");
    expect_refused("not chain", chain("{{ ", "not ", 100000, "1 }}"), "nested too deeply");
    expect_refused("if blocks", chain("", "{% if true %}", 100000, ""), "nested too deeply");
    expect_refused("for blocks", chain("", "{% for a in [1] %}", 100000, ""), "nested too deeply");
    /* in a statement too: the tree depth counts from the template's root */
    expect_refused("set of a long sum", chain("{% set v = 1", " + 1", 5000, " %}{{ v }}"), "nested too deeply");
}

static void test_real_sizes_render(void **state) {
    (void)state;
    expect_output("200-term sum", chain("{{ 1", " + 1", 199, " }}"), "200");
    expect_output("200 filters", chain("{{ 'ab'", "|upper|lower", 100, " }}"), "ab");
    expect_output("100 ternaries", chain("{{ 1", " if false else 1", 60, " }}"), "1");
    /* 100,000 elif branches: the last one matches */
    char *src = malloc(100000 * 40 + 64);
    assert_non_null(src);
    char *w = src;
    w += sprintf(w, "{%% if k == -1 %%}none");
    for (int i = 0; i < 100000; i++) w += sprintf(w, "{%% elif k == %d %%}b%d", i, i);
    sprintf(w, "{%% else %%}end{%% endif %%}");
    expect_output("100,000 elifs", src, "b99999");
    /* 100,000 distinct (undefined) names */
    src = malloc(100000 * 16 + 1);
    assert_non_null(src);
    w = src;
    for (int i = 0; i < 100000; i++) w += sprintf(w, "{{ v%d }}", i);
    w += sprintf(w, "{%% set v99999 = 'z' %%}{{ v99999 }}");
    expect_output("100,000 names", src, "z");
}

/* A macro that recurses with a 40-link chain at each level: f(5) renders,
 * f(60) would nest ~2,500 evaluations and is stopped. */
static char *recursive_macro(int levels) {
    char *body = chain("{{ f(n - 1)", " ~ ''", 40, " }}");
    char *src = malloc(strlen(body) + 128);
    assert_non_null(src);
    sprintf(src, "{%% macro f(n) %%}{%% if n > 0 %%}%s{%% else %%}.{%% endif %%}{%% endmacro %%}{{ f(%d) }}", body,
            levels);
    free(body);
    return src;
}

typedef struct deep_job {
    int failed_as_expected;
    char message[1100];
} deep_job;

static void *deep_render(void *arg) {
    deep_job *job = arg;
    char *out;
    anc_error err;
    anc_status st = run(recursive_macro(60), &out, &err);
    job->failed_as_expected = st == ANC_ERR_INVALID && strstr(err.message, "nested more than") != NULL;
    snprintf(job->message, sizeof job->message, "%s", st == ANC_OK ? "rendered" : err.message);
    free(out);
    return NULL;
}

static void test_render_nesting_bounded(void **state) {
    (void)state;
    expect_output("5 recursive macro levels", recursive_macro(5), ".");
    /* The deepest render allowed must fit in a modest thread stack. */
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, (size_t)6 << 20), 0);
    pthread_t th;
    deep_job job;
    memset(&job, 0, sizeof job);
    assert_int_equal(pthread_create(&th, &attr, deep_render, &job), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    if (!job.failed_as_expected) fail_msg("60 recursive levels: %s", job.message);
}

static void test_model_folder_end_to_end(void **state) {
    (void)state;
    char *tokjson = tu_shared_fixture("tokenizers/smollm2/tokenizer.json");
    if (!tokjson) skip();
    char *dir = tu_tmpdir();
    char *model = tu_path(dir, "model");
    assert_int_equal(tu_system("mkdir -p '%s' && cp '%s' '%s/tokenizer.json'", model, tokjson, model), 0);
    char *tpl = chain("{{ 1", " + 1", 199999, " }}");
    json_t *cfg = json_pack("{s:s, s:s, s:s}", "chat_template", tpl, "bos_token", "<|im_start|>", "eos_token",
                            "<|im_end|>");
    char *cfg_path = tu_path(model, "tokenizer_config.json");
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    json_decref(cfg);
    free(tpl);
    char *rows = tu_path(dir, "rows.jsonl");
    const char *row = "{\"prompt\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                      "\"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}], "
                      "\"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n";
    tu_write_file(rows, row, strlen(row));
    char *log = tu_path(dir, "log");
    int rc = tu_system("'%s' tokenize --model '%s' --data '%s' > '%s' 2>&1", tu_cli(), model, rows, log);
    char *text = tu_read_file(log, NULL);
    if (rc <= 0 || rc >= 128) fail_msg("tokenize: status %d (want an error exit)\n%s", rc, text);
    if (!strstr(text, "nested too deeply")) fail_msg("tokenize output lacks the reason:\n%s", text);
    if (!strstr(text, "tokenizer_config.json") && !strstr(text, "chat_template"))
        fail_msg("tokenize output does not name the template:\n%.400s", text);
    free(text);
    tu_rmtree(dir);
    free(log);
    free(rows);
    free(cfg_path);
    free(model);
    free(dir);
    free(tokjson);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_chains_refused),
        cmocka_unit_test(test_real_sizes_render),
        cmocka_unit_test(test_render_nesting_bounded),
        cmocka_unit_test(test_model_folder_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
