/* The demo library's own calls (src/demo/, without the CLI): the building
 * blocks (data, grading, the teacher on a request stream) and the runner's
 * contract: required fields, events before the first step, a refused run
 * directory of other settings, a failed step naming itself, *out zeroed.
 * And the demo stays out of libanchor: no folder of the library includes a
 * demo/ header and src/eval/ holds no demo file (issue 20). The whole demo
 * through the binary is test_demo_run.c. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/blocks.h"
#include "demo/run.h"

static void test_data_and_grade(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *held = tu_path(d, "held.jsonl"), *train = tu_path(d, "train.jsonl");
    anc_demo_data_opts o;
    anc_demo_data_opts_default(&o);
    anc_error err = {0};
    o.out = held, o.n = 20, o.seed = 7;
    TU_CHECK(anc_demo_write_data(&o, &err), &err);
    assert_int_equal(tu_count_lines(held), 20);
    char *text = tu_read_file(held, NULL);
    assert_non_null(strstr(text, "\"id\":\"t7-0\""));
    free(text);
    /* excluding the held-out prompts, sft rows */
    anc_demo_data_opts_default(&o);
    o.out = train, o.n = 30, o.seed = 11, o.sft = 1, o.exclude = held, o.mistake_rate = 0;
    TU_CHECK(anc_demo_write_data(&o, &err), &err);
    assert_int_equal(tu_count_lines(train), 30);
    /* the reference answers of prompt rows are all right; mistake-free demonstrations too */
    anc_demo_scores s;
    TU_CHECK(anc_demo_grade_file(held, "reference", &s, &err), &err);
    assert_int_equal(s.n, 20);
    assert_float_equal(s.solved, 1.0, 1e-12);
    assert_float_equal(s.accuracy, 1.0, 1e-12);
    TU_CHECK(anc_demo_grade_file(train, "chosen", &s, &err), &err);
    assert_int_equal(s.n, 30);
    assert_float_equal(s.accuracy, 1.0, 1e-12);
    /* a missing field grades as an empty answer */
    TU_CHECK(anc_demo_grade_file(held, "completion", &s, &err), &err);
    assert_float_equal(s.solved, 0.0, 1e-12);
    /* a row without a task names the file and line */
    char *bad = tu_path(d, "bad.jsonl");
    const char rows[] = "{\"prompt\": \"Numbers: 3 4. Odd numbers in increasing order, then their sum.\"}\n{\"prompt\": \"hello\"}\n";
    tu_write_file(bad, rows, strlen(rows));
    assert_int_equal(anc_demo_grade_file(bad, "completion", &s, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "bad.jsonl:2"));
    free(bad);
    free(held);
    free(train);
    tu_rmtree(d);
    free(d);
}

static char *teacher(anc_demo_role role, const char *request, anc_status want, anc_error *err) {
    FILE *f = fmemopen((void *)request, strlen(request), "r");
    assert_non_null(f);
    char *reply = (char *)"unset";
    assert_int_equal(anc_demo_teacher_reply(role, f, &reply, err), want);
    fclose(f);
    if (want != ANC_OK) assert_null(reply);
    return reply;
}

static void test_teacher(void **state) {
    (void)state;
    anc_error err = {0};
    const char *stronger = "{\"messages\": [{\"role\": \"user\", \"content\": \"Numbers: 17 4 23 8 15. Odd numbers in "
                           "increasing order, then their sum.\"}]}";
    char *a = teacher(ANC_DEMO_STRONGER, stronger, ANC_OK, &err), *b = teacher(ANC_DEMO_STRONGER, stronger, ANC_OK, &err);
    assert_string_equal(a, b); /* the same request, the same answer */
    anc_demo_task t;
    TU_CHECK(anc_demo_task_parse("Numbers: 17 4 23 8 15. Odd numbers in increasing order, then their sum.", &t, &err), &err);
    anc_demo_grade_result g;
    anc_demo_grade(&t, a, &g);
    assert_true(g.list_correct && g.sum_correct);
    free(a);
    free(b);
    const char *judge = "{\"messages\": [{\"role\": \"user\", \"content\": \"Numbers: 17 4 23 8 15. Odd numbers in increasing "
                        "order, then their sum.\\n[The Start of Response A]\\nOdd: 15 17 23. Sum: 50.\\n[The End of Response "
                        "A]\\n[The Start of Response B]\\nOdd: 15 17 23. Sum: 55.\\n[The End of Response B]\"}]}";
    char *v = teacher(ANC_DEMO_JUDGE, judge, ANC_OK, &err);
    assert_non_null(strstr(v, "Verdict: B"));
    free(v);
    teacher(ANC_DEMO_JUDGE, stronger, ANC_ERR_FORMAT, &err); /* no response markers */
    teacher(ANC_DEMO_REVISE, "{\"model\": \"x\"}", ANC_ERR_FORMAT, &err);
    assert_non_null(strstr(err.message, "messages"));
    teacher(ANC_DEMO_REVISE, "not json", ANC_ERR_FORMAT, &err);
}

