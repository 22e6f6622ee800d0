/* CLAIR: the reviser prompt and the parser of the reviser's reply
 * (design notes §1.2; D'Oosterlinck et al., arXiv 2408.06266).
 *
 * A CLAIR pair is (prompt x, chosen = revision of the draft, rejected =
 * draft y_l). The reviser sees the prompt below with {input} = x and
 * {output} = y_l, thinks aloud under a {teacher_reasoning} marker and gives
 * the minimally revised answer after a {corrected_student_solution} marker.
 *
 * Reply rule (anc_clair_parse_reply):
 *  1. Marker lines. A line is a marker line when, after optional leading
 *     blanks, markdown heading hashes ("#".."######") and emphasis ("*", "_"
 *     up to 3), it holds the marker name, then optional closing emphasis, an
 *     optional colon (":" before or after the closing emphasis), and then:
 *       - braced form "{corrected_student_solution}": anything (the rest of
 *         the line after the optional colon is content);
 *       - unbraced form, e.g. "Corrected Student Solution": content after a
 *         colon, or nothing else on the line (a heading or bold line).
 *     Names compare case-insensitively with "_", "-" and spaces alike:
 *     "{corrected_student_solution}:", "**Corrected Student Solution:**",
 *     "### Corrected Student Solution", "Corrected student solution: text".
 *     A marker inside a line ("... give the {corrected_student_solution}")
 *     is prose, not a marker.
 *  2. The revision is everything after the LAST solution marker line (from
 *     its content on the same line, if any, to the end of the reply).
 *  3. The rationale is the text between the last {teacher_reasoning} marker
 *     line before it and that solution marker (or, when there is no
 *     reasoning marker, all text before the solution marker).
 *  4. Both are trimmed of Unicode whitespace. Then the revision is unwrapped
 *     once, only when the WHOLE revision is wrapped:
 *       - by one pair of double quotes ("..." or “...”) with no double quote
 *         of the same kind inside;
 *       - by one fenced block (``` or ~~~ on the first line, the same fence
 *         on the last line, no other fence line between) whose info string
 *         is empty, "text", "txt", "plaintext", "markdown" or "md". A code
 *         fence (```python) is the answer itself and is kept.
 *     Neither is removed when the draft (if given) is wrapped the same way,
 *     so chosen and rejected keep the same form. The result is trimmed again.
 *  5. No solution marker line, an empty revision, or a NUL byte in the
 *     reply: ANC_ERR_FORMAT with the reason in err (a recorded failure,
 *     never a pair).
 */
#ifndef ANCHOR_CLAIR_REVISE_H
#define ANCHOR_CLAIR_REVISE_H

#include <stddef.h>

#include "core/error.h"

/* The authors' reviser prompt, verbatim (the revision_template of their
 * notebook CLAIR_preferences.ipynb, which design notes §1.2 quote), with the
 * placeholders {input} and {output}; every other brace is literal text. Like
 * the original it ends with two newlines after "...structure your answer.".
 * Static storage, never NULL. */
const char *anc_clair_default_template(void);

/* Renders the reviser prompt: tmpl (NULL = anc_clair_default_template())
 * with {input} = the prompt x and {output} = the draft y_l, in one pass
 * (values are not rescanned). *out is malloc'd (caller frees). A tmpl that
 * lacks {input} or {output} is ANC_ERR_INVALID. */
anc_status anc_clair_prompt(const char *tmpl, const char *input, const char *output, char **out, anc_error *err);

/* Loads a user template file holding {input} and {output} (see
 * anc_text_template_load). *out is malloc'd (caller frees). */
anc_status anc_clair_template_load(const char *path, char **out, anc_error *err);

/* ---- routed revision (anchor revise --route, --max-rounds) ------------- */

/* The feedback prompt of revision rounds 2..K (anchor revise --max-rounds):
 * sent as the single user message when the previous revision still fails
 * the route check, with {input} = the prompt x, {output} = the draft y_l,
 * {revision} = the previous revision and {feedback} = what the check said
 * (an exec grader's or the judge's feedback, else a sentence naming the
 * score). It keeps the CLAIR prompt's wording and markers, so its reply is
 * parsed by anc_clair_parse_reply; every other brace is literal text. The
 * text, verbatim:
 *
 *   You are a teacher and your task is to minimally improve a student's
 *   answer. You already revised the {student_solution} once, but your
 *   {previous_revision} still does not pass a check. I will give you the
 *   {task}, the {student_solution}, your {previous_revision} and the
 *   {check_feedback}. Revise the {previous_revision} so that it passes the
 *   check: change only what the {check_feedback} asks for and copy all other
 *   parts. Do not allude to the {corrected_student_solution} being a
 *   revision or a correction in your final solution.
 *
 *   {task}: {input}
 *
 *   {student_solution}: {output}
 *
 *   {previous_revision}: {revision}
 *
 *   {check_feedback}: {feedback}
 *
 *   -----------------
 *
 *   Let's first think step by step with a {teacher_reasoning} to decide how
 *   to address the {check_feedback}, then give the
 *   {corrected_student_solution}. Mention the {teacher_reasoning} and
 *   {corrected_student_solution} identifiers to structure your answer.
 *
 * (one paragraph per blank-line block; it ends with two newlines, like the
 * CLAIR prompt). Static storage, never NULL. */
