/* Python str semantics and nltk approximations for ifeval_text.c; see
 * ifeval_util.h. Residuals against the official Python (CPython 3 str,
 * nltk punkt English, nltk word_tokenize) are stated at each function. */
#include "eval/ifeval_util.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/text.h"

static int cat_of(uint32_t cp) { return (int)utf8proc_category((utf8proc_int32_t)cp); }

static int is_letter(uint32_t cp) {
    int c = cat_of(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO;
}

/* Residual: Python's \w is str.isalnum() or '_', i.e. L*, and characters
 * with a Numeric_Type (N* here); the few Lo/So ideographs with a numeric
 * value are letters already. Marks (Mn/Mc) are not \w in either. */
int ifx_is_word(uint32_t cp) {
    if (cp < 128) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    int c = cat_of(cp);
    return is_letter(cp) || c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

/* Python's Uppercase/Lowercase properties. Residual: approximated by the
 * category (Lu/Ll) or by having a simple case mapping (covers the circled
 * letters and Roman numerals of Other_Uppercase/Other_Lowercase); the
 * Other_Lowercase characters without a mapping (U+00AA, U+00BA, modifier
 * letters such as U+02B0) are missed. Titlecase (Lt) is neither. */
int ifx_cp_upper(uint32_t cp) {
    if (cp < 128) return cp >= 'A' && cp <= 'Z';
    int c = cat_of(cp);
    if (c == UTF8PROC_CATEGORY_LT) return 0;
    return c == UTF8PROC_CATEGORY_LU || (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp) != cp;
}

int ifx_cp_lower(uint32_t cp) {
    if (cp < 128) return cp >= 'a' && cp <= 'z';
    int c = cat_of(cp);
    if (c == UTF8PROC_CATEGORY_LT) return 0;
    return c == UTF8PROC_CATEGORY_LL || (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp) != cp;
}

static int cp_title(uint32_t cp) { return cp >= 128 && cat_of(cp) == UTF8PROC_CATEGORY_LT; }

/* CPython: any lowercase or titlecase char -> False; needs one cased. */
int ifx_isupper(const char *s, size_t len) {
    int cased = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += anc_text_utf8_next(s + i, len - i, &cp);
        if (ifx_cp_lower(cp) || cp_title(cp)) return 0;
        if (ifx_cp_upper(cp)) cased = 1;
    }
    return cased;
}

int ifx_islower(const char *s, size_t len) {
    int cased = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += anc_text_utf8_next(s + i, len - i, &cp);
        if (ifx_cp_upper(cp) || cp_title(cp)) return 0;
        if (ifx_cp_lower(cp)) cased = 1;
    }
    return cased;
}

/* Residual: utf8proc's simple mappings; of SpecialCasing only U+0130 and
 * Final_Sigma (approximated by "letter before, no letter after", where
 * Python skips case-ignorable characters) are handled. */
