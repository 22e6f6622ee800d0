/* anchor revise end to end with exec: revisers: the CLAIR authors' real
 * GPT-4 replies parse to revision and rationale, and a run killed with
 * SIGKILL and started again finishes every item, asking again only the
 * requests that were in flight at the kill. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_replay_gpt4_replies(void **state) {
    (void)state;
    char *fx = tu_shared_fixture("clair/gpt4_revisions_sample.jsonl");
    if (!fx) skip();
    char *d = tu_tmpdir();
    /* drafts: the fixture's tasks and student solutions */
    char *drafts = tu_path(d, "drafts.jsonl");
    FILE *in = fopen(fx, "r"), *out = fopen(drafts, "w");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, in) > 0) {
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        json_t *o = json_object();
        json_object_set(o, "prompt", json_object_get(row, "task"));
        json_object_set(o, "completion", json_object_get(row, "student_solution"));
        char *s = json_dumps(o, JSON_COMPACT);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
        json_decref(row);
        n++;
    }
    free(line);
    fclose(in);
    fclose(out);
    assert_int_equal(n, 8);
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out pairs.jsonl "
                               "--reviser 'exec:%s/tool_fake_llm replay %s %s/log' >out.txt 2>err.txt",
                               d, tu_cli(), ANCHOR_BINARY_DIR, fx, d), 0);
    char *p = tu_path(d, "pairs.jsonl");
    char *text = tu_read_file(p, NULL);
    int pairs = 0;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        assert_non_null(o);
        const char *chosen = json_string_value(json_object_get(o, "chosen"));
        const char *rationale = json_string_value(json_object_get(o, "rationale"));
        const char *rejected = json_string_value(json_object_get(o, "rejected"));
        assert_non_null(chosen);
        assert_true(strlen(chosen) > 20);
        assert_true(strlen(rationale) > 20);
        assert_null(strstr(chosen, "corrected_student_solution"));
        assert_null(strstr(chosen, "teacher_reasoning"));
        assert_string_not_equal(chosen, rejected);
        assert_string_equal(json_string_value(json_object_get(o, "source")), "clair");
        json_decref(o);
        pairs++;
    }
    assert_int_equal(pairs, 8);
    char *log = tu_path(d, "log");
    assert_int_equal(tu_count_lines(log), 8);
    /* the same command again sends nothing */
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out pairs.jsonl "
                               "--reviser 'exec:%s/tool_fake_llm replay %s %s/log' >out.txt 2>err.txt",
                               d, tu_cli(), ANCHOR_BINARY_DIR, fx, d), 0);
    assert_int_equal(tu_count_lines(log), 8);
    free(log); free(text); free(p); free(drafts); free(fx);
    tu_rmtree(d);
    free(d);
}

static void test_kill_and_resume(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *drafts = tu_path(d, "drafts.jsonl");
    FILE *f = fopen(drafts, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "{\"id\": \"q%03d\", \"prompt\": \"Question %d?\", \"completion\": \"answer %d\"}\n", i, i, i);
    fclose(f);
    char *logp = tu_path(d, "log");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' revise --input drafts.jsonl --out pairs.jsonl --concurrency 4 "
             "--reviser 'exec:%s/tool_fake_llm revise %s 5' >out.txt 2>err.txt", d, tu_cli(), ANCHOR_BINARY_DIR, logp);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);  /* its own group: the kill takes the in-flight revisers too */
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    int killed = 0;
    for (int i = 0; i < 100000 && !killed; i++) {
        if (tu_count_lines(logp) >= 60) {
            kill(-pid, SIGKILL);
            killed = 1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(killed);
    int answered_before = tu_count_lines(logp);
    assert_true(answered_before < 200);
    printf("  killed after %d answered requests\n", answered_before);
    assert_int_equal(tu_system("%s", cmd), 0);
    char *p = tu_path(d, "pairs.jsonl");
    assert_int_equal(tu_count_lines(p), 200);
    /* Over both runs every item was answered once, plus at most the
     * requests in flight when the kill came (concurrency 4): their replies
     * were never committed, so they are the only ones asked again. */
    int answered = tu_count_lines(logp);
    printf("  %d requests answered in total for 200 items\n", answered);
    assert_true(answered >= 200 && answered <= 200 + 4);
    char *text = tu_read_file(p, NULL);
    assert_non_null(strstr(text, "\"id\":\"q000\""));
    assert_non_null(strstr(text, "\"chosen\":\"ANSWER 199\""));
    /* without --route a record is exactly what it always was: no route field */
    char first[4096];
    snprintf(first, sizeof first,
             "{\"id\":\"q000\",\"prompt\":\"Question 0?\",\"chosen\":\"ANSWER 0\",\"rejected\":\"answer 0\","
             "\"source\":\"clair\",\"rationale\":\"The answer should be louder.\",\"reviser\":\"exec:%s/tool_fake_llm "
             "revise %s 5\"}\n",
             ANCHOR_BINARY_DIR, logp);
    assert_memory_equal(text, first, strlen(first));
    assert_null(strstr(text, "\"route\""));
    /* input order is kept */
    assert_true(strstr(text, "q000") < strstr(text, "q199"));
    free(text); free(p); free(logp); free(drafts);
    tu_rmtree(d);
    free(d);
}

static void test_bad_replies_are_failures(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *drafts = tu_path(d, "drafts.jsonl");
    tu_write_file(drafts, "{\"prompt\": \"p\", \"completion\": \"c\"}\n", 35);
    /* a reviser whose reply has no marker, and one that exits non-zero */
    /* every item failed: exit 3 (CLI_EXIT_ALL_FAILED), said with the count */
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out pairs.jsonl --reviser 'exec:echo just text' >o 2>e", d, tu_cli()), 3);
    char *ep = tu_path(d, "e");
    char *e = tu_read_file(ep, NULL);
    assert_non_null(strstr(e, "0 pairs"));
    assert_non_null(strstr(e, "all 1 items failed"));
    free(e);
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out p2.jsonl --retries 0 --reviser 'exec:exit 7' >o 2>e", d, tu_cli()), 3);
    e = tu_read_file(ep, NULL);
    assert_non_null(strstr(e, "all 1 items failed"));
    free(e);
    /* usage errors */
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out p.jsonl >o 2>e", d, tu_cli()), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input missing.jsonl --out p.jsonl --reviser 'exec:true' >o 2>e", d, tu_cli()), 1);
    free(ep); free(drafts);
    tu_rmtree(d);
    free(d);
}

