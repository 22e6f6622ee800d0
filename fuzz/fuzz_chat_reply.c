/* libFuzzer target for the OpenAI chat-completion reply parser
 * (anc_llm_parse_chat_reply), plus the helpers that handle the same
 * untrusted bytes: the error-message excerpt (with API-key scrubbing) and
 * the Retry-After parser. Invariants: a success has text and raw JSON, a
 * failure leaves the reply empty and explains itself, an excerpt is bounded
 * and never holds the key. Seeds: fuzz/corpus/fuzz_chat_reply/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/llm.h"
#include "llm/llm_internal.h"

#define FAKE_KEY "sk-fuzz-KEY-42"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    anc_llm_reply r;
    anc_error err;
    anc_error_clear(&err);
    if (anc_llm_parse_chat_reply((const char *)data, size, &r, &err) == ANC_OK) {
        if (!r.text || !r.raw) abort();
        (void)strlen(r.text);
        if (r.finish_reason) (void)strlen(r.finish_reason);
        anc_llm_reply_free(&r);
    } else {
        if (r.text || r.raw || r.finish_reason || err.message[0] == '\0') abort();
    }

    anc_llm fake;
    memset(&fake, 0, sizeof fake);
    fake.api_key = (char *)FAKE_KEY;
    char out[96];
    anc_llm_excerpt(&fake, (const char *)data, size, 60, out, sizeof out);
    if (strlen(out) > 63 + 10 || strstr(out, FAKE_KEY)) abort();

    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    double d = anc_llm_parse_retry_after(s, (time_t)1700000000);
    if (!(d == -1 || d >= 0)) abort();
    free(s);
    return 0;
}
