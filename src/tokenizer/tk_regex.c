/* Regex matching (PCRE2 with UTF + UCP, JIT when available) and HF's
 * split machinery: Pattern::find_matches and SplitDelimiterBehavior. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

anc_status anc_tk_regex_compile(anc_tk_regex *re, const char *pattern, size_t len, int literal,
                                const char *where, anc_error *err) {
    memset(re, 0, sizeof *re);
    int ec = 0;
    PCRE2_SIZE eo = 0;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ec, &eo, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", ec);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: invalid regex at pattern offset %zu: %s", where, (size_t)eo,
                             (const char *)msg);
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    return ANC_OK;
}

void anc_tk_regex_free(anc_tk_regex *re) {
    if (re->code) pcre2_code_free(re->code);
    re->code = NULL;
}

/* One search from start. 1 with [*ms, *me) on a match, 0 on none. */
static anc_status search(const anc_tk_regex *re, pcre2_match_data *md, const char *s, size_t len, size_t start,
                         size_t *ms, size_t *me, int *found, anc_error *err) {
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        *found = 0;
        return ANC_OK;
    }
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", rc);
        return anc_error_set(err, ANC_ERR_INVALID, "tokenizer regex failed at input byte %zu: %s", start,
                             (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    if (*me < *ms) *me = *ms; /* \K lookbehind tricks: treat as empty */
    *found = 1;
    return ANC_OK;
}

anc_status anc_tk_regex_spans(const anc_tk_regex *re, pcre2_match_data *md, const char *s, size_t len,
                              anc_tk_spans *out, anc_error *err) {
    out->n = 0;
    if (len == 0) return anc_tk_spans_push(out, 0, 0, 0, err);
    size_t prev = 0, pos = 0, last_match_end = 0;
    int have_last = 0;
    anc_status st;
    while (pos <= len) {
        size_t ms, me;
        int found;
        st = search(re, md, s, len, pos, &ms, &me, &found, err);
        if (st) return st;
        if (!found) break;
        if (ms == me && have_last && last_match_end == me) {
            /* Oniguruma iteration: no empty match right after the previous one */
            pos += pos < len ? anc_tk_utf8_seq_len((unsigned char)s[pos]) : 1;
            continue;
        }
        pos = me;
        last_match_end = me;
        have_last = 1;
        if (prev != ms) {
            st = anc_tk_spans_push(out, prev, ms, 0, err);
            if (st) return st;
        }
        st = anc_tk_spans_push(out, ms, me, 1, err);
        if (st) return st;
        prev = me;
    }
    if (prev != len) return anc_tk_spans_push(out, prev, len, 0, err);
    return ANC_OK;
}

anc_status anc_tk_pred_spans(anc_tk_char_pred pred, const void *ctx, const char *s, size_t len,
                             anc_tk_spans *out, anc_error *err) {
    out->n = 0;
    if (len == 0) return anc_tk_spans_push(out, 0, 0, 0, err);
    size_t last = 0, i = 0;
    anc_status st;
    while (i < len) {
        size_t b = i;
        uint32_t c = anc_tk_utf8_next(s, len, &i);
        if (pred(c, ctx)) {
            if (last < b) {
                st = anc_tk_spans_push(out, last, b, 0, err);
                if (st) return st;
            }
            st = anc_tk_spans_push(out, b, i, 1, err);
            if (st) return st;
            last = i;
        }
    }
    if (len > last) return anc_tk_spans_push(out, last, len, 0, err);
    return ANC_OK;
}

void anc_tk_spans_apply(anc_tk_spans *s, anc_tk_behavior behavior, int invert) {
    if (invert)
        for (size_t i = 0; i < s->n; i++) s->v[i].flag = !s->v[i].flag;
    size_t w = 0;
    int prev_match = 0;
    switch (behavior) {
    case ANC_TK_REMOVED:
        break; /* flag = is_match = remove */
    case ANC_TK_ISOLATED:
        for (size_t i = 0; i < s->n; i++) s->v[i].flag = 0;
        break;
    case ANC_TK_CONTIGUOUS:
        for (size_t i = 0; i < s->n; i++) {
            int m = s->v[i].flag;
            if (m == prev_match && w > 0) s->v[w - 1].end = s->v[i].end;
            else s->v[w++] = (anc_tk_span){s->v[i].start, s->v[i].end, 0};
            prev_match = m;
        }
        s->n = w;
        break;
    case ANC_TK_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < s->n; i++) {
            int m = s->v[i].flag;
            if (m && !prev_match && w > 0) s->v[w - 1].end = s->v[i].end;
            else s->v[w++] = (anc_tk_span){s->v[i].start, s->v[i].end, 0};
            prev_match = m;
        }
        s->n = w;
        break;
    case ANC_TK_MERGED_WITH_NEXT: {
        /* walk backwards, building the result from the end of the array */
        size_t r = s->n;
        for (size_t k = s->n; k-- > 0;) {
            anc_tk_span sp = s->v[k];
            int m = sp.flag;
            if (m && !prev_match && r < s->n) s->v[r].start = sp.start;
            else s->v[--r] = (anc_tk_span){sp.start, sp.end, 0};
            prev_match = m;
        }
        memmove(s->v, s->v + r, (s->n - r) * sizeof *s->v);
        s->n -= r;
        break;
    }
    }
}
