/* libFuzzer target for what the exec:/HTTP backends do with a backend's
 * bytes, through the functions src/llm/llm_internal.h and llm.h expose (no
 * process is started, nothing is sent):
 *   - the bytes as an exec command's stdout, handled as exec.c's
 *     parse_output does (static there, so mirrored here): surrounding blank
 *     space trimmed; a JSON object with "choices" or "error" goes to
 *     anc_llm_parse_chat_reply, anything else to anc_llm_reply_from_text;
 *     then anc_llm_reply_fill_meta on the reply;
 *   - the stored-reply key scrub (anc_llm_scrub_key) and the message redaction
 *     (anc_llm_redact) with a fake API key;
 *   - each line as a Retry-After header value (anc_llm_parse_retry_after) and
 *     with anc_llm_backoff_delay, and as a backend spec (anc_llm_create with
 *     "exec:LINE" and LINE itself, no API key), building a request whose
 *     messages/params/extra params come from the bytes when they are JSON.
 * Invariants: a success has text and raw JSON; a failure leaves the reply
 * empty and explains itself; a scrubbed buffer never holds the key; delays
 * are -1 or >= 0 and backoff stays within [base/2, cap].
 * Seeds: fuzz/corpus/fuzz_exec_reply/. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "llm/llm.h"
#include "llm/llm_internal.h"

#define FAKE_KEY "sk-fuzz-exec-KEY"
#define MAX_LINES 16
#define MAX_LINE 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static void check_reply(anc_status st, anc_llm_reply *r, const anc_error *err) {
    if (st == ANC_OK) {
        if (!r->text || !r->raw || !json_is_object(r->raw)) abort();
        (void)strlen(r->text);
        if (anc_llm_reply_fill_meta(r) != 0) abort();
        if (r->finish_reason) (void)strlen(r->finish_reason);
        anc_llm_reply_free(r);
    } else if (r->text || r->raw || r->finish_reason || err->message[0] == '\0') {
        abort();
    }
}

/* exec.c parse_output, through the same library calls. */
static void exec_stdout(const char *d, size_t len) {
    size_t from = 0, to = len;
    while (from < to && is_blank(d[from])) from++;
    while (to > from && is_blank(d[to - 1])) to--;
    if (from == to) return; /* "printed nothing": a retry */
    anc_llm_reply r;
    memset(&r, 0, sizeof r);
    anc_error err;
    anc_error_clear(&err);
    if (d[from] == '{') {
        json_t *j = json_loadb(d + from, to - from, 0, NULL);
        int chat = json_is_object(j) && (json_object_get(j, "choices") || json_object_get(j, "error"));
        json_decref(j);
        if (chat) {
            check_reply(anc_llm_parse_chat_reply(d + from, to - from, &r, &err), &r, &err);
            return;
        }
    }
    anc_status st = anc_llm_reply_from_text(d + from, to - from, "fuzz-model", "exec", &r, &err);
    if (st == ANC_OK && (strlen(r.text) > to - from || !json_object_get(r.raw, "model"))) abort();
    check_reply(st, &r, &err);
}

static void scrub(const anc_llm *fake, const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t len = size;
    if (anc_llm_scrub_key(fake, &buf, &len) != 0) {
        free(buf);
        return;
    }
    if (buf[len] != '\0' || memmem(buf, len, FAKE_KEY, strlen(FAKE_KEY))) abort();
    free(buf);

    char msg[256];
    size_t n = size < sizeof msg - 1 ? size : sizeof msg - 1;
    memcpy(msg, data, n);
    msg[n] = '\0';
    anc_llm_redact(fake, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg || strstr(msg, FAKE_KEY)) abort();
}

static void spec_line(const char *line, const json_t *doc) {
    anc_llm_options o;
    anc_llm_options_init(&o);
    o.api_key_env = ""; /* never read a real key from the environment */
    o.model = "m";
    o.temperature = 0.5;
    o.seed = 7;
    if (json_is_object(doc)) o.extra_params = doc;
    char spec[MAX_LINE + 8];
    for (int k = 0; k < 2; k++) {
        snprintf(spec, sizeof spec, "%s%s", k ? "" : "exec:", line);
        anc_llm *llm = NULL;
        anc_error err;
        anc_error_clear(&err);
        if (anc_llm_create(&llm, spec, &o, &err) != ANC_OK) {
            if (llm || err.message[0] == '\0') abort();
            continue;
        }
        const char *id = anc_llm_id(llm);
        if (!id || anc_llm_has_api_key(llm)) abort();
        anc_llm_kind kind = anc_llm_get_kind(llm);
        if (kind != ANC_LLM_HTTP && kind != ANC_LLM_EXEC && kind != ANC_LLM_LOCAL) abort();
        json_t *fallback = anc_llm_user_message(line);
        anc_llm_request req = {.messages = json_is_array(doc) ? doc : fallback, .params = json_is_object(doc) ? doc : NULL};
        json_t *request = NULL;
        if (anc_llm_build_request(llm, &req, &request, &err) == ANC_OK) {
            if (!json_is_array(json_object_get(request, "messages"))) abort();
            char *body = json_dumps(request, JSON_COMPACT);
            free(body);
            json_decref(request);
        } else if (request || err.message[0] == '\0') {
            abort();
        }
        json_decref(fallback);
        anc_llm_free(llm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    exec_stdout((const char *)data, size);

    anc_llm fake;
    memset(&fake, 0, sizeof fake);
    fake.api_key = (char *)FAKE_KEY;
    scrub(&fake, data, size);

    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    anc_llm_options o;
    anc_llm_options_init(&o);
    size_t at = 0;
    for (int li = 0; li < MAX_LINES && at < size; li++) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size, n = end - at;
        char line[MAX_LINE + 1];
        if (n > MAX_LINE) n = MAX_LINE;
        memcpy(line, data + at, n);
        line[n] = '\0';
        at = end + 1;
        if (strlen(line) != n) continue; /* holds a NUL: not a header value or spec */
        double d = anc_llm_parse_retry_after(line, (time_t)1700000000);
        if (!(d == -1 || d >= 0)) abort();
        double u = d > 0 ? fmod(d, 1.0) : 0.25;
        double b = anc_llm_backoff_delay(&o, (unsigned)(li + 1) * (d > 0 && d < 64 ? (unsigned)d + 1 : 1), u);
        if (!(b >= o.backoff_base_s * 0.5 && b <= o.backoff_cap_s)) abort();
        spec_line(line, doc);
    }
    json_decref(doc);
    return 0;
}
