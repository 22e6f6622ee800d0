#include "clair/revise.h"

#include <stdlib.h>
#include <string.h>

#include "clair/text.h"

static const char CLAIR_TEMPLATE[] =
    "You are a teacher and your task is to minimally improve a student's answer. I will give you a {task} and a "
    "{student_solution}. Your job is to revise the {student_solution} such that it is clearer, more correct, and "
    "more engaging. Copy all non-corrected parts of the student's answer. Do not allude to the "
    "{corrected_student_solution} being a revision or a correction in your final solution.\n"
    "\n"
    "{task}: {input}\n"
    "\n"
    "{student_solution}: {output}\n"
    "\n"
    "-----------------\n"
    "\n"
    "Let's first think step by step with a {teacher_reasoning} to decide how to improve the {student_solution}, "
    "then give the {corrected_student_solution}. Mention the {teacher_reasoning} and {corrected_student_solution} "
    "identifiers to structure your answer.\n"
    "\n";

static const char *const CLAIR_VARS[] = {"input", "output"};

const char *anc_clair_default_template(void) { return CLAIR_TEMPLATE; }

anc_status anc_clair_prompt(const char *tmpl, const char *input, const char *output, char **out, anc_error *err) {
    *out = NULL;
    if (!input || !output) return anc_error_set(err, ANC_ERR_INVALID, "reviser prompt: input and output are required");
    if (!tmpl) tmpl = CLAIR_TEMPLATE;
    else if (anc_text_template_check(tmpl, CLAIR_VARS, 2, "reviser template", err)) {
        if (err) err->code = ANC_ERR_INVALID; /* the message already names the missing placeholder */
        return ANC_ERR_INVALID;
    }
    anc_text_var vars[2] = {{"input", input}, {"output", output}};
    return anc_text_fill(tmpl, vars, 2, out, err);
}

anc_status anc_clair_template_load(const char *path, char **out, anc_error *err) {
    return anc_text_template_load(path, CLAIR_VARS, 2, out, err);
}

/* ---- feedback rounds and the pointwise check (anc revise --route) ------- */

static const char FEEDBACK_TEMPLATE[] =
    "You are a teacher and your task is to minimally improve a student's answer. You already revised the "
    "{student_solution} once, but your {previous_revision} still does not pass a check. I will give you the {task}, "
    "the {student_solution}, your {previous_revision} and the {check_feedback}. Revise the {previous_revision} so "
    "that it passes the check: change only what the {check_feedback} asks for and copy all other parts. Do not "
    "allude to the {corrected_student_solution} being a revision or a correction in your final solution.\n"
    "\n"
    "{task}: {input}\n"
    "\n"
    "{student_solution}: {output}\n"
    "\n"
    "{previous_revision}: {revision}\n"
    "\n"
    "{check_feedback}: {feedback}\n"
    "\n"
    "-----------------\n"
    "\n"
    "Let's first think step by step with a {teacher_reasoning} to decide how to address the {check_feedback}, "
    "then give the {corrected_student_solution}. Mention the {teacher_reasoning} and {corrected_student_solution} "
    "identifiers to structure your answer.\n"
    "\n";

static const char CHECK_TEMPLATE[] =
    "You are a strict teacher checking a student's answer. I will give you a {task} and a {student_solution}. "
    "Decide whether the {student_solution} is a correct, complete and clear answer to the {task}. If it is not, say "
    "briefly and concretely what is wrong or missing, so that another teacher can fix exactly that.\n"
    "\n"
    "{task}: {input}\n"
    "\n"
    "{student_solution}: {output}\n"
    "\n"
    "-----------------\n"
    "\n"
    "Give your feedback first. Then end your reply with one last line that is exactly VERDICT: PASS or exactly "
    "VERDICT: FAIL.\n";

static const char *const FEEDBACK_VARS[] = {"revision", "feedback"};

const char *anc_clair_feedback_template(void) { return FEEDBACK_TEMPLATE; }
const char *anc_clair_check_template(void) { return CHECK_TEMPLATE; }

anc_status anc_clair_feedback_prompt(const char *tmpl, const char *input, const char *output, const char *revision,
                                     const char *feedback, char **out, anc_error *err) {
    *out = NULL;
    if (!input || !output || !revision || !feedback)
        return anc_error_set(err, ANC_ERR_INVALID, "feedback prompt: input, output, revision and feedback are required");
    if (!tmpl) tmpl = FEEDBACK_TEMPLATE;
    else if (anc_text_template_check(tmpl, FEEDBACK_VARS, 2, "feedback template", err)) {
        if (err) err->code = ANC_ERR_INVALID;
        return ANC_ERR_INVALID;
    }
    anc_text_var vars[4] = {{"input", input}, {"output", output}, {"revision", revision}, {"feedback", feedback}};
    return anc_text_fill(tmpl, vars, 4, out, err);
}

