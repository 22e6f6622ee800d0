/* The anchor program end to end: help, convert, info and score, including
 * the errors a user sees for bad input. Runs the real binary ($ANCHOR_CLI). */
#include "anchor/version.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs "anchor ARGS" with stdout and stderr captured into files in dir;
 * returns the exit code. */
static int run(const char *dir, const char *args) {
    return tu_system("cd '%s' && '%s' %s >out.txt 2>err.txt", dir, tu_cli(), args);
}

static char *slurp(const char *dir, const char *name) {
    char *p = tu_path(dir, name);
    char *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("expected to find '%s' in:\n%s", needle, hay);
}

static void test_help_and_usage_errors(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    assert_int_equal(run(d, "--help"), 0);
    char *out = slurp(d, "out.txt");
    assert_contains(out, "score");
    assert_contains(out, "convert");
    assert_contains(out, "info");
    free(out);
    assert_int_equal(run(d, "score --help"), 0);
    out = slurp(d, "out.txt");
    assert_contains(out, "--ref DIR");
    free(out);
    assert_int_equal(run(d, "score --bogus 1"), 2);
    char *err = slurp(d, "err.txt");
    assert_contains(err, "unknown option '--bogus'");
    free(err);
    assert_int_equal(run(d, "score --batch_tokens abc --model x --data y"), 2);
    err = slurp(d, "err.txt");
    assert_contains(err, "expects an integer");
    free(err);
    assert_int_equal(run(d, "nosuchcommand"), 2);
    tu_rmtree(d);
    free(d);
}

static void test_convert_and_info(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin");
    if (!bin) skip();
    char *d = tu_tmpdir();
    char args[1024];
    snprintf(args, sizeof args, "convert --from llama2c '%s' --out model", bin);
    assert_int_equal(run(d, args), 0);
    assert_int_equal(run(d, "info --model model"), 0);
    char *out = slurp(d, "out.txt");
    assert_contains(out, "LlamaForCausalLM");
    assert_contains(out, "layers          5, hidden 64");
    assert_contains(out, "8 heads, 4 kv heads");
    assert_contains(out, "embeddings tied");
    assert_contains(out, "F32");
    free(out);
    /* bf16 export is readable too */
    snprintf(args, sizeof args, "convert --from llama2c '%s' --out model16 --dtype bf16", bin);
    assert_int_equal(run(d, args), 0);
    assert_int_equal(run(d, "info --model model16"), 0);
    out = slurp(d, "out.txt");
    assert_contains(out, "BF16");
    free(out);
    tu_rmtree(d);
    free(d);
    free(bin);
}

static void test_score_pairs(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *model = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    char *data = tu_path(d, "pairs.jsonl");
    FILE *f = fopen(data, "w");
    /* the same prompt, chosen and rejected differ; row 3 has a chosen that is a prefix of rejected */
    fprintf(f, "{\"id\": \"a\", \"prompt_ids\": [1, 5, 9], \"chosen_ids\": [10, 11, 12], \"rejected_ids\": [40, 41]}\n");
    fprintf(f, "\n");
    fprintf(f, "{\"id\": \"b\", \"prompt_ids\": [1], \"chosen_ids\": [3], \"rejected_ids\": [3, 4, 5, 6, 7, 8]}\n");
    fprintf(f, "{\"prompt_ids\": [1, 2, 3, 4, 5, 6, 7], \"chosen_ids\": [8, 9], \"rejected_ids\": [8, 9, 10]}\n");
    fclose(f);
    char args[2048];
    snprintf(args, sizeof args, "score --model '%s' --data pairs.jsonl --ref '%s' --beta 0.5 --out scores.jsonl --batch-tokens 16", model, model);
    assert_int_equal(run(d, args), 0);
    char *err = slurp(d, "err.txt");
    assert_contains(err, "3 pairs");
    assert_contains(err, "reward accuracy");
    free(err);
    char *text = slurp(d, "scores.jsonl");
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        double c = json_real_value(json_object_get(o, "chosen_logp"));
        double rc = json_real_value(json_object_get(o, "ref_chosen_logp"));
        assert_true(c < 0);
        assert_true(c == rc);  /* same model as reference: identical log-probs */
        assert_true(json_real_value(json_object_get(o, "reward_chosen")) == 0.0);
        assert_non_null(json_object_get(o, "chosen_tokens"));
        if (lines == 0) assert_string_equal(json_string_value(json_object_get(o, "id")), "a");
        if (lines == 1) assert_int_equal(json_integer_value(json_object_get(o, "rejected_tokens")), 6);
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, 3);
    free(text);

    /* The same pairs scored one per micro-batch give the same numbers. */
    snprintf(args, sizeof args, "score --model '%s' --data pairs.jsonl --batch-tokens 1", model);
    assert_int_equal(run(d, args), 0);
    char *one = slurp(d, "out.txt");
    snprintf(args, sizeof args, "score --model '%s' --data pairs.jsonl --batch-tokens 100000", model);
    assert_int_equal(run(d, args), 0);
    char *all = slurp(d, "out.txt");
    /* Packing changes BLAS blocking, so equal up to fp32 rounding, not bitwise. */
    char *p1 = one, *p2 = all;
    int compared = 0;
    while ((p1 = strstr(p1, "_logp\":")) && (p2 = strstr(p2, "_logp\":"))) {
        p1 += 7;
        p2 += 7;
        double x = strtod(p1, NULL), y = strtod(p2, NULL);
        assert_true(fabs(x - y) <= 1e-5 * fabs(y));
        compared++;
    }
    assert_int_equal(compared, 6);
    free(one);
    free(all);

    free(model);
    free(data);
    tu_rmtree(d);
    free(d);
}

