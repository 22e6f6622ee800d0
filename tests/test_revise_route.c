/* anchor revise --route / --max-rounds end to end, with real exec backends
 * and exec graders written by the tests as shell scripts: a grader failing
 * exactly the drafts whose number is a multiple of 3 sends exactly those to
 * the reviser; a reviser that fixes a draft only on its second try, with
 * --max-rounds 3, ends with every routed draft passing; passing drafts are
 * identical pairs or dropped; runs killed with SIGKILL in the middle of a
 * reviser batch and in the middle of the checks, then rerun, make exactly
 * the reviser calls of an uninterrupted run and the same output bytes. The
 * judge form (judge:BACKEND) and the parsers it adds are checked too. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clair/revise.h"
#include "eval/graders.h"
#include "flow/llm_step.h"
#include "store/store.h"

#define N_DRAFTS 30

/* reviser.sh DIR: a CLAIR reviser answering "better answer N" on its first
 * try for a draft and "fixed answer N" from the second on (tries counted per
 * draft in DIR/tries.N). Each completed call appends "KIND DRAFT FB" to
 * DIR/calls: KIND clair or feedback (the prompt of rounds >= 2), FB yes when
 * the check's feedback reached it. With DIR/hang-rev = N it hangs once, in
 * the feedback round of draft N, before answering (for a kill -9). */
static const char *reviser_sh =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "d=${in#*'{student_solution}: '}\n"
    "d=${d%%'\\n'*}\n"
    "n=${d##* }\n"
    "kind=clair\n"
    "case \"$in\" in *'{previous_revision}: '*) kind=feedback ;; esac\n"
    "fb=no\n"
    "case \"$in\" in *'needs the word fixed'*) fb=yes ;; esac\n"
    "t=\"$1/tries.$n\"\n"
    "tries=0\n"
    "[ -f \"$t\" ] && tries=$(cat \"$t\")\n"
    "tries=$((tries + 1))\n"
    "h=\n"
    "[ -f \"$1/hang-rev\" ] && h=$(cat \"$1/hang-rev\")\n"
    "if [ $kind = feedback ] && [ \"$n\" = \"$h\" ] && [ ! -f \"$1/rev-hung\" ]; then\n"
    "  : > \"$1/rev-hung\"; echo $$ > \"$1/hang.pid\"; : > \"$1/hanging\"; exec sleep 60\n"
    "fi\n"
    "if [ $tries -ge 2 ]; then r=\"fixed answer $n\"; else r=\"better answer $n\"; fi\n"
    "echo $tries > \"$t\"\n"
    "echo \"$kind $d $fb\" >> \"$1/calls\"\n"
    "printf '{teacher_reasoning}: try %s.\\n\\n{corrected_student_solution}: %s\\n' $tries \"$r\"\n";

/* grader.sh DIR: an exec grader (JSON on stdin) passing "fixed ..." and
 * every "... N" with N not a multiple of 3; the others get score 0 with
 * feedback. With DIR/hang-grade = N it hangs once grading "fixed answer N". */
static const char *grader_sh =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "r=${in#*'\"response\":\"'}\n"
    "r=${r%%'\"'*}\n"
    "n=${r##* }\n"
    "h=\n"
    "[ -f \"$1/hang-grade\" ] && h=$(cat \"$1/hang-grade\")\n"
    "if [ -n \"$h\" ] && [ \"$r\" = \"fixed answer $h\" ] && [ ! -f \"$1/grade-hung\" ]; then\n"
    "  : > \"$1/grade-hung\"; echo $$ > \"$1/hang.pid\"; : > \"$1/hanging\"; exec sleep 60\n"
    "fi\n"
    "case \"$r\" in\n"
    "  fixed*) echo 1 ;;\n"
    "  *) if [ $((n % 3)) -eq 0 ]; then echo '{\"score\": 0, \"feedback\": \"needs the word fixed\"}'; else echo 1; fi ;;\n"
    "esac\n";