const char *anc_clair_feedback_template(void);

/* Renders the feedback prompt: tmpl (NULL = anc_clair_feedback_template())
 * with the four placeholders above, in one pass. A tmpl lacking {revision}
 * or {feedback} is ANC_ERR_INVALID ({input} and {output} are optional).
 * *out is malloc'd (caller frees). */
anc_status anc_clair_feedback_prompt(const char *tmpl, const char *input, const char *output, const char *revision,
                                     const char *feedback, char **out, anc_error *err);

/* Loads a feedback template file, which must hold {revision} and
 * {feedback} (see anc_text_template_load). *out is malloc'd. */
anc_status anc_clair_feedback_template_load(const char *path, char **out, anc_error *err);

/* The pointwise check prompt of `anchor revise --route judge:BACKEND`, with
 * {input} = the prompt and {output} = the answer checked (the draft, then
 * each revision); every other brace is literal text. The text, verbatim:
 *
 *   You are a strict teacher checking a student's answer. I will give you a
 *   {task} and a {student_solution}. Decide whether the {student_solution}
 *   is a correct, complete and clear answer to the {task}. If it is not, say
 *   briefly and concretely what is wrong or missing, so that another teacher
 *   can fix exactly that.
 *
 *   {task}: {input}
 *
 *   {student_solution}: {output}
 *
 *   -----------------
 *
 *   Give your feedback first. Then end your reply with one last line that is
 *   exactly VERDICT: PASS or exactly VERDICT: FAIL.
 *
 * (ending with one newline). The reply is parsed by anc_clair_parse_verdict.
 * Static storage, never NULL. */
const char *anc_clair_check_template(void);

/* Renders the check prompt: tmpl (NULL = anc_clair_check_template()) with
 * {input} and {output}, which a tmpl must hold (else ANC_ERR_INVALID).
 * *out is malloc'd (caller frees). */
anc_status anc_clair_check_prompt(const char *tmpl, const char *input, const char *output, char **out,
                                  anc_error *err);

/* Loads a check template file holding {input} and {output}. *out is
 * malloc'd (caller frees). */
anc_status anc_clair_check_template_load(const char *path, char **out, anc_error *err);

/* Parses a check reply (len bytes): after trimming the reply of Unicode
 * whitespace, its last line, itself trimmed, must be exactly
 * "VERDICT: PASS" or "VERDICT: FAIL" (case and spacing as written; no
 * markdown around it). *passed is 1 or 0 and *feedback (malloc'd, caller
 * frees; "" when the reply is the verdict line alone) the trimmed text
 * before that line. Anything else, or a NUL byte, is ANC_ERR_FORMAT with
 * the last line quoted in err; *feedback stays NULL then. */
anc_status anc_clair_parse_verdict(const char *reply, size_t len, int *passed, char **feedback, anc_error *err);

typedef struct anc_clair_reply {
    char *revision;        /* malloc'd, non-empty, trimmed, unwrapped */
    char *rationale;       /* malloc'd, trimmed; "" when the reply has none */
    size_t marker_line;    /* 1-based line of the solution marker used */
    int unwrapped;         /* 0 none, 1 quotes removed, 2 fence removed */
} anc_clair_reply;

/* Parses a reviser reply (len bytes, need not be NUL-terminated) by the rule
 * above. draft (NUL-terminated, may be NULL) is the student solution that was
 * revised; it only decides whether wrapping is kept (rule 4). On success
 * fills *out (free with anc_clair_reply_free). On failure *out is zeroed and
 * err holds the reason ("no {corrected_student_solution} marker ...",
 * "empty revision after the marker on line N"); the status is
 * ANC_ERR_FORMAT (or ANC_ERR_NOMEM). */
anc_status anc_clair_parse_reply(const char *reply, size_t len, const char *draft, anc_clair_reply *out,
                                 anc_error *err);
void anc_clair_reply_free(anc_clair_reply *r);

#endif
