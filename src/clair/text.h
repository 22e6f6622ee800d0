/* Text helpers for the CLAIR modules: a growable string buffer, UTF-8
 * decoding to code points, whitespace-split words (Python's str.split()
 * rules), trimming, and single-pass {placeholder} substitution for prompt
 * templates. Pure functions over caller memory; no global state. */
#ifndef ANCHOR_CLAIR_TEXT_H
#define ANCHOR_CLAIR_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* ---- growable string buffer ------------------------------------------- */

/* A NUL-terminated byte string that grows on demand. Zero-initialise it
 * (anc_sbuf b = {0}) or call anc_sbuf_init. Out of memory is sticky: once an
 * append fails, every later append is a no-op returning ANC_ERR_NOMEM, so a
 * caller may append many pieces and check only b.oom (or the last status). */
typedef struct anc_sbuf {
    char *data;   /* NULL until the first append; NUL-terminated after it */
    size_t len;   /* bytes, excluding the NUL */
    size_t cap;   /* allocated bytes */
    int oom;      /* 1 after an allocation failed */
} anc_sbuf;

void anc_sbuf_init(anc_sbuf *b);
/* Appends n bytes of s (which may hold NULs). Returns ANC_OK or ANC_ERR_NOMEM. */
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
 * and resets b to empty. Returns NULL when out of memory (or b.oom). */
char *anc_sbuf_take(anc_sbuf *b);
void anc_sbuf_free(anc_sbuf *b);

/* ---- strings ------------------------------------------------------------ */

/* malloc'd NUL-terminated copy of n bytes of s; NULL when out of memory. */
char *anc_text_dup(const char *s, size_t n);

/* 1 when code point cp is whitespace by Python's str.isspace() (the rule
 * str.split() uses): \t \n \v \f \r, U+001C..U+001F, space, U+0085, U+00A0,
 * U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
int anc_text_is_space(uint32_t cp);

/* Decodes the UTF-8 sequence at s[0..len) (len >= 1) into *cp and returns
 * its length in bytes (1..4). Invalid or truncated sequences, overlongs,
 * surrogates and values above U+10FFFF decode as U+FFFD consuming exactly
 * one byte, so every byte string has a well-defined code-point sequence. */
size_t anc_text_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Number of code points in s[0..len) under the decoding rule above. */
size_t anc_text_count_cps(const char *s, size_t len);

/* Decodes s[0..len) into a malloc'd array of code points (*out, caller
 * frees; never NULL on success, even for len 0) of *n entries. */
anc_status anc_text_decode(const char *s, size_t len, uint32_t **out, size_t *n, anc_error *err);

/* A byte range inside some caller-owned text. */
typedef struct anc_span {
    const char *p;
    size_t len;
} anc_span;

/* Words of s[0..len): maximal runs of non-whitespace code points
 * (anc_text_is_space), as Python's s.split(). *words is malloc'd (caller
 * frees; may be NULL when *n == 0) and points into s. */
anc_status anc_text_split_words(const char *s, size_t len, anc_span **words, size_t *n, anc_error *err);
/* Number of words anc_text_split_words would return (no allocation). */
size_t anc_text_count_words(const char *s, size_t len);

/* Narrows [*s, *s + *len) by dropping leading and trailing whitespace
 * (anc_text_is_space). */
void anc_text_trim(const char **s, size_t *len);

/* ---- prompt templates --------------------------------------------------- */

/* One placeholder: "{name}" in a template is replaced by value. */
typedef struct anc_text_var {
    const char *name;   /* without braces, e.g. "input" */
    const char *value;  /* NUL-terminated replacement text */
} anc_text_var;

/* Renders tmpl into a malloc'd string (*out, caller frees). Every exact
 * occurrence of "{name}" for a name in vars is replaced by its value; all
 * other text, including other braces such as "{task}", is copied literally.
 * Substitution is a single left-to-right pass: inserted values are never
 * scanned again, so a value that itself contains "{output}" stays as is. */
anc_status anc_text_fill(const char *tmpl, const anc_text_var *vars, size_t n_vars, char **out, anc_error *err);

/* Loads a template file (at most 1 MiB, valid UTF-8 not required) into a
 * malloc'd string (*out, caller frees). One trailing newline ("\n" or
 * "\r\n") that editors add is dropped. Each of the n_required names must
 * occur as "{name}" at least once; otherwise ANC_ERR_FORMAT names the file
 * and the missing placeholder. */
anc_status anc_text_template_load(const char *path, const char *const *required, size_t n_required, char **out,
                                  anc_error *err);

/* Checks that tmpl holds each required "{name}"; label names it in errors. */
anc_status anc_text_template_check(const char *tmpl, const char *const *required, size_t n_required,
                                   const char *label, anc_error *err);

#endif
