/* anchor serve against real HTTP on 127.0.0.1: the built `anchor serve`
 * (stories260K converted with `anchor convert`, and a hand-set CLAIR
 * reviser model) started on a free port and driven with libcurl.
 *
 * - endpoints: /health, /v1/models, /v1/models/NAME, unknown paths (404),
 *   wrong methods (405);
 * - temperature-0 chat and completion replies equal `anchor generate
 *   --temperature 0` for the same prompts (text, finish reason, usage), and
 *   a seeded sampled request with n = 2 equals `anchor generate --seed S
 *   --samples-per-prompt 2`;
 * - streams: chunks concatenate to the whole reply, the role first, the
 *   finish reason, include_usage, data: [DONE] last, n = 2 interleaved;
 * - n > 1, stop strings (= generate --stop);
 * - errors as OpenAI error objects: bad JSON, wrong types and values,
 *   unknown fields, unknown model (404), too-large bodies (413, with and
 *   without Content-Length), too many prompt tokens and max_tokens (400),
 *   a missing or wrong bearer key (401), a non-loopback address without a
 *   key refused at start, the key never printed;
 * - concurrent clients each get their own reply (= the prompt decoded
 *   alone by anchor generate --parallel 1);
 * - --max-concurrent: a request beyond it gets 429; a client that hangs up
 *   mid-stream has its sequences cancelled;
 * - SIGTERM with a request in flight: no new connections, the request
 *   completes, exit 0.
 * Part 3 (a served model as a pipeline's reviser) is test_serve_reviser.c. */
#include "testutil.h"
#include "testlib_serve.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/* ---- a served anchor ---- */

typedef struct server {
    pid_t pid;
    int port;
    char *err_path;
} server;

static int g_serial;
/* Servers still running: a failed test leaves its server here and the
 * group teardown kills it (so ctest never waits on an orphan). */
static pid_t g_running[64];
static int g_n_running;

static void forget_pid(pid_t pid) {
    for (int i = 0; i < g_n_running; i++)
        if (g_running[i] == pid) g_running[i] = g_running[--g_n_running];
}

static void kill_leftovers(void) {
    while (g_n_running > 0) {
        pid_t pid = g_running[--g_n_running];
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* Starts `anchor serve --port 0 ARGS` in dir (env: extra environment
 * assignments for the shell, may be ""); waits for its "listening on" line.
 * Servers and `anchor generate` here run with one BLAS thread: the tests are
 * about the server's own threads (ThreadSanitizer cannot see OpenBLAS's
 * synchronisation), and the test's clients share the 2 cores. */
static void serve_start(server *s, const char *dir, const char *env, const char *args) {
    char name[64];
    snprintf(name, sizeof name, "serve-%d.err", ++g_serial);
    s->err_path = tu_path(dir, name);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && OPENBLAS_NUM_THREADS=1 %s exec '%s' serve --port 0 %s </dev/null >/dev/null 2>'%s'", dir, env, tu_cli(), args, s->err_path);
    s->pid = tu_serve_spawn(cmd, s->err_path, &s->port);
    if (g_n_running < 64) g_running[g_n_running++] = s->pid;
}

/* SIGTERM, then the exit status. */
static int serve_stop(server *s) {
    kill(s->pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
    forget_pid(s->pid);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc != 0) {
        char *e = tu_read_file(s->err_path, NULL);
        printf("anchor serve ended with %d:\n%s\n", rc, e);
        free(e);
    }
    free(s->err_path);
    s->err_path = NULL;
    return rc;
}

/* ---- HTTP: testlib_serve.h (tu_http, tu_http_ex) ---- */

static json_t *parse(const tu_resp *r) {
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    if (!j) fail_msg("not JSON (status %ld): %s", r->status, r->body);
    return j;
}

/* Asserts an OpenAI error object with this status, param and code (NULL:
 * null) and returns the message's first bytes for further checks. */
static void expect_error(tu_resp r, long status, const char *param, const char *code) {
    if (r.status != status) fail_msg("expected %ld, got %ld: %s", status, r.status, r.body);
    json_t *j = parse(&r);
    json_t *e = json_object_get(j, "error");
    assert_non_null(e);
    assert_int_equal(json_object_size(e), 4);
    assert_true(json_is_string(json_object_get(e, "message")) && json_string_length(json_object_get(e, "message")) > 0);
    assert_true(json_is_string(json_object_get(e, "type")));
    json_t *p = json_object_get(e, "param"), *c = json_object_get(e, "code");
    if (param) assert_string_equal(json_string_value(p), param);
    else assert_true(json_is_null(p));
    if (code) assert_string_equal(json_string_value(c), code);
    else assert_true(json_is_null(c));
    json_decref(j);
    free(r.body);
}

/* ---- fixtures ---- */

typedef struct fx {
    char *d;       /* temporary folder holding model/ */
} fx;

static int setup(void **state) {
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    fx *f = calloc(1, sizeof *f);
    *state = f; /* first: teardown runs after a failed setup too */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = f ? 0 : -1;
    if (f && bin && tok) {
        f->d = tu_tmpdir();
        if (tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1", f->d,
                      tu_cli(), bin, tok) != 0)
            rc = -1;
    }
    free(bin);
    free(tok);
    return rc;
}

