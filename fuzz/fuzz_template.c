/* libFuzzer target for the chat-template engine: the input is a template
 * source, optionally followed by a NUL byte and a JSON object used as the
 * render context (otherwise a fixed conversation with tools is used).
 * Compile + render must end in success or an explained error, within the
 * step/output/memory caps, never a crash. Seeds: fuzz/corpus/fuzz_template/. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jinja/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char DEFAULT_CONTEXT[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
    " {\"role\": \"user\", \"content\": \"Hi \\u00e9\\n\"},"
    " {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"abcdef123\", \"type\": \"function\","
    "  \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1, \"y\": [true, null, 2.5]}}}]},"
    " {\"role\": \"tool\", \"tool_call_id\": \"abcdef123\", \"content\": \"42\"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\","
    "  \"parameters\": {\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"integer\"}}}}}],"
    " \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_generation_prompt\": true}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *src = (const char *)data;
    size_t src_len = size;
    json_t *ctx = NULL;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        src_len = (size_t)(nul - data);
        json_error_t je;
        ctx = json_loadb((const char *)nul + 1, size - src_len - 1, 0, &je);
        if (ctx && !json_is_object(ctx)) {
            json_decref(ctx);
            ctx = NULL;
        }
    }
    if (!ctx) {
        json_error_t je;
        ctx = json_loads(DEFAULT_CONTEXT, 0, &je);
        if (!ctx) abort();
    }
    anc_template *t = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_template_compile(&t, src, src_len, "fuzz", &err) != ANC_OK) {
        if (t != NULL || err.message[0] == '\0') abort(); /* failures must explain themselves */
        json_decref(ctx);
        return 0;
    }
    anc_template_options opts;
    memset(&opts, 0, sizeof opts);
    opts.has_now = 1;
    opts.now_utc = 1752148800;
    opts.max_steps = 100000;
    opts.max_output = (size_t)1 << 20;
    opts.max_memory = (size_t)64 << 20;
    char *out = NULL;
    size_t n = 0;
    anc_status st = anc_template_render(t, ctx, &opts, &out, &n, &err);
    if (st == ANC_OK) {
        if (!out || n > opts.max_output) abort();
        free(out);
    } else if (out != NULL || err.message[0] == '\0') {
        abort();
    }
    anc_template_free(t);
    json_decref(ctx);
    return 0;
}
