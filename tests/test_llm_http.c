/* Tests for src/llm over HTTP against tests/testlib_httpd.c (a real server
 * on 127.0.0.1): every fault ends as a reply after retries or as a recorded
 * failure, never lost or duplicated; concurrency really overlaps requests;
 * Retry-After is honoured; the API key is sent but never leaks. Retry
 * delays go through a recording fake sleep, so no test waits for backoff
 * and no assertion depends on wall time. */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llm/llm.h"
#include "llm/llm_internal.h"
#include "llm/stored.h"
#include "store/store.h"
#include "testlib_httpd.h"

#define SECRET "sk-test-SECRET-0123456789abcdef"
#define KEY_ENV "ANCHOR_TEST_API_KEY"

static void assert_has(const char *msg, const char *needle) {
    if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}
static void assert_lacks(const char *msg, const char *needle) {
    if (msg && strstr(msg, needle)) fail_msg("message \"%s\" contains \"%s\"", msg, needle);
}

/* ------------------------------------------------------------ fake sleep */

typedef struct sleeps {
    pthread_mutex_t mu;
    double d[256];
    size_t n;
} sleeps;

static void fake_sleep(void *ctx, double seconds) {
    sleeps *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->n < 256) s->d[s->n++] = seconds;
    pthread_mutex_unlock(&s->mu);
}

static void opts_for_tests(anc_llm_options *o, sleeps *sl) {
    anc_llm_options_init(o);
    o->model = "test-model";
    /* The tests that set the key name its variable; the others send none
     * (naming an unset variable is an error). */
    o->api_key_env = getenv(KEY_ENV) ? KEY_ENV : "";
    o->timeout_s = 5;
    o->connect_timeout_s = 2;
    o->max_retries = 3;
    o->backoff_base_s = 0.5;
    o->backoff_cap_s = 8;
    o->jitter_seed = 42;
    o->sleep_fn = fake_sleep;
    o->sleep_ctx = sl;
}

/* ----------------------------------------------------- batch collectors */

typedef struct got {
    size_t n;
    int *calls;        /* deliveries per index */
    char **text;       /* reply text or NULL */
    char **error;      /* error message or NULL */
    int *cached;
    unsigned *attempts;
    size_t cancel_after; /* return 1 after this many deliveries (0 = never) */
    size_t delivered;
} got;

static got *got_new(size_t n) {
    got *g = calloc(1, sizeof *g);
    g->n = n;
    g->calls = calloc(n, sizeof *g->calls);
    g->text = calloc(n, sizeof *g->text);
    g->error = calloc(n, sizeof *g->error);
    g->cached = calloc(n, sizeof *g->cached);
    g->attempts = calloc(n, sizeof *g->attempts);
    assert_true(g->calls && g->text && g->error && g->cached && g->attempts);
    return g;
}

static void got_free(got *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->error[i]);
    }
    free(g->calls);
    free(g->text);
    free(g->error);
    free(g->cached);
    free(g->attempts);
    free(g);
}

static int on_item(void *ctx, size_t i, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    got *g = ctx;
    assert_true(i < g->n);
    g->calls[i]++;
    if (st == ANC_OK) {
        assert_non_null(reply);
        assert_non_null(reply->text);
        free(g->text[i]);
        g->text[i] = reply->text; /* moved out */
        reply->text = NULL;
        g->cached[i] = reply->cached;
        g->attempts[i] = reply->attempts;
    } else {
        assert_null(reply);
        assert_non_null(error);
        free(g->error[i]);
        g->error[i] = strdup(error->message);
    }
    g->delivered++;
    return g->cancel_after && g->delivered >= g->cancel_after;
}

/* Child side of the kill -9 test: acknowledges each committed item. */
typedef struct ack_ctx {
    int fd;
} ack_ctx;

static int ack_item(void *ctx, size_t i, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    (void)reply;
    (void)error;
    ack_ctx *a = ctx;
    uint32_t v = (uint32_t)i;
    if (st == ANC_OK && write(a->fd, &v, sizeof v) != (ssize_t)sizeof v) _exit(5);
    return 0;
}