static int teardown(void **state) {
    kill_leftovers();
    fx *f = *state;
    curl_global_cleanup();
    if (!f) return 0;
    if (f->d) tu_rmtree(f->d);
    free(f->d);
    free(f);
    return 0;
}

#define NEED_MODEL(f)      \
    do {                   \
        if (!(f)->d) skip(); \
    } while (0)

/* The completions of `anchor generate ARGS --prompts FILE` in dir, in order
 * (rows of the output as JSON, new reference). */
static json_t *generate(const char *dir, const char *prompts_jsonl, const char *args) {
    char *pp = tu_path(dir, "gen-prompts.jsonl"), *op = tu_path(dir, "gen-out.jsonl");
    tu_write_file(pp, prompts_jsonl, strlen(prompts_jsonl));
    assert_int_equal(tu_system("cd '%s' && rm -f gen-out.jsonl && OPENBLAS_NUM_THREADS=1 '%s' generate --model model --prompts gen-prompts.jsonl "
                               "--out gen-out.jsonl %s 2>/dev/null", dir, tu_cli(), args), 0);
    json_t *rows = json_array();
    FILE *fp = fopen(op, "r");
    assert_non_null(fp);
    char line[1 << 16];
    json_error_t je;
    while (fgets(line, sizeof line, fp)) json_array_append_new(rows, json_loads(line, 0, &je));
    fclose(fp);
    free(pp);
    free(op);
    return rows;
}

static const char *choice_text(json_t *reply, size_t i, int chat) {
    json_t *c = json_array_get(json_object_get(reply, "choices"), i);
    return chat ? json_string_value(json_object_get(json_object_get(c, "message"), "content"))
                : json_string_value(json_object_get(c, "text"));
}

static const char *choice_finish(json_t *reply, size_t i) {
    return json_string_value(json_object_get(json_array_get(json_object_get(reply, "choices"), i), "finish_reason"));
}

static long usage(json_t *reply, const char *key) {
    return (long)json_integer_value(json_object_get(json_object_get(reply, "usage"), key));
}

/* ---- tests ---- */

