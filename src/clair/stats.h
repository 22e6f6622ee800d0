/* Contrast statistics of preference datasets (design notes §1.1; Table 1 of
 * arXiv 2408.06266): how much chosen and rejected responses of a pair
 * differ. CLAIR pairs are minimal revisions, so their word sets overlap more
 * (higher Jaccard) and fewer characters change (lower Levenshtein) than
 * judge-selected pairs.
 *
 * Definitions (per pair, then averaged over the dataset):
 *  - characters: Unicode code points of the UTF-8 text (invalid bytes count
 *    one each, see anc_text_utf8_next); words: whitespace-split as Python's
 *    str.split() (anc_text_split_words).
 *  - Jaccard: |W(c) ∩ W(r)| / |W(c) ∪ W(r)| over the SETS of words (exact,
 *    case-sensitive byte comparison); 1 when both texts have no words.
 *  - token Jaccard: the same over sets of token ids, when the caller gives
 *    them (anc_contrast_add_tokens).
 *  - Levenshtein: unit-cost insert/delete/substitute distance between the
 *    code-point sequences, computed exactly with Myers' bit-parallel
 *    algorithm in Hyyrö's multi-word block form (O(ceil(m/64)·n) word
 *    operations; a 20K x 20K pair takes milliseconds).
 *  - identical: chosen and rejected are the same bytes.
 * Medians of an even count are the mean of the two middle values.
 */
#ifndef ANCHOR_CLAIR_STATS_H
#define ANCHOR_CLAIR_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "clair/text.h"
#include "core/error.h"

/* Levenshtein distance between code-point sequences a[0..na) and b[0..nb)
 * into *out. Exact; memory O(min(na, nb)) words. Errors only on allocation
 * failure. */
anc_status anc_levenshtein(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *out, anc_error *err);
/* Same on UTF-8 texts (decoded to code points first). */
anc_status anc_levenshtein_utf8(const char *a, size_t alen, const char *b, size_t blen, size_t *out, anc_error *err);

/* Jaccard similarity of the word sets of two UTF-8 texts into *out. */
anc_status anc_word_jaccard(const char *a, size_t alen, const char *b, size_t blen, double *out, anc_error *err);
/* Jaccard similarity of two sets of token ids (duplicates ignored). */
anc_status anc_token_jaccard(const int32_t *a, size_t na, const int32_t *b, size_t nb, double *out, anc_error *err);

typedef struct anc_length_stats {
    double mean, median;
} anc_length_stats;

typedef struct anc_contrast_stats {
    size_t rows;
    anc_length_stats chosen_chars, rejected_chars;   /* code points */
    anc_length_stats chosen_words, rejected_words;   /* whitespace-split words */
    double jaccard;            /* mean word-set Jaccard of chosen vs rejected */
    double levenshtein;        /* mean character-level edit distance */
    double identical_share;    /* share of pairs with chosen == rejected */
    size_t token_rows;         /* pairs that had token ids (0: no token Jaccard) */
    double token_jaccard;      /* mean token-set Jaccard over those pairs */
} anc_contrast_stats;

/* Accumulates pairs of one dataset. Not thread-safe; one per dataset. */
typedef struct anc_contrast anc_contrast;

anc_status anc_contrast_create(anc_contrast **out, anc_error *err);
void anc_contrast_free(anc_contrast *c);
/* Adds one pair's texts (UTF-8, lengths in bytes). */
anc_status anc_contrast_add(anc_contrast *c, const char *chosen, size_t chosen_len, const char *rejected,
                            size_t rejected_len, anc_error *err);
/* Adds the token ids of a pair for the token-set Jaccard (call it for the
 * pairs that have ids, in any order relative to anc_contrast_add). */
anc_status anc_contrast_add_tokens(anc_contrast *c, const int32_t *chosen, size_t n_chosen, const int32_t *rejected,
                                   size_t n_rejected, anc_error *err);
/* The statistics so far (all zero for an empty dataset). */
anc_status anc_contrast_result(const anc_contrast *c, anc_contrast_stats *out, anc_error *err);

/* Appends a Markdown table with one row per dataset (names[i], stats[i])
 * like the paper's Table 1: rows, chosen/rejected characters and words
 * (mean / median), Jaccard, Levenshtein, identical share, and token Jaccard
 * when any dataset has it; then a legend line. Columns are padded to align. */
anc_status anc_contrast_table(const char *const *names, const anc_contrast_stats *stats, size_t n, anc_sbuf *out,
                              anc_error *err);

/* The statistics as a new JSON object (caller json_decref's), NULL when out
 * of memory: {"rows", "chosen_chars": {"mean","median"}, "rejected_chars",
 * "chosen_words", "rejected_words", "jaccard", "levenshtein",
 * "identical_share", and "token_jaccard" + "token_rows" when present}. */
json_t *anc_contrast_json(const anc_contrast_stats *s);

#endif