anc_status ifx_lower(const char *s, size_t len, char **out, anc_error *err) {
    uint32_t *cps = NULL;
    size_t n = 0;
    anc_status st = anc_text_decode(s, len, &cps, &n, err);
    if (st != ANC_OK) return st;
    char *r = malloc(n * 4 + 3);
    if (!r) {
        free(cps);
        return anc_error_set(err, ANC_ERR_NOMEM, "ifeval: out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i], lc;
        if (cp < 128) {
            r[o++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            continue;
        }
        if (cp == 0x130) {
            r[o++] = 'i';
            lc = 0x307;
        } else if (cp == 0x3A3 && i > 0 && is_letter(cps[i - 1]) && !(i + 1 < n && is_letter(cps[i + 1]))) {
            lc = 0x3C2;
        } else {
            lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        }
        o += (size_t)utf8proc_encode_char((utf8proc_int32_t)lc, (utf8proc_uint8_t *)r + o);
    }
    r[o] = '\0';
    free(cps);
    *out = r;
    return ANC_OK;
}

size_t ifx_count_words(const char *s, size_t len) {
    size_t n = 0;
    int in = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += anc_text_utf8_next(s + i, len - i, &cp);
        int w = ifx_is_word(cp);
        if (w && !in) n++;
        in = w;
    }
    return n;
}

/* ---- punkt ------------------------------------------------------------- */

/* abbrev_types of nltk's English punkt model (as printed in nltk issue
 * #2500). */
static const char *const PUNKT_ABBREV[] = {
    "ore", "d", "e.f", "dec", "f.g", "n.d", "mg", "n.j", "sen", "n", "g.d", "v", "h.f", "mrs", "d.h", "a.c",
    "m.b.a", "wed", "s.a", "prof", "vt", "e", "c.o.m.b", "u.n", "c.v", "ave", "p.m", "feb", "wis", "e.l", "st",
    "d.c", "va", "calif", "w", "h", "fla", "dr", "l", "r", "colo", "a.h", "ms", "u.s.s.r", "l.a", "m", "r.j",
    "b.f", "n.m", "aug", "mich", "tues", "a.a", "j.p", "a.g", "rep", "s.c", "n.y", "r.a", "r.h", "sw", "chg",
    "okla", "g.k", "ariz", "ok", "vs", "ft", "a.t", "s.g", "bros", "u.s.a", "ky", "i.m.s", "gen", "t", "reps",
    "e.h", "ala", "messrs", "s.a.y", "fri", "u.k", "jr", "inc", "ga", "ph.d", "sept", "ill", "n.v", "c.i.t",
    "lt", "e.m", "j.c", "wash", "m.d.c", "kan", "r.t", "tenn", "k", "d.w", "jan", "w.w", "w.r", "r.i", "s.s",
    "l.f", "s.p.a", "pa", "b.v", "c", "w.c", "f", "r.k", "s", "g.f", "j.r", "w.va", "mr", "corp", "f.j", "conn",
    "h.c", "a.m", "cos", "a.d", "j.j", "j.b", "yr", "col", "nov", "u.s", "a.m.e", "p.a.m", "cie", "n.h", "sep",
    "ct", "a.s", "m.j", "t.j", "h.m", "n.c", "adm", "l.p", "co", "minn", "ltd", "p", "oct", "nev", "sr", "maj",
    "g", "j.k",
};

static int is_abbrev(const char *w, size_t n) {
    for (size_t i = 0; i < sizeof PUNKT_ABBREV / sizeof *PUNKT_ABBREV; i++)
        if (strlen(PUNKT_ABBREV[i]) == n && !memcmp(PUNKT_ABBREV[i], w, n)) return 1;
    return 0;
}

static int is_sent_end(uint32_t c) { return c == '.' || c == '?' || c == '!'; }
/* punkt's _re_non_word_chars: [)";}\]*:@'({\[!?] */
static int is_nonword(uint32_t c) { return c && c < 128 && strchr(")\";}]*:@'({[!?", (int)c); }
/* characters that cannot start a punkt word: [(\"`{\[:;&#*@)}\]\-,] */
static int no_word_start(uint32_t c) { return c < 128 && c && strchr("(\"`{[:;&#*@)}]-,", (int)c); }
static int is_digit(uint32_t c) { return c < 128 ? (c >= '0' && c <= '9') : cat_of(c) == UTF8PROC_CATEGORY_ND; }

typedef struct {
    int punct;      /* the next token is one of ; : , . ! ? (ortho: not a starter) */
    int upper, lower; /* its first character's case */
    int initial;    /* it is a letter followed by '.' */
} next_tok;

static next_tok next_info(const uint32_t *c, size_t n, size_t j) {
    next_tok t = {0, 0, 0, 0};
    uint32_t f = c[j];
    if (strchr(";:,!?", (int)(f < 128 ? f : 1)) && f < 128 && f) t.punct = 1;
    else if (f == '.' && (j + 1 >= n || anc_text_is_space(c[j + 1]))) t.punct = 1;
    else if (no_word_start(f) || is_nonword(f)) {
    } else {
        t.upper = ifx_cp_upper(f);
        t.lower = ifx_cp_lower(f);
        t.initial = ifx_is_word(f) && !is_digit(f) && j + 1 < n && c[j + 1] == '.' &&
                    (j + 2 >= n || anc_text_is_space(c[j + 2]) || is_nonword(c[j + 2]));
    }
    return t;
}

/* punkt's type "##number##": -?[.,]?\d[\d,.-]* (the final period gone). */
static int is_number(const uint32_t *w, size_t n) {
    size_t i = 0;
    if (i < n && w[i] == '-') i++;
    if (i < n && (w[i] == '.' || w[i] == ',')) i++;
    if (i >= n || !is_digit(w[i])) return 0;
    for (i++; i < n; i++)
        if (!is_digit(w[i]) && w[i] != ',' && w[i] != '.' && w[i] != '-') return 0;
    return 1;
}

/* Whether punkt marks the token ending at the sentence-end char c[i] as a
 * sentence break, given the token that follows. */
static int decide_break(const uint32_t *c, size_t i, next_tok nt) {
    if (c[i] != '.') return 1; /* '?' '!' are sent_end_chars tokens */
    if (i > 0 && c[i - 1] == '.') return nt.upper; /* ellipsis: ortho heuristic ~ capital next */
    size_t j = i;
    while (j > 0 && !anc_text_is_space(c[j - 1]) && !is_nonword(c[j - 1])) j--;
    for (size_t k = j; k + 1 < i; k++)
        if (c[k] == '-' && c[k + 1] == '-') j = k + 2;
    while (j < i && no_word_start(c[j])) j++;
    size_t wn = i - j;
    if (!wn) return 1; /* lone "." token */
    const uint32_t *w = c + j;
    int initial = wn == 1 && ifx_is_word(w[0]) && !is_digit(w[0]);
    if (initial || is_number(w, wn)) {
        if (nt.punct || nt.lower) return 0;
        if (initial && nt.initial) return 0;
        return 1;
    }
    /* abbreviation check on the lowercased token and on its last '-' part */
    char buf[64];
    size_t b = 0, dash = 0;
    for (size_t k = 0; k < wn; k++) {
        uint32_t lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)w[k]);
        if (lc >= 128 || b + 1 >= sizeof buf) return 1; /* no listed abbreviation is like that */
        if (lc == '-') dash = b + 1;
        buf[b++] = (char)lc;
    }
    if (is_abbrev(buf, b) || is_abbrev(buf + dash, b - dash)) return 0;
    return 1;
}