static void test_endpoints(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --served-model-name stories");
    tu_resp r = tu_http(s.port, "/health", NULL);
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "stories");
    json_decref(j);
    free(r.body);
    r = tu_http(s.port, "/v1/models", NULL);
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    json_t *m = json_array_get(json_object_get(j, "data"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "stories");
    assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
    json_decref(j);
    free(r.body);
    r = tu_http(s.port, "/v1/models/stories", NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    expect_error(tu_http(s.port, "/v1/models/gpt-4", NULL), 404, "model", "model_not_found");
    expect_error(tu_http(s.port, "/v1/embeddings", "{}"), 404, NULL, NULL);
    expect_error(tu_http(s.port, "/v1/chat/completions", NULL), 405, NULL, NULL);
    /* no chat template in this model: chat is refused, completions work */
    expect_error(tu_http(s.port, "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}"), 400,
                 "messages", NULL);
    assert_int_equal(serve_stop(&s), 0);
}

static const char *CHAT_PROMPTS[] = {"Tell me a story.", "Who is Lily?", "What is a cat?"};

static void test_temperature0_equals_generate(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --chat-template chatml --parallel 4");
    char rows[2048] = "";
    size_t off = 0;
    for (int i = 0; i < 3; i++)
        off += (size_t)snprintf(rows + off, sizeof rows - off, "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]}\n",
                                CHAT_PROMPTS[i]);
    off += (size_t)snprintf(rows + off, sizeof rows - off, "{\"prompt\": \"Once upon a time\"}\n{\"prompt\": \"The dog\"}\n");
    json_t *want = generate(f->d, rows, "--chat-template chatml --temperature 0 --max-new-tokens 40");
    for (int i = 0; i < 5; i++) {
        char body[512];
        int chat = i < 3;
        if (chat)
            snprintf(body, sizeof body, "{\"model\": \"model\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}], "
                     "\"temperature\": 0, \"max_tokens\": 40}", CHAT_PROMPTS[i]);
        else
            snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"temperature\": 0, \"max_tokens\": 40}",
                     i == 3 ? "Once upon a time" : "The dog");
        tu_resp r = tu_http(s.port, chat ? "/v1/chat/completions" : "/v1/completions", body);
        assert_int_equal(r.status, 200);
        json_t *j = parse(&r);
        json_t *g = json_array_get(want, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(j, "object")), chat ? "chat.completion" : "text_completion");
        assert_string_equal(choice_text(j, 0, chat), json_string_value(json_object_get(g, "completion")));
        assert_string_equal(choice_finish(j, 0), json_string_value(json_object_get(g, "finish_reason")));
        assert_int_equal(usage(j, "prompt_tokens"), json_integer_value(json_object_get(g, "prompt_tokens")));
        assert_int_equal(usage(j, "completion_tokens"), json_integer_value(json_object_get(g, "completion_tokens")));
        assert_int_equal(usage(j, "total_tokens"), usage(j, "prompt_tokens") + usage(j, "completion_tokens"));
        if (chat)
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"), "role")),
                "assistant");
        json_decref(j);
        free(r.body);
    }
    json_decref(want);
    /* sampled with a seed and n = 2: the same two streams as generate's samples */
    want = generate(f->d, "{\"prompt\": \"Once upon a time\"}\n",
                    "--temperature 1 --top-p 0.9 --seed 7 --samples-per-prompt 2 --max-new-tokens 30");
    tu_resp r = tu_http(s.port, "/v1/completions",
                  "{\"prompt\": \"Once upon a time\", \"temperature\": 1, \"top_p\": 0.9, \"seed\": 7, \"n\": 2, \"max_tokens\": 30}");
    json_t *j = parse(&r);
    for (size_t k = 0; k < 2; k++)
        assert_string_equal(choice_text(j, k, 0), json_string_value(json_object_get(json_array_get(want, k), "completion")));
    json_decref(j);
    json_decref(want);
    free(r.body);
    assert_int_equal(serve_stop(&s), 0);
}

/* The SSE events of a streamed body: the JSON of each "data:" event (new
 * reference); *done set when the last event was [DONE]. */