/* n requests whose user messages are contents[i]. */
typedef struct reqs {
    anc_llm_request *r;
    json_t **msgs;
    size_t n;
} reqs;

static reqs make_reqs(const char *const *contents, size_t n) {
    reqs q = {calloc(n, sizeof(anc_llm_request)), calloc(n, sizeof(json_t *)), n};
    for (size_t i = 0; i < n; i++) {
        q.msgs[i] = anc_llm_user_message(contents[i]);
        assert_non_null(q.msgs[i]);
        q.r[i].messages = q.msgs[i];
    }
    return q;
}

static void free_reqs(reqs *q) {
    for (size_t i = 0; i < q->n; i++) json_decref(q->msgs[i]);
    free(q->msgs);
    free(q->r);
}

static void check_echo(const char *text, const char *content) {
    char *want = th_echo(content);
    if (!text) fail_msg("no reply for \"%s\"", content);
    assert_string_equal(text, want);
    free(want);
}

/* Returns 1 when the file at path contains needle (missing file: 0). */
static int file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    size_t len = 0;
    char *data = tu_read_file(path, &len);
    int hit = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return hit;
}

/* --------------------------------------------------------------- tests */

static void test_retry_helpers(void **state) {
    (void)state;
    anc_llm_options o;
    anc_llm_options_init(&o);
    o.backoff_base_s = 1;
    o.backoff_cap_s = 10;
    assert_true(anc_llm_backoff_delay(&o, 1, 0.0) == 0.5);
    assert_true(anc_llm_backoff_delay(&o, 2, 0.0) == 1.0);
    assert_true(anc_llm_backoff_delay(&o, 3, 0.5) == 3.0);
    assert_true(anc_llm_backoff_delay(&o, 20, 0.0) == 5.0); /* capped */
    assert_true(anc_llm_backoff_delay(&o, 20, 0.999) < 10.0);
    time_t now = 1700000000;
    assert_true(anc_llm_parse_retry_after("1", now) == 1.0);
    assert_true(anc_llm_parse_retry_after(" 0.25 ", now) == 0.25);
    assert_true(anc_llm_parse_retry_after("0", now) == 0.0);
    assert_true(anc_llm_parse_retry_after("-1", now) < 0);
    assert_true(anc_llm_parse_retry_after("soon", now) < 0);
    assert_true(anc_llm_parse_retry_after("", now) < 0);
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
    assert_true(anc_llm_parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) == 30.0);
    assert_true(anc_llm_parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0); /* past: now */

    /* Excerpts: bounded, printable, never a piece of the key. */
    anc_llm fake;
    memset(&fake, 0, sizeof fake);
    fake.api_key = (char *)SECRET;
    char out[64];
    const char *body = "prefix " SECRET " suffix\n\x01 and more text that goes on and on";
    anc_llm_excerpt(&fake, body, strlen(body), 40, out, sizeof out);
    assert_lacks(out, "SECRET");
    assert_has(out, "[REDACTED]");
    assert_true(strlen(out) <= 43);
    for (size_t cut = 1; cut < strlen(body); cut++) { /* the key cut anywhere, also by the input end */
        anc_llm_excerpt(&fake, body, cut, 20, out, sizeof out);
        assert_lacks(out, "sk-t");
    }
    char msg[128];
    snprintf(msg, sizeof msg, "a %s b %s", SECRET, SECRET);
    anc_llm_redact(&fake, msg, sizeof msg);
    assert_string_equal(msg, "a [REDACTED] b [REDACTED]");
}

