/* One run store, several users: leases that split the work between
 * processes and hand a dead holder's requests over, step provenance that
 * refuses items made with other settings, honest exit status, and a
 * pipeline whose failed items make its step not up to date. The revisers
 * are real exec: programs (tests/tool_fake_llm) that log each call. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

static void assert_contains(const char *hay, const char *needle) {
    if (!hay || !strstr(hay, needle)) fail_msg("expected \"%s\" in:\n%s", needle, hay ? hay : "(null)");
}

static char *write_drafts(const char *d, int n) {
    char *p = tu_path(d, "drafts.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\": \"q%03d\", \"prompt\": \"question %d\", \"completion\": \"draft %d\"}\n", i, i, i);
    fclose(f);
    return p;
}

static json_t *request(const char *text) { return json_pack("{s[{ssss}]}", "messages", "role", "user", "content", text); }

/* Two handles of one process: the second finds the first's live lease and
 * leaves the request alone; a committed reply ends the lease. */
static void test_claim_between_handles(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *db = tu_path(d, "run.db");
    anc_store *a = NULL, *b = NULL;
    anc_error err;
    TU_CHECK(anc_store_open(&a, db, &err), &err);
    TU_CHECK(anc_store_open(&b, db, &err), &err);
    assert_string_not_equal(anc_store_owner(a), anc_store_owner(b));
    assert_true(anc_store_owner_alive(anc_store_owner(a)));
    json_t *req = request("hello");
    char key[ANC_STORE_KEY_HEX];
    TU_CHECK(anc_store_request_key("exec:x", NULL, req, key, &err), &err);
    anc_claim c;
    char *holder = NULL;
    TU_CHECK(anc_store_claim(a, key, req, 60, 1, &c, NULL, &err), &err);
    assert_int_equal(c, ANC_CLAIM_OK);
    TU_CHECK(anc_store_claim(b, key, req, 60, 1, &c, &holder, &err), &err);
    assert_int_equal(c, ANC_CLAIM_BUSY);
    assert_string_equal(holder, anc_store_owner(a));
    free(holder);
    size_t renewed = 0;
    TU_CHECK(anc_store_renew_leases(a, 60, &renewed, &err), &err);
    assert_int_equal(renewed, 1);
    TU_CHECK(anc_store_put_reply(a, key, req, "hi", NULL, 1, &err), &err);
    TU_CHECK(anc_store_claim(b, key, req, 60, 1, &c, NULL, &err), &err);
    assert_int_equal(c, ANC_CLAIM_DONE);
    /* a failure recorded by a gives b ANC_CLAIM_FAILED unless b retries */
    json_t *req2 = request("other");
    char key2[ANC_STORE_KEY_HEX];
    TU_CHECK(anc_store_request_key("exec:x", NULL, req2, key2, &err), &err);
    TU_CHECK(anc_store_claim(a, key2, req2, 60, 1, &c, NULL, &err), &err);
    TU_CHECK(anc_store_put_failure(a, key2, req2, "HTTP 500", 1, &err), &err);
    TU_CHECK(anc_store_claim(b, key2, req2, 60, 0, &c, NULL, &err), &err);
    assert_int_equal(c, ANC_CLAIM_FAILED);
    TU_CHECK(anc_store_claim(b, key2, req2, 60, 1, &c, NULL, &err), &err);
    assert_int_equal(c, ANC_CLAIM_OK);
    json_decref(req);
    json_decref(req2);
    anc_store_close(a);
    anc_store_close(b);
    free(db);
    tu_rmtree(d);
    free(d);
}

/* A holder killed with SIGKILL leaves a pending lease that is taken over at
 * once: its pid no longer runs. */
static void test_dead_holder_taken_over(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *db = tu_path(d, "run.db");
    json_t *req = request("claimed by a process that dies");
    char key[ANC_STORE_KEY_HEX];
    anc_error err;
    TU_CHECK(anc_store_request_key("exec:x", NULL, req, key, &err), &err);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        anc_store *s = NULL;
        anc_claim c;
        if (anc_store_open(&s, db, &err) || anc_store_claim(s, key, req, 3600, 1, &c, NULL, &err) || c != ANC_CLAIM_OK)
            _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    assert_true(WIFSIGNALED(ws));
    anc_store *s = NULL;
    TU_CHECK(anc_store_open(&s, db, &err), &err);
    anc_req_status rs;
    TU_CHECK(anc_store_request_status(s, key, &rs, NULL, NULL, &err), &err);
    assert_int_equal(rs, ANC_REQ_PENDING);
    anc_claim c;
    TU_CHECK(anc_store_claim(s, key, req, 60, 1, &c, NULL, &err), &err);
    assert_int_equal(c, ANC_CLAIM_OK); /* the hour-long lease died with its holder */
    json_decref(req);
    anc_store_close(s);
    free(db);
    tu_rmtree(d);
    free(d);
}