static json_t *sse_events(const char *body, int *done) {
    json_t *ev = json_array();
    *done = 0;
    const char *p = body;
    while ((p = strstr(p, "data: "))) {
        p += 6;
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        assert_int_equal(*done, 0); /* nothing after [DONE] */
        if (end - p == 6 && !strncmp(p, "[DONE]", 6)) *done = 1;
        else {
            json_error_t je;
            json_t *j = json_loadb(p, (size_t)(end - p), 0, &je);
            if (!j) fail_msg("bad event: %.*s", (int)(end - p), p);
            json_array_append_new(ev, j);
        }
        p = end;
    }
    return ev;
}

/* Concatenates choice idx's deltas; checks the role comes first and one
 * finish reason last. */
static char *stream_text(json_t *ev, int idx, int chat, const char **finish) {
    char *out = calloc(1, 1);
    size_t len = 0;
    int seen_role = !chat, n_finish = 0;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        json_t *e = json_array_get(ev, i);
        assert_string_equal(json_string_value(json_object_get(e, "object")), chat ? "chat.completion.chunk" : "text_completion");
        json_t *c = json_array_get(json_object_get(e, "choices"), 0);
        if (!c || json_integer_value(json_object_get(c, "index")) != idx) continue;
        assert_int_equal(n_finish, 0);
        const char *t;
        if (chat) {
            json_t *d = json_object_get(c, "delta");
            if (json_object_get(d, "role")) {
                assert_int_equal(seen_role, 0);
                seen_role = 1;
            }
            t = json_string_value(json_object_get(d, "content"));
        } else {
            t = json_string_value(json_object_get(c, "text"));
        }
        if (t) {
            assert_true(seen_role);
            out = realloc(out, len + strlen(t) + 1);
            memcpy(out + len, t, strlen(t) + 1);
            len += strlen(t);
        }
        if (json_is_string(json_object_get(c, "finish_reason"))) {
            *finish = json_string_value(json_object_get(c, "finish_reason"));
            n_finish++;
        }
    }
    assert_int_equal(n_finish, 1);
    return out;
}

static void test_stream(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --chat-template chatml");
    for (int chat = 0; chat < 2; chat++) {
        const char *path = chat ? "/v1/chat/completions" : "/v1/completions";
        const char *what = chat ? "\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story.\"}]"
                                : "\"prompt\": \"Once upon a time\"";
        char body[512];
        snprintf(body, sizeof body, "{%s, \"temperature\": 0, \"max_tokens\": 60, \"n\": 2}", what);
        tu_resp whole = tu_http(s.port, path, body);
        assert_int_equal(whole.status, 200);
        json_t *w = parse(&whole);
        snprintf(body, sizeof body,
                 "{%s, \"temperature\": 0, \"max_tokens\": 60, \"n\": 2, \"stream\": true, \"stream_options\": "
                 "{\"include_usage\": true}}", what);
        tu_resp r = tu_http(s.port, path, body);
        assert_int_equal(r.status, 200);
        int done = 0;
        json_t *ev = sse_events(r.body, &done);
        assert_true(done);
        assert_true(json_array_size(ev) >= 4);
        for (int k = 0; k < 2; k++) {
            const char *finish = NULL;
            char *t = stream_text(ev, k, chat, &finish);
            assert_string_equal(t, choice_text(w, (size_t)k, chat));
            assert_string_equal(finish, choice_finish(w, (size_t)k));
            free(t);
        }
        json_t *last = json_array_get(ev, json_array_size(ev) - 1);
        assert_int_equal(json_array_size(json_object_get(last, "choices")), 0);
        assert_int_equal(usage(last, "completion_tokens"), usage(w, "completion_tokens"));
        assert_int_equal(usage(last, "prompt_tokens"), usage(w, "prompt_tokens"));
        json_decref(ev);
        json_decref(w);
        free(r.body);
        free(whole.body);
    }
    assert_int_equal(serve_stop(&s), 0);
}