anc_status anc_clair_feedback_template_load(const char *path, char **out, anc_error *err) {
    return anc_text_template_load(path, FEEDBACK_VARS, 2, out, err);
}

anc_status anc_clair_check_prompt(const char *tmpl, const char *input, const char *output, char **out,
                                  anc_error *err) {
    *out = NULL;
    if (!input || !output) return anc_error_set(err, ANC_ERR_INVALID, "check prompt: input and output are required");
    if (!tmpl) tmpl = CHECK_TEMPLATE;
    else if (anc_text_template_check(tmpl, CLAIR_VARS, 2, "check template", err)) {
        if (err) err->code = ANC_ERR_INVALID;
        return ANC_ERR_INVALID;
    }
    anc_text_var vars[2] = {{"input", input}, {"output", output}};
    return anc_text_fill(tmpl, vars, 2, out, err);
}

anc_status anc_clair_check_template_load(const char *path, char **out, anc_error *err) {
    return anc_text_template_load(path, CLAIR_VARS, 2, out, err);
}

anc_status anc_clair_parse_verdict(const char *reply, size_t len, int *passed, char **feedback, anc_error *err) {
    *passed = 0;
    *feedback = NULL;
    if (!reply) len = 0;
    if (len && memchr(reply, '\0', len))
        return anc_error_set(err, ANC_ERR_FORMAT, "check reply contains a NUL byte (expected text)");
    const char *t = reply ? reply : "";
    size_t n = len;
    anc_text_trim(&t, &n);
    size_t ls = n;
    while (ls > 0 && t[ls - 1] != '\n') ls--;
    const char *last = t + ls;
    size_t ll = n - ls;
    anc_text_trim(&last, &ll);
    static const char PASS[] = "VERDICT: PASS", FAIL[] = "VERDICT: FAIL";
    if (ll == sizeof PASS - 1 && !memcmp(last, PASS, ll)) *passed = 1;
    else if (!(ll == sizeof FAIL - 1 && !memcmp(last, FAIL, ll)))
        return anc_error_set(err, ANC_ERR_FORMAT, "check reply: the last line is '%.*s' (expected exactly "
                             "'VERDICT: PASS' or 'VERDICT: FAIL')", (int)(ll < 60 ? ll : 60), n ? last : "");
    const char *f = t;
    size_t fl = ls;
    anc_text_trim(&f, &fl);
    if (!(*feedback = anc_text_dup(f, fl))) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory parsing a check reply");
    return ANC_OK;
}

void anc_clair_reply_free(anc_clair_reply *r) {
    if (!r) return;
    free(r->revision);
    free(r->rationale);
    memset(r, 0, sizeof *r);
}

/* ---- marker lines ------------------------------------------------------- */

typedef enum { MK_NONE = 0, MK_REASONING, MK_SOLUTION } mk_kind;

static const char *const SOLUTION_WORDS[] = {"corrected", "student", "solution"};
static const char *const REASONING_WORDS[] = {"teacher", "reasoning"};