/* judge.sh DIR: a pointwise checker with the grader's rule, answering in
 * the VERDICT format; each call appends the answer checked to DIR/checks. */
static const char *judge_sh =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "a=${in#*'{student_solution}: '}\n"
    "a=${a%%'\\n'*}\n"
    "n=${a##* }\n"
    "echo \"$a\" >> \"$1/checks\"\n"
    "v=PASS\n"
    "case \"$a\" in fixed*) ;; *) [ $((n % 3)) -eq 0 ] && v=FAIL ;; esac\n"
    "if [ $v = FAIL ]; then printf 'The answer needs the word fixed.\\nVERDICT: FAIL\\n'; "
    "else printf 'Fine as it is.\\nVERDICT: PASS\\n'; fi\n";

#define ROUTE_CMD                                                                                                  \
    "cd '%s' && exec '%s' revise --input drafts.jsonl --out %s --store run.db --reviser 'exec:sh reviser.sh .' "     \
    "--route 'grader:exec:sh grader.sh .' %s >out.txt 2>err.txt"

static void write_fixture(const char *d, int with_ref) {
    char *p = tu_path(d, "drafts.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < N_DRAFTS; i++) {
        fprintf(f, "{\"id\": \"q%02d\", \"prompt\": \"Question %d?\", \"completion\": \"answer %d\"", i, i, i);
        if (with_ref) fprintf(f, ", \"reference\": \"%s %d\"", i % 3 ? "answer" : "right", i);
        fprintf(f, "}\n");
    }
    fclose(f);
    free(p);
    const char *names[3] = {"reviser.sh", "grader.sh", "judge.sh"};
    const char *texts[3] = {reviser_sh, grader_sh, judge_sh};
    for (int k = 0; k < 3; k++) {
        p = tu_path(d, names[k]);
        tu_write_file(p, texts[k], strlen(texts[k]));
        free(p);
    }
}

static char *read_in(const char *d, const char *rel) {
    char *p = tu_path(d, rel);
    char *t = tu_read_file(p, NULL);
    free(p);
    return t;
}

static int lines_in(const char *d, const char *rel) {
    char *p = tu_path(d, rel);
    int n = tu_count_lines(p);
    free(p);
    return n;
}

/* Occurrences of the whole line `line` in the file d/rel. */
static int line_count(const char *d, const char *rel, const char *line) {
    char *t = read_in(d, rel);
    size_t n = strlen(t);
    size_t cap = strlen(line) + 3;
    char *hay = malloc(n + 2), *needle = malloc(cap);
    hay[0] = '\n';
    memcpy(hay + 1, t, n + 1);
    snprintf(needle, cap, "\n%s\n", line);
    int c = tu_count_substr(hay, needle);
    free(hay);
    free(needle);
    free(t);
    return c;
}

/* Starts sh -c cmd in its own process group. */
static pid_t start_bg(const char *cmd) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Waits for d/hanging (a script hangs there), then kills the run with
 * SIGKILL and the hanging script (exec backends run in process groups of
 * their own). Returns the run's wait status. */
static int kill_when_hanging(pid_t pid, const char *d) {
    char *flag = tu_path(d, "hanging");
    int seen = 0;
    for (int i = 0; i < 20000 && !seen; i++) {
        seen = access(flag, F_OK) == 0;
        if (!seen) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) fail_msg("the run ended (status %d) before a script hung", st);
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(seen);
    kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    char *pidtext = read_in(d, "hang.pid");
    kill((pid_t)atol(pidtext), SIGKILL);
    free(pidtext);
    unlink(flag);
    free(flag);
    return status;
}

