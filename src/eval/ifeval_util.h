/* Private helpers of the IFEval checks (ifeval_text.c, ifeval_format.c):
 * Python str semantics (lower, isupper, islower, \w), the official
 * count_words and approximations of nltk's punkt sentence count and
 * word_tokenize (ifeval_util.c), and Python `re` through PCRE2
 * (ifeval_regex.c). Pure functions over caller memory; no global mutable
 * state. Not part of the public interface. */
#ifndef ANCHOR_EVAL_IFEVAL_UTIL_H
#define ANCHOR_EVAL_IFEVAL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

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

/* Compiles pattern with Python re semantics as far as PCRE2 has them: UTF,
 * UCP, LF as the only newline, plus flags (PCRE2_MULTILINE,
 * PCRE2_CASELESS, PCRE2_MATCH_INVALID_UTF). what names the check in errors;
 * a bad pattern is ANC_ERR_FORMAT (patterns come from kwargs). */
anc_status ifx_rx_compile(const char *pattern, uint32_t flags, const char *what, pcre2_code **out, anc_error *err);

/* Called for each match [b, e) of subject; nonzero stops the scan. */
typedef int (*ifx_rx_visit_fn)(const char *subject, size_t b, size_t e, void *ctx);

/* Visits the non-overlapping matches of re in subject left to right, as
 * re.findall / re.finditer find them (an empty match is retried as a
 * non-empty one at the same place, then the scan steps one character);
 * *count receives the number visited. A subject that is not valid UTF-8
 * is ANC_ERR_INVALID unless re was compiled with PCRE2_MATCH_INVALID_UTF. */
anc_status ifx_rx_scan(const pcre2_code *re, const char *subject, const char *what, ifx_rx_visit_fn visit, void *ctx,
                       size_t *count, anc_error *err);

/* Number of matches of pattern (compiled with flags) in subject, as
 * len(re.findall(...)); with first_only at most 1, as re.search. */
anc_status ifx_rx_count(const char *pattern, uint32_t flags, const char *subject, int first_only, const char *what,
                        size_t *count, anc_error *err);

#endif