static void test_complete_ok_and_key(void **state) {
    (void)state;
    setenv(KEY_ENV, SECRET, 1);
    th_server *srv = th_start();
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.temperature = 0.7;
    o.max_tokens = 64;
    o.seed = 7;
    json_t *extra = json_pack("{s:f}", "presence_penalty", 0.5);
    o.extra_params = extra;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    json_decref(extra); /* the backend keeps a copy */
    o.extra_params = NULL;
    assert_true(anc_llm_has_api_key(llm));
    assert_lacks(anc_llm_id(llm), SECRET);
    json_t *msgs = anc_llm_user_message("hello there");
    json_t *params = json_pack("{s:i}", "seed", 9);
    anc_llm_request rq = {.messages = msgs, .params = params};
    anc_llm_reply r;
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    check_echo(r.text, "hello there");
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.prompt_tokens, 11);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.cached, 0);
    anc_llm_reply_free(&r);
    assert_int_equal(th_requests(srv), 1);
    assert_string_equal(th_log_auth(srv, 0), "Bearer " SECRET);
    json_t *sent = json_loads(th_log_body(srv, 0), 0, NULL);
    assert_non_null(sent);
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "test-model");
    assert_true(json_real_value(json_object_get(sent, "temperature")) == 0.7);
    assert_int_equal(json_integer_value(json_object_get(sent, "max_tokens")), 64);
    assert_int_equal(json_integer_value(json_object_get(sent, "seed")), 9); /* per-request params win */
    assert_true(json_real_value(json_object_get(sent, "presence_penalty")) == 0.5);
    assert_null(json_object_get(sent, "stream"));
    json_decref(sent);
    json_decref(params);
    json_decref(msgs);
    anc_llm_free(llm);

    /* api_key_env "" sends no key; an unset variable too. */
    o.api_key_env = "";
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    assert_false(anc_llm_has_api_key(llm));
    msgs = anc_llm_user_message("no key");
    rq = (anc_llm_request){.messages = msgs};
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    anc_llm_reply_free(&r);
    assert_null(th_log_auth(srv, 1));
    json_decref(msgs);
    anc_llm_free(llm);
    th_stop(srv);
    unsetenv(KEY_ENV);
}

/* Every fault, once or twice per item, recovers with exactly the expected
 * number of requests, and each item is delivered exactly once. */
static void test_faults_recover(void **state) {
    (void)state;
    th_server *srv = th_start();
    th_set_retry_after(srv, "0");
    th_set_hang_ms(srv, 1500);
    const char *contents[] = {"plain", "rate limited", "server error", "unavailable", "hang",  "truncated",
                              "reset", "drip",         "invalid json", "no choices",  "twice 500", "mixed"};
    th_action faults[] = {TH_OK,    TH_429,   TH_500,          TH_503,        TH_HANG, TH_TRUNCATED,
                          TH_RESET, TH_DRIP,  TH_INVALID_JSON, TH_NO_CHOICES, TH_500,  TH_RESET};
    unsigned times[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1};
    size_t n = sizeof contents / sizeof contents[0];
    for (size_t i = 0; i < n; i++)
        if (times[i] && faults[i] != TH_DRIP) th_on_content(srv, contents[i], faults[i], times[i]);
    th_on_content(srv, "drip", TH_DRIP, 1);
    th_on_content(srv, "mixed", TH_429, 1); /* after the reset: a 429, then success */
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.timeout_s = 0.5; /* the hang is 1.5 s */
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    reqs q = make_reqs(contents, n);
    got *g = got_new(n);
    TU_CHECK(anc_llm_run_batch(llm, q.r, n, 4, on_item, g, &err), &err);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->calls[i], 1);
        if (g->error[i]) fail_msg("item %s failed: %s", contents[i], g->error[i]);
        check_echo(g->text[i], contents[i]);
        size_t want = 1 + (faults[i] == TH_DRIP ? 0 : times[i]) + (strcmp(contents[i], "mixed") == 0);
        if (th_requests_for(srv, contents[i]) != want)
            fail_msg("%s: server saw %zu requests, expected %zu", contents[i], th_requests_for(srv, contents[i]), want);
        if (g->attempts[i] != want) fail_msg("%s: %u attempts, expected %zu", contents[i], g->attempts[i], want);
    }
    got_free(g);
    free_reqs(&q);
    anc_llm_free(llm);
    th_stop(srv);
}

/* Final failures: retryable faults give up after max_retries + 1 requests,
 * a 400 is not retried; both are recorded in the store with an error naming
 * URL and status, and the API key appears in neither. */
