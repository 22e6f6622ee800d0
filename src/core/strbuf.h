/* A growable NUL-terminated string buffer with sticky out-of-memory, the
 * one string builder of the library (reports, prompts, statistics,
 * imports). */
#ifndef ANCHOR_CORE_STRBUF_H
#define ANCHOR_CORE_STRBUF_H

#include <stddef.h>

#include "core/error.h"

/* ---- growable string buffer ------------------------------------------- */

/* A NUL-terminated byte string that grows on demand. Zero-initialise it
 * (anc_sbuf b = {0}) or call anc_sbuf_init; set max to bound it (a reply
 * read from a backend). Out of memory is sticky: once an append fails,
 * every later append is a no-op returning ANC_ERR_NOMEM, so a caller may
 * append many pieces and check only b.oom (or the last status). An append
 * that would pass max keeps what fits, sets truncated and returns
 * ANC_ERR_INVALID. */
typedef struct anc_sbuf {
    char *data;     /* NULL until the first append; NUL-terminated after it */
    size_t len;     /* bytes, excluding the NUL */
    size_t cap;     /* allocated bytes */
    int oom;        /* 1 after an allocation failed */
    size_t max;     /* 0: no limit; else len never exceeds it */
    int truncated;  /* 1 after an append was cut at max */
} anc_sbuf;

void anc_sbuf_init(anc_sbuf *b);
/* Makes room for extra more bytes (plus the NUL kept after len), for a
 * caller that writes into data + len itself. ANC_OK or ANC_ERR_NOMEM. */
anc_status anc_sbuf_reserve(anc_sbuf *b, size_t extra);
/* Appends n bytes of s (which may hold NULs). Returns ANC_OK, ANC_ERR_NOMEM,
 * or ANC_ERR_INVALID when max cut it. The other appends return the same. */
anc_status anc_sbuf_append(anc_sbuf *b, const char *s, size_t n);
/* Appends the NUL-terminated string s. */
anc_status anc_sbuf_puts(anc_sbuf *b, const char *s);
anc_status anc_sbuf_putc(anc_sbuf *b, char c);
/* Appends printf-style formatted text. */
anc_status anc_sbuf_printf(anc_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" when nothing was appended). Valid until the
 * next append or free. */
const char *anc_sbuf_str(const anc_sbuf *b);
/* Hands the malloc'd NUL-terminated contents to the caller (caller frees)
 * and resets b to empty (its max is kept). Returns NULL when out of memory
 * (or b.oom). */
char *anc_sbuf_take(anc_sbuf *b);
/* Frees the contents and resets b to empty, keeping its max. */
void anc_sbuf_free(anc_sbuf *b);

#endif