static json_t *load_lines(const char *d, const char *rel, size_t *n) {
    char *t = read_in(d, rel);
    json_t *a = json_array();
    for (char *l = strtok(t, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        if (!o) fail_msg("%s/%s: line does not parse: %s", d, rel, je.text);
        json_array_append_new(a, o);
    }
    free(t);
    *n = json_array_size(a);
    return a;
}

static const json_t *route_of(const json_t *rec) {
    const json_t *r = json_object_get(rec, "route");
    assert_true(json_is_object(r));
    return r;
}

/* The uninterrupted run: exactly the failing third is sent, each routed
 * draft passes after its second revision; identical pairs; counts printed
 * and stored; a rerun sends nothing. Returns the directory (caller frees
 * and removes it). */
static char *uninterrupted_run(void) {
    char *d = tu_tmpdir();
    write_fixture(d, 0);
    assert_int_equal(tu_system(ROUTE_CMD, d, tu_cli(), "pairs.jsonl", "--max-rounds 3 --concurrency 2"), 0);
    /* the reviser saw exactly the drafts the grader fails, once per round,
     * and the second round carried the grader's feedback */
    assert_int_equal(lines_in(d, "calls"), 2 * N_DRAFTS / 3);
    for (int i = 0; i < N_DRAFTS; i += 3) {
        char l[64];
        snprintf(l, sizeof l, "clair answer %d no", i);
        assert_int_equal(line_count(d, "calls", l), 1);
        snprintf(l, sizeof l, "feedback answer %d yes", i);
        assert_int_equal(line_count(d, "calls", l), 1);
    }
    size_t n = 0;
    json_t *recs = load_lines(d, "pairs.jsonl", &n);
    assert_int_equal(n, N_DRAFTS);
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(recs, i);
        const json_t *r = route_of(o);
        char id[32], draft[48], fixed[48];
        snprintf(id, sizeof id, "q%02zu", i);
        snprintf(draft, sizeof draft, "answer %zu", i);
        snprintf(fixed, sizeof fixed, "fixed answer %zu", i);
        assert_string_equal(json_string_value(json_object_get(o, "id")), id);
        assert_string_equal(json_string_value(json_object_get(o, "rejected")), draft);
        assert_string_equal(json_string_value(json_object_get(r, "check")), "grader:exec");
        assert_true(json_is_true(json_object_get(r, "passed")));
        if (i % 3) {
            assert_string_equal(json_string_value(json_object_get(o, "chosen")), draft);
            assert_string_equal(json_string_value(json_object_get(o, "source")), "route-pass");
            assert_true(json_is_true(json_object_get(r, "passed_draft")));
            assert_int_equal(json_integer_value(json_object_get(r, "rounds")), 0);
            assert_null(json_object_get(o, "rationale"));
        } else {
            assert_string_equal(json_string_value(json_object_get(o, "chosen")), fixed);
            assert_string_equal(json_string_value(json_object_get(o, "source")), "clair");
            assert_string_equal(json_string_value(json_object_get(o, "rationale")), "try 2.");
            assert_true(json_is_false(json_object_get(r, "passed_draft")));
            assert_int_equal(json_integer_value(json_object_get(r, "rounds")), 2);
        }
    }
    json_decref(recs);
    char *e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "30 pairs -> pairs.jsonl"));
    assert_non_null(strstr(e, "requests sent 20, reused from the store 0"));
    assert_non_null(strstr(e, "30 drafts checked, 20 passed (written as identical pairs), 10 sent to the reviser; "
                              "revised per round: 10, 10, 0; 10 pass after revision, 0 still fail"));
    assert_non_null(strstr(e, "reviser calls 20, calls saved 20"));
    assert_non_null(strstr(e, "round 2: 10 revisions still fail the check"));
    free(e);
    /* the summary is kept in the run store */
    anc_store *st = NULL;
    anc_error err = {0};
    char *db = tu_path(d, "run.db"), *out = tu_path(d, "pairs.jsonl");
    TU_CHECK(anc_store_open(&st, db, &err), &err);
    char *step = anc_item_step("revise-route", out, anc_store_path(st));
    anc_item_status is;
    json_t *sum = NULL;
    TU_CHECK(anc_store_item_get(st, step, "summary", &is, &sum, NULL, &err), &err);
    assert_int_equal(is, ANC_ITEM_DONE);
    assert_int_equal(json_integer_value(json_object_get(sum, "checked")), 30);
    assert_int_equal(json_integer_value(json_object_get(sum, "passed_draft")), 20);
    assert_int_equal(json_integer_value(json_object_get(sum, "routed")), 10);
    assert_int_equal(json_integer_value(json_object_get(sum, "reviser_calls")), 20);
    assert_int_equal(json_integer_value(json_object_get(sum, "calls_saved")), 20);
    assert_int_equal(json_integer_value(json_object_get(sum, "still_failing")), 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(sum, "revised_per_round"), 1)), 10);
    json_decref(sum);
    free(step);
    anc_store_close(st);
    free(db);
    free(out);
    /* the same command again sends nothing and says the same counts */
    char *before = read_in(d, "pairs.jsonl");
    assert_int_equal(tu_system(ROUTE_CMD, d, tu_cli(), "pairs.jsonl", "--max-rounds 3 --concurrency 2"), 0);
    assert_int_equal(lines_in(d, "calls"), 20);
    char *after = read_in(d, "pairs.jsonl");
    assert_string_equal(before, after);
    e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "30 items reused as finished earlier; requests sent 0"));
    assert_non_null(strstr(e, "reviser calls 20, calls saved 20"));
    free(e);
    free(before);
    free(after);
    return d;
}