static int is_blank(char c) { return c == ' ' || c == '\t'; }
static int lower(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Matches words (lower case) at p[0..n) separated by runs of ' ', '_' or
 * '-'; the last word must not be followed by a letter or digit. Returns bytes
 * consumed or 0. */
static size_t match_name(const char *p, size_t n, const char *const *words, size_t nw) {
    size_t i = 0;
    for (size_t w = 0; w < nw; w++) {
        if (w > 0) {
            size_t sep = i;
            while (i < n && (p[i] == ' ' || p[i] == '_' || p[i] == '-')) i++;
            if (i == sep) return 0;
        }
        for (const char *c = words[w]; *c; c++, i++)
            if (i >= n || lower(p[i]) != *c) return 0;
    }
    if (i < n) {
        char c = lower(p[i]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 0;
    }
    return i;
}

static size_t skip_emphasis(const char *p, size_t n, size_t i) {
    for (int k = 0; k < 3 && i < n && (p[i] == '*' || p[i] == '_'); k++) i++;
    return i;
}

/* Examines the line p[0..n) (no newline, no trailing '\r'). Returns the kind
 * of marker it is and sets *content to the offset where text after the
 * marker begins (n when none). */
static mk_kind match_marker(const char *p, size_t n, size_t *content) {
    size_t i = 0;
    while (i < n && is_blank(p[i])) i++;
    for (int k = 0; k < 6 && i < n && p[i] == '#'; k++) i++;
    while (i < n && is_blank(p[i])) i++;
    i = skip_emphasis(p, n, i);
    int braced = 0;
    if (i < n && p[i] == '{') {
        braced = 1;
        i++;
    }
    mk_kind kind = MK_NONE;
    size_t m = match_name(p + i, n - i, SOLUTION_WORDS, 3);
    if (m) kind = MK_SOLUTION;
    else if ((m = match_name(p + i, n - i, REASONING_WORDS, 2)) != 0) kind = MK_REASONING;
    else return MK_NONE;
    i += m;
    if (braced) {
        if (i >= n || p[i] != '}') return MK_NONE;
        i++;
    }
    i = skip_emphasis(p, n, i);
    size_t j = i;
    while (j < n && is_blank(p[j])) j++;
    int colon = 0;
    if (j < n && p[j] == ':') {
        colon = 1;
        i = skip_emphasis(p, n, j + 1);
    }
    while (i < n && is_blank(p[i])) i++;
    if (!braced && !colon && i < n) return MK_NONE; /* prose such as "Corrected student solution is ..." */
    *content = i;
    return kind;
}

/* ---- unwrapping --------------------------------------------------------- */

enum { WRAP_NONE = 0, WRAP_QUOTES = 1, WRAP_FENCE = 2 };

static int starts_with(const char *s, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int contains(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return 1;
    return 0;
}

/* Whole text wrapped in one pair of double quotes: sets the inner range. */
static int quote_wrapped(const char *s, size_t n, size_t *in_start, size_t *in_len) {
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"' && !memchr(s + 1, '"', n - 2)) {
        *in_start = 1;
        *in_len = n - 2;
        return 1;
    }
    static const char L[] = "\xe2\x80\x9c", R[] = "\xe2\x80\x9d";
    if (n >= 6 && starts_with(s, n, L) && ends_with(s, n, R) && !contains(s + 3, n - 6, L) &&
        !contains(s + 3, n - 6, R)) {
        *in_start = 3;
        *in_len = n - 6;
        return 1;
    }
    return 0;
}

/* Length of the fence run (``` or ~~~, >= 3) at the start of line p[0..n)
 * after up to 3 spaces, or 0. */
static size_t fence_run(const char *p, size_t n, char *fc) {
    size_t i = 0;
    while (i < n && i < 3 && p[i] == ' ') i++;
    if (i >= n || (p[i] != '`' && p[i] != '~')) return 0;
    char c = p[i];
    size_t k = 0;
    while (i + k < n && p[i + k] == c) k++;
    if (k < 3) return 0;
    *fc = c;
    return k;
}

/* Whole text one fenced block: sets the inner range and whether the info
 * string says prose (empty, text, txt, plaintext, markdown, md). */
static int fence_wrapped(const char *s, size_t n, size_t *in_start, size_t *in_len, int *prose) {
    char fc = 0, c2 = 0;
    size_t open = fence_run(s, n, &fc);
    if (!open) return 0;
    const char *nl = memchr(s, '\n', n);
    if (!nl) return 0;
    size_t first_end = (size_t)(nl - s);
    /* last line */
    size_t last_start = n;
    while (last_start > 0 && s[last_start - 1] != '\n') last_start--;
    if (last_start <= first_end) return 0;
    const char *ll = s + last_start;
    size_t lln = n - last_start;
    size_t close = fence_run(ll, lln, &c2);
    if (!close || c2 != fc || close < open) return 0;
    for (size_t k = close; k < lln; k++)
        if (!is_blank(ll[k]) && ll[k] != '\r' && ll[k] != fc) return 0;
    /* no other fence line of at least the opening length in between */
    size_t pos = first_end + 1;
    while (pos < last_start) {
        const char *e = memchr(s + pos, '\n', last_start - pos);
        size_t le = e ? (size_t)(e - s) : last_start;
        char c3 = 0;
        size_t r = fence_run(s + pos, le - pos, &c3);
        if (r >= open && c3 == fc) return 0;
        pos = le + 1;
    }
    /* info string: the rest of the first line after the fence run */
    size_t lead = 0;
    while (lead < 3 && s[lead] == ' ') lead++;
    const char *info = s + lead + open;
    size_t info_len = first_end - lead - open;
    while (info_len && is_blank(info[0])) info++, info_len--;
    while (info_len && (is_blank(info[info_len - 1]) || info[info_len - 1] == '\r')) info_len--;
    static const char *const PROSE[] = {"text", "txt", "plaintext", "markdown", "md"};
    *prose = info_len == 0;
    for (size_t k = 0; k < sizeof PROSE / sizeof PROSE[0] && !*prose; k++) {
        size_t pl = strlen(PROSE[k]);
        if (info_len == pl) {
            size_t q = 0;
            while (q < pl && lower(info[q]) == PROSE[k][q]) q++;
            *prose = q == pl;
        }
    }
    *in_start = first_end + 1;
    *in_len = last_start - *in_start;
    return 1;
}

static int draft_wrapped(const char *draft, int kind) {
    if (!draft) return 0;
    const char *d = draft;
    size_t n = strlen(draft), a, b;
    int prose;
    anc_text_trim(&d, &n);
    return kind == WRAP_QUOTES ? quote_wrapped(d, n, &a, &b) : fence_wrapped(d, n, &a, &b, &prose);
}

/* ---- the parser ------------------------------------------------------------ */

anc_status anc_clair_parse_reply(const char *reply, size_t len, const char *draft, anc_clair_reply *out,
                                 anc_error *err) {
    memset(out, 0, sizeof *out);
    if (!reply) len = 0;
    if (len && memchr(reply, '\0', len))
        return anc_error_set(err, ANC_ERR_FORMAT, "reply contains a NUL byte at offset %zu (expected text)",
                             (size_t)((const char *)memchr(reply, '\0', len) - reply));
    size_t sol_line_start = 0, sol_content = 0, sol_lineno = 0;
    size_t rea_content = 0;
    int have_sol = 0, have_rea = 0;
    size_t pos = 0, lineno = 0;
    while (pos <= len) {
        lineno++;
        const char *e = len > pos ? memchr(reply + pos, '\n', len - pos) : NULL;
        size_t le = e ? (size_t)(e - reply) : len, next = e ? le + 1 : len + 1;
        size_t n = le - pos;
        if (n && reply[pos + n - 1] == '\r') n--;
        size_t content = 0;
        if (n && match_marker(reply + pos, n, &content) == MK_SOLUTION) {
            have_sol = 1;
            sol_line_start = pos;
            sol_content = content < n ? pos + content : next;
            sol_lineno = lineno;
        }
        pos = next;
    }
    if (!have_sol)
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "no {corrected_student_solution} marker at the start of a line (expected e.g. "
                             "\"{corrected_student_solution}:\" or \"**Corrected Student Solution:**\" before the "
                             "revision)");
    /* last reasoning marker line before the solution marker line */
    pos = 0;
    while (pos < sol_line_start) {
        const char *e = memchr(reply + pos, '\n', sol_line_start - pos);
        size_t le = e ? (size_t)(e - reply) : sol_line_start, next = e ? le + 1 : sol_line_start;
        size_t n = le - pos;
        if (n && reply[pos + n - 1] == '\r') n--;
        size_t content = 0;
        if (n && match_marker(reply + pos, n, &content) == MK_REASONING) {
            have_rea = 1;
            rea_content = content < n ? pos + content : next;
        }
        pos = next;
    }
    if (sol_content > len) sol_content = len;
    const char *rev = reply + sol_content;
    size_t rev_len = len - sol_content;
    anc_text_trim(&rev, &rev_len);
    int unwrapped = WRAP_NONE;
    size_t in_start, in_len;
    int prose = 0;
    if (quote_wrapped(rev, rev_len, &in_start, &in_len) && !draft_wrapped(draft, WRAP_QUOTES)) {
        unwrapped = WRAP_QUOTES;
    } else if (fence_wrapped(rev, rev_len, &in_start, &in_len, &prose) && prose &&
               !draft_wrapped(draft, WRAP_FENCE)) {
        unwrapped = WRAP_FENCE;
    }
    if (unwrapped) {
        rev += in_start;
        rev_len = in_len;
        anc_text_trim(&rev, &rev_len);
    }
    if (rev_len == 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "empty revision after the {corrected_student_solution} marker on line %zu",
                             sol_lineno);
    const char *rat = reply ? reply + (have_rea ? rea_content : 0) : "";
    size_t rat_end = sol_line_start, rat_start = have_rea ? rea_content : 0;
    size_t rat_len = rat_end > rat_start ? rat_end - rat_start : 0;
    anc_text_trim(&rat, &rat_len);
    out->revision = anc_text_dup(rev, rev_len);
    out->rationale = anc_text_dup(rat, rat_len);
    if (!out->revision || !out->rationale) {
        anc_clair_reply_free(out);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory parsing a reviser reply");
    }
    out->marker_line = sol_lineno;
    out->unwrapped = unwrapped;
    return ANC_OK;
}
