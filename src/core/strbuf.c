/* The growable string buffer (core/strbuf.h). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable string buffer ------------------------------------------- */

void anc_sbuf_init(anc_sbuf *b) { memset(b, 0, sizeof *b); }

static anc_status sbuf_reserve(anc_sbuf *b, size_t extra) {
    if (b->oom) return ANC_ERR_NOMEM;
    if (extra > (size_t)-1 - b->len - 1) {
        b->oom = 1;
        return ANC_ERR_NOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return ANC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return ANC_ERR_NOMEM;
    }
    b->data = d;
    b->cap = cap;
    return ANC_OK;
}

anc_status anc_sbuf_reserve(anc_sbuf *b, size_t extra) { return sbuf_reserve(b, extra); }

anc_status anc_sbuf_append(anc_sbuf *b, const char *s, size_t n) {
    int cut = 0;
    if (b->max && n > b->max - b->len) {
        n = b->max - b->len;
        cut = b->truncated = 1;
    }
    if (sbuf_reserve(b, n)) return ANC_ERR_NOMEM;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return cut ? ANC_ERR_INVALID : ANC_OK;
}

anc_status anc_sbuf_puts(anc_sbuf *b, const char *s) { return anc_sbuf_append(b, s, strlen(s)); }

anc_status anc_sbuf_putc(anc_sbuf *b, char c) { return anc_sbuf_append(b, &c, 1); }

anc_status anc_sbuf_printf(anc_sbuf *b, const char *fmt, ...) {
    if (b->oom) return ANC_ERR_NOMEM;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return ANC_ERR_NOMEM;
    }
    if (sbuf_reserve(b, (size_t)n)) return ANC_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    size_t add = (size_t)n;
    int cut = 0;
    if (b->max && add > b->max - b->len) {
        add = b->max - b->len;
        cut = b->truncated = 1;
    }
    b->len += add;
    b->data[b->len] = '\0';
    return cut ? ANC_ERR_INVALID : ANC_OK;
}

const char *anc_sbuf_str(const anc_sbuf *b) { return b->data ? b->data : ""; }

char *anc_sbuf_take(anc_sbuf *b) {
    if (b->oom) {
        anc_sbuf_free(b);
        return NULL;
    }
    if (!b->data && sbuf_reserve(b, 0)) return NULL;
    b->data[b->len] = '\0';
    char *s = b->data;
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
    return s;
}

void anc_sbuf_free(anc_sbuf *b) {
    free(b->data);
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
}