static void test_n_and_stop(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --parallel 2");
    tu_resp r = tu_http(s.port, "/v1/completions", "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 24, \"n\": 3}");
    json_t *j = parse(&r);
    json_t *ch = json_object_get(j, "choices");
    assert_int_equal(json_array_size(ch), 3);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(json_integer_value(json_object_get(json_array_get(ch, k), "index")), (json_int_t)k);
        assert_string_equal(choice_text(j, k, 0), choice_text(j, 0, 0));
    }
    assert_int_equal(usage(j, "completion_tokens"), 3 * 24);
    /* a stop string taken from the greedy text itself: the reply ends before it */
    const char *full = choice_text(j, 0, 0);
    const char *word = strstr(full, "girl");
    assert_non_null(word);
    json_t *want = generate(f->d, "{\"prompt\": \"Once upon a time\"}\n", "--temperature 0 --max-new-tokens 24 --stop girl");
    json_decref(j);
    free(r.body);
    r = tu_http(s.port, "/v1/completions",
             "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 24, \"stop\": [\"girl\", \"zzz\"]}");
    j = parse(&r);
    assert_string_equal(choice_text(j, 0, 0), json_string_value(json_object_get(json_array_get(want, 0), "completion")));
    assert_string_equal(choice_finish(j, 0), "stop");
    assert_null(strstr(choice_text(j, 0, 0), "girl"));
    assert_true(usage(j, "completion_tokens") < 24);
    json_decref(j);
    free(r.body);
    /* the same streamed: the text held back before the stop string is never sent */
    r = tu_http(s.port, "/v1/completions",
             "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 24, \"stop\": \"girl\", \"stream\": true}");
    int done = 0;
    json_t *ev = sse_events(r.body, &done);
    const char *finish = NULL;
    char *t = stream_text(ev, 0, 0, &finish);
    assert_string_equal(t, json_string_value(json_object_get(json_array_get(want, 0), "completion")));
    assert_string_equal(finish, "stop");
    free(t);
    json_decref(ev);
    json_decref(want);
    free(r.body);
    assert_int_equal(serve_stop(&s), 0);
}

static void test_errors(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --chat-template chatml --max-body-bytes 2000 --max-prompt-tokens 40 --max-tokens 100");
    const char *C = "/v1/completions", *CH = "/v1/chat/completions";
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\""), 400, NULL, NULL);
    expect_error(tu_http(s.port, C, "[1, 2]"), 400, NULL, NULL);
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"temperature\": \"hot\"}"), 400, "temperature", "invalid_type");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"temperature\": 3}"), 400, "temperature", "invalid_value");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"n\": 0}"), 400, "n", "invalid_value");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"stop\": 5}"), 400, "stop", "invalid_type");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"best_of\": 3}"), 400, "best_of", "unsupported_parameter");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"frobnicate\": true}"), 400, "frobnicate", "unknown_parameter");
    expect_error(tu_http(s.port, C, "{\"temperature\": 0}"), 400, "prompt", "missing_required_parameter");
    expect_error(tu_http(s.port, C, "{\"prompt\": [1, 99999]}"), 400, "prompt", "invalid_value");
    expect_error(tu_http(s.port, CH, "{\"messages\": []}"), 400, "messages", "empty_array");
    expect_error(tu_http(s.port, CH, "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}"), 400, "messages[0].role",
                 "invalid_value");
    expect_error(tu_http(s.port, CH, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true}"), 400,
                 "logprobs", "unsupported_parameter");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"model\": \"gpt-4o\"}"), 404, "model", "model_not_found");
    expect_error(tu_http(s.port, C, "{\"prompt\": \"x\", \"max_tokens\": 101}"), 400, "max_tokens", "invalid_value");
    char big[4096];
    snprintf(big, sizeof big, "{\"prompt\": \"%0*d\"}", 3000, 0);
    expect_error(tu_http(s.port, C, big), 413, NULL, "request_too_large");
    expect_error(tu_http_ex(s.port, C, big, NULL, 1), 413, NULL, "request_too_large"); /* chunked: no Content-Length */
    char longp[1024] = "{\"prompt\": \"";
    for (int i = 0; i < 60; i++) strcat(longp, "a cat ");
    strcat(longp, "\"}");
    expect_error(tu_http(s.port, C, longp), 400, "prompt", "context_length_exceeded");
    /* the same server still answers */
    tu_resp r = tu_http(s.port, C, "{\"prompt\": \"x\", \"max_tokens\": 3}");
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_int_equal(serve_stop(&s), 0);
    /* a non-loopback address without a key is refused at start */
    assert_int_equal(tu_system("cd '%s' && '%s' serve --model model --host 0.0.0.0 --port 0 >/dev/null 2>host.err", f->d, tu_cli()), 1);
    char *hp = tu_path(f->d, "host.err");
    char *e = tu_read_file(hp, NULL);
    if (!strstr(e, "--api-key-env")) fail_msg("unexpected: %s", e);
    free(e);
    free(hp);
}

