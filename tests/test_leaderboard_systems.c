/* The leaderboard's other systems and graders: models and backends as
 * systems (`anchor ab --system NAME=DIR|SPEC` answering --prompts, backends
 * through the run store, so a rerun asks no backend again), and IFEval as
 * the grader that ranks systems without a judge, its scores checked
 * against the official evaluator's verdicts on ../shared/fixtures/ifeval. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *sys_of(json_t *j, const char *name) {
    json_t *arr = json_object_get(j, "systems"), *e;
    size_t i;
    json_array_foreach(arr, i, e) if (!strcmp(json_string_value(json_object_get(e, "system")), name)) return e;
    fail_msg("no system %s", name);
    return NULL;
}

/* A backend answering "answer N" to "Question N" when N passes its test
 * (an arithmetic shell condition on n), else "no idea"; it logs each call. */
static void write_backend(const char *d, const char *name, const char *cond) {
    char body[1024];
    snprintf(body, sizeof body,
             "#!/bin/sh\nin=$(cat)\necho x >> '%s/%s.log'\nn=${in#*Question }; n=${n%%%%[!0-9]*}\n"
             "if [ %s ]; then echo \"answer $n\"; else echo 'no idea'; fi\n",
             d, name, cond);
    char fn[64];
    snprintf(fn, sizeof fn, "%s.sh", name);
    char *p = tu_path(d, fn);
    tu_write_file(p, body, strlen(body));
    free(p);
}

#define NQ 12
static void test_models_and_backends(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *p = tu_path(d, "prompts.jsonl"), *fa = tu_path(d, "file.jsonl");
    FILE *f = fopen(p, "w"), *g = fopen(fa, "w");
    for (int i = 0; i < NQ; i++) {
        fprintf(f, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"reference\": \"answer %d\"}\n", i, i, i);
        if (i < 3) fprintf(g, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"completion\": \"Answer %d.\"}\n", i, i, i);
        else fprintf(g, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"completion\": \"maybe\"}\n", i, i);
    }
    fclose(f);
    fclose(g);
    free(p);
    free(fa);
    write_backend(d, "oracle", "1 = 1");
    write_backend(d, "half", "$((n % 2)) = 0");
    /* oracle: all right; half: even questions; file: q0..q2; demo: the demo model (none) */
    const char *fmt = "cd '%s' && '%s' demo init --out dm >/dev/null 2>&1 && '%s' ab --prompts prompts.jsonl "
                      "--system file=file.jsonl --system oracle='exec:sh oracle.sh' --system demo=dm "
                      "--system half='exec:sh half.sh' --grader exact --max-new-tokens 6 --resamples 500 "
                      "--out rec.jsonl --json >lb.json 2>err.txt";
    assert_int_equal(tu_system(fmt, d, tu_cli(), tu_cli()), 0);
    char *lo = tu_path(d, "oracle.log"), *lh = tu_path(d, "half.log");
    assert_int_equal(tu_count_lines(lo), NQ);
    assert_int_equal(tu_count_lines(lh), NQ);
    json_t *j = tu_load_json(d, "lb.json");
    assert_int_equal((int)json_integer_value(json_object_get(j, "prompts")), NQ);
    assert_int_equal((int)json_integer_value(json_object_get(j, "comparisons")), 6 * NQ);
    const char *order[] = {"oracle", "half", "file", "demo"};
    for (int s = 0; s < 4; s++) {
        json_t *e = json_array_get(json_object_get(j, "systems"), (size_t)s);
        assert_string_equal(json_string_value(json_object_get(e, "system")), order[s]);
    }
    /* oracle beats half on the odd questions and ties the even ones */
    json_t *o = sys_of(j, "oracle");
    assert_true(fabs(json_number_value(json_object_get(json_object_get(o, "win_rate"), "half")) - 0.75) < 1e-12);
    json_decref(j);
    /* a rerun asks neither backend again */
    char *rp = tu_path(d, "rec.jsonl"), *first = tu_read_file(rp, NULL);
    assert_int_equal(tu_system(fmt, d, tu_cli(), tu_cli()), 0);
    assert_int_equal(tu_count_lines(lo), NQ);
    assert_int_equal(tu_count_lines(lh), NQ);
    char *again = tu_read_file(rp, NULL);
    free(rp);
    assert_string_equal(first, again);
    free(first);
    free(again);
    /* usage: a model or backend system needs --prompts, a backend a store */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --system a=file.jsonl --system b=dm --grader exact >/dev/null 2>&1", d, tu_cli()), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' ab --prompts prompts.jsonl --system a=file.jsonl --system b='exec:sh half.sh' "
                               "--grader exact >/dev/null 2>&1", d, tu_cli()), 2);
    free(lo);
    free(lh);
    tu_rmtree(d);
    free(d);
}

