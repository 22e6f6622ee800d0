/* IFEval (Zhou et al. 2023, arXiv 2311.07911): verifiable instructions
 * ("no commas", "at least 300 words", "wrap the answer in JSON", ...) checked
 * exactly as the official evaluator (google-research
 * instruction_following_eval) checks them, strict and loose.
 *
 * Each instruction type is one check function over the response, with the
 * instruction's kwargs as input_data.jsonl gives them (only the non-null,
 * non-falsy entries count, as the official code filters them) and the
 * prompt (combination:repeat_prompt compares against it). The types are
 * split over two files by what they look at: ifeval_text.c (punctuation,
 * length_constraints, keywords, change_case, startend, combination) and
 * ifeval_format.c (detectable_format, detectable_content, language).
 * ifeval.c holds the registry, the loose variants and the aggregation.
 * No global mutable state. */
#ifndef ANCHOR_EVAL_IFEVAL_H
#define ANCHOR_EVAL_IFEVAL_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

/* Sets *followed to 1 when response follows the instruction with kwargs
 * (a JSON object, possibly empty, never NULL), else 0. prompt is the
 * prompt text. Errors: ANC_ERR_FORMAT for kwargs the type cannot use (a
 * missing or mistyped required argument, naming it), ANC_ERR_NOMEM. A
 * response the check cannot parse (bad JSON for json_format) is not an
 * error: it does not follow. */
typedef anc_status (*anc_ifeval_check_fn)(const json_t *kwargs, const char *prompt, const char *response,
                                          int *followed, anc_error *err);

typedef struct anc_ifeval_kind {
    const char *id;            /* "punctuation:no_comma" */
    anc_ifeval_check_fn check;
} anc_ifeval_kind;

/* The types of ifeval_text.c and ifeval_format.c; each ends with {NULL}. */
extern const anc_ifeval_kind anc_ifeval_text_kinds[];
extern const anc_ifeval_kind anc_ifeval_format_kinds[];

/* The type called id, or NULL. */
const anc_ifeval_kind *anc_ifeval_find(const char *id);

/* Whether response follows instruction id, strictly (the response as
 * given) and loosely (any of the official eight variants: the response,
 * the response without its first line, without its last line, without both
 * (each of those three stripped), and each of the four with every '*'
 * removed; a variant that is blank never follows). kwargs as the input row
 * gives them (NULL, and null/false/0/"" entries, dropped here as the
 * official code drops falsy ones). Errors:
 * ANC_ERR_UNSUPPORTED for an unknown id, the check's errors. */
anc_status anc_ifeval_follows(const char *id, const json_t *kwargs, const char *prompt, const char *response,
                              int *strict, int *loose, anc_error *err);

/* Scores response against one row of IFEval's input_data.jsonl
 * ({"prompt", "instruction_id_list": [...], "kwargs": [{...}, ...]}):
 * strict[i] and loose[i] for its i-th instruction, *n the number of
 * instructions (the arrays are malloc'd, caller frees both; NULL when *n is
 * 0). Errors: ANC_ERR_FORMAT for a row without those fields or with kwargs
 * not matching the instruction list (naming the field), the errors of
 * anc_ifeval_follows. */
anc_status anc_ifeval_score(const json_t *input_row, const char *response, int **strict, int **loose, size_t *n,
                            anc_error *err);

#endif