static void test_auth(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "SERVE_TEST_KEY=k3y-s3cr3t-42", "--model model --api-key-env SERVE_TEST_KEY");
    const char *body = "{\"prompt\": \"Once\", \"max_tokens\": 4}";
    expect_error(tu_http_ex(s.port, "/v1/completions", body, NULL, 0), 401, NULL, NULL);
    expect_error(tu_http_ex(s.port, "/v1/completions", body, "k3y-s3cr3t-4", 0), 401, NULL, "invalid_api_key");
    expect_error(tu_http_ex(s.port, "/v1/completions", body, "k3y-s3cr3t-421", 0), 401, NULL, "invalid_api_key");
    expect_error(tu_http_ex(s.port, "/v1/models", NULL, "wrong", 0), 401, NULL, "invalid_api_key");
    tu_resp r = tu_http_ex(s.port, "/v1/completions", body, "k3y-s3cr3t-42", 0);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "s3cr3t"));
    free(r.body);
    /* the scheme is case-insensitive (RFC 9110) */
    r = tu_http_ex(s.port, "/v1/completions", body, "raw:Authorization: bearer  k3y-s3cr3t-42", 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    r = tu_http_ex(s.port, "/health", NULL, "k3y-s3cr3t-42", 0);
    assert_int_equal(r.status, 200);
    free(r.body);
    char *ep = strdup(s.err_path);
    assert_int_equal(serve_stop(&s), 0);
    char *e = tu_read_file(ep, NULL);
    assert_null(strstr(e, "s3cr3t"));
    assert_non_null(strstr(e, "API key required"));
    /* each refusal counted once: the four 401s */
    if (!strstr(e, "2 requests answered, 4 refused")) fail_msg("unexpected counts: %s", e);
    free(e);
    free(ep);
    /* the variable named must be set */
    assert_int_equal(tu_system("cd '%s' && env -u SERVE_TEST_NOPE '%s' serve --model model --port 0 --api-key-env SERVE_TEST_NOPE "
                               ">/dev/null 2>&1", f->d, tu_cli()), 1);
}

/* ---- concurrent clients ---- */

typedef struct client {
    int port;
    int first, count;       /* prompts first..first+count-1 */
    char **texts;           /* shared result array, one slot per prompt */
    int failures;
} client;

static void *client_main(void *arg) {
    client *c = arg;
    for (int i = c->first; i < c->first + c->count; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"prompt\": \"Once upon a time %d\", \"temperature\": 0, \"max_tokens\": 32}", i);
        tu_resp r = tu_http(c->port, "/v1/completions", body);
        json_error_t je;
        json_t *j = r.status == 200 ? json_loads(r.body, 0, &je) : NULL;
        const char *t = j ? choice_text(j, 0, 0) : NULL;
        if (t) c->texts[i] = strdup(t);
        else c->failures++;
        json_decref(j);
        free(r.body);
    }
    return NULL;
}

