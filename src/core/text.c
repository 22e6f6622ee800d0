/* Text helpers (core/text.h). */
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

/* ---- strings ------------------------------------------------------------ */

char *anc_text_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int anc_text_is_space(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t anc_text_utf8_next(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;      /* no overlongs */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < n || u[1] < lo || u[1] > hi) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3F);
    }
    *cp = v;
    return n;
}

size_t anc_text_count_cps(const char *s, size_t len) {
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;
        } else {
            uint32_t cp;
            i += anc_text_utf8_next(s + i, len - i, &cp);
        }
        n++;
    }
    return n;
}

anc_status anc_text_decode(const char *s, size_t len, uint32_t **out, size_t *n, anc_error *err) {
    *out = NULL;
    *n = 0;
    uint32_t *cps = malloc((len ? len : 1) * sizeof *cps);
    if (!cps) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory decoding %zu bytes of text", len);
    size_t k = 0, i = 0;
    while (i < len) i += anc_text_utf8_next(s + i, len - i, &cps[k++]);
    *out = cps;
    *n = k;
    return ANC_OK;
}

/* Iterates words: returns 1 and sets [*ws, *we) for the next word at or after
 * *pos, advancing *pos past it; 0 when no word remains. */
static int next_word(const char *s, size_t len, size_t *pos, size_t *ws, size_t *we) {
    size_t i = *pos;
    uint32_t cp;
    while (i < len) {
        size_t k = anc_text_utf8_next(s + i, len - i, &cp);
        if (!anc_text_is_space(cp)) break;
        i += k;
    }
    if (i >= len) {
        *pos = len;
        return 0;
    }
    *ws = i;
    while (i < len) {
        size_t k = anc_text_utf8_next(s + i, len - i, &cp);
        if (anc_text_is_space(cp)) break;
        i += k;
    }
    *we = i;
    *pos = i;
    return 1;
}

size_t anc_text_count_words(const char *s, size_t len) {
    size_t pos = 0, ws, we, n = 0;
    while (next_word(s, len, &pos, &ws, &we)) n++;
    return n;
}

anc_status anc_text_split_words(const char *s, size_t len, anc_span **words, size_t *n, anc_error *err) {
    *words = NULL;
    *n = 0;
    size_t count = anc_text_count_words(s, len);
    if (count == 0) return ANC_OK;
    anc_span *w = malloc(count * sizeof *w);
    if (!w) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory splitting %zu words", count);
    size_t pos = 0, ws, we, k = 0;
    while (k < count && next_word(s, len, &pos, &ws, &we)) {
        w[k].p = s + ws;
        w[k].len = we - ws;
        k++;
    }
    *words = w;
    *n = k;
    return ANC_OK;
}

void anc_text_trim(const char **s, size_t *len) {
    const char *p = *s;
    size_t n = *len;
    uint32_t cp;
    while (n > 0) {
        size_t k = anc_text_utf8_next(p, n, &cp);
        if (!anc_text_is_space(cp)) break;
        p += k;
        n -= k;
    }
    while (n > 0) {
        /* step back to the start of the last code point (at most 4 bytes) */
        size_t start = n - 1;
        while (start > 0 && n - start < 4 && ((unsigned char)p[start] & 0xC0) == 0x80) start--;
        size_t k = anc_text_utf8_next(p + start, n - start, &cp);
        if (start + k != n) { /* not a whole sequence: the last byte alone */
            start = n - 1;
            anc_text_utf8_next(p + start, 1, &cp);
        }
        if (!anc_text_is_space(cp)) break;
        n = start;
    }
    *s = p;
    *len = n;
}
