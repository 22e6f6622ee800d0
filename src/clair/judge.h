/* Pairwise judge: the prompt that asks a judge model which of two responses
 * to a prompt is better, the parser of its verdict, and the combination of
 * the two verdicts obtained with the responses in both orders (position
 * bias control). Used to build on-policy judge pairs (design notes §1.1).
 *
 * Default prompt (anc_judge_default_template), placeholders {prompt},
 * {response_a}, {response_b}; a template file may replace it and must hold
 * all three (any other braces are literal):
 *
 *   Please act as an impartial judge and evaluate the quality of the two
 *   responses that AI assistants gave to the user prompt below. Choose the
 *   response that follows the user's instructions and answers the prompt
 *   better, considering helpfulness, correctness, relevance, depth and
 *   clarity. The order in which the responses are shown must not influence
 *   your decision, nor must their length. Be as objective as possible.
 *
 *   [User Prompt]
 *   {prompt}
 *
 *   [The Start of Response A]
 *   {response_a}
 *   [The End of Response A]
 *
 *   [The Start of Response B]
 *   {response_b}
 *   [The End of Response B]
 *
 *   First compare the two responses briefly. Then give your verdict on the
 *   last line, exactly in this form: "Verdict: A" if Response A is better,
 *   "Verdict: B" if Response B is better, or "Verdict: tie" if they are
 *   equally good.
 *
 * (The text above is wrapped for this comment; the real prompt has one line
 * per paragraph.)
 *
 * Verdict rule (anc_judge_parse): the LAST line of the reply that reads,
 * case-insensitively and ignoring markdown decoration ("#", "*", "_", ">",
 * "-" bullets, quotes, brackets, backticks) and trailing "." or "!":
 *     [final] verdict : <choice>        (":" or "=")
 * where <choice> is "A", "B", "tie" or "draw", optionally preceded by
 * "Response", "Assistant", "Output", "Answer" or "Model" — for example
 * "Verdict: A", "**Verdict:** b", "### Final verdict: [[B]]",
 * "Verdict: Response A.", "verdict = tie". Nothing else may follow the choice
 * on that line, so prose such as "Verdict: A is longer but ..." is not a
 * verdict. When no such line exists, the last MT-Bench style token "[[A]]",
 * "[[B]]", "[[C]]" (tie) or "[[tie]]" in the reply counts. Otherwise the
 * reply is unparseable: ANC_ERR_FORMAT with the reason in err.
 */
#ifndef ANCHOR_CLAIR_JUDGE_H
#define ANCHOR_CLAIR_JUDGE_H

#include <stddef.h>

#include "core/error.h"

typedef enum anc_verdict {
    ANC_VERDICT_NONE = 0,  /* not parsed */
    ANC_VERDICT_A = 1,     /* the response shown as A is better */
    ANC_VERDICT_B = 2,     /* the response shown as B is better */
    ANC_VERDICT_TIE = 3
} anc_verdict;

/* The default judge prompt with {prompt}, {response_a}, {response_b}.
 * Static storage, never NULL. */
const char *anc_judge_default_template(void);

/* Renders the judge prompt: tmpl (NULL = default) with the three
 * placeholders substituted in one pass (values are not rescanned). *out is
 * malloc'd (caller frees). A tmpl lacking a placeholder is ANC_ERR_INVALID. */
anc_status anc_judge_prompt(const char *tmpl, const char *prompt, const char *response_a, const char *response_b,
                            char **out, anc_error *err);

/* Loads a judge template file that must hold {prompt}, {response_a} and
 * {response_b} (see anc_text_template_load). *out is malloc'd. */
anc_status anc_judge_template_load(const char *path, char **out, anc_error *err);

/* Parses the judge's reply (len bytes) by the verdict rule above. On
 * success *out is A, B or TIE. On failure *out = ANC_VERDICT_NONE and the
 * status is ANC_ERR_FORMAT with a reason in err. */
anc_status anc_judge_parse(const char *reply, size_t len, anc_verdict *out, anc_error *err);

/* Outcome of judging responses y1 and y2 in both orders. */
typedef enum anc_judge_outcome {
    ANC_JUDGE_FIRST = 0,        /* y1 won in both orders */
    ANC_JUDGE_SECOND = 1,       /* y2 won in both orders */
    ANC_JUDGE_TIE = 2,          /* both orders said tie */
    ANC_JUDGE_INCONSISTENT = 3  /* the orders disagree (incl. one tie and one winner, or a NONE) */
} anc_judge_outcome;

/* Combines verdict(A = y1, B = y2) = ab with verdict(A = y2, B = y1) = ba.
 * A consistent winner needs both orders to pick the same response: ab == A
 * and ba == B gives FIRST, ab == B and ba == A gives SECOND. Two ties give
 * TIE. Anything else (position bias: both A or both B; a winner against a
 * tie; an unparsed verdict) is INCONSISTENT, which dataset builders drop. */
anc_judge_outcome anc_judge_combine(anc_verdict ab, anc_verdict ba);

/* "A", "B", "tie", "none". Never NULL. */
const char *anc_verdict_name(anc_verdict v);
/* "first", "second", "tie", "inconsistent". Never NULL. */
const char *anc_judge_outcome_name(anc_judge_outcome o);

#endif