static void test_concurrent_clients(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    enum { CLIENTS = 8, PER = 4, N = CLIENTS * PER };
    char rows[8192] = "";
    size_t off = 0;
    for (int i = 0; i < N; i++) off += (size_t)snprintf(rows + off, sizeof rows - off, "{\"prompt\": \"Once upon a time %d\"}\n", i);
    /* each prompt decoded alone */
    json_t *want = generate(f->d, rows, "--temperature 0 --max-new-tokens 32 --parallel 1");
    server s;
    serve_start(&s, f->d, "", "--model model --parallel 8");
    char *texts[N] = {0};
    client cs[CLIENTS];
    pthread_t th[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        cs[k] = (client){s.port, k * PER, PER, texts, 0};
        assert_int_equal(pthread_create(&th[k], NULL, client_main, &cs[k]), 0);
    }
    for (int k = 0; k < CLIENTS; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(cs[k].failures, 0);
    }
    for (int i = 0; i < N; i++) {
        assert_non_null(texts[i]);
        assert_string_equal(texts[i], json_string_value(json_object_get(json_array_get(want, (size_t)i), "completion")));
        free(texts[i]);
    }
    tu_resp r = tu_http(s.port, "/health", NULL);
    json_t *h = parse(&r);
    long served = (long)json_integer_value(json_object_get(h, "requests_served"));
    double steps = (double)json_integer_value(json_object_get(h, "decode_steps")),
           toks = (double)json_integer_value(json_object_get(h, "tokens_generated"));
    printf("  %d clients x %d requests: all replies equal the prompts decoded alone; %.0f tokens in %.0f decode steps "
           "(%.1f sequences per step)\n", CLIENTS, PER, toks, steps, toks / (steps > 0 ? steps : 1));
    assert_int_equal(served, N);
    json_decref(h);
    free(r.body);
    json_decref(want);
    assert_int_equal(serve_stop(&s), 0);
}

/* ---- SIGTERM with a request in flight ---- */

typedef struct streamer {
    int port;
    tu_resp r;
} streamer;

static void *stream_main(void *arg) {
    streamer *st = arg;
    st->r = tu_http(st->port, "/v1/completions",
                 "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 400, \"n\": 12, \"stream\": true}");
    return NULL;
}

/* Waits (up to ~6 s) until /health shows a sequence decoding. */
static void wait_decoding(int port) {
    int seen = 0;
    for (int i = 0; i < 3000 && !seen; i++) {
        tu_resp h = tu_http(port, "/health", NULL);
        json_t *j = h.status == 200 ? parse(&h) : NULL;
        seen = j && json_integer_value(json_object_get(j, "sequences_active")) > 0;
        json_decref(j);
        free(h.body);
        if (!seen) usleep(2000);
    }
    assert_true(seen);
}

static void test_sigterm_finishes_in_flight(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --parallel 1");
    streamer st = {s.port, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stream_main, &st), 0);
    wait_decoding(s.port); /* 12 x 400 tokens, one sequence at a time */
    kill(s.pid, SIGTERM);
    /* the listening socket closes: new connections are refused */
    int refused = 0;
    for (int i = 0; i < 3000 && !refused; i++) {
        tu_resp h = tu_http(s.port, "/health", NULL);
        refused = h.curl_rc == CURLE_COULDNT_CONNECT;
        free(h.body);
        if (!refused) usleep(2000);
    }
    pthread_join(th, NULL);
    int status = 0;
    assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
    forget_pid(s.pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *e = tu_read_file(s.err_path, NULL);
        fail_msg("anchor serve ended with status %d: %s", status, e);
    }
    assert_true(refused);
    /* the request in flight was answered in full */
    assert_int_equal(st.r.status, 200);
    int done = 0;
    json_t *ev = sse_events(st.r.body, &done);
    assert_true(done);
    for (int k = 0; k < 12; k++) {
        const char *finish = NULL;
        char *t = stream_text(ev, k, 0, &finish);
        assert_true(strlen(t) > 0);
        free(t);
    }
    json_decref(ev);
    free(st.r.body);
    char *e = tu_read_file(s.err_path, NULL);
    if (!strstr(e, "1 request in flight finish first") || !strstr(e, "1 requests answered"))
        fail_msg("unexpected log: %s", e);
    free(e);
    free(s.err_path);
}