static void test_route_rounds_kill_resume(void **state) {
    (void)state;
    char *u = uninterrupted_run();
    char *k = tu_tmpdir();
    write_fixture(k, 0);
    char *p = tu_path(k, "hang-rev");
    tu_write_file(p, "15", 2);
    free(p);
    p = tu_path(k, "hang-grade");
    tu_write_file(p, "9", 1);
    free(p);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, ROUTE_CMD, k, tu_cli(), "pairs.jsonl", "--max-rounds 3 --concurrency 1");
    /* run 1 dies in the second reviser round, at draft 15: the first
     * round's 10 calls and the second round's 5 before it are done */
    int status = kill_when_hanging(start_bg(cmd), k);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(lines_in(k, "calls"), 15);
    /* run 2 dies checking the second round's revisions, at draft 9 */
    status = kill_when_hanging(start_bg(cmd), k);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(lines_in(k, "calls"), 20);
    /* run 3 finishes: no call was made twice, and the output is the
     * uninterrupted run's, byte for byte */
    assert_int_equal(tu_system("%s", cmd), 0);
    assert_int_equal(lines_in(k, "calls"), 20);
    for (int i = 0; i < N_DRAFTS; i += 3) {
        char l[64];
        snprintf(l, sizeof l, "feedback answer %d yes", i);
        assert_int_equal(line_count(k, "calls", l), 1);
    }
    char *a = read_in(u, "pairs.jsonl"), *b = read_in(k, "pairs.jsonl");
    assert_string_equal(a, b);
    free(a);
    free(b);
    char *e = read_in(k, "err.txt");
    assert_non_null(strstr(e, "reviser calls 20, calls saved 20"));
    free(e);
    tu_rmtree(k);
    free(k);

    /* --route-drop (another output in the same store): passing drafts are
     * not written; every reply comes from the store */
    assert_int_equal(tu_system(ROUTE_CMD, u, tu_cli(), "drop.jsonl", "--max-rounds 3 --route-drop"), 0);
    assert_int_equal(lines_in(u, "calls"), 20);
    size_t n = 0;
    json_t *recs = load_lines(u, "drop.jsonl", &n);
    assert_int_equal(n, N_DRAFTS / 3);
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(recs, i);
        assert_string_equal(json_string_value(json_object_get(o, "source")), "clair");
        assert_true(json_is_true(json_object_get(route_of(o), "passed")));
    }
    json_decref(recs);
    e = read_in(u, "err.txt");
    assert_non_null(strstr(e, "10 pairs -> drop.jsonl"));
    assert_non_null(strstr(e, "20 passed (dropped)"));
    assert_non_null(strstr(e, "requests sent 0, reused from the store 20"));
    free(e);

    /* --max-rounds 1: the first revision still fails and is kept, marked */
    assert_int_equal(tu_system(ROUTE_CMD, u, tu_cli(), "one.jsonl", ""), 0);
    assert_int_equal(lines_in(u, "calls"), 20);
    recs = load_lines(u, "one.jsonl", &n);
    assert_int_equal(n, N_DRAFTS);
    size_t failing = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(recs, i), *r = route_of(o);
        if (json_is_true(json_object_get(r, "passed_draft"))) continue;
        assert_true(json_is_false(json_object_get(r, "passed")));
        assert_int_equal(json_integer_value(json_object_get(r, "rounds")), 1);
        assert_non_null(strstr(json_string_value(json_object_get(o, "chosen")), "better answer"));
        failing++;
    }
    assert_int_equal(failing, 10);
    json_decref(recs);
    e = read_in(u, "err.txt");
    assert_non_null(strstr(e, "revised per round: 10; 0 pass after revision, 10 still fail"));
    free(e);

    /* other route settings than the step's items were made with: refused */
    assert_int_equal(tu_system(ROUTE_CMD, u, tu_cli(), "pairs.jsonl", "--max-rounds 2"), 1);
    e = read_in(u, "err.txt");
    assert_non_null(strstr(e, "max-rounds"));
    assert_non_null(strstr(e, "--fresh"));
    free(e);
    tu_rmtree(u);
    free(u);
}

