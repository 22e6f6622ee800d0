/* The official `openai` npm client (scripts/clients, installed by
 * scripts/install-clients.sh) talks to `anchor serve`: tests/js/serve_client.mjs
 * lists the models, asks a chat completion whole and streamed (raw chunks
 * and the SDK's own stream helper), a legacy completion, and provokes
 * errors (a bad parameter, an unknown model, a missing and a wrong key); the
 * SDK must surface them as its typed errors with OpenAI's fields. The texts
 * must equal `anchor generate --temperature 0` for the same prompts. Skips
 * when node, the openai package or the stories260K fixture is absent. */
#include "testutil.h"
#include "testlib_serve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts anchor serve in dir with the key in SERVE_KEY; sets *port. */
static pid_t start_server(const char *dir, const char *err_path, int *port) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && SERVE_KEY=openai-client-key exec '%s' serve --model model --chat-template chatml --port 0 "
             "--api-key-env SERVE_KEY </dev/null >/dev/null 2>'%s'", dir, tu_cli(), err_path);
    return tu_serve_spawn(cmd, err_path, port);
}

static const char *field(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void expect_err(json_t *errors, const char *name, int status, const char *cls, const char *param, const char *code) {
    json_t *e = json_object_get(errors, name);
    if (!e) fail_msg("no error result %s", name);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), status);
    assert_string_equal(field(e, "cls"), cls);
    assert_string_equal(field(e, "type"), "invalid_request_error");
    if (param) assert_string_equal(field(e, "param"), param);
    else assert_true(json_is_null(json_object_get(e, "param")));
    if (code) assert_string_equal(field(e, "code"), code);
    else assert_true(json_is_null(json_object_get(e, "code")));
}

static void test_openai_client(void **state) {
    (void)state;
    char *pkg = tu_path(ANCHOR_SOURCE_DIR, "scripts/clients/node_modules/openai");
    char *entry = tu_path(pkg, "index.mjs");
    if (tu_system("command -v node >/dev/null 2>&1") != 0 || access(entry, R_OK) != 0) {
        printf("  skipped: node or scripts/clients/node_modules/openai is absent (scripts/install-clients.sh installs it)\n");
        free(pkg);
        free(entry);
        skip();
    }
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tok) {
        free(bin);
        free(tok);
        free(pkg);
        free(entry);
        skip();
    }
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1", d,
                               tu_cli(), bin, tok), 0);
    /* what the replies must be */
    const char *rows = "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story.\"}]}\n";
    char *pp = tu_path(d, "p.jsonl"), *cp = tu_path(d, "c.jsonl");
    tu_write_file(pp, rows, strlen(rows));
    tu_write_file(cp, "{\"prompt\": \"Once upon a time\"}\n", 31);
    assert_int_equal(tu_system("cd '%s' && '%s' generate --model model --chat-template chatml --prompts p.jsonl --out g.jsonl "
                               "--temperature 0 --max-new-tokens 40 2>/dev/null && '%s' generate --model model --prompts c.jsonl "
                               "--out gc.jsonl --temperature 0 --max-new-tokens 20 2>/dev/null", d, tu_cli(), tu_cli()), 0);
    json_t *g = tu_load_json(d, "g.jsonl"), *gc = tu_load_json(d, "gc.jsonl");
    char *err_path = tu_path(d, "serve.err");
    int port = 0;
    pid_t pid = start_server(d, err_path, &port);
    char *js = tu_path(ANCHOR_SOURCE_DIR, "tests/js/serve_client.mjs");
    int rc = tu_system("cd '%s' && node '%s' '%s' http://127.0.0.1:%d/v1 openai-client-key model >client.json 2>client.err", d, js,
                       pkg, port);
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (rc != 0) {
        char *ce = tu_path(d, "client.err");
        char *e = tu_read_file(ce, NULL);
        fail_msg("the openai client failed (%d): %s", rc, e);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    json_t *r = tu_load_json(d, "client.json");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "models"), 0)), "model");
    assert_string_equal(field(r, "chat"), field(g, "completion"));
    assert_string_equal(field(r, "chat_finish"), field(g, "finish_reason"));
    assert_string_equal(field(r, "stream"), field(g, "completion"));
    assert_string_equal(field(r, "stream_helper"), field(g, "completion"));
    assert_string_equal(field(r, "stream_finish"), field(g, "finish_reason"));
    assert_string_equal(field(r, "completion"), field(gc, "completion"));
    assert_true(json_integer_value(json_object_get(r, "stream_chunks")) > 2);
    json_t *u = json_object_get(r, "usage"), *su = json_object_get(r, "stream_usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), json_integer_value(json_object_get(g, "prompt_tokens")));
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")),
                     json_integer_value(json_object_get(g, "completion_tokens")));
    assert_true(json_equal(u, su));
    json_t *errors = json_object_get(r, "errors");
    expect_err(errors, "bad_param", 400, "BadRequestError", "temperature", "invalid_value");
    expect_err(errors, "unknown_model", 404, "NotFoundError", "model", "model_not_found");
    expect_err(errors, "auth_missing", 401, "AuthenticationError", NULL, NULL);
    expect_err(errors, "auth_wrong", 401, "AuthenticationError", NULL, "invalid_api_key");
    char *e = tu_read_file(err_path, NULL);
    assert_null(strstr(e, "openai-client-key"));
    free(e);
    json_decref(r);
    json_decref(g);
    json_decref(gc);
    free(js);
    free(err_path);
    free(pp);
    free(cp);
    free(bin);
    free(tok);
    free(pkg);
    free(entry);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