/* Two `anchor revise` processes 0.2 s apart on one store and one output:
 * the reviser is called once per item (no live lease is ever sent twice),
 * the two split the calls, and both write all the pairs. */
static void test_two_processes_split_the_work(void **state) {
    (void)state;
    enum { N = 40 };
    char *d = tu_tmpdir();
    free(write_drafts(d, N));
    const char *cmd = "cd '%s' && '%s' revise --input drafts.jsonl --out c.jsonl --concurrency 2 "
                      "--reviser 'exec:%s/tool_fake_llm revise calls.log 60' >o%d 2>e%d";
    fflush(NULL);
    pid_t first = fork();
    assert_true(first >= 0);
    if (first == 0) _exit(tu_system(cmd, d, tu_cli(), ANCHOR_BINARY_DIR, 1, 1));
    usleep(200 * 1000);
    int rc2 = tu_system(cmd, d, tu_cli(), ANCHOR_BINARY_DIR, 2, 2);
    int ws = 0;
    waitpid(first, &ws, 0);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(rc2, 0);
    char *log = tu_path(d, "calls.log");
    int calls = tu_count_lines(log);
    printf("  %d reviser calls for %d items from two processes\n", calls, N);
    assert_int_equal(calls, N);
    char *out = tu_path(d, "c.jsonl");
    assert_int_equal(tu_count_lines(out), N);
    /* the second process sent some and waited for the rest */
    char *e2p = tu_path(d, "e2");
    char *e2 = tu_read_file(e2p, NULL);
    assert_contains(e2, "40 pairs -> c.jsonl");
    assert_contains(e2, "answered by another run sharing the store");
    free(e2);
    free(e2p);
    free(out);
    free(log);
    tu_rmtree(d);
    free(d);
}

/* A rerun with another reviser model is refused, naming the option and the
 * ways out; --fresh starts over and sends every item again; the same
 * command again reuses them all as finished. */
static void test_provenance_refuses_changed_settings(void **state) {
    (void)state;
    enum { N = 5 };
    char *d = tu_tmpdir();
    free(write_drafts(d, N));
    const char *cmd = "cd '%s' && '%s' revise --input drafts.jsonl --out c.jsonl --reviser-model %s %s "
                      "--reviser 'exec:%s/tool_fake_llm revise calls.log' >o 2>e";
    char *log = tu_path(d, "calls.log"), *ep = tu_path(d, "e");
    assert_int_equal(tu_system(cmd, d, tu_cli(), "small", "", ANCHOR_BINARY_DIR), 0);
    assert_int_equal(tu_count_lines(log), N);
    char *out = tu_path(d, "c.jsonl");
    char *before = tu_read_file(out, NULL);
    assert_int_equal(tu_system(cmd, d, tu_cli(), "big", "", ANCHOR_BINARY_DIR), 1);
    char *e = tu_read_file(ep, NULL);
    assert_contains(e, "reviser-model \"small\" -> \"big\"");
    assert_contains(e, "--fresh");
    assert_contains(e, "another --out");
    free(e);
    assert_int_equal(tu_count_lines(log), N); /* nothing sent */
    char *after = tu_read_file(out, NULL);
    assert_string_equal(before, after); /* the output was left alone */
    free(after);
    assert_int_equal(tu_system(cmd, d, tu_cli(), "big", "--fresh", ANCHOR_BINARY_DIR), 0);
    assert_int_equal(tu_count_lines(log), 2 * N);
    assert_int_equal(tu_system(cmd, d, tu_cli(), "big", "", ANCHOR_BINARY_DIR), 0);
    assert_int_equal(tu_count_lines(log), 2 * N);
    e = tu_read_file(ep, NULL);
    assert_contains(e, "5 items reused as finished earlier");
    free(e);
    /* another prompt template is another setting too */
    char *tp = tu_path(d, "t.txt");
    tu_write_file(tp, "Improve: {input} / {output}\n", 28);
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out c.jsonl --reviser-model big "
                               "--template t.txt --reviser 'exec:%s/tool_fake_llm revise calls.log' >o 2>e",
                               d, tu_cli(), ANCHOR_BINARY_DIR), 1);
    e = tu_read_file(ep, NULL);
    assert_contains(e, "template \"clair-authors\" -> \"sha256:");
    free(e);
    free(tp);
    free(before);
    free(out);
    free(log);
    free(ep);
    tu_rmtree(d);
    free(d);
}