/* The official strict verdicts of the fixture, by prompt. */
static json_t *official_by_prompt(const char *path) {
    json_t *m = json_object();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        assert_non_null(r);
        json_object_set(m, json_string_value(json_object_get(r, "prompt")), json_object_get(r, "follow_instruction_list"));
        json_decref(r);
    }
    free(line);
    fclose(f);
    return m;
}

#define NI 60
static void test_ifeval_grader(void **state) {
    (void)state;
    char *in = tu_shared_fixture("ifeval/input_data.jsonl"), *resp = tu_shared_fixture("ifeval/responses_gpt4.jsonl"),
         *exp = tu_shared_fixture("ifeval/expected_strict_gpt4.jsonl");
    if (!in || !resp || !exp) {
        free(in), free(resp), free(exp);
        skip();
    }
    char *d = tu_tmpdir();
    /* the first NI responses as given, cut to 40 bytes, and emptied to "ok" */
    json_t *off = official_by_prompt(exp);
    char *pf = tu_path(d, "gpt4.jsonl"), *pc = tu_path(d, "cut.jsonl"), *po = tu_path(d, "ok.jsonl");
    FILE *f = fopen(resp, "r"), *full = fopen(pf, "w"), *cut = fopen(pc, "w"), *ok = fopen(po, "w");
    free(pf), free(pc), free(po);
    char *line = NULL;
    size_t cap = 0;
    double expected = 0;
    for (int i = 0; i < NI && getline(&line, &cap, f) > 0; i++) {
        json_t *r = json_loads(line, 0, NULL);
        const char *text = json_string_value(json_object_get(r, "response"));
        json_t *fl = json_object_get(off, json_string_value(json_object_get(r, "prompt")));
        assert_non_null(fl);
        size_t k = 0;
        for (size_t t = 0; t < json_array_size(fl); t++) k += json_is_true(json_array_get(fl, t));
        expected += (double)k / (double)json_array_size(fl) / NI;
        fprintf(full, "%s", line);
        json_object_set_new(r, "response", json_stringn(text, strlen(text) < 40 ? strlen(text) : 40));
        char *s = json_dumps(r, JSON_COMPACT);
        fprintf(cut, "%s\n", s);
        free(s);
        json_object_set_new(r, "response", json_string("ok"));
        s = json_dumps(r, JSON_COMPACT);
        fprintf(ok, "%s\n", s);
        free(s);
        json_decref(r);
    }
    free(line);
    fclose(f);
    fclose(full);
    fclose(cut);
    fclose(ok);
    json_decref(off);
    /* two systems: A's mean score is the official instruction-level strict accuracy */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a gpt4.jsonl --b cut.jsonl --response-field response --grader ifeval "
                               "--prompts '%s' --resamples 200 --json >ab.json 2>err.txt",
                               d, tu_cli(), in), 0);
    json_t *j = tu_load_json(d, "ab.json");
    double got = json_number_value(json_object_get(j, "mean_score_a"));
    printf("gpt4 mean instruction share: anchor %.4f, official %.4f\n", got, expected);
    assert_true(fabs(got - expected) < 1e-9);
    json_decref(j);
    /* the leaderboard ranks the full responses first */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --system ok=ok.jsonl --system cut=cut.jsonl --system gpt4=gpt4.jsonl "
                               "--response-field response --grader ifeval-loose --prompts '%s' --resamples 200 --json "
                               ">lb.json 2>err.txt",
                               d, tu_cli(), in), 0);
    j = tu_load_json(d, "lb.json");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "systems"), 0), "system")), "gpt4");
    json_decref(j);
    /* without --prompts: a usage error */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a gpt4.jsonl --b cut.jsonl --response-field response --grader ifeval "
                               ">/dev/null 2>&1", d, tu_cli()), 2);
    tu_rmtree(d);
    free(d);
    free(in);
    free(resp);
    free(exp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models_and_backends),
        cmocka_unit_test(test_ifeval_grader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
