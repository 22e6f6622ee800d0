/* Tests for src/llm without a server: backend spec parsing, the chat-reply
 * parser, and the exec:COMMAND and local:DIR backends (chat JSON and
 * plain-text output, the request on stdin, non-zero exits with the code and
 * stderr in the error, timeouts, large inputs without deadlock or SIGPIPE,
 * batches, the local-generator callback). HTTP is in test_llm_http.c. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "llm/llm.h"
#include "llm/stored.h"

static void assert_has(const char *msg, const char *needle) {
    if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

static void assert_lacks(const char *msg, const char *needle) {
    if (msg && strstr(msg, needle)) fail_msg("message \"%s\" contains \"%s\"", msg, needle);
}

static void test_spec_parsing(void **state) {
    (void)state;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, "http://127.0.0.1:8080/v1", NULL, &err), &err);
    assert_int_equal(anc_llm_get_kind(llm), ANC_LLM_HTTP);
    assert_string_equal(anc_llm_id(llm), "http:http://127.0.0.1:8080/v1/chat/completions");
    anc_llm_free(llm);
    TU_CHECK(anc_llm_create(&llm, "https://example.com/v1/", NULL, &err), &err);
    assert_string_equal(anc_llm_id(llm), "http:https://example.com/v1/chat/completions");
    anc_llm_free(llm);
    TU_CHECK(anc_llm_create(&llm, "http://h:1/v1/chat/completions", NULL, &err), &err);
    assert_string_equal(anc_llm_id(llm), "http:http://h:1/v1/chat/completions");
    anc_llm_free(llm);
    TU_CHECK(anc_llm_create(&llm, "openai", NULL, &err), &err);
    assert_string_equal(anc_llm_id(llm), "http:https://api.openai.com/v1/chat/completions");
    anc_llm_free(llm);
    /* user:password never reaches the id (nor store keys, nor messages). */
    TU_CHECK(anc_llm_create(&llm, "http://bob:hunter2@127.0.0.1:9/v1", NULL, &err), &err);
    assert_lacks(anc_llm_id(llm), "hunter2");
    anc_llm_free(llm);
    assert_int_equal(anc_llm_create(&llm, "ftp://bob:hunter2@host/v1", NULL, &err), ANC_ERR_INVALID);
    assert_lacks(err.message, "hunter2");
    assert_has(err.message, "expected http://");
    assert_null(llm);
    assert_int_equal(anc_llm_create(&llm, "http:///v1", NULL, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_llm_create(&llm, "exec:  ", NULL, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_llm_create(&llm, "local:/models/x", NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "no local generator");
    anc_llm_options o;
    anc_llm_options_init(&o);
    json_t *extra = json_pack("{s:b}", "stream", 1);
    o.extra_params = extra;
    assert_int_equal(anc_llm_create(&llm, "http://h:1/v1", &o, &err), ANC_ERR_INVALID);
    assert_has(err.message, "stream");
    json_decref(extra);
    anc_llm_options_init(&o);
    o.timeout_s = 0;
    assert_int_equal(anc_llm_create(&llm, "http://h:1/v1", &o, &err), ANC_ERR_INVALID);
}

static void test_reply_parser(void **state) {
    (void)state;
    anc_llm_reply r;
    anc_error err;
    const char *ok = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi \\u00e9\"},"
                     "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
                     "\"total_tokens\":7}}";
    TU_CHECK(anc_llm_parse_chat_reply(ok, strlen(ok), &r, &err), &err);
    assert_string_equal(r.text, "Hi \xc3\xa9");
    assert_string_equal(r.finish_reason, "length");
    assert_int_equal(r.prompt_tokens, 5);
    assert_int_equal(r.completion_tokens, 2);
    assert_int_equal(r.total_tokens, 7);
    assert_non_null(r.raw);
    anc_llm_reply_free(&r);
    const char *parts = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                        "{\"type\":\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"b\"}]}}]}";
    TU_CHECK(anc_llm_parse_chat_reply(parts, strlen(parts), &r, &err), &err);
    assert_string_equal(r.text, "ab");
    assert_null(r.finish_reason);
    assert_int_equal(r.total_tokens, -1);
    anc_llm_reply_free(&r);
    struct { const char *body; const char *why; } bad[] = {
        {"", "empty"},
        {"{\"choices\":[{\"message\":{\"content\":\"x\"}}]", "invalid JSON"},
        {"[1,2]", "array"},
        {"{\"error\":{\"message\":\"quota exceeded\"}}", "quota exceeded"},
        {"{\"choices\":[]}", "choices"},
        {"{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"}}]}", "refused"},
        {"{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}", "tool calls"},
        {"{\"choices\":[{\"message\":{\"content\":7}}]}", "not text"},
        {"{\"choices\":[7]}", "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(anc_llm_parse_chat_reply(bad[i].body, strlen(bad[i].body), &r, &err), ANC_ERR_FORMAT);
        assert_has(err.message, bad[i].why);
        assert_null(r.text);
        assert_null(r.raw);
    }
    /* Only len bytes are read: a valid prefix of a longer buffer parses. */
    char buf[256];
    snprintf(buf, sizeof buf, "%sGARBAGE", ok);
    TU_CHECK(anc_llm_parse_chat_reply(buf, strlen(ok), &r, &err), &err);
    anc_llm_reply_free(&r);
}