/* Residual against nltk punkt (english.pickle), which this follows in
 * structure: candidates are [.?!] followed by punkt's non-word punctuation
 * or by whitespace and a token; a whitespace-free run of candidates is one
 * context; '?' and '!' always break; a '.' token breaks unless it is one of
 * the model's abbreviations (listed above), an initial or a number followed
 * by a lowercase word or ;:,.!? (punkt's orthographic heuristic, which here
 * ignores the learned per-word case statistics), or an initial followed by
 * another initial; "..." breaks before a capitalised word. Not reproduced:
 * collocations, the frequent-sentence-starter list, the ortho statistics
 * that let an abbreviation end a sentence before a word punkt has only seen
 * lowercase, the spaced ". . ." ellipsis. A trailing slice of only closing
 * quotes/brackets is merged as punkt's boundary realignment does. */
anc_status ifx_count_sentences(const char *s, size_t len, size_t *count, anc_error *err) {
    uint32_t *c = NULL;
    size_t n = 0;
    anc_status st = anc_text_decode(s, len, &c, &n, err);
    if (st != ANC_OK) return st;
    size_t breaks = 0, last_break = 0;
    int pending = 0, last_after = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!is_sent_end(c[i])) continue;
        size_t j = i + 1;
        int after = is_nonword(c[j]);
        if (!after) {
            if (!anc_text_is_space(c[j])) continue;
            while (j < n && anc_text_is_space(c[j])) j++;
            if (j >= n) continue;
        }
        /* a later candidate with no whitespace in between takes this one's context */
        if (decide_break(c, i, next_info(c, n, j))) pending = 1;
        size_t k = i + 1;
        while (k < n && !anc_text_is_space(c[k]) && !is_sent_end(c[k])) k++;
        int more = 0;
        if (k < n && is_sent_end(c[k])) {
            size_t m = k + 1; /* is c[k] itself a candidate? */
            more = m < n && (is_nonword(c[m]) || anc_text_is_space(c[m]));
            if (more && !is_nonword(c[m])) {
                while (m < n && anc_text_is_space(c[m])) m++;
                more = m < n;
            }
        }
        if (more) continue;
        if (pending) {
            breaks++;
            last_break = after ? i + 1 : j;
            last_after = after;
        }
        pending = 0;
    }
    size_t nonspace = 0;
    for (size_t i = 0; i < n && !nonspace; i++) nonspace = !anc_text_is_space(c[i]);
    size_t total = nonspace ? breaks + 1 : 0; /* punkt drops a blank last slice */
    if (breaks && last_after) {
        size_t k = last_break;
        while (k < n && c[k] < 128 && strchr("\"')]}", (int)c[k]) && c[k]) k++;
        size_t q = k;
        while (q < n && anc_text_is_space(c[q])) q++;
        if (k > last_break && q == n) total--;
    }
    free(c);
    *count = total;
    return ANC_OK;
}

