/* Tests for src/store: SHA-256 vectors, request keys, the run store's
 * requests / items / steps tables, transactions, concurrent use, and a
 * kill -9 in the middle of a stream of commits. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sha256.h"
#include "store/store.h"

static void assert_has(const char *msg, const char *needle) {
    if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* A distinct valid key per integer. */
static void key_of(size_t i, char key[ANC_STORE_KEY_HEX]) {
    char buf[32];
    snprintf(buf, sizeof buf, "k%zu", i);
    anc_sha256_hex(buf, strlen(buf), key);
}

static anc_store *open_store(const char *dir, const char *name) {
    char *path = tu_path(dir, name);
    anc_store *s = NULL;
    anc_error err;
    TU_CHECK(anc_store_open(&s, path, &err), &err);
    free(path);
    return s;
}

/* ---------------------------------------------------------------- sha256 */

static void test_sha256_vectors(void **state) {
    (void)state;
    char hex[ANC_SHA256_HEX];
    anc_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    anc_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    anc_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a', fed in uneven pieces to exercise buffering. */
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    anc_sha256 s;
    anc_sha256_init(&s);
    size_t at = 0, step = 1;
    while (at < 1000000) {
        size_t n = step < 1000000 - at ? step : 1000000 - at;
        anc_sha256_update(&s, a + at, n);
        at += n;
        step = step * 3 % 997 + 1;
    }
    anc_sha256_final_hex(&s, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
    /* 55, 56, 63 and 64 bytes: the padding boundaries. */
    static const struct { size_t n; const char *hex; } pad[] = {
        {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
    };
    char buf[64];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < sizeof pad / sizeof pad[0]; i++) {
        anc_sha256_hex(buf, pad[i].n, hex);
        assert_string_equal(hex, pad[i].hex);
    }
}

static void test_request_key(void **state) {
    (void)state;
    anc_error err;
    char k1[ANC_STORE_KEY_HEX], k2[ANC_STORE_KEY_HEX], k3[ANC_STORE_KEY_HEX], k4[ANC_STORE_KEY_HEX],
        k5[ANC_STORE_KEY_HEX];
    json_t *a = json_loads("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.7}",
                           0, NULL);
    json_t *b = json_loads("{\"temperature\":0.7,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"m\"}",
                           0, NULL);
    json_t *c = json_loads("{\"temperature\":0.8,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"model\":\"m\"}",
                           0, NULL);
    TU_CHECK(anc_store_request_key("http:x", NULL, a, k1, &err), &err);
    TU_CHECK(anc_store_request_key("http:x", "", b, k2, &err), &err);
    assert_string_equal(k1, k2); /* key order and NULL vs "" salt do not matter */
    assert_int_equal(strlen(k1), 64);
    TU_CHECK(anc_store_request_key("http:x", NULL, c, k3, &err), &err);
    TU_CHECK(anc_store_request_key("http:y", NULL, a, k4, &err), &err);
    TU_CHECK(anc_store_request_key("http:x", "sample-2", a, k5, &err), &err);
    assert_string_not_equal(k1, k3);
    assert_string_not_equal(k1, k4);
    assert_string_not_equal(k1, k5);
    /* Field boundaries are unambiguous: ("ab","c") differs from ("a","bc"). */
    TU_CHECK(anc_store_request_key("ab", "c", a, k4, &err), &err);
    TU_CHECK(anc_store_request_key("a", "bc", a, k5, &err), &err);
    assert_string_not_equal(k4, k5);
    assert_int_equal(anc_store_request_key(NULL, NULL, a, k1, &err), ANC_ERR_INVALID);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* ---------------------------------------------------------------- store */

static void test_put_get_reopen(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    anc_store *s = open_store(dir, "run.db");
    anc_error err;
    char key[ANC_STORE_KEY_HEX];
    key_of(1, key);
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "m", "messages", "role", "user", "content", "héllo");
    json_t *raw = json_pack("{s:[{s:{s:s}}]}", "choices", "message", "content", "réponse ✓");
    char *text = NULL;
    json_t *got = NULL;
    int found = 1;
    TU_CHECK(anc_store_get_reply(s, key, &text, &got, &found, &err), &err);
    assert_int_equal(found, 0);
    assert_null(text);
    anc_req_status rs;
    unsigned attempts = 99;
    TU_CHECK(anc_store_request_status(s, key, &rs, &attempts, NULL, &err), &err);
    assert_int_equal(rs, ANC_REQ_NONE);

    TU_CHECK(anc_store_put_pending(s, key, req, &err), &err);
    TU_CHECK(anc_store_request_status(s, key, &rs, &attempts, NULL, &err), &err);
    assert_int_equal(rs, ANC_REQ_PENDING);
    TU_CHECK(anc_store_put_failure(s, key, req, "HTTP 500", 3, &err), &err);
    char *e = NULL;
    TU_CHECK(anc_store_request_status(s, key, &rs, &attempts, &e, &err), &err);
    assert_int_equal(rs, ANC_REQ_FAILED);
    assert_int_equal(attempts, 3);
    assert_string_equal(e, "HTTP 500");
    free(e);
    TU_CHECK(anc_store_put_reply(s, key, req, "réponse ✓", raw, 2, &err), &err);
    /* A later failure or pending mark never hides a committed reply. */
    TU_CHECK(anc_store_put_failure(s, key, req, "late failure", 1, &err), &err);
    TU_CHECK(anc_store_put_pending(s, key, req, &err), &err);
    TU_CHECK(anc_store_request_status(s, key, &rs, &attempts, &e, &err), &err);
    assert_int_equal(rs, ANC_REQ_DONE);
    assert_int_equal(attempts, 6);
    assert_null(e);
    size_t np, nd, nf;
    TU_CHECK(anc_store_count_requests(s, &np, &nd, &nf, &err), &err);
    assert_int_equal(np, 0);
    assert_int_equal(nd, 1);
    assert_int_equal(nf, 0);
    anc_store_close(s);

    /* Reopen: the reply is there, byte for byte. */
    s = open_store(dir, "run.db");
    TU_CHECK(anc_store_get_reply(s, key, &text, &got, &found, &err), &err);
    assert_int_equal(found, 1);
    assert_string_equal(text, "réponse ✓");
    assert_true(json_equal(got, raw));
    free(text);
    json_decref(got);
    TU_CHECK(anc_store_get_reply(s, key, NULL, NULL, &found, &err), &err);
    assert_int_equal(found, 1);

    /* The database is in WAL mode. */
    char *path = tu_path(dir, "run.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Bad arguments are refused with a message. */
    assert_int_equal(anc_store_get_reply(s, "not-a-key", &text, NULL, &found, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_store_put_reply(s, key, NULL, "x", NULL, 1, &err), ANC_ERR_INVALID);
    anc_store_close(s);
    json_decref(req);
    json_decref(raw);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static int collect_ids(void *ctx, const char *id, anc_item_status st, const json_t *record, const char *error) {
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s%s%s;", id, st == ANC_ITEM_DONE ? "+" : "-", record ? "r" : error ? "e" : "");
    return 0;
}

static void test_items_and_steps(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    anc_store *s = open_store(dir, "run.db");
    anc_error err;
    json_t *rec = json_pack("{s:s, s:i}", "chosen", "better", "n", 3);
    TU_CHECK(anc_store_item_put(s, "revise", "row-2", ANC_ITEM_DONE, rec, NULL, &err), &err);
    TU_CHECK(anc_store_item_put(s, "revise", "row-1", ANC_ITEM_FAILED, NULL, "no marker in reply", &err), &err);
    TU_CHECK(anc_store_item_put(s, "revise", "row-3", ANC_ITEM_DONE, rec, NULL, &err), &err);
    TU_CHECK(anc_store_item_put(s, "judge", "row-1", ANC_ITEM_DONE, rec, NULL, &err), &err);
    size_t d, f;
    TU_CHECK(anc_store_item_count(s, "revise", &d, &f, &err), &err);
    assert_int_equal(d, 2);
    assert_int_equal(f, 1);
    anc_item_status is;
    json_t *got = NULL;
    char *e = NULL;
    TU_CHECK(anc_store_item_get(s, "revise", "row-2", &is, &got, &e, &err), &err);
    assert_int_equal(is, ANC_ITEM_DONE);
    assert_true(json_equal(got, rec));
    assert_null(e);
    json_decref(got);
    TU_CHECK(anc_store_item_get(s, "revise", "row-1", &is, &got, &e, &err), &err);
    assert_int_equal(is, ANC_ITEM_FAILED);
    assert_null(got);
    assert_string_equal(e, "no marker in reply");
    free(e);
    TU_CHECK(anc_store_item_get(s, "revise", "row-9", &is, &got, &e, &err), &err);
    assert_int_equal(is, ANC_ITEM_NONE);
    /* Order of first write, kept when a record is replaced. */
    TU_CHECK(anc_store_item_put(s, "revise", "row-2", ANC_ITEM_DONE, rec, NULL, &err), &err);
    char ids[256] = "";
    TU_CHECK(anc_store_item_foreach(s, "revise", ANC_ITEM_NONE, collect_ids, ids, &err), &err);
    assert_string_equal(ids, "row-2+r;row-1-e;row-3+r;");
    ids[0] = '\0';
    TU_CHECK(anc_store_item_foreach(s, "revise", ANC_ITEM_FAILED, collect_ids, ids, &err), &err);
    assert_string_equal(ids, "row-1-e;");
    /* Clearing failed items lets a rerun retry them; other steps untouched. */
    TU_CHECK(anc_store_item_clear(s, "revise", 1, &err), &err);
    TU_CHECK(anc_store_item_count(s, "revise", &d, &f, &err), &err);
    assert_int_equal(d, 2);
    assert_int_equal(f, 0);
    TU_CHECK(anc_store_item_clear(s, "revise", 0, &err), &err);
    TU_CHECK(anc_store_item_count(s, "revise", &d, NULL, &err), &err);
    assert_int_equal(d, 0);
    TU_CHECK(anc_store_item_count(s, "judge", &d, NULL, &err), &err);
    assert_int_equal(d, 1);

    anc_store_step m;
    int found = 1;
    TU_CHECK(anc_store_step_get(s, "revise", &m, &found, &err), &err);
    assert_int_equal(found, 0);
    TU_CHECK(anc_store_step_put(s, "revise", "in-abc", "cfg-123", 0, &err), &err);
    TU_CHECK(anc_store_step_put(s, "revise", "in-abc", "cfg-123", 1, &err), &err);
    TU_CHECK(anc_store_step_get(s, "revise", &m, &found, &err), &err);
    assert_int_equal(found, 1);
    assert_string_equal(m.input_hash, "in-abc");
    assert_string_equal(m.config_hash, "cfg-123");
    assert_int_equal(m.finished, 1);
    anc_store_step_clear(&m);
    TU_CHECK(anc_store_step_put(s, "stats", NULL, NULL, 0, &err), &err);
    TU_CHECK(anc_store_step_get(s, "stats", &m, &found, &err), &err);
    assert_null(m.input_hash);
    anc_store_step_clear(&m);
    assert_int_equal(anc_store_item_put(s, "revise", "x", ANC_ITEM_NONE, NULL, NULL, &err), ANC_ERR_INVALID);
    TU_CHECK(anc_store_check(s, &err), &err);
    anc_store_close(s);
    json_decref(rec);
    tu_rmtree(dir);
    free(dir);
}

static void test_transactions(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    anc_store *s = open_store(dir, "run.db");
    anc_error err;
    size_t d;
    char id[16];
    TU_CHECK(anc_store_begin(s, &err), &err);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "%d", i);
        TU_CHECK(anc_store_item_put(s, "a", id, ANC_ITEM_DONE, NULL, NULL, &err), &err);
    }
    anc_store_rollback(s);
    TU_CHECK(anc_store_item_count(s, "a", &d, NULL, &err), &err);
    assert_int_equal(d, 0);

    TU_CHECK(anc_store_begin(s, &err), &err);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "%d", i);
        TU_CHECK(anc_store_item_put(s, "a", id, ANC_ITEM_DONE, NULL, NULL, &err), &err);
    }
    /* Nested: an inner rollback undoes only the inner writes. */
    TU_CHECK(anc_store_begin(s, &err), &err);
    TU_CHECK(anc_store_item_put(s, "a", "inner-undone", ANC_ITEM_DONE, NULL, NULL, &err), &err);
    anc_store_rollback(s);
    TU_CHECK(anc_store_begin(s, &err), &err);
    TU_CHECK(anc_store_item_put(s, "a", "inner-kept", ANC_ITEM_DONE, NULL, NULL, &err), &err);
    TU_CHECK(anc_store_commit(s, &err), &err);
    TU_CHECK(anc_store_commit(s, &err), &err);
    assert_int_equal(anc_store_commit(s, &err), ANC_ERR_INVALID); /* nothing open */
    anc_store_close(s);
    s = open_store(dir, "run.db");
    TU_CHECK(anc_store_item_count(s, "a", &d, NULL, &err), &err);
    assert_int_equal(d, 51);
    anc_item_status is;
    TU_CHECK(anc_store_item_get(s, "a", "inner-undone", &is, NULL, NULL, &err), &err);
    assert_int_equal(is, ANC_ITEM_NONE);
    /* Closing with an open transaction rolls it back. */
    TU_CHECK(anc_store_begin(s, &err), &err);
    TU_CHECK(anc_store_item_put(s, "a", "never", ANC_ITEM_DONE, NULL, NULL, &err), &err);
    anc_store_close(s);
    s = open_store(dir, "run.db");
    TU_CHECK(anc_store_item_get(s, "a", "never", &is, NULL, NULL, &err), &err);
    assert_int_equal(is, ANC_ITEM_NONE);
    anc_store_close(s);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------ concurrency */

typedef struct writer_arg {
    anc_store *shared; /* NULL: open an own handle on path */
    const char *path;
    size_t first, count;
    anc_status st;
    anc_error err;
} writer_arg;

static void *writer_main(void *p) {
    writer_arg *a = p;
    anc_store *s = a->shared;
    if (!s && (a->st = anc_store_open(&s, a->path, &a->err)) != ANC_OK) return NULL;
    json_t *req = json_pack("{s:s}", "model", "m");
    for (size_t i = a->first; i < a->first + a->count && a->st == ANC_OK; i++) {
        char key[ANC_STORE_KEY_HEX], text[32];
        key_of(i, key);
        snprintf(text, sizeof text, "reply %zu", i);
        a->st = anc_store_put_reply(s, key, req, text, NULL, 1, &a->err);
    }
    json_decref(req);
    if (!a->shared) anc_store_close(s);
    return NULL;
}

static void test_concurrent_writers(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    anc_store *shared = open_store(dir, "run.db");
    enum { T = 4, PER = 40 };
    writer_arg args[T];
    pthread_t th[T];
    /* Two threads share one handle, two have their own connections: the
     * busy timeout and the handle's mutex keep every write. */
    for (int t = 0; t < T; t++) {
        args[t] = (writer_arg){.shared = t < 2 ? shared : NULL, .path = path, .first = (size_t)t * PER, .count = PER};
        assert_int_equal(pthread_create(&th[t], NULL, writer_main, &args[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        if (args[t].st != ANC_OK) fail_msg("writer %d: %s", t, args[t].err.message);
    }
    anc_error err;
    size_t d;
    TU_CHECK(anc_store_count_requests(shared, NULL, &d, NULL, &err), &err);
    assert_int_equal(d, T * PER);
    for (size_t i = 0; i < T * PER; i++) {
        char key[ANC_STORE_KEY_HEX], want[32], *text = NULL;
        int found = 0;
        key_of(i, key);
        snprintf(want, sizeof want, "reply %zu", i);
        TU_CHECK(anc_store_get_reply(shared, key, &text, NULL, &found, &err), &err);
        assert_int_equal(found, 1);
        assert_string_equal(text, want);
        free(text);
    }
    anc_store_close(shared);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ crash */

static char *crash_text(size_t i) {
    /* A few KB per reply so a torn write would show. */
    size_t n = 1500 + (i * 37) % 3000;
    char *t = malloc(n + 1);
    assert_non_null(t);
    for (size_t k = 0; k < n; k++) t[k] = (char)('a' + (i + k) % 26);
    t[n] = '\0';
    return t;
}

static void test_kill9_mid_stream(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    enum { N = 100000, ACK_BEFORE_KILL = 60 };
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: commit replies one by one; acknowledge each after commit. */
        close(pfd[0]);
        anc_store *s = NULL;
        anc_error err;
        if (anc_store_open(&s, path, &err) != ANC_OK) _exit(2);
        for (size_t i = 0; i < N; i++) {
            char key[ANC_STORE_KEY_HEX];
            key_of(i, key);
            char *text = crash_text(i);
            json_t *req = json_pack("{s:s, s:I}", "model", "m", "i", (json_int_t)i);
            json_t *raw = json_pack("{s:s, s:I}", "content", text, "i", (json_int_t)i);
            if (anc_store_put_pending(s, key, req, &err) != ANC_OK ||
                anc_store_put_reply(s, key, req, text, raw, 1, &err) != ANC_OK)
                _exit(3);
            json_decref(req);
            json_decref(raw);
            free(text);
            uint32_t ack = (uint32_t)i;
            if (write(pfd[1], &ack, sizeof ack) != (ssize_t)sizeof ack) _exit(4);
        }
        _exit(0);
    }
    close(pfd[1]);
    uint32_t ack = 0, acked = 0;
    while (acked < ACK_BEFORE_KILL && read(pfd[0], &ack, sizeof ack) == (ssize_t)sizeof ack) acked = ack + 1;
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL); /* killed mid-way, not finished */
    /* Acknowledgements written before the kill but not yet read still count. */
    while (read(pfd[0], &ack, sizeof ack) == (ssize_t)sizeof ack) acked = ack + 1;
    close(pfd[0]);

    anc_store *s = open_store(dir, "run.db");
    anc_error err;
    TU_CHECK(anc_store_check(s, &err), &err);
    size_t pending = 0, done = 0, failed = 0;
    TU_CHECK(anc_store_count_requests(s, &pending, &done, &failed, &err), &err);
    assert_true(done >= acked);  /* every acknowledged commit survived */
    assert_true(pending <= 1);   /* at most the request in flight */
    assert_int_equal(failed, 0);
    for (size_t i = 0; i < done + 1 && i < N; i++) {
        char key[ANC_STORE_KEY_HEX], *text = NULL;
        json_t *raw = NULL;
        int found = 0;
        key_of(i, key);
        TU_CHECK(anc_store_get_reply(s, key, &text, &raw, &found, &err), &err);
        if (i < done) {
            /* Present replies are complete, text and JSON. */
            assert_int_equal(found, 1);
            char *want = crash_text(i);
            assert_string_equal(text, want);
            assert_string_equal(json_string_value(json_object_get(raw, "content")), want);
            assert_int_equal(json_integer_value(json_object_get(raw, "i")), (json_int_t)i);
            free(want);
        } else {
            assert_int_equal(found, 0);
        }
        free(text);
        json_decref(raw);
    }
    anc_store_close(s);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ----------------------------------------------------------- bad files */

static void test_bad_files(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "junk.db");
    char junk[4096];
    memset(junk, 'J', sizeof junk);
    tu_write_file(path, junk, sizeof junk);
    anc_store *s = NULL;
    anc_error err;
    anc_status st = anc_store_open(&s, path, &err);
    assert_int_equal(st, ANC_ERR_FORMAT);
    assert_null(s);
    assert_has(err.message, path);

    /* A store from a newer anchor is refused, not damaged. */
    free(path);
    path = tu_path(dir, "new.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(anc_store_open(&s, path, &err), ANC_ERR_UNSUPPORTED);
    assert_has(err.message, "newer anchor");

    char *nodir = tu_path(dir, "no/such/dir/run.db");
    assert_int_equal(anc_store_open(&s, nodir, &err), ANC_ERR_IO);
    assert_has(err.message, nodir);
    assert_int_equal(anc_store_open(&s, "", &err), ANC_ERR_INVALID);
    free(nodir);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),  cmocka_unit_test(test_request_key),
        cmocka_unit_test(test_put_get_reopen),  cmocka_unit_test(test_items_and_steps),
        cmocka_unit_test(test_transactions),    cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_kill9_mid_stream), cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