static void test_failures_recorded_without_key(void **state) {
    (void)state;
    setenv(KEY_ENV, SECRET, 1);
    th_server *srv = th_start();
    th_on_content(srv, "always 500", TH_500, 1000);
    th_on_content(srv, "bad request", TH_400, 1000);
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    anc_store *store = NULL;
    anc_error err;
    TU_CHECK(anc_store_open(&store, path, &err), &err);
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.max_retries = 2;
    anc_llm *llm = NULL;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    const char *contents[] = {"always 500", "bad request", "fine"};
    reqs q = make_reqs(contents, 3);
    got *g = got_new(3);
    anc_llm_stored_stats stats;
    TU_CHECK(anc_llm_run_stored(llm, store, q.r, 3, 2, on_item, g, &stats, &err), &err);
    assert_int_equal(stats.sent, 3);
    assert_int_equal(stats.failed, 2);
    assert_int_equal(stats.succeeded, 1);
    assert_int_equal(th_requests_for(srv, "always 500"), 3);
    assert_int_equal(th_requests_for(srv, "bad request"), 1);
    assert_non_null(g->error[0]);
    assert_has(g->error[0], "HTTP 500");
    assert_has(g->error[0], th_url(srv));
    assert_has(g->error[0], "gave up after 3 attempts");
    assert_non_null(g->error[1]);
    assert_has(g->error[1], "HTTP 400");
    assert_has(g->error[1], "unknown parameter"); /* body excerpt */
    assert_has(g->error[1], "not retried");
    assert_lacks(g->error[1], SECRET);            /* the server echoed it; the message does not */
    assert_has(g->error[1], "[REDACTED]");
    check_echo(g->text[2], "fine");
    /* Backoff delays: equal jitter in [0.5, 1) x 0.5 x 2^k, recorded not slept. */
    assert_int_equal(sl.n, 2);
    assert_true(sl.d[0] >= 0.25 && sl.d[0] < 0.5);
    assert_true(sl.d[1] >= 0.5 && sl.d[1] < 1.0);
    /* The store holds the failures with their errors, and no key. */
    size_t np, nd, nf;
    TU_CHECK(anc_store_count_requests(store, &np, &nd, &nf, &err), &err);
    assert_int_equal(nd, 1);
    assert_int_equal(nf, 2);
    unsigned want_attempts[] = {3, 1, 1};
    for (size_t i = 0; i < 3; i++) {
        json_t *built = NULL;
        char key[ANC_STORE_KEY_HEX];
        TU_CHECK(anc_llm_build_request(llm, &q.r[i], &built, &err), &err);
        TU_CHECK(anc_store_request_key(anc_llm_id(llm), NULL, built, key, &err), &err);
        anc_req_status rs;
        unsigned attempts = 0;
        char *e = NULL;
        TU_CHECK(anc_store_request_status(store, key, &rs, &attempts, &e, &err), &err);
        assert_int_equal(rs, i < 2 ? ANC_REQ_FAILED : ANC_REQ_DONE);
        assert_int_equal(attempts, want_attempts[i]);
        if (i < 2) assert_string_equal(e, g->error[i]);
        free(e);
        json_decref(built);
    }
    anc_store_close(store);
    char *wal = tu_path(dir, "run.db-wal");
    assert_false(file_contains(path, SECRET));
    assert_false(file_contains(wal, SECRET));
    assert_true(file_contains(path, "HTTP 400") || file_contains(wal, "HTTP 400"));
    /* Same seed, same request: the same jitter (deterministic). */
    double first[2] = {sl.d[0], sl.d[1]};
    sl.n = 0;
    const char *again[] = {"always 500"};
    reqs q2 = make_reqs(again, 1);
    anc_llm_reply r;
    assert_int_equal(anc_llm_complete(llm, &q2.r[0], &r, &err), ANC_ERR_IO);
    assert_int_equal(sl.n, 2);
    assert_true(sl.d[0] == first[0] && sl.d[1] == first[1]);
    free_reqs(&q2);
    got_free(g);
    free_reqs(&q);
    anc_llm_free(llm);
    th_stop(srv);
    free(wal);
    free(path);
    tu_rmtree(dir);
    free(dir);
    unsetenv(KEY_ENV);
}