static void no_sleep(void *ctx, double seconds) {
    (void)seconds;
    if (ctx) (*(int *)ctx)++;
}

/* Writes an executable shell script dir/name and returns its path. */
static char *script(const char *dir, const char *name, const char *body) {
    char *p = tu_path(dir, name);
    size_t n = strlen(body) + 32;
    char *text = malloc(n);
    snprintf(text, n, "#!/bin/sh\n%s\n", body);
    tu_write_file(p, text, strlen(text));
    free(text);
    chmod(p, 0755);
    return p;
}

static anc_llm *make_exec(const char *command, anc_llm_options *o) {
    size_t n = strlen(command) + 8;
    char *spec = malloc(n);
    snprintf(spec, n, "exec:%s", command);
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, spec, o, &err), &err);
    assert_int_equal(anc_llm_get_kind(llm), ANC_LLM_EXEC);
    free(spec);
    return llm;
}

static void opts(anc_llm_options *o, int *sleeps) {
    anc_llm_options_init(o);
    o->model = "exec-model";
    o->timeout_s = 10;
    o->max_retries = 0;
    o->sleep_fn = no_sleep;
    o->sleep_ctx = sleeps;
}

static void test_chat_json_output(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *sh = script(dir, "chat.sh",
                      "cat > /dev/null\n"
                      "printf '%s' '{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                      "\"content\":\"hi from json\"},\"finish_reason\":\"stop\"}],"
                      "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}'");
    anc_llm_options o;
    opts(&o, NULL);
    anc_llm *llm = make_exec(sh, &o);
    json_t *m = anc_llm_user_message("question");
    anc_llm_request rq = {.messages = m};
    anc_llm_reply r;
    anc_error err;
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    assert_string_equal(r.text, "hi from json");
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.total_tokens, 7);
    assert_string_equal(json_string_value(json_object_get(r.raw, "id")), "x");
    anc_llm_reply_free(&r);
    json_decref(m);
    anc_llm_free(llm);
    free(sh);
    tu_rmtree(dir);
    free(dir);
}

static void test_plain_text_and_stdin(void **state) {
    (void)state;
    anc_llm_options o;
    opts(&o, NULL);
    o.temperature = 0.25;
    anc_error err;
    /* Plain text: surrounding blank lines are dropped, inner ones kept. */
    anc_llm *llm = make_exec("printf '\\n  plain answer\\n\\nsecond line\\n\\n'", &o);
    json_t *m = anc_llm_user_message("question");
    anc_llm_request rq = {.messages = m};
    anc_llm_reply r;
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    assert_string_equal(r.text, "plain answer\n\nsecond line");
    assert_null(r.finish_reason);
    assert_string_equal(json_string_value(json_object_get(r.raw, "anchor_source")), "exec");
    anc_llm_reply_free(&r);
    anc_llm_free(llm);

    /* The request JSON arrives on stdin: `cat` echoes it back, and a JSON
     * object without "choices" is plain text. */
    llm = make_exec("cat", &o);
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    json_t *echoed = json_loads(r.text, 0, NULL);
    assert_non_null(echoed);
    json_t *built = NULL;
    TU_CHECK(anc_llm_build_request(llm, &rq, &built, &err), &err);
    assert_true(json_equal(echoed, built));
    assert_string_equal(json_string_value(json_object_get(echoed, "model")), "exec-model");
    assert_true(json_real_value(json_object_get(echoed, "temperature")) == 0.25);
    json_decref(echoed);
    json_decref(built);
    anc_llm_reply_free(&r);

    /* A large request (2 MB) through `cat`: stdin and stdout interleave
     * without deadlock. */
    size_t big = 2u << 20;
    char *text = malloc(big + 1);
    for (size_t i = 0; i < big; i++) text[i] = (char)('a' + i % 26);
    text[big] = '\0';
    json_t *bm = anc_llm_user_message(text);
    anc_llm_request brq = {.messages = bm};
    TU_CHECK(anc_llm_complete(llm, &brq, &r, &err), &err);
    assert_true(strlen(r.text) > big);
    anc_llm_reply_free(&r);
    anc_llm_free(llm);

    /* A command that never reads its (large) stdin: no SIGPIPE, the output
     * still counts. */
    llm = make_exec("echo ignored", &o);
    TU_CHECK(anc_llm_complete(llm, &brq, &r, &err), &err);
    assert_string_equal(r.text, "ignored");
    anc_llm_reply_free(&r);
    anc_llm_free(llm);
    json_decref(bm);
    free(text);
    json_decref(m);
}