/* The judge form: one check request per answer through the run store, the
 * checker's feedback sent back; a rerun sends nothing; replies without a
 * VERDICT line fail their item with a clear message. */
static void test_route_judge(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_fixture(d, 0);
    const char *fmt = "cd '%s' && '%s' revise --input drafts.jsonl --out %s --store run.db --reviser "
                      "'exec:sh reviser.sh .' --route '%s' --max-rounds 3 >out.txt 2>err.txt";
    assert_int_equal(tu_system(fmt, d, tu_cli(), "pairs.jsonl", "judge:exec:sh judge.sh ."), 0);
    /* 30 drafts checked, 10 first revisions, 10 second ones */
    assert_int_equal(lines_in(d, "checks"), 50);
    assert_int_equal(lines_in(d, "calls"), 20);
    for (int i = 0; i < N_DRAFTS; i += 3) {
        char l[64];
        snprintf(l, sizeof l, "feedback answer %d yes", i);
        assert_int_equal(line_count(d, "calls", l), 1);
        snprintf(l, sizeof l, "fixed answer %d", i);
        assert_int_equal(line_count(d, "checks", l), 1);
    }
    size_t n = 0;
    json_t *recs = load_lines(d, "pairs.jsonl", &n);
    assert_int_equal(n, N_DRAFTS);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = route_of(json_array_get(recs, i));
        assert_string_equal(json_string_value(json_object_get(r, "check")), "judge");
        assert_true(json_is_true(json_object_get(r, "passed")));
        assert_int_equal(json_integer_value(json_object_get(r, "rounds")), i % 3 ? 0 : 2);
    }
    json_decref(recs);
    char *e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "reviser calls 20, calls saved 20; check requests 50 (sent now 50"));
    free(e);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "pairs.jsonl", "judge:exec:sh judge.sh ."), 0);
    assert_int_equal(lines_in(d, "checks"), 50);
    assert_int_equal(lines_in(d, "calls"), 20);

    /* a checker that does not answer in the format: every item fails */
    assert_int_equal(tu_system(fmt, d, tu_cli(), "bad.jsonl", "judge:exec:echo looks fine"), 3);
    anc_store *st = NULL;
    anc_error err = {0};
    char *db = tu_path(d, "run.db"), *out = tu_path(d, "bad.jsonl");
    TU_CHECK(anc_store_open(&st, db, &err), &err);
    char *step = anc_item_step("revise", out, anc_store_path(st));
    anc_item_status is;
    char *why = NULL;
    TU_CHECK(anc_store_item_get(st, step, "q01", &is, NULL, &why, &err), &err);
    assert_int_equal(is, ANC_ITEM_FAILED);
    assert_non_null(strstr(why, "expected exactly 'VERDICT: PASS' or 'VERDICT: FAIL'"));
    assert_non_null(strstr(why, "looks fine"));
    free(why);
    free(step);
    anc_store_close(st);
    free(db);
    free(out);
    tu_rmtree(d);
    free(d);
}

