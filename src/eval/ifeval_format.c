/* IFEval checks of the detectable_format, detectable_content and language
 * groups, each as the official instructions.py check_following does it
 * (same regexes, thresholds and relations). Regexes are PCRE2 in UTF+UCP
 * mode with LF newlines, so \s, \d, '.', '^' and '$' behave as Python's re
 * on str does (residual: Python's \s also takes U+001C..U+001F, which PCRE2
 * does not; a section_spliter or postscript_marker kwarg is spliced into
 * the pattern unescaped, as the official code does, and a construct whose
 * syntax differs between re and PCRE2 would differ).
 *
 * language:response_language uses libexttextcat (N-gram text
 * categorisation, Cavnar & Trenkle) in place of langdetect; see
 * check_response_language for the mapping and the residual. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval/ifeval.h"

#include <libexttextcat/textcat.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/text.h"
#include "eval/ifeval_util.h"

#ifndef ANC_TEXTCAT_DIR
#define ANC_TEXTCAT_DIR "/usr/share/libexttextcat/"
#endif

/* ---- Python str helpers ------------------------------------------------ */

/* s.strip() of s[0..n) as the byte range [*b, *e) (core/text.h: Python's
 * str.isspace() set). */
static void py_strip(const char *s, size_t n, size_t *b, size_t *e) {
    const char *p = s;
    size_t len = n;
    anc_text_trim(&p, &len);
    *b = (size_t)(p - s);
    *e = *b + len;
}

/* Whether s[0..n).strip() is non-empty. */
static int py_strip_nonempty(const char *s, size_t n) {
    size_t b, e;
    py_strip(s, n, &b, &e);
    return e > b;
}

/* ---- kwargs ------------------------------------------------------------- */

static anc_status kw_int(const json_t *kwargs, const char *type, const char *name, long long *v, anc_error *err) {
    const json_t *x = json_object_get(kwargs, name);
    if (json_is_integer(x)) {
        *v = json_integer_value(x);
    } else if (json_is_real(x) && json_real_value(x) == floor(json_real_value(x)) && fabs(json_real_value(x)) < 1e15) {
        *v = (long long)json_real_value(x);
    } else {
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: kwarg '%s' %s (expected an integer)", type, name,
                             x && !json_is_null(x) ? "is not an integer" : "is missing");
    }
    if (*v < 0) return anc_error_set(err, ANC_ERR_FORMAT, "%s: kwarg '%s' is %lld (expected >= 0)", type, name, *v);
    return ANC_OK;
}

/* The string kwarg, stripped as build_description strips it, into a
 * malloc'd copy. */
static anc_status kw_str(const json_t *kwargs, const char *type, const char *name, char **out, anc_error *err) {
    const json_t *x = json_object_get(kwargs, name);
    if (!json_is_string(x))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: kwarg '%s' %s (expected a string)", type, name,
                             x && !json_is_null(x) ? "is not a string" : "is missing");
    const char *s = json_string_value(x);
    size_t b, e;
    py_strip(s, strlen(s), &b, &e);
    *out = malloc(e - b + 1);
    if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", type);
    memcpy(*out, s + b, e - b);
    (*out)[e - b] = '\0';
    return ANC_OK;
}

/* ---- detectable_format -------------------------------------------------- */

/* constrained_response: the stripped response contains "My answer is yes.",
 * "My answer is no." or "My answer is maybe." (stripping cannot change that). */
static anc_status check_constrained_response(const json_t *kwargs, const char *prompt, const char *response,
                                             int *followed, anc_error *err) {
    (void)kwargs, (void)prompt, (void)err;
    *followed = strstr(response, "My answer is yes.") || strstr(response, "My answer is no.") ||
                strstr(response, "My answer is maybe.");
    return ANC_OK;
}

static int starts_with(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    return n >= k && !memcmp(s, p, k);
}

/* json_format: strip, drop a leading "```json", then "```Json", then
 * "```JSON", then "```" (each in turn, as the chained removeprefix calls),
 * a trailing "```", strip again, and parse as one JSON value. Residuals vs
 * Python's json.loads: jansson rejects NaN, Infinity and -Infinity (Python
 * accepts them), escaped lone surrogates ("\ud800") and numbers beyond the
 * double range (integers are read as reals to keep big ones). */
