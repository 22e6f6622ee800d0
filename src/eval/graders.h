/* Graders: a score for a model's response against a row's reference.
 *
 *   exact      1 when normalise(response) == normalise(reference), else 0.
 *              Normalisation is SQuAD's (the official evaluate-v1.1 script):
 *              lowercase (ASCII), delete ASCII punctuation (Python's
 *              string.punctuation), delete the words "a", "an", "the"
 *              (whole words), collapse whitespace runs to one space and trim.
 *   regex      1 when the PCRE2 pattern (the grader's own pattern, else the
 *              row's reference) matches anywhere in the response (search,
 *              not full match; UTF-8 mode), else 0.
 *   numeric    extracts the LAST number in the response: optional sign,
 *              digits with optional ',' thousands separators, optional
 *              decimal part, optional exponent (e.g. "-1,234.5", "3e-2",
 *              ".5"); 1 when |x - ref| <= tol * max(1, |ref|), else 0; 0
 *              when the response holds no number. The reference is a JSON
 *              number or a string holding one (its last number is taken).
 *   exec:CMD   runs `/bin/sh -c CMD` with {"prompt", "response",
 *              "reference"} (JSON) on stdin; its stdout must be either one
 *              number (the score, e.g. 0 or 1, surrounding whitespace
 *              allowed) or one JSON object {"score": N, "feedback": "text"}
 *              (surrounding whitespace allowed; "score" a finite number,
 *              required; "feedback" a string or null, optional: what is
 *              wrong with the response, which anc_grade_ex returns and
 *              `anchor revise --max-rounds` sends back to the reviser;
 *              other keys are ignored). A non-zero exit or another output
 *              is an error.
 *
 * Graders hold no state besides their settings and may be shared by
 * threads (exec runs one child per call). */
#ifndef ANCHOR_EVAL_GRADERS_H
#define ANCHOR_EVAL_GRADERS_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

typedef enum anc_grader_kind {
    ANC_GRADER_EXACT = 0,
    ANC_GRADER_REGEX,
    ANC_GRADER_NUMERIC,
    ANC_GRADER_EXEC
} anc_grader_kind;

typedef struct anc_grader {
    anc_grader_kind kind;
    const char *pattern;   /* regex: fixed pattern (borrowed); NULL = the row's reference */
    double tolerance;      /* numeric: relative tolerance (>= 0; default 1e-6) */
    const char *command;   /* exec: the command (borrowed, points into the spec) */
} anc_grader;

/* Parses "exact", "regex", "numeric" or "exec:CMD" into g (pattern NULL,
 * tolerance 1e-6). g->command borrows from spec. ANC_ERR_INVALID naming the
 * accepted forms otherwise. */
anc_status anc_grader_parse(const char *spec, anc_grader *g, anc_error *err);

/* "exact", "regex", "numeric", "exec". Never NULL. */
const char *anc_grader_name(anc_grader_kind k);

/* SQuAD normalisation (see above) of s into a malloc'd string *out. */
anc_status anc_normalize_answer(const char *s, char **out, anc_error *err);

/* Finds the last number in s (rule above): 1 and *x set, or 0 when none. */
int anc_last_number(const char *s, double *x);

/* The reference of a row as text: a string as is, a number printed with
 * %.17g, NULL for anything else. malloc'd. */
char *anc_reference_text(const json_t *ref);

/* Scores response against reference (a JSON string or number; may be NULL
 * only for regex with a fixed pattern and exec) with g into *score.
 * prompt (may be NULL) is passed to exec graders. Errors: ANC_ERR_INVALID
 * for a bad pattern (with PCRE2's message and offset) or a missing
 * reference, ANC_ERR_FORMAT for an exec grader's unusable output, ANC_ERR_IO
 * when it cannot run or exits non-zero. */
anc_status anc_grade(const anc_grader *g, const char *prompt, const char *response, const json_t *reference,
                     double *score, anc_error *err);

/* As anc_grade, and the grader's feedback: *feedback (when feedback is not
 * NULL) is set to a malloc'd copy of the "feedback" text of an exec
 * grader's JSON output (caller frees), or NULL when there is none (a plain
 * number, an empty or null "feedback", and every other grader kind). On
 * error *score is 0 and *feedback NULL. */
anc_status anc_grade_ex(const anc_grader *g, const char *prompt, const char *response, const json_t *reference,
                        double *score, char **feedback, anc_error *err);

#endif