/* A built-in grader against the rows' references; the usage errors. */
static void test_route_reference_grader_and_usage(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_fixture(d, 1);
    const char *fmt = "cd '%s' && '%s' revise --input drafts.jsonl --out pairs.jsonl --reviser 'exec:sh reviser.sh .' "
                      "%s >out.txt 2>err.txt";
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route grader:exact"), 0);
    assert_int_equal(lines_in(d, "calls"), 10);
    char *e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "route grader:exact: 30 drafts checked, 20 passed"));
    assert_non_null(strstr(e, "10 still fail"));
    free(e);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--max-rounds 3"), 2);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route-drop"), 2);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route fuzzy"), 1);
    e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "expected grader:exact"));
    free(e);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route grader:exact --max-rounds 40 --fresh"), 1);
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route grader:exact --reference-field gold --fresh"), 1);
    e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "drafts.jsonl:1: expected a string or number reference field \"gold\""));
    free(e);
    /* a grader that cannot score fails each item, with its reason */
    assert_int_equal(tu_system(fmt, d, tu_cli(), "--route 'grader:exec:exit 4' --fresh"), 3);
    e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "all 30 items failed"));
    free(e);
    anc_store *st = NULL;
    anc_error err = {0};
    char *db = tu_path(d, "pairs.jsonl.store.db"), *out = tu_path(d, "pairs.jsonl");
    TU_CHECK(anc_store_open(&st, db, &err), &err);
    char *step = anc_item_step("revise", out, anc_store_path(st));
    anc_item_status is;
    char *why = NULL;
    TU_CHECK(anc_store_item_get(st, step, "q00", &is, NULL, &why, &err), &err);
    assert_int_equal(is, ANC_ITEM_FAILED);
    assert_non_null(strstr(why, "route check (round 0): exec grader 'exit 4': exited with status 4"));
    free(why);
    free(step);
    anc_store_close(st);
    free(db);
    free(out);
    tu_rmtree(d);
    free(d);
}

/* A pipeline's revise step takes the route options as keys (the same
 * table); a rerun of the pipeline skips the finished step. */
static void test_route_pipeline(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_fixture(d, 0);
    char y[2048];
    snprintf(y, sizeof y,
             "run_dir: run\nsteps:\n  - name: clair\n    kind: revise\n    input: %s/drafts.jsonl\n"
             "    reviser: \"exec:sh %s/reviser.sh %s\"\n    route: \"grader:exec:sh %s/grader.sh %s\"\n"
             "    max_rounds: 3\n    route_drop: true\n",
             d, d, d, d, d);
    char *p = tu_path(d, "p.yaml");
    tu_write_file(p, y, strlen(y));
    free(p);
    assert_int_equal(tu_system("cd '%s' && '%s' run p.yaml >out.txt 2>err.txt", d, tu_cli()), 0);
    assert_int_equal(lines_in(d, "run/clair.jsonl"), 10);
    assert_int_equal(lines_in(d, "calls"), 20);
    char *e = read_in(d, "err.txt");
    assert_non_null(strstr(e, "20 passed (dropped), 10 sent to the reviser; revised per round: 10, 10, 0"));
    free(e);
    assert_int_equal(tu_system("cd '%s' && '%s' run p.yaml >out.txt 2>err.txt", d, tu_cli()), 0);
    assert_int_equal(lines_in(d, "calls"), 20);
    tu_rmtree(d);
    free(d);
}