/* On-policy judge pairs: a judge with a position bias on ties (answers A)
 * yields inconsistent verdicts there, which are dropped; real preferences
 * survive both orders. A rerun sends nothing. */
static void test_judge_both_orders(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *s = tu_path(d, "samples.jsonl");
    const char *rows =
        "{\"id\": \"p1\", \"prompt\": \"Say x\", \"completion\": \"xxx\", \"sample_index\": 0}\n"
        "{\"id\": \"p1\", \"prompt\": \"Say x\", \"completion\": \"x\", \"sample_index\": 1}\n"
        "{\"id\": \"p2\", \"prompt\": \"Say y\", \"completion\": \"y\", \"sample_index\": 0}\n"
        "{\"id\": \"p2\", \"prompt\": \"Say y\", \"completion\": \"yy\", \"sample_index\": 1}\n"
        "{\"id\": \"p3\", \"prompt\": [{\"role\": \"user\", \"content\": \"Say z\"}], \"completion\": \"zx\"}\n"
        "{\"id\": \"p3\", \"prompt\": [{\"role\": \"user\", \"content\": \"Say z\"}], \"completion\": \"zxx\"}\n"
        "{\"id\": \"p4\", \"prompt\": \"alone\", \"completion\": \"x\"}\n";
    tu_write_file(s, rows, strlen(rows));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' judge --input samples.jsonl --out pairs.jsonl --judge 'exec:%s/tool_fake_llm judge %s/log a' >o 2>e",
             d, tu_cli(), ANCHOR_BINARY_DIR, d);
    assert_int_equal(tu_system("%s", cmd), 0);
    char *p = tu_path(d, "pairs.jsonl"), *logp = tu_path(d, "log"), *ep = tu_path(d, "e");
    char *text = tu_read_file(p, NULL);
    assert_int_equal(tu_count_lines(p), 2);
    assert_non_null(strstr(text, "\"chosen\":\"xxx\",\"rejected\":\"x\""));
    /* a message-list prompt gives TRL's conversational pair */
    assert_non_null(strstr(text, "\"chosen\":[{\"role\":\"assistant\",\"content\":\"zxx\"}]"));
    char *e = tu_read_file(ep, NULL);
    assert_non_null(strstr(e, "2 consistent, 0 ties, 1 inconsistent"));
    assert_non_null(strstr(e, "1 prompts with fewer than two samples"));
    free(e);
    assert_int_equal(tu_count_lines(logp), 6);
    assert_int_equal(tu_system("%s", cmd), 0);
    assert_int_equal(tu_count_lines(logp), 6);
    free(text); free(p); free(logp); free(ep); free(s);
    tu_rmtree(d);
    free(d);
}

/* Stronger-preferred pairs: the stronger model answers from scratch; a
 * rerun sends nothing; a message-list prompt is sent as the conversation. */
static void test_pairs_stronger(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *s = tu_path(d, "drafts.jsonl");
    const char *rows = "{\"prompt\": \"Name a fruit\", \"completion\": \"car\"}\n"
                       "{\"prompt\": [{\"role\": \"user\", \"content\": \"Name a color\"}], \"completion\": \"dog\"}\n";
    tu_write_file(s, rows, strlen(rows));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' pairs stronger --input drafts.jsonl --out pairs.jsonl --stronger 'exec:%s/tool_fake_llm answer %s/log' >o 2>e",
             d, tu_cli(), ANCHOR_BINARY_DIR, d);
    assert_int_equal(tu_system("%s", cmd), 0);
    char *p = tu_path(d, "pairs.jsonl"), *logp = tu_path(d, "log");
    char *text = tu_read_file(p, NULL);
    assert_int_equal(tu_count_lines(p), 2);
    assert_non_null(strstr(text, "\"chosen\":\"ANSWER: Name a fruit\",\"rejected\":\"car\""));
    assert_non_null(strstr(text, "\"chosen\":[{\"role\":\"assistant\",\"content\":\"ANSWER: Name a color\"}]"));
    assert_non_null(strstr(text, "\"source\":\"stronger\""));
    assert_int_equal(tu_count_lines(logp), 2);
    assert_int_equal(tu_system("%s", cmd), 0);
    assert_int_equal(tu_count_lines(logp), 2);
    free(text); free(p); free(logp); free(s);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_gpt4_replies),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_bad_replies_are_failures),
        cmocka_unit_test(test_judge_both_orders),
        cmocka_unit_test(test_pairs_stronger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