static anc_status check_json_format(const json_t *kwargs, const char *prompt, const char *response, int *followed,
                                    anc_error *err) {
    (void)kwargs, (void)prompt;
    size_t b, e;
    py_strip(response, strlen(response), &b, &e);
    const char *s = response + b;
    size_t n = e - b;
    static const char *const prefixes[] = {"```json", "```Json", "```JSON", "```"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (starts_with(s, n, prefixes[i])) {
            s += strlen(prefixes[i]);
            n -= strlen(prefixes[i]);
        }
    if (n >= 3 && !memcmp(s + n - 3, "```", 3)) n -= 3;
    py_strip(s, n, &b, &e);
    json_error_t jerr;
    json_t *v = json_loadb(s + b, e - b, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    *followed = v != NULL;
    if (!v && json_error_code(&jerr) == json_error_out_of_memory)
        return anc_error_set(err, ANC_ERR_NOMEM, "json_format: out of memory");
    json_decref(v);
    return ANC_OK;
}

/* multiple_sections: re.split on \s?SPLITER\s?\d+\s? gives more than
 * num_sections - 1 cuts, i.e. the number of splitter matches >= num_sections. */
static anc_status check_multiple_sections(const json_t *kwargs, const char *prompt, const char *response,
                                          int *followed, anc_error *err) {
    (void)prompt;
    static const char *type = "detectable_format:multiple_sections";
    long long want;
    char *spliter = NULL;
    anc_status st = kw_int(kwargs, type, "num_sections", &want, err);
    if (!st) st = kw_str(kwargs, type, "section_spliter", &spliter, err);
    if (st) return st;
    size_t plen = strlen(spliter) + 32;
    char *pattern = malloc(plen);
    if (!pattern) {
        free(spliter);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", type);
    }
    snprintf(pattern, plen, "\\s?%s\\s?\\d+\\s?", spliter);
    size_t n = 0;
    st = ifx_rx_count(pattern, 0, response, 0, type, &n, err);
    free(pattern);
    free(spliter);
    if (!st) *followed = (long long)n >= want;
    return st;
}

/* number_bullet_lists: lines matching ^\s*\*[^\*].*$ plus lines matching
 * ^\s*-.*$ (multiline) number exactly num_bullets. */
static anc_status check_number_bullet_lists(const json_t *kwargs, const char *prompt, const char *response,
                                            int *followed, anc_error *err) {
    (void)prompt;
    static const char *type = "detectable_format:number_bullet_lists";
    long long want;
    anc_status st = kw_int(kwargs, type, "num_bullets", &want, err);
    size_t a = 0, b = 0;
    if (!st) st = ifx_rx_count("^\\s*\\*[^\\*].*$", PCRE2_MULTILINE, response, 0, type, &a, err);
    if (!st) st = ifx_rx_count("^\\s*-.*$", PCRE2_MULTILINE, response, 0, type, &b, err);
    if (!st) *followed = (long long)(a + b) == want;
    return st;
}

typedef struct {
    size_t count;
    int is_double;
} highlight_ctx;

static int visit_highlight(const char *s, size_t b, size_t e, void *ctx) {
    highlight_ctx *h = ctx;
    if (h->is_double) {
        /* removeprefix("**").removesuffix("**").strip() */
        b += 2;
        e = e - b >= 2 ? e - 2 : b;
    } else {
        /* strip("*").strip() */
        while (b < e && s[b] == '*') b++;
        while (e > b && s[e - 1] == '*') e--;
    }
    if (py_strip_nonempty(s + b, e - b)) h->count++;
    return 0;
}

/* number_highlighted_sections: matches of \*[^\n\*]*\* whose inside
 * (strip("*").strip()) is non-empty plus matches of \*\*[^\n\*]*\*\* whose
 * inside (between the "**"s, stripped) is non-empty, at least num_highlights. */
static anc_status check_number_highlighted_sections(const json_t *kwargs, const char *prompt, const char *response,
                                                    int *followed, anc_error *err) {
    (void)prompt;
    static const char *type = "detectable_format:number_highlighted_sections";
    long long want;
    anc_status st = kw_int(kwargs, type, "num_highlights", &want, err);
    if (st) return st;
    static const char *const patterns[2] = {"\\*[^\\n\\*]*\\*", "\\*\\*[^\\n\\*]*\\*\\*"};
    size_t total = 0;
    for (int d = 0; d < 2 && !st; d++) {
        pcre2_code *re = NULL;
        st = ifx_rx_compile(patterns[d], 0, type, &re, err);
        if (st) break;
        highlight_ctx h = {0, d};
        size_t n;
        st = ifx_rx_scan(re, response, type, visit_highlight, &h, &n, err);
        pcre2_code_free(re);
        total += h.count;
    }
    if (!st) *followed = (long long)total >= want;
    return st;
}

static int visit_title(const char *s, size_t b, size_t e, void *ctx) {
    /* lstrip("<").rstrip(">").strip() */
    while (b < e && s[b] == '<') b++;
    while (e > b && s[e - 1] == '>') e--;
    if (py_strip_nonempty(s + b, e - b)) {
        *(int *)ctx = 1;
        return 1;
    }
    return 0;
}

/* title: some match of <<[^\n]+>> has a non-blank inside once its '<'s
 * and '>'s are stripped. */
static anc_status check_title(const json_t *kwargs, const char *prompt, const char *response, int *followed,
                              anc_error *err) {
    (void)kwargs, (void)prompt;
    static const char *type = "detectable_format:title";
    pcre2_code *re = NULL;
    anc_status st = ifx_rx_compile("<<[^\\n]+>>", 0, type, &re, err);
    if (st) return st;
    int found = 0;
    size_t n;
    st = ifx_rx_scan(re, response, type, visit_title, &found, &n, err);
    pcre2_code_free(re);
    if (!st) *followed = found;
    return st;
}

/* ---- detectable_content ------------------------------------------------- */

/* number_placeholders: matches of \[.*?\] number at least num_placeholders. */
static anc_status check_number_placeholders(const json_t *kwargs, const char *prompt, const char *response,
                                            int *followed, anc_error *err) {
    (void)prompt;
    static const char *type = "detectable_content:number_placeholders";
    long long want;
    anc_status st = kw_int(kwargs, type, "num_placeholders", &want, err);
    size_t n = 0;
    if (!st) st = ifx_rx_count("\\[.*?\\]", 0, response, 0, type, &n, err);
    if (!st) *followed = (long long)n >= want;
    return st;
}

/* postscript: in the lowercased response, a match (multiline) of
 * \s*p\.\s?p\.\s?s.*$ for the marker "P.P.S", \s*p\.\s?s\..*$ for "P.S.",
 * else \s*MARKER.*$ with the lowercased marker spliced in as a regex. */
static anc_status check_postscript(const json_t *kwargs, const char *prompt, const char *response, int *followed,
                                   anc_error *err) {
    (void)prompt;
    static const char *type = "detectable_content:postscript";
    char *marker = NULL, *pattern = NULL, *lower = NULL;
    anc_status st = kw_str(kwargs, type, "postscript_marker", &marker, err);
    if (st) return st;
    if (!strcmp(marker, "P.P.S")) {
        pattern = strdup("\\s*p\\.\\s?p\\.\\s?s.*$");
    } else if (!strcmp(marker, "P.S.")) {
        pattern = strdup("\\s*p\\.\\s?s\\..*$");
    } else {
        char *lm = NULL;
        if (!(st = ifx_lower(marker, strlen(marker), &lm, err))) {
            size_t plen = strlen(lm) + 16;
            if ((pattern = malloc(plen))) snprintf(pattern, plen, "\\s*%s.*$", lm);
        }
        free(lm);
    }
    size_t n = 0;
    if (!st) st = ifx_lower(response, strlen(response), &lower, err);
    if (!st && !pattern) st = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", type);
    if (!st) st = ifx_rx_count(pattern, PCRE2_MULTILINE, lower, 0, type, &n, err);
    if (!st) *followed = n > 0;
    free(marker);
    free(pattern);
    free(lower);
    return st;
}

/* ---- language ----------------------------------------------------------- */

/* The 55 codes langdetect can answer (its profiles); textcat's other
 * languages cannot be langdetect's answer and are skipped. */
static const char *const LANGDETECT_CODES[] = {
    "af", "ar", "bg", "bn", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "gu", "he", "hi",
    "hr", "hu", "id", "it", "ja", "kn", "ko", "lt", "lv", "mk", "ml", "mr", "ne", "nl", "no", "pa", "pl", "pt", "ro",
    "ru", "sk", "sl", "so", "sq", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "zh-cn", "zh-tw"};

/* textcat's category name ("es--utf8", "zh-CN-utf8", "nb--utf8") as a
 * langdetect code in out, or 0 when langdetect has no such language. */
static int textcat_code(const char *name, char out[8]) {
    if (!strncmp(name, "zh-CN", 5)) strcpy(out, "zh-cn");
    else if (!strncmp(name, "zh-TW", 5)) strcpy(out, "zh-tw");
    else {
        size_t k = strcspn(name, "-");
        if (k == 0 || k > 3) return 0;
        memcpy(out, name, k);
        out[k] = '\0';
        /* textcat languages langdetect lacks, as the langdetect language
         * that takes their text: Bokmål, Nynorsk; Scots (textcat's best
         * guess for much plain English verse and prose); Serbo-Croatian and
         * Bosnian in Latin script; Malay */
        static const char *const alias[][2] = {{"nb", "no"}, {"nn", "no"}, {"sco", "en"},
                                               {"sh", "hr"}, {"bs", "hr"}, {"ms", "id"}};
        for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
            if (!strcmp(out, alias[i][0])) strcpy(out, alias[i][1]);
    }
    for (size_t i = 0; i < sizeof LANGDETECT_CODES / sizeof *LANGDETECT_CODES; i++)
        if (!strcmp(out, LANGDETECT_CODES[i])) return 1;
    return 0;
}

/* Whether s holds a letter (Unicode category L*): langdetect raises (and
 * the official check counts the instruction as followed) on a text without
 * letters, as its n-gram features are letters only. */
static int has_letter(const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) {
            i++;
            continue;
        }
        utf8proc_category_t cat = utf8proc_category(c);
        if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) return 1;
        i += (size_t)k;
    }
    return 0;
}

