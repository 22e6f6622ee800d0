/* Private helpers of ifeval_text.c: Python str semantics (lower, isupper,
 * islower, \w), the official count_words, and approximations of nltk's
 * punkt sentence count and word_tokenize. Pure functions over caller
 * memory; no global mutable state. Not part of the public interface. */
#ifndef ANCHOR_EVAL_IFEVAL_TEXT_UTIL_H
#define ANCHOR_EVAL_IFEVAL_TEXT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Python's str.lower() of UTF-8 s[0..len) into a malloc'd NUL-terminated
 * string (*out). ASCII exact; others by utf8proc's simple lowercase mapping
 * plus U+0130 -> "i\u0307" and the Final_Sigma rule (approximated: a capital
 * sigma preceded by a letter and not followed by one becomes U+03C2). */
anc_status ifx_lower(const char *s, size_t len, char **out, anc_error *err);

/* Python's Unicode \w for one code point: letters (L*), numbers (N*) and
 * '_' (str.isalnum() or '_'). */
int ifx_is_word(uint32_t cp);

/* Python's str.isupper()/str.islower() over UTF-8 s[0..len). */
int ifx_isupper(const char *s, size_t len);
int ifx_islower(const char *s, size_t len);

/* Per-code-point case classes used by the two above. */
int ifx_cp_upper(uint32_t cp);
int ifx_cp_lower(uint32_t cp);

/* Official count_words: number of maximal runs of \w (RegexpTokenizer). */
size_t ifx_count_words(const char *s, size_t len);

/* Approximation of the official count_sentences (punkt English). */
anc_status ifx_count_sentences(const char *s, size_t len, size_t *n, anc_error *err);

/* Approximation of the number of nltk.word_tokenize tokens t with
 * t.isupper(). */
anc_status ifx_count_upper_tokens(const char *s, size_t len, size_t *n, anc_error *err);

#endif
