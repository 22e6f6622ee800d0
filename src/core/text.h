/* Text helpers over caller memory: copies, UTF-8 decoding to code points
 * (invalid bytes as U+FFFD), Python's str.isspace()/str.split() rules,
 * trimming. Pure functions; no global state. */
#ifndef ANCHOR_CORE_TEXT_H
#define ANCHOR_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

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

#endif