/* Retry-After: the client waits what the server asked (seconds, or an
 * HTTP-date, capped), and the retry is the next request the server sees. */
static void test_retry_after(void **state) {
    (void)state;
    th_server *srv = th_start();
    th_on_content(srv, "A", TH_429, 1);
    th_on_content(srv, "B", TH_503, 1);
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.retry_after_cap_s = 30;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    const char *contents[] = {"A", "B", "C"};
    reqs q = make_reqs(contents, 3);
    got *g = got_new(3);
    TU_CHECK(anc_llm_run_batch(llm, q.r, 3, 1, on_item, g, &err), &err);
    for (size_t i = 0; i < 3; i++) check_echo(g->text[i], contents[i]);
    /* Order seen by the server: A(429) A B(503) B C. */
    assert_int_equal(th_requests(srv), 5);
    const char *order[] = {"A", "A", "B", "B", "C"};
    th_action acts[] = {TH_429, TH_OK, TH_503, TH_OK, TH_OK};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(th_log_content(srv, i), order[i]);
        assert_int_equal(th_log_action(srv, i), acts[i]);
    }
    assert_int_equal(sl.n, 2);
    assert_true(sl.d[0] == 1.0 && sl.d[1] == 1.0); /* "Retry-After: 1", not the backoff */
    got_free(g);

    /* A huge Retry-After is capped; an HTTP-date is turned into a delay. */
    sl.n = 0;
    th_set_retry_after(srv, "100000");
    th_on_content(srv, "D", TH_429, 1);
    const char *d[] = {"D"};
    reqs qd = make_reqs(d, 1);
    anc_llm_reply r;
    TU_CHECK(anc_llm_complete(llm, &qd.r[0], &r, &err), &err);
    anc_llm_reply_free(&r);
    assert_int_equal(sl.n, 1);
    assert_true(sl.d[0] == 30.0);
    char date[64];
    time_t later = time(NULL) + 20;
    struct tm tmv;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&later, &tmv));
    th_set_retry_after(srv, date);
    th_on_content(srv, "D", TH_503, 1);
    sl.n = 0;
    TU_CHECK(anc_llm_complete(llm, &qd.r[0], &r, &err), &err);
    anc_llm_reply_free(&r);
    assert_int_equal(sl.n, 1);
    assert_true(sl.d[0] > 10.0 && sl.d[0] <= 20.0);
    free_reqs(&qd);
    free_reqs(&q);
    anc_llm_free(llm);
    th_stop(srv);
}

/* N workers really overlap: the server holds every reply until 4 requests
 * are in flight together (a serial client would only ever show 1 and make
 * the barrier time out, failing the count assertion, not a timer). */
static void test_concurrency_overlaps(void **state) {
    (void)state;
    th_server *srv = th_start();
    th_set_default(srv, TH_BARRIER);
    th_set_barrier(srv, 4, 5000);
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.timeout_s = 20;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    const char *contents[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
    reqs q = make_reqs(contents, 8);
    got *g = got_new(8);
    TU_CHECK(anc_llm_run_batch(llm, q.r, 8, 4, on_item, g, &err), &err);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(g->calls[i], 1);
        check_echo(g->text[i], contents[i]);
        assert_int_equal(th_requests_for(srv, contents[i]), 1);
    }
    assert_int_equal(th_max_in_flight(srv), 4); /* > 1, and never more than asked */
    got_free(g);
    free_reqs(&q);
    anc_llm_free(llm);
    th_stop(srv);
}

/* The store-backed batch: replies are committed before use, a rerun sends
 * nothing new, identical requests are sent once, a cancelled batch resumes
 * without repeating a request. */