/* --max-concurrent 1: a second request while one decodes gets 429 (the
 * OpenAI rate-limit error object), and is taken again once the first ended. */
static void test_concurrency_limit(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --parallel 1 --max-concurrent 1");
    streamer st = {s.port, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stream_main, &st), 0);
    wait_decoding(s.port);
    tu_resp r = tu_http(s.port, "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2}");
    if (r.status == 429) {
        json_t *j = parse(&r);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "type")), "requests");
        json_decref(j);
    }
    expect_error(r, 429, NULL, "rate_limit_exceeded");
    pthread_join(th, NULL);
    assert_int_equal(st.r.status, 200);
    free(st.r.body);
    r = tu_http(s.port, "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2}");
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_int_equal(serve_stop(&s), 0);
}

static size_t leave_after_two_events(char *p, size_t sz, size_t n, void *ud) {
    int *events = ud;
    for (size_t i = 0; i + 1 < sz * n; i++) *events += p[i] == '\n' && p[i + 1] == '\n';
    return *events >= 2 ? 0 : sz * n; /* 0: curl aborts and closes the connection */
}

/* Waits (up to ~6 s) until /health shows nothing in flight, active or
 * queued; returns tokens_generated. */
static long wait_all_idle(int port) {
    int idle = 0;
    long tokens = 0;
    for (int i = 0; i < 3000 && !idle; i++) {
        tu_resp h = tu_http(port, "/health", NULL);
        json_t *j = parse(&h);
        idle = json_integer_value(json_object_get(j, "requests_in_flight")) == 0 &&
               json_integer_value(json_object_get(j, "sequences_active")) == 0 &&
               json_integer_value(json_object_get(j, "sequences_queued")) == 0;
        tokens = (long)json_integer_value(json_object_get(j, "tokens_generated"));
        json_decref(j);
        free(h.body);
        if (!idle) usleep(2000);
    }
    assert_true(idle);
    return tokens;
}

/* A client that hangs up mid-stream: its sequences leave the batch (the
 * job is cancelled), it is no longer in flight, and the server goes on. */
static void test_client_leaves_mid_stream(void **state) {
    fx *f = *state;
    NEED_MODEL(f);
    server s;
    serve_start(&s, f->d, "", "--model model --parallel 2");
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/completions", s.port);
    int events = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 400, \"n\": 12, \"stream\": true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, leave_after_two_events);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &events);
    assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_easy_cleanup(c);
    long tokens = wait_all_idle(s.port);
    printf("  a client left after 2 events: %ld of %d tokens decoded before its job was cancelled\n", tokens, 12 * 400);
    assert_true(tokens < 12 * 400);
    /* the same for a whole (non-streamed) reply: the client gives up after 100 ms */
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"prompt\": \"Once upon a time\", \"temperature\": 0, \"max_tokens\": 400, \"n\": 12}");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 100L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    long after = wait_all_idle(s.port);
    printf("  a whole-reply client left after 100 ms: %ld of %d tokens decoded before its job was cancelled\n",
           after - tokens, 12 * 400);
    assert_true(after - tokens < 12 * 400);
    tu_resp r = tu_http(s.port, "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2}");
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_int_equal(serve_stop(&s), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_temperature0_equals_generate),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_n_and_stop),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_sigterm_finishes_in_flight),
        cmocka_unit_test(test_concurrency_limit),
        cmocka_unit_test(test_client_leaves_mid_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
