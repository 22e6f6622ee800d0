/* libFuzzer target for the CLAIR reply parser (src/clair/revise.h), the
 * judge verdict parser (src/clair/judge.h) and, differentially, the text
 * helpers the statistics use (src/clair/stats.h).
 *
 * The input is a reviser reply; when it holds a 0x00 byte, the bytes before
 * it are the reply and the bytes after it the draft (the whole input, NULs
 * included, goes to the verdict parser and the text checks). Invariants checked (abort on
 * violation):
 *  - parse failure: ANC_ERR_FORMAT or ANC_ERR_NOMEM, a non-empty reason,
 *    no strings returned; success: a non-empty revision without leading or
 *    trailing ASCII whitespace, no longer than the reply, a rationale string.
 *  - the verdict parser returns A/B/tie on success and NONE with a reason on
 *    failure; the route check's parser (anc_clair_parse_verdict) gives
 *    PASS/FAIL with feedback no longer than the reply, or a reason and no
 *    feedback.
 *  - word counting agrees with word splitting; bit-parallel Levenshtein of
 *    the reply's two halves equals a plain DP (for inputs up to 512 bytes).
 * Seeds: fuzz/corpus/fuzz_revision_reply/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clair/judge.h"
#include "clair/revise.h"
#include "clair/stats.h"
#include "clair/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static size_t dp(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
    size_t *row = malloc((m + 1) * sizeof *row);
    if (!row) return (size_t)-1;
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}

static void check_text(const char *s, size_t size) {
    anc_error err;
    anc_error_clear(&err);
    anc_span *w = NULL;
    size_t n = 0;
    if (anc_text_split_words(s, size, &w, &n, &err) == ANC_OK && n != anc_text_count_words(s, size)) abort();
    free(w);
    if (size > 512) return;
    size_t half = size / 2;
    uint32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, d = 0;
    if (anc_text_decode(s, half, &a, &na, &err) == ANC_OK && anc_text_decode(s + half, size - half, &b, &nb, &err) == ANC_OK &&
        anc_levenshtein(a, na, b, nb, &d, &err) == ANC_OK && d != dp(a, na, b, nb))
        abort();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *reply = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    char *draft = NULL;
    if (nul) {
        size_t dn = size - (size_t)(nul - data) - 1;
        draft = malloc(dn + 1);
        if (!draft) return 0;
        memcpy(draft, nul + 1, dn);
        draft[dn] = '\0';
    }
    anc_error err;
    anc_error_clear(&err);
    anc_clair_reply r;
    size_t reply_len = nul ? (size_t)(nul - data) : size;
    anc_status st = anc_clair_parse_reply(reply, reply_len, draft, &r, &err);
    if (st == ANC_OK) {
        size_t n = r.revision ? strlen(r.revision) : 0;
        if (n == 0 || n > reply_len || !r.rationale) abort();
        if (ascii_space(r.revision[0]) || ascii_space(r.revision[n - 1])) abort();
        if (err.message[0] != '\0') abort();
        anc_clair_reply_free(&r);
    } else {
        if ((st != ANC_ERR_FORMAT && st != ANC_ERR_NOMEM) || err.message[0] == '\0') abort();
        if (r.revision || r.rationale) abort();
    }
    free(draft);

    anc_verdict v = ANC_VERDICT_NONE;
    anc_error_clear(&err);
    st = anc_judge_parse(reply, size, &v, &err);
    if (st == ANC_OK && v != ANC_VERDICT_A && v != ANC_VERDICT_B && v != ANC_VERDICT_TIE) abort();
    if (st != ANC_OK && (v != ANC_VERDICT_NONE || err.message[0] == '\0')) abort();

    /* the route check's verdict (VERDICT: PASS|FAIL on the last line) */
    int passed = -1;
    char *fb = NULL;
    anc_error_clear(&err);
    st = anc_clair_parse_verdict(reply, size, &passed, &fb, &err);
    if (st == ANC_OK && ((passed != 0 && passed != 1) || !fb || strlen(fb) > size)) abort();
    if (st != ANC_OK && (fb || err.message[0] == '\0')) abort();
    free(fb);

    check_text(reply, size);
    return 0;
}