static void test_score_bad_data(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *model = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    char args[2048];
    struct { const char *content; const char *expect; } cases[] = {
        {"{\"prompt_ids\": [1], \"chosen_ids\": [2], \"rejected_ids\": [3]}\n{\"prompt_ids\": [1,\n", "bad.jsonl:2:"},
        {"{\"prompt_ids\": [1], \"chosen_ids\": [2]}\n", "bad.jsonl:1: missing \"rejected_ids\""},
        {"{\"prompt_ids\": [1], \"chosen_ids\": [2], \"rejected_ids\": [-3]}\n", "\"rejected_ids\"[0]"},
        {"{\"prompt_ids\": [], \"chosen_ids\": [2], \"rejected_ids\": [3]}\n", "must each give at least one token"},
        {"{\"prompt\": \"hi\", \"chosen\": \"a\", \"rejected\": \"b\"}\n", "need a tokenizer"},
        {"[1, 2]\n", "element 0 of the top-level array is not an object"}, {"7\n", "bad.jsonl:1:1: invalid JSON"},
        {"{\"prompt_ids\": [1], \"chosen_ids\": [2], \"rejected_ids\": [96]}\n", "outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = tu_path(d, "bad.jsonl");
        tu_write_file(p, cases[i].content, strlen(cases[i].content));
        free(p);
        snprintf(args, sizeof args, "score --model '%s' --data bad.jsonl", model);
        assert_int_equal(run(d, args), 1);
        char *err = slurp(d, "err.txt");
        assert_contains(err, cases[i].expect);
        free(err);
    }
    snprintf(args, sizeof args, "score --model /nonexistent/model --data bad.jsonl");
    assert_int_equal(run(d, args), 1);
    char *err = slurp(d, "err.txt");
    assert_contains(err, "/nonexistent/model/config.json");
    free(err);
    free(model);
    tu_rmtree(d);
    free(d);
}

/* The real stories260K with its llama2.c tokenizer, converted: greedy
 * generation from an empty prompt prints exactly llama2.c's own output. */
static void test_generate_matches_llama2c(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    char *ids = tu_shared_fixture("llama2c/expected_t0_n200_ids.json");
    if (!bin || !tok || !ids) {
        free(bin); free(tok); free(ids);
        skip();
    }
    char *d = tu_tmpdir();
    char args[2048];
    snprintf(args, sizeof args, "convert --from llama2c '%s' --tokenizer '%s' --out s260", bin, tok);
    assert_int_equal(run(d, args), 0);
    char *p = tu_path(d, "prompts.jsonl");
    const char *rows = "{\"id\": \"a\", \"prompt\": \"\"}\n{\"id\": \"b\", \"prompt\": \"Lily and Ben\"}\n";
    tu_write_file(p, rows, strlen(rows));
    assert_int_equal(run(d, "generate --model s260 --prompts prompts.jsonl --out drafts.jsonl --temperature 0 --max-new-tokens 200 --parallel 2"), 0);
    char *text = slurp(d, "drafts.jsonl");
    json_error_t je;
    json_t *first = json_loadb(text, strchr(text, '\n') - text, 0, &je);
    assert_non_null(first);
    json_t *exp = json_load_file(ids, 0, &je);
    assert_string_equal(json_string_value(json_object_get(first, "completion")),
                        json_string_value(json_object_get(exp, "expected_stdout_without_trailing_newline")));
    assert_string_equal(json_string_value(json_object_get(first, "id")), "a");
    assert_string_equal(json_string_value(json_object_get(first, "finish_reason")), "length");
    assert_int_equal(json_integer_value(json_object_get(first, "completion_tokens")), 200);
    /* sampling several completions per prompt with a stop string */
    assert_int_equal(run(d, "generate --model s260 --prompts prompts.jsonl --out s.jsonl --samples-per-prompt 3 --stop . --seed 5"), 0);
    char *s = slurp(d, "s.jsonl");
    int lines = 0;
    for (char *c = s; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 6);
    assert_non_null(strstr(s, "\"sample_index\":2"));
    assert_non_null(strstr(s, "\"finish_reason\":\"stop\""));
    /* tokenize round trip through the converted tokenizer */
    assert_int_equal(run(d, "tokenize --model s260 --text 'Once upon a time' --ids"), 0);
    char *o = slurp(d, "out.txt");
    assert_true(o[0] == '[');
    free(o);
    json_decref(first);
    json_decref(exp);
    free(s); free(text); free(p); free(bin); free(tok); free(ids);
    tu_rmtree(d);
    free(d);
}

/* anchor --version prints the library's version, generated from
 * project(anchor VERSION ...) into anchor/version.h. */
static void test_version(void **state) {
    (void)state;
    assert_string_equal(anc_version(), ANCHOR_VERSION_STRING);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", ANCHOR_VERSION_MAJOR, ANCHOR_VERSION_MINOR, ANCHOR_VERSION_PATCH);
    assert_string_equal(anc_version(), want);
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("'%s' --version > '%s/v.txt'", tu_cli(), d), 0);
    char *p = tu_path(d, "v.txt");
    char *out = tu_read_file(p, NULL);
    char line[96];
    snprintf(line, sizeof line, "anchor %s\n", ANCHOR_VERSION_STRING);
    assert_string_equal(out, line);
    free(out);
    free(p);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage_errors),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_convert_and_info),
        cmocka_unit_test(test_score_pairs),
        cmocka_unit_test(test_score_bad_data),
        cmocka_unit_test(test_generate_matches_llama2c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
