/* Normalizers of tokenizer.json: Prepend, Replace, NFC/NFD/NFKC/NFKD
 * (utf8proc), Lowercase, Strip, StripAccents, ByteLevel and Sequence. Each
 * maps a UTF-8 string to a new one; offsets are not tracked (anchor only
 * needs ids). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tk_internal.h"

static anc_status replace_matches(anc_tokenizer *tok, const anc_tk_regex *re, const char *content, size_t clen,
                                  const char *s, size_t len, anc_tk_buf *out, anc_error *err) {
    anc_tk_spans sp = {0};
    anc_status st = anc_tk_regex_spans(re, tok->md, s, len, &sp, err);
    for (size_t i = 0; !st && i < sp.n; i++) {
        if (sp.v[i].flag) st = anc_tk_buf_append(out, content, clen, err);
        else st = anc_tk_buf_append(out, s + sp.v[i].start, sp.v[i].end - sp.v[i].start, err);
    }
    anc_tk_spans_free(&sp);
    return st;
}

static anc_status unicode_form(int kind, const char *s, size_t len, anc_tk_buf *out, anc_error *err) {
    if (len == 0) return ANC_OK;
    int opts = UTF8PROC_STABLE;
    if (kind == ANC_TK_N_NFC || kind == ANC_TK_N_NFKC) opts |= UTF8PROC_COMPOSE;
    else opts |= UTF8PROC_DECOMPOSE;
    if (kind == ANC_TK_N_NFKC || kind == ANC_TK_N_NFKD) opts |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *dst = NULL;
    if (len > (size_t)PTRDIFF_MAX) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: text too large");
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, (utf8proc_option_t)opts);
    if (n < 0) {
        return anc_error_set(err, n == UTF8PROC_ERROR_NOMEM ? ANC_ERR_NOMEM : ANC_ERR_INVALID,
                             "tokenizer: Unicode normalization failed: %s", utf8proc_errmsg(n));
    }
    anc_status st = anc_tk_buf_append(out, dst, (size_t)n, err);
    free(dst);
    return st;
}

/* HF lowercases character by character (Rust char::to_lowercase): simple
 * mappings plus U+0130 -> "i\u0307"; no final-sigma rule. */
static anc_status lowercase(const char *s, size_t len, anc_tk_buf *out, anc_error *err) {
    anc_status st = anc_tk_buf_reserve(out, len + 8, err);
    size_t i = 0;
    while (!st && i < len) {
        uint32_t c = anc_tk_utf8_next(s, len, &i);
        char u[8];
        size_t n;
        if (c < 0x80) {
            u[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            n = 1;
        } else if (c == 0x130) {
            n = anc_tk_utf8_put('i', u);
            n += anc_tk_utf8_put(0x307, u + n);
        } else {
            n = anc_tk_utf8_put((uint32_t)utf8proc_tolower((utf8proc_int32_t)c), u);
        }
        st = anc_tk_buf_append(out, u, n, err);
    }
    return st;
}

static anc_status strip(const char *s, size_t len, int left, int right, anc_tk_buf *out, anc_error *err) {
    size_t a = 0, e = len;
    if (left) {
        while (a < len) {
            size_t k = a;
            if (!anc_tk_is_whitespace(anc_tk_utf8_next(s, len, &k))) break;
            a = k;
        }
    }
    if (right) {
        while (e > a) {
            size_t p = e - 1;
            while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
            size_t k = p;
            if (!anc_tk_is_whitespace(anc_tk_utf8_next(s, len, &k))) break;
            e = p;
        }
    }
    return anc_tk_buf_append(out, s + a, e - a, err);
}

static anc_status strip_accents(const char *s, size_t len, anc_tk_buf *out, anc_error *err) {
    size_t i = 0;
    anc_status st = ANC_OK;
    while (!st && i < len) {
        size_t b = i;
        uint32_t c = anc_tk_utf8_next(s, len, &i);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
        if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME) continue;
        st = anc_tk_buf_append(out, s + b, i - b, err);
    }
    return st;
}

static anc_status byte_level(const anc_tokenizer *tok, const char *s, size_t len, anc_tk_buf *out,
                             anc_error *err) {
    anc_status st = anc_tk_buf_reserve(out, len * 2, err);
    for (size_t i = 0; !st && i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        st = anc_tk_buf_append(out, tok->byte_char[b], tok->byte_char_len[b], err);
    }
    return st;
}

anc_status anc_tk_normalize(anc_tokenizer *tok, const anc_tk_normalizer *n, const char *s, size_t len,
                            anc_tk_buf *out, anc_error *err) {
    out->len = 0;
    anc_status st = anc_tk_buf_reserve(out, len, err);
    if (st) return st;
    out->data[0] = '\0';
    switch (n->kind) {
    case ANC_TK_N_SEQUENCE: {
        anc_tk_buf a = {0}, b = {0};
        st = anc_tk_buf_append(&a, s, len, err);
        for (size_t k = 0; !st && k < n->n_kids; k++) {
            st = anc_tk_normalize(tok, &n->kids[k], a.data, a.len, &b, err);
            anc_tk_buf t = a;
            a = b;
            b = t;
        }
        if (!st) st = anc_tk_buf_append(out, a.data, a.len, err);
        anc_tk_buf_free(&a);
        anc_tk_buf_free(&b);
        return st;
    }
    case ANC_TK_N_PREPEND:
        if (len && (st = anc_tk_buf_append(out, n->str, n->str_len, err))) return st;
        return anc_tk_buf_append(out, s, len, err);
    case ANC_TK_N_REPLACE:
        return replace_matches(tok, &n->re, n->str, n->str_len, s, len, out, err);
    case ANC_TK_N_NFC:
    case ANC_TK_N_NFD:
    case ANC_TK_N_NFKC:
    case ANC_TK_N_NFKD:
        return unicode_form(n->kind, s, len, out, err);
    case ANC_TK_N_LOWERCASE:
        return lowercase(s, len, out, err);
    case ANC_TK_N_STRIP:
        return strip(s, len, n->left, n->right, out, err);
    case ANC_TK_N_STRIP_ACCENTS:
        return strip_accents(s, len, out, err);
    case ANC_TK_N_BYTE_LEVEL:
        return byte_level(tok, s, len, out, err);
    default:
        return anc_error_set(err, ANC_ERR_INTERNAL, "tokenizer: unknown normalizer kind %d", n->kind);
    }
}

void anc_tk_normalizer_free(anc_tk_normalizer *n) {
    if (!n) return;
    for (size_t k = 0; k < n->n_kids; k++) anc_tk_normalizer_free(&n->kids[k]);
    free(n->kids);
    free(n->str);
    anc_tk_regex_free(&n->re);
    n->kids = NULL;
    n->n_kids = 0;
    n->str = NULL;
}