static void test_stored_resume_no_duplicates(void **state) {
    (void)state;
    th_server *srv = th_start();
    th_on_content(srv, "item 3", TH_500, 1);
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    anc_store *store = NULL;
    anc_error err;
    TU_CHECK(anc_store_open(&store, path, &err), &err);
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    anc_llm *llm = NULL;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    enum { N = 12 };
    char names[N][24];
    const char *contents[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "item %d", i);
        contents[i] = names[i];
    }
    contents[11] = "item 10"; /* identical to item 10: sent once, delivered twice */
    reqs q = make_reqs(contents, N);
    /* Cancel after 4 deliveries ("kill" the run part-way). */
    got *g = got_new(N);
    g->cancel_after = 4;
    anc_llm_stored_stats st1;
    assert_int_equal(anc_llm_run_stored(llm, store, q.r, N, 2, on_item, g, &st1, &err), ANC_ERR_INTERNAL);
    assert_has(err.message, "cancelled");
    size_t first_run = th_requests(srv);
    assert_true(first_run < N);
    got_free(g);
    /* Resume: only what has no committed reply is sent. */
    g = got_new(N);
    anc_llm_stored_stats st2;
    TU_CHECK(anc_llm_run_stored(llm, store, q.r, N, 3, on_item, g, &st2, &err), &err);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g->calls[i], 1);
        check_echo(g->text[i], contents[i]);
    }
    for (int i = 0; i < 11; i++) {
        size_t want = i == 3 ? 2 : 1; /* item 3 failed once, retried within the same run */
        if (th_requests_for(srv, contents[i]) != want)
            fail_msg("%s sent %zu times, expected %zu", contents[i], th_requests_for(srv, contents[i]), want);
    }
    assert_int_equal(th_requests(srv), 12); /* 11 distinct items + one retry */
    assert_int_equal(st2.cached + st2.sent + st2.duplicates, N);
    assert_true(st2.cached >= 4);
    /* A third run is served entirely from the store. */
    got_free(g);
    g = got_new(N);
    anc_llm_stored_stats st3;
    TU_CHECK(anc_llm_run_stored(llm, store, q.r, N, 3, on_item, g, &st3, &err), &err);
    assert_int_equal(st3.sent, 0);
    assert_int_equal(st3.cached, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g->cached[i], 1);
        check_echo(g->text[i], contents[i]);
    }
    assert_int_equal(th_requests(srv), 12);
    /* A salt makes a distinct request (a second sample). */
    q.r[0].salt = "sample-2";
    got_free(g);
    g = got_new(1);
    TU_CHECK(anc_llm_run_stored(llm, store, q.r, 1, 1, on_item, g, &st3, &err), &err);
    assert_int_equal(st3.sent, 1);
    assert_int_equal(th_requests_for(srv, "item 0"), 2);
    size_t np, nd, nf;
    TU_CHECK(anc_store_count_requests(store, &np, &nd, &nf, &err), &err);
    assert_int_equal(np, 0);
    assert_int_equal(nd, 12);
    assert_int_equal(nf, 0);
    got_free(g);
    free_reqs(&q);
    anc_llm_free(llm);
    anc_store_close(store);
    th_stop(srv);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* kill -9 of a process in the middle of a stored batch: a rerun repeats
 * only the requests that were in flight (at most `concurrency`), never one
 * whose reply was committed, and delivers every item exactly once. */
