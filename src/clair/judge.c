#include "clair/judge.h"

#include <string.h>

#include "clair/text.h"

static const char JUDGE_TEMPLATE[] =
    "Please act as an impartial judge and evaluate the quality of the two responses that AI assistants gave to the "
    "user prompt below. Choose the response that follows the user's instructions and answers the prompt better, "
    "considering helpfulness, correctness, relevance, depth and clarity. The order in which the responses are shown "
    "must not influence your decision, nor must their length. Be as objective as possible.\n"
    "\n"
    "[User Prompt]\n"
    "{prompt}\n"
    "\n"
    "[The Start of Response A]\n"
    "{response_a}\n"
    "[The End of Response A]\n"
    "\n"
    "[The Start of Response B]\n"
    "{response_b}\n"
    "[The End of Response B]\n"
    "\n"
    "First compare the two responses briefly. Then give your verdict on the last line, exactly in this form: "
    "\"Verdict: A\" if Response A is better, \"Verdict: B\" if Response B is better, or \"Verdict: tie\" if they are "
    "equally good.";

static const char *const JUDGE_VARS[] = {"prompt", "response_a", "response_b"};

const char *anc_judge_default_template(void) { return JUDGE_TEMPLATE; }

anc_status anc_judge_prompt(const char *tmpl, const char *prompt, const char *response_a, const char *response_b,
                            char **out, anc_error *err) {
    *out = NULL;
    if (!prompt || !response_a || !response_b)
        return anc_error_set(err, ANC_ERR_INVALID, "judge prompt: prompt, response_a and response_b are required");
    if (!tmpl) tmpl = JUDGE_TEMPLATE;
    else if (anc_text_template_check(tmpl, JUDGE_VARS, 3, "judge template", err)) {
        if (err) err->code = ANC_ERR_INVALID; /* the message already names the missing placeholder */
        return ANC_ERR_INVALID;
    }
    anc_text_var vars[3] = {{"prompt", prompt}, {"response_a", response_a}, {"response_b", response_b}};
    return anc_text_fill(tmpl, vars, 3, out, err);
}

anc_status anc_judge_template_load(const char *path, char **out, anc_error *err) {
    return anc_text_template_load(path, JUDGE_VARS, 3, out, err);
}

static int lower(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int is_alnum(char c) {
    c = (char)lower(c);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Case-insensitive prefix match of word at p[i..n); returns the index after
 * it, or 0 when it does not match or is followed by a letter/digit. */
static size_t word_at(const char *p, size_t n, size_t i, const char *word) {
    size_t k = 0;
    for (; word[k]; k++)
        if (i + k >= n || lower(p[i + k]) != word[k]) return 0;
    if (i + k < n && is_alnum(p[i + k])) return 0;
    return i + k;
}

static size_t skip_set(const char *p, size_t n, size_t i, const char *set) {
    while (i < n && strchr(set, p[i]) && p[i] != '\0') i++;
    return i;
}

/* One line p[0..n) (no newline): the verdict it states, or NONE. */
static anc_verdict verdict_line(const char *p, size_t n) {
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    size_t i = skip_set(p, n, 0, " \t#*_>-`\"'");
    size_t j = word_at(p, n, i, "final");
    if (j) i = skip_set(p, n, j, " \t*_");
    j = word_at(p, n, i, "verdict");
    if (!j) return ANC_VERDICT_NONE;
    i = skip_set(p, n, j, " \t*_`\"'");
    if (i >= n || (p[i] != ':' && p[i] != '=')) return ANC_VERDICT_NONE;
    i = skip_set(p, n, i + 1, " \t*_`\"'[(");
    static const char *const PREFIX[] = {"response", "assistant", "output", "answer", "model"};
    for (size_t k = 0; k < sizeof PREFIX / sizeof PREFIX[0]; k++) {
        j = word_at(p, n, i, PREFIX[k]);
        if (j) {
            i = skip_set(p, n, j, " \t");
            break;
        }
    }
    anc_verdict v = ANC_VERDICT_NONE;
    if ((j = word_at(p, n, i, "a")) != 0) v = ANC_VERDICT_A;
    else if ((j = word_at(p, n, i, "b")) != 0) v = ANC_VERDICT_B;
    else if ((j = word_at(p, n, i, "tie")) != 0 || (j = word_at(p, n, i, "draw")) != 0) v = ANC_VERDICT_TIE;
    else return ANC_VERDICT_NONE;
    i = skip_set(p, n, j, " \t*_`\"')].!");
    return i == n ? v : ANC_VERDICT_NONE;
}

/* Last "[[A]]"-style token in the reply, or NONE. */
static anc_verdict bracket_token(const char *s, size_t len) {
    static const struct { const char *tok; anc_verdict v; } T[] = {
        {"[[a]]", ANC_VERDICT_A}, {"[[b]]", ANC_VERDICT_B}, {"[[c]]", ANC_VERDICT_TIE}, {"[[tie]]", ANC_VERDICT_TIE}};
    for (size_t i = len; i-- > 0;) {
        if (s[i] != '[') continue;
        for (size_t t = 0; t < sizeof T / sizeof T[0]; t++) {
            size_t k = 0;
            while (T[t].tok[k] && i + k < len && lower(s[i + k]) == T[t].tok[k]) k++;
            if (!T[t].tok[k]) return T[t].v;
        }
    }
    return ANC_VERDICT_NONE;
}

anc_status anc_judge_parse(const char *reply, size_t len, anc_verdict *out, anc_error *err) {
    *out = ANC_VERDICT_NONE;
    if (!reply) len = 0;
    anc_verdict last = ANC_VERDICT_NONE;
    size_t pos = 0;
    while (pos < len) {
        const char *e = memchr(reply + pos, '\n', len - pos);
        size_t le = e ? (size_t)(e - reply) : len;
        anc_verdict v = verdict_line(reply + pos, le - pos);
        if (v) last = v;
        pos = le + 1;
    }
    if (!last && len) last = bracket_token(reply, len);
    if (!last)
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "judge reply has no verdict line (expected a final line such as \"Verdict: A\", "
                             "\"Verdict: B\" or \"Verdict: tie\", or a token [[A]] / [[B]] / [[C]])");
    *out = last;
    return ANC_OK;
}

anc_judge_outcome anc_judge_combine(anc_verdict ab, anc_verdict ba) {
    if (ab == ANC_VERDICT_A && ba == ANC_VERDICT_B) return ANC_JUDGE_FIRST;
    if (ab == ANC_VERDICT_B && ba == ANC_VERDICT_A) return ANC_JUDGE_SECOND;
    if (ab == ANC_VERDICT_TIE && ba == ANC_VERDICT_TIE) return ANC_JUDGE_TIE;
    return ANC_JUDGE_INCONSISTENT;
}

const char *anc_verdict_name(anc_verdict v) {
    switch (v) {
    case ANC_VERDICT_A: return "A";
    case ANC_VERDICT_B: return "B";
    case ANC_VERDICT_TIE: return "tie";
    case ANC_VERDICT_NONE: break;
    }
    return "none";
}

const char *anc_judge_outcome_name(anc_judge_outcome o) {
    switch (o) {
    case ANC_JUDGE_FIRST: return "first";
    case ANC_JUDGE_SECOND: return "second";
    case ANC_JUDGE_TIE: return "tie";
    case ANC_JUDGE_INCONSISTENT: break;
    }
    return "inconsistent";
}