/* The pieces: exec graders' JSON output with feedback, the verdict parser,
 * the feedback prompt. */
static void test_route_parsers(void **state) {
    (void)state;
    anc_grader g;
    anc_error err = {0};
    double s = -1;
    char *fb = NULL;
    TU_CHECK(anc_grader_parse("exec:echo ' {\"score\": 0.5, \"feedback\": \"say why\", \"x\": 1} '", &g, &err), &err);
    TU_CHECK(anc_grade_ex(&g, "p", "r", NULL, &s, &fb, &err), &err);
    assert_true(s == 0.5);
    assert_string_equal(fb, "say why");
    free(fb);
    TU_CHECK(anc_grade(&g, "p", "r", NULL, &s, &err), &err); /* anc_grade reads the object too */
    assert_true(s == 0.5);
    TU_CHECK(anc_grader_parse("exec:echo 1", &g, &err), &err);
    TU_CHECK(anc_grade_ex(&g, "p", "r", NULL, &s, &fb, &err), &err);
    assert_true(s == 1.0);
    assert_null(fb);
    TU_CHECK(anc_grader_parse("exec:echo '{\"score\": 1, \"feedback\": null}'", &g, &err), &err);
    TU_CHECK(anc_grade_ex(&g, "p", "r", NULL, &s, &fb, &err), &err);
    assert_null(fb);
    const char *bad[] = {"exec:echo '{\"score\": \"1\"}'", "exec:echo '{\"feedback\": \"x\"}'",
                         "exec:echo '{\"score\": 1, \"feedback\": 2}'", "exec:echo '{\"score\": 1'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TU_CHECK(anc_grader_parse(bad[i], &g, &err), &err);
        assert_int_equal(anc_grade_ex(&g, "p", "r", NULL, &s, &fb, &err), ANC_ERR_FORMAT);
        assert_null(fb);
        assert_true(s == 0);
    }
    int passed = -1;
    const char *text = "The sum is wrong.\n\nVERDICT: FAIL \n";
    TU_CHECK(anc_clair_parse_verdict(text, strlen(text), &passed, &fb, &err), &err);
    assert_int_equal(passed, 0);
    assert_string_equal(fb, "The sum is wrong.");
    free(fb);
    TU_CHECK(anc_clair_parse_verdict("VERDICT: PASS", 13, &passed, &fb, &err), &err);
    assert_int_equal(passed, 1);
    assert_string_equal(fb, "");
    free(fb);
    const char *wrong[] = {"verdict: pass", "**VERDICT: PASS**", "VERDICT: PASS\nthanks", "", "VERDICT: MAYBE"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        assert_int_equal(anc_clair_parse_verdict(wrong[i], strlen(wrong[i]), &passed, &fb, &err), ANC_ERR_FORMAT);
        assert_null(fb);
        assert_non_null(strstr(err.message, "VERDICT: PASS"));
    }
    char *out = NULL;
    TU_CHECK(anc_clair_feedback_prompt(NULL, "Q?", "draft {feedback}", "rev", "too short", &out, &err), &err);
    assert_non_null(strstr(out, "{task}: Q?\n\n{student_solution}: draft {feedback}\n\n{previous_revision}: rev\n\n"
                                "{check_feedback}: too short\n\n-----------------"));
    free(out);
    assert_int_equal(anc_clair_feedback_prompt("only {revision}", "Q", "d", "r", "f", &out, &err), ANC_ERR_INVALID);
    TU_CHECK(anc_clair_check_prompt(NULL, "Q?", "A.", &out, &err), &err);
    assert_non_null(strstr(out, "{task}: Q?\n\n{student_solution}: A.\n"));
    assert_non_null(strstr(out, "VERDICT: PASS or exactly VERDICT: FAIL"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_parsers),
        cmocka_unit_test(test_route_rounds_kill_resume),
        cmocka_unit_test(test_route_judge),
        cmocka_unit_test(test_route_reference_grader_and_usage),
        cmocka_unit_test(test_route_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