/* Every item failing exits 3; the pipeline step with failed items is not
 * up to date, so the rerun (the reviser fixed) retries them. */
static void test_failed_items_exit_and_pipeline_retry(void **state) {
    (void)state;
    enum { N = 4 };
    char *d = tu_tmpdir();
    free(write_drafts(d, N));
    char *yaml = tu_path(d, "p.yaml");
    FILE *f = fopen(yaml, "w");
    assert_non_null(f);
    fprintf(f,
            "run_dir: run\n"
            "steps:\n"
            "  - name: clair\n    kind: revise\n    input: %s/drafts.jsonl\n"
            "    reviser: \"exec:test -f %s/fixed && %s/tool_fake_llm revise %s/calls.log\"\n"
            "    retries: 0\n",
            d, d, ANCHOR_BINARY_DIR, d);
    fclose(f);
    char *ep = tu_path(d, "e");
    int rc = tu_system("cd '%s' && '%s' run p.yaml >o 2>e", d, tu_cli());
    char *e = tu_read_file(ep, NULL);
    assert_contains(e, "all 4 items failed");
    assert_int_not_equal(rc, 0);
    free(e);
    char *fixed = tu_path(d, "fixed");
    tu_write_file(fixed, "", 0);
    assert_int_equal(tu_system("cd '%s' && '%s' run p.yaml >o 2>e", d, tu_cli()), 0);
    e = tu_read_file(ep, NULL);
    assert_contains(e, "interrupted last time; resuming");
    assert_contains(e, "4 pairs");
    free(e);
    char *log = tu_path(d, "calls.log");
    assert_int_equal(tu_count_lines(log), N);
    /* now up to date */
    assert_int_equal(tu_system("cd '%s' && '%s' run p.yaml >o 2>e", d, tu_cli()), 0);
    e = tu_read_file(ep, NULL);
    assert_contains(e, "clair (revise): skipped, up to date");
    free(e);
    free(log);
    free(fixed);
    free(ep);
    free(yaml);
    tu_rmtree(d);
    free(d);
}

/* An explicitly named, unset key variable is an error naming it. */
static void test_named_unset_key_is_an_error(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    free(write_drafts(d, 1));
    assert_int_equal(tu_system("cd '%s' && env -u NOPE_KEY '%s' revise --input drafts.jsonl --out c.jsonl "
                               "--api-key-env NOPE_KEY --reviser http://127.0.0.1:9/v1 >o 2>e",
                               d, tu_cli()),
                     1);
    char *ep = tu_path(d, "e");
    char *e = tu_read_file(ep, NULL);
    assert_contains(e, "$NOPE_KEY is not set");
    free(e);
    free(ep);
    tu_rmtree(d);
    free(d);
}

/* Two pipelines in one run directory at once: the second is refused with
 * the holder named. */
static void test_run_dir_locked(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    free(write_drafts(d, 3));
    char *yaml = tu_path(d, "p.yaml");
    FILE *f = fopen(yaml, "w");
    assert_non_null(f);
    fprintf(f,
            "run_dir: run\n"
            "steps:\n"
            "  - name: clair\n    kind: revise\n    input: %s/drafts.jsonl\n"
            "    reviser: \"exec:%s/tool_fake_llm revise %s/calls.log 700\"\n    concurrency: 1\n",
            d, ANCHOR_BINARY_DIR, d);
    fclose(f);
    fflush(NULL);
    pid_t first = fork();
    assert_true(first >= 0);
    if (first == 0) _exit(tu_system("cd '%s' && '%s' run p.yaml >o1 2>e1", d, tu_cli()));
    /* wait until the first holds the lock (its first reviser call started) */
    char *lockp = tu_path(d, "run/.anchor-run.lock");
    for (int i = 0; i < 400; i++) {
        struct stat sb;
        if (stat(lockp, &sb) == 0 && sb.st_size > 0) break;
        usleep(25 * 1000);
    }
    int rc = tu_system("cd '%s' && '%s' run p.yaml >o2 2>e2", d, tu_cli());
    int ws = 0;
    waitpid(first, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    assert_int_equal(rc, 1);
    char *ep = tu_path(d, "e2");
    char *e = tu_read_file(ep, NULL);
    assert_contains(e, "is in use by pid");
    free(e);
    free(ep);
    free(lockp);
    free(yaml);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_between_handles),
        cmocka_unit_test(test_dead_holder_taken_over),
        cmocka_unit_test(test_two_processes_split_the_work),
        cmocka_unit_test(test_provenance_refuses_changed_settings),
        cmocka_unit_test(test_failed_items_exit_and_pipeline_retry),
        cmocka_unit_test(test_named_unset_key_is_an_error),
        cmocka_unit_test(test_run_dir_locked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