static void test_kill9_during_stored_batch(void **state) {
    (void)state;
    enum { N = 24, DONE_BEFORE_KILL = 12, CONC = 3 };
    th_server *srv = th_start();
    th_set_hang_ms(srv, 20000); /* ends when the killed client's socket closes */
    char names[N][24];
    const char *contents[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "k9 item %d", i);
        contents[i] = names[i];
        if (i >= DONE_BEFORE_KILL) th_on_content(srv, names[i], TH_HANG, 1); /* the child gets stuck here */
    }
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.timeout_s = 60;
    reqs q = make_reqs(contents, N);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        anc_store *store = NULL;
        anc_llm *llm = NULL;
        anc_error err;
        if (anc_store_open(&store, path, &err) != ANC_OK || anc_llm_create(&llm, th_url(srv), &o, &err) != ANC_OK)
            _exit(2);
        ack_ctx a = {pfd[1]};
        anc_llm_run_stored(llm, store, q.r, N, CONC, ack_item, &a, NULL, &err);
        _exit(0);
    }
    close(pfd[1]);
    uint32_t idx;
    size_t acked = 0;
    while (acked < DONE_BEFORE_KILL && read(pfd[0], &idx, sizeof idx) == (ssize_t)sizeof idx) acked++;
    /* Wait until the stuck requests reached the server: they are the ones in flight. */
    for (int spin = 0; spin < 5000 && th_requests(srv) < DONE_BEFORE_KILL + CONC; spin++) usleep(1000);
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    assert_true(WIFSIGNALED(ws));
    close(pfd[0]);
    assert_int_equal(acked, DONE_BEFORE_KILL);
    size_t in_flight = th_requests(srv) - DONE_BEFORE_KILL;
    assert_true(in_flight >= 1 && in_flight <= CONC);

    /* Rerun in this process; the server stops hanging. */
    th_set_hang_ms(srv, 0);
    anc_store *store = NULL;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_store_open(&store, path, &err), &err);
    TU_CHECK(anc_store_check(store, &err), &err);
    size_t np, nd;
    TU_CHECK(anc_store_count_requests(store, &np, &nd, NULL, &err), &err);
    assert_int_equal(nd, DONE_BEFORE_KILL);
    /* Claimed (pending, leased to the dead child) right before sending: the
     * requests in flight, which this process takes over at once. */
    assert_int_equal(np, in_flight);
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    got *g = got_new(N);
    anc_llm_stored_stats st;
    TU_CHECK(anc_llm_run_stored(llm, store, q.r, N, CONC, on_item, g, &st, &err), &err);
    assert_int_equal(st.cached, DONE_BEFORE_KILL);
    assert_int_equal(st.sent, N - DONE_BEFORE_KILL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g->calls[i], 1);
        check_echo(g->text[i], contents[i]);
        size_t sent = th_requests_for(srv, contents[i]);
        if (i < DONE_BEFORE_KILL) assert_int_equal(sent, 1); /* committed: never repeated */
        else assert_true(sent == 1 || sent == 2);             /* repeated only if it was in flight */
    }
    assert_int_equal(th_requests(srv), N + in_flight);
    got_free(g);
    free_reqs(&q);
    anc_llm_free(llm);
    anc_store_close(store);
    th_stop(srv);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Nothing listening: connection refused is retried, then reported. A reply
 * over max_reply_bytes is an error, not retried. */
static void test_refused_and_oversize(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd); /* the port is now (almost certainly) closed */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    anc_llm_options o;
    opts_for_tests(&o, &sl);
    o.max_retries = 2;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, url, &o, &err), &err);
    json_t *msgs = anc_llm_user_message("anyone?");
    anc_llm_request rq = {.messages = msgs};
    anc_llm_reply r;
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_IO);
    assert_has(err.message, url);
    assert_has(err.message, "gave up after 3 attempts");
    assert_null(r.text);
    assert_int_equal(sl.n, 2);
    anc_llm_free(llm);

    th_server *srv = th_start();
    o.max_reply_bytes = 64;
    TU_CHECK(anc_llm_create(&llm, th_url(srv), &o, &err), &err);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "larger than the 64-byte limit");
    assert_int_equal(th_requests(srv), 1);
    anc_llm_free(llm);
    json_decref(msgs);
    th_stop(srv);
}

int main(void) {
    /* The server is on 127.0.0.1: a proxy from the environment must not
     * intercept the requests. */
    const char *proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++) unsetenv(proxies[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_helpers),
        cmocka_unit_test(test_complete_ok_and_key),
        cmocka_unit_test(test_faults_recover),
        cmocka_unit_test(test_failures_recorded_without_key),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_concurrency_overlaps),
        cmocka_unit_test(test_stored_resume_no_duplicates),
        cmocka_unit_test(test_kill9_during_stored_batch),
        cmocka_unit_test(test_refused_and_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