static void test_failures(void **state) {
    (void)state;
    int sleeps = 0;
    anc_llm_options o;
    opts(&o, &sleeps);
    o.max_retries = 1;
    anc_error err;
    json_t *m = anc_llm_user_message("q");
    anc_llm_request rq = {.messages = m};
    anc_llm_reply r;
    /* Non-zero exit: the code and stderr are in the error; retried once. */
    anc_llm *llm = make_exec("cat >/dev/null; echo 'model exploded' >&2; exit 3", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_IO);
    assert_has(err.message, "exited with code 3");
    assert_has(err.message, "model exploded");
    assert_has(err.message, "gave up after 2 attempts");
    assert_has(err.message, "exec `cat >/dev/null;");
    assert_int_equal(sleeps, 1);
    assert_null(r.text);
    anc_llm_free(llm);
    /* Nothing on stdout. */
    o.max_retries = 0;
    llm = make_exec("true", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "printed nothing");
    anc_llm_free(llm);
    /* A chat JSON carrying an error. */
    llm = make_exec("echo '{\"error\":{\"message\":\"quota\"}}'", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "quota");
    anc_llm_free(llm);
    /* Killed by a signal. */
    llm = make_exec("kill -9 $$", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_IO);
    assert_has(err.message, "killed by signal 9");
    anc_llm_free(llm);
    /* Timeout: the command (and its children) are killed. */
    o.timeout_s = 0.3;
    llm = make_exec("sleep 30 & sleep 30; echo never", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_IO);
    assert_has(err.message, "timed out");
    anc_llm_free(llm);
    /* Output over the limit. */
    o.timeout_s = 10;
    o.max_reply_bytes = 1000;
    llm = make_exec("yes", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "larger than the 1000-byte limit");
    anc_llm_free(llm);
    /* Invalid UTF-8 output. */
    o.max_reply_bytes = 1000;
    llm = make_exec("printf 'bad \\377 bytes'", &o);
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "UTF-8");
    anc_llm_free(llm);
    json_decref(m);
}

/* Batches over exec: each reply goes with its own request. */
typedef struct seen {
    char *text[8];
    int calls[8];
} seen;

static int on_item(void *ctx, size_t i, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    seen *s = ctx;
    if (st != ANC_OK) fail_msg("item %zu: %s", i, error->message);
    s->calls[i]++;
    s->text[i] = reply->text;
    reply->text = NULL;
    return 0;
}