typedef struct seen {
    int begin, steps, total, cells;
} seen;

static void on_event(void *ctx, const anc_demo_event *ev) {
    seen *s = ctx;
    if (ev->kind == ANC_DEMO_BEGIN) s->begin++, s->total = ev->total, s->cells = ev->n_cells;
    if (ev->kind == ANC_DEMO_STEP) s->steps++;
}

static void test_run_contract(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *dir = tu_path(d, "run");
    anc_error err = {0};
    anc_demo_result r;
    memset(&r, 0xff, sizeof r);
    anc_demo_run_opts o = {.quick = 1, .dir = dir};
    assert_int_equal(anc_demo_run(&o, NULL, NULL, &r, &err), ANC_ERR_INVALID); /* no executable */
    assert_null(r.tables);
    o.exe = "/nonexistent/anchor";
    o.seeds = -1;
    assert_int_equal(anc_demo_run(&o, NULL, NULL, &r, &err), ANC_ERR_INVALID);
    /* an executable that cannot start: the directory is set up, BEGIN
     * reported, the first step fails naming what could not start */
    o.seeds = 0;
    seen s = {0};
    assert_int_equal(anc_demo_run(&o, on_event, &s, &r, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/anchor"));
    assert_int_equal(s.begin, 1);
    assert_int_equal(s.steps, 0);
    assert_int_equal(s.cells, 12); /* 3 datasets x 4 objectives x 1 seed */
    assert_int_equal(s.total, 14 + 12); /* 13 steps with the advisor, the report, the cells */
    assert_null(r.tables);
    assert_null(r.contrast);
    char *cfg = tu_path(dir, "demo-config.json");
    char *text = tu_read_file(cfg, NULL);
    assert_non_null(strstr(text, "\"quick\": true"));
    free(text);
    /* other settings in the same directory are refused before anything runs */
    o.seeds = 2;
    memset(&s, 0, sizeof s);
    assert_int_equal(anc_demo_run(&o, on_event, &s, &r, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "--fresh"));
    assert_int_equal(s.begin, 0);
    anc_demo_result_free(&r);
    anc_demo_result_free(NULL);
    free(cfg);
    free(dir);
    tu_rmtree(d);
    free(d);
}

/* Only the CLI (and the demo itself) may include demo/ headers. */
static void test_demo_outside_library(void **state) {
    (void)state;
    char *src = tu_path(ANCHOR_SOURCE_DIR, "src");
    DIR *d = opendir(src);
    assert_non_null(d);
    int folders = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "cli") || !strcmp(e->d_name, "demo")) continue;
        char *dir = tu_path(src, e->d_name);
        DIR *dd = opendir(dir);
        if (!dd) {
            free(dir);
            continue;
        }
        folders++;
        for (struct dirent *f; (f = readdir(dd));) {
            size_t n = strlen(f->d_name);
            if (n < 3 || f->d_name[n - 2] != '.' || (f->d_name[n - 1] != 'c' && f->d_name[n - 1] != 'h')) continue;
            if (!strcmp(e->d_name, "eval") && !strncmp(f->d_name, "demo", 4))
                fail_msg("src/eval/%s: the demo lives in src/demo/", f->d_name);
            char *p = tu_path(dir, f->d_name);
            char *text = tu_read_file(p, NULL);
            if (strstr(text, "#include \"demo/")) fail_msg("src/%s/%s includes a demo/ header (the library must not)", e->d_name, f->d_name);
            free(text);
            free(p);
        }
        closedir(dd);
        free(dir);
    }
    closedir(d);
    assert_true(folders >= 10);
    free(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_and_grade),
        cmocka_unit_test(test_teacher),
        cmocka_unit_test(test_run_contract),
        cmocka_unit_test(test_demo_outside_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
