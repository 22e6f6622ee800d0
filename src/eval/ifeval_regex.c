/* The regex side of the IFEval checks (ifeval_util.h): Python `re` as far
 * as PCRE2 has it, one compile and one scan for both checker files. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval/ifeval_util.h"

#include <string.h>

/* ---- regex helpers ------------------------------------------------------ */

/* Compiles pattern (Python re semantics as far as PCRE2 has them): UTF,
 * UCP, LF as the only newline, plus flags (PCRE2_MULTILINE). what names the
 * check in errors; a bad pattern is ANC_ERR_FORMAT (it comes from kwargs). */
anc_status ifx_rx_compile(const char *pattern, uint32_t flags, const char *what, pcre2_code **out, anc_error *err) {
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", what);
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int code;
    PCRE2_SIZE off;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | flags, &code, &off, cc);
    pcre2_compile_context_free(cc);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: pattern '%s' at offset %zu: %s", what, pattern, (size_t)off,
                             (char *)msg);
    }
    return ANC_OK;
}

/* Visits the non-overlapping matches of re in subject left to right, as
 * re.findall / re.split find them (an empty match is retried as a
 * non-empty one at the same place, then the scan steps one character).
 * *count receives the number of matches visited. */
anc_status ifx_rx_scan(const pcre2_code *re, const char *subject, const char *what, ifx_rx_visit_fn visit, void *ctx,
                          size_t *count, anc_error *err) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", what);
    size_t len = strlen(subject), start = 0, n = 0;
    uint32_t opts = 0;
    anc_status st = ANC_OK;
    for (;;) {
        int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, start, opts, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts || start >= len) break;
            /* no non-empty match here: step one character and go on */
            start++;
            while (start < len && ((unsigned char)subject[start] & 0xc0) == 0x80) start++;
            opts = 0;
            continue;
        }
        if (rc < 0) {
            if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
                st = anc_error_set(err, ANC_ERR_INVALID, "%s: the response is not valid UTF-8 (PCRE2 error %d)", what, rc);
            else
                st = anc_error_set(err, ANC_ERR_INVALID, "%s: matching failed (PCRE2 error %d)", what, rc);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        n++;
        if (visit && visit(subject, ov[0], ov[1], ctx)) break;
        start = ov[1];
        opts = ov[0] == ov[1] ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
        if (start > len) break;
    }
    pcre2_match_data_free(md);
    *count = n;
    return st;
}

static int stop_at_first(const char *subject, size_t b, size_t e, void *ctx) {
    (void)subject, (void)b, (void)e, (void)ctx;
    return 1;
}

anc_status ifx_rx_count(const char *pattern, uint32_t flags, const char *subject, int first_only, const char *what,
                        size_t *count, anc_error *err) {
    pcre2_code *re = NULL;
    anc_status st = ifx_rx_compile(pattern, flags, what, &re, err);
    if (st) return st;
    st = ifx_rx_scan(re, subject, what, first_only ? stop_at_first : NULL, NULL, count, err);
    pcre2_code_free(re);
    return st;
}