/* ---- word_tokenize ----------------------------------------------------- */

static int tok_sep(const uint32_t *c, size_t n, size_t i) {
    uint32_t x = c[i];
    if (x == 0x201C || x == 0x201D) return 1;
    if (x < 128 && x && strchr("()[]{}<>;@#$%&?!\"`", (int)x)) return 1;
    if (x == ',' || x == ':') return !(i + 1 < n && is_digit(c[i + 1]));
    return 0;
}

static int is_apos(uint32_t x) { return x == '\'' || x == 0x2019; }
static int ci_eq(uint32_t a, char b) { return a < 128 && (a | 0x20) == (uint32_t)b; }

/* Length of a contraction suffix nltk splits off w[0..n) ('s 'm 'd 'll 're
 * 've n't), 0 when none. */
static size_t contraction(const uint32_t *w, size_t n) {
    if (n >= 3 && ci_eq(w[n - 3], 'n') && is_apos(w[n - 2]) && ci_eq(w[n - 1], 't')) return n > 3 ? 3 : 0;
    if (n >= 3 && is_apos(w[n - 3]) &&
        ((ci_eq(w[n - 2], 'l') && ci_eq(w[n - 1], 'l')) || (ci_eq(w[n - 2], 'r') && ci_eq(w[n - 1], 'e')) ||
         (ci_eq(w[n - 2], 'v') && ci_eq(w[n - 1], 'e'))))
        return n > 3 ? 3 : 0;
    if (n >= 2 && is_apos(w[n - 2]) && (ci_eq(w[n - 1], 's') || ci_eq(w[n - 1], 'm') || ci_eq(w[n - 1], 'd')))
        return n > 2 ? 2 : 0;
    return 0;
}

static int cps_isupper(const uint32_t *w, size_t n) {
    int cased = 0;
    for (size_t i = 0; i < n; i++) {
        if (ifx_cp_lower(w[i]) || cp_title(w[i])) return 0;
        if (ifx_cp_upper(w[i])) cased = 1;
    }
    return cased;
}

static size_t count_piece(const uint32_t *w, size_t n) {
    if (!n) return 0;
    size_t k = contraction(w, n);
    if (k) return (size_t)cps_isupper(w, n - k) + (size_t)cps_isupper(w + n - k, k);
    return (size_t)cps_isupper(w, n);
}

/* Residual against nltk.word_tokenize (punkt sentences, then the Treebank
 * rules): whitespace chunks are cut at the punctuation Treebank splits off
 * (brackets, ;@#$%&?!"` and curly double quotes, ',' and ':' not before a
 * digit, "--", "...") and at the contraction suffixes; hyphens, slashes,
 * inner periods and apostrophes stay inside a token as in nltk. Not
 * reproduced: nltk's rarer splits (e.g. "cannot" -> "can" "not",
 * "gonna"), which change the count only when both halves are capitalised. */
anc_status ifx_count_upper_tokens(const char *s, size_t len, size_t *count, anc_error *err) {
    uint32_t *c = NULL;
    size_t n = 0;
    anc_status st = anc_text_decode(s, len, &c, &n, err);
    if (st != ANC_OK) return st;
    size_t total = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        int cut = i == n || anc_text_is_space(c[i]) || tok_sep(c, n, i);
        size_t skip = 1;
        if (!cut && i + 1 < n && c[i] == '-' && c[i + 1] == '-') cut = 1, skip = 2;
        if (!cut && i + 2 < n && c[i] == '.' && c[i + 1] == '.' && c[i + 2] == '.') cut = 1, skip = 3;
        if (!cut) continue;
        total += count_piece(c + start, i - start);
        i += skip - 1;
        start = i + 1;
    }
    free(c);
    *count = total;
    return ANC_OK;
}