static void test_exec_batch_and_store(void **state) {
    (void)state;
    anc_llm_options o;
    opts(&o, NULL);
    /* Reply with the last user message, read from the request JSON. */
    anc_llm *llm = make_exec("sed -e 's/.*\"content\":\"\\([^\"]*\\)\".*/got \\1/'", &o);
    json_t *m[8];
    anc_llm_request rq[8];
    char c[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(c[i], sizeof c[i], "msg-%d", i);
        m[i] = anc_llm_user_message(c[i]);
        rq[i] = (anc_llm_request){.messages = m[i]};
    }
    seen s;
    memset(&s, 0, sizeof s);
    anc_error err;
    TU_CHECK(anc_llm_run_batch(llm, rq, 8, 3, on_item, &s, &err), &err);
    for (int i = 0; i < 8; i++) {
        char want[32];
        snprintf(want, sizeof want, "got msg-%d", i);
        assert_int_equal(s.calls[i], 1);
        assert_string_equal(s.text[i], want);
        free(s.text[i]);
    }
    /* Through the store: a second run starts no command at all (the
     * command below would fail if it ran). */
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    anc_store *store = NULL;
    TU_CHECK(anc_store_open(&store, path, &err), &err);
    anc_llm_stored_stats st;
    memset(&s, 0, sizeof s);
    TU_CHECK(anc_llm_run_stored(llm, store, rq, 8, 2, on_item, &s, &st, &err), &err);
    assert_int_equal(st.sent, 8);
    for (int i = 0; i < 8; i++) free(s.text[i]);
    anc_llm_free(llm);
    /* Same id ("exec:<command>") needed for the same keys: recreate it with
     * the same command, but point PATH nowhere so running it would fail. */
    llm = make_exec("sed -e 's/.*\"content\":\"\\([^\"]*\\)\".*/got \\1/'", &o);
    char *old_path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/nonexistent", 1);
    memset(&s, 0, sizeof s);
    TU_CHECK(anc_llm_run_stored(llm, store, rq, 8, 2, on_item, &s, &st, &err), &err);
    setenv("PATH", old_path, 1);
    free(old_path);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.cached, 8);
    assert_string_equal(s.text[5], "got msg-5");
    for (int i = 0; i < 8; i++) free(s.text[i]);
    anc_store_close(store);
    anc_llm_free(llm);
    for (int i = 0; i < 8; i++) json_decref(m[i]);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ local */

typedef struct gen_ctx {
    int calls;
    int fail;
} gen_ctx;

static anc_status fake_generator(void *ctx, const json_t *messages, const json_t *params, char **text,
                                 anc_error *err) {
    gen_ctx *g = ctx;
    g->calls++;
    if (g->fail) return anc_error_set(err, ANC_ERR_NUMERIC, "NaN in logits at step 3");
    const json_t *last = json_array_get(messages, json_array_size(messages) - 1);
    char buf[256];
    snprintf(buf, sizeof buf, "local says %s (t=%.2f, has messages in params: %d)",
             json_string_value(json_object_get(last, "content")), json_real_value(json_object_get(params, "temperature")),
             json_object_get(params, "messages") != NULL);
    *text = strdup(buf);
    return ANC_OK;
}

static void test_local_backend(void **state) {
    (void)state;
    gen_ctx g = {0, 0};
    anc_llm_options o;
    opts(&o, NULL);
    o.temperature = 0.5;
    o.max_retries = 3;
    o.local_fn = fake_generator;
    o.local_ctx = &g;
    anc_llm *llm = NULL;
    anc_error err;
    TU_CHECK(anc_llm_create(&llm, "local:/models/tiny", &o, &err), &err);
    assert_int_equal(anc_llm_get_kind(llm), ANC_LLM_LOCAL);
    assert_string_equal(anc_llm_id(llm), "local:/models/tiny");
    json_t *m = anc_llm_user_message("hi");
    anc_llm_request rq = {.messages = m};
    anc_llm_reply r;
    TU_CHECK(anc_llm_complete(llm, &rq, &r, &err), &err);
    assert_string_equal(r.text, "local says hi (t=0.50, has messages in params: 0)");
    assert_string_equal(json_string_value(json_object_get(r.raw, "anchor_source")), "local");
    anc_llm_reply_free(&r);
    /* Generator errors are reported, not retried. */
    g.fail = 1;
    g.calls = 0;
    assert_int_equal(anc_llm_complete(llm, &rq, &r, &err), ANC_ERR_NUMERIC);
    assert_has(err.message, "NaN in logits");
    assert_has(err.message, "/models/tiny");
    assert_int_equal(g.calls, 1);
    json_decref(m);
    anc_llm_free(llm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parsing),          cmocka_unit_test(test_reply_parser),
        cmocka_unit_test(test_chat_json_output),      cmocka_unit_test(test_plain_text_and_stdin),
        cmocka_unit_test(test_failures),              cmocka_unit_test(test_exec_batch_and_store),
        cmocka_unit_test(test_local_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