/* response_language: langdetect.detect(response) == language, a detection
 * error counting as followed. Here: a response without letters follows
 * (langdetect's "no features" error); otherwise libexttextcat scores its
 * ~170 fingerprints (ANC_TEXTCAT_DIR/fpdb.conf) and the response follows
 * when the language asked for is among textcat's answer, the categories
 * within 3% of the best score (one for most texts; near-ties on short
 * ones, which textcat cannot tell apart and which count for each of
 * them), its names mapped to langdetect's codes (textcat_code: zh-CN/zh-TW
 * as zh-cn/zh-tw, a few languages langdetect lacks as the one that takes
 * their text, the rest never matching); textcat's "too short" and
 * "unknown" (more than five near-ties) verdicts count as detection
 * errors, so followed.
 * Residual: a different detector (Cavnar-Trenkle rank distance over
 * textcat's profiles vs langdetect's naive Bayes over Wikipedia profiles,
 * randomised in the official run, which sets no seed) can disagree on
 * short, mixed-language or code-heavy responses and between close
 * languages (hi/mr/ne, id/ms, hr/bs/sr, da/no).
 * Cost: the textcat handle (all fingerprint files) is loaded per call,
 * some milliseconds; ANC_ERR_IO when they cannot be read. */
static anc_status check_response_language(const json_t *kwargs, const char *prompt, const char *response,
                                          int *followed, anc_error *err) {
    (void)prompt;
    static const char *type = "language:response_language";
    char *want = NULL;
    anc_status st = kw_str(kwargs, type, "language", &want, err);
    if (st) return st;
    if (!has_letter(response)) {
        free(want);
        *followed = 1;
        return ANC_OK;
    }
    void *tc = special_textcat_Init(ANC_TEXTCAT_DIR "fpdb.conf", ANC_TEXTCAT_DIR);
    if (!tc) {
        free(want);
        return anc_error_set(err, ANC_ERR_IO, "%s: cannot load the libexttextcat fingerprints from %sfpdb.conf "
                             "(install libexttextcat-data)", type, ANC_TEXTCAT_DIR);
    }
    candidate_t *cand = textcat_GetClassifyFullOutput(tc);
    if (!cand) {
        textcat_Done(tc);
        free(want);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", type);
    }
    /* cnt > 0: the (at most five) categories within 3% of the best score,
     * best first; otherwise "too short" or "unknown" */
    int cnt = textcat_ClassifyFull(tc, response, strlen(response), cand);
    int ok = cnt <= 0; /* no verdict: a detection error, followed */
    for (int i = 0; i < cnt && !ok; i++) {
        char code[8];
        if (textcat_code(cand[i].name, code) && !strcmp(code, want)) ok = 1;
    }
    textcat_ReleaseClassifyFullOutput(tc, cand);
    textcat_Done(tc);
    free(want);
    *followed = ok;
    return ANC_OK;
}

const anc_ifeval_kind anc_ifeval_format_kinds[] = {
    {"detectable_format:constrained_response", check_constrained_response},
    {"detectable_format:json_format", check_json_format},
    {"detectable_format:multiple_sections", check_multiple_sections},
    {"detectable_format:number_bullet_lists", check_number_bullet_lists},
    {"detectable_format:number_highlighted_sections", check_number_highlighted_sections},
    {"detectable_format:title", check_title},
    {"detectable_content:number_placeholders", check_number_placeholders},
    {"detectable_content:postscript", check_postscript},
    {"language:response_language", check_response_language},
    {NULL, NULL},
};
