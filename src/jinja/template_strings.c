/* Chat-template engine: Python str methods (strip, split, startswith,
 * replace, find, join, ...) working on code points, plus the case mappings
 * shared with the lower/upper/title/capitalize filters (utf8proc's simple
 * case mapping). */
#include <string.h>
#include <utf8proc.h>

#include "jinja/template_internal.h"

enum {
    S_CAPITALIZE, S_CASEFOLD, S_CENTER, S_COUNT, S_ENDSWITH, S_FIND, S_FORMAT, S_INDEX, S_ISALNUM, S_ISALPHA,
    S_ISASCII, S_ISDECIMAL, S_ISDIGIT, S_ISLOWER, S_ISNUMERIC, S_ISSPACE, S_ISUPPER, S_JOIN, S_LJUST, S_LOWER,
    S_LSTRIP, S_PARTITION, S_REMOVEPREFIX, S_REMOVESUFFIX, S_REPLACE, S_RFIND, S_RINDEX, S_RJUST, S_RPARTITION,
    S_RSPLIT, S_RSTRIP, S_SPLIT, S_SPLITLINES, S_STARTSWITH, S_STRIP, S_SWAPCASE, S_TITLE, S_UPPER, S_ZFILL,
    S_UNSUPPORTED
};

static const struct {
    const char *name;
    int id;
} STR_METHODS[] = {
    {"capitalize", S_CAPITALIZE}, {"casefold", S_CASEFOLD}, {"center", S_CENTER}, {"count", S_COUNT},
    {"endswith", S_ENDSWITH}, {"find", S_FIND}, {"format", S_FORMAT}, {"index", S_INDEX}, {"isalnum", S_ISALNUM},
    {"isalpha", S_ISALPHA}, {"isascii", S_ISASCII}, {"isdecimal", S_ISDECIMAL}, {"isdigit", S_ISDIGIT},
    {"islower", S_ISLOWER}, {"isnumeric", S_ISNUMERIC}, {"isspace", S_ISSPACE}, {"isupper", S_ISUPPER},
    {"join", S_JOIN}, {"ljust", S_LJUST}, {"lower", S_LOWER}, {"lstrip", S_LSTRIP}, {"partition", S_PARTITION},
    {"removeprefix", S_REMOVEPREFIX}, {"removesuffix", S_REMOVESUFFIX}, {"replace", S_REPLACE}, {"rfind", S_RFIND},
    {"rindex", S_RINDEX}, {"rjust", S_RJUST}, {"rpartition", S_RPARTITION}, {"rsplit", S_RSPLIT},
    {"rstrip", S_RSTRIP}, {"split", S_SPLIT}, {"splitlines", S_SPLITLINES}, {"startswith", S_STARTSWITH},
    {"strip", S_STRIP}, {"swapcase", S_SWAPCASE}, {"title", S_TITLE}, {"upper", S_UPPER}, {"zfill", S_ZFILL},
    {"encode", S_UNSUPPORTED}, {"expandtabs", S_UNSUPPORTED}, {"format_map", S_UNSUPPORTED},
    {"isidentifier", S_UNSUPPORTED}, {"isprintable", S_UNSUPPORTED}, {"istitle", S_UNSUPPORTED},
    {"maketrans", S_UNSUPPORTED}, {"translate", S_UNSUPPORTED},
};

/* Python str methods anchor lacks get ids S_UNSUPPORTED + table index so
 * that errors can name them. */
int anc_tpl_str_method_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof STR_METHODS / sizeof STR_METHODS[0]; i++)
        if (strlen(STR_METHODS[i].name) == n && memcmp(STR_METHODS[i].name, name, n) == 0)
            return STR_METHODS[i].id == S_UNSUPPORTED ? S_UNSUPPORTED + (int)i : STR_METHODS[i].id;
    return -1;
}

const char *anc_tpl_str_method_name(int id) {
    if (id >= S_UNSUPPORTED && (size_t)(id - S_UNSUPPORTED) < sizeof STR_METHODS / sizeof STR_METHODS[0])
        return STR_METHODS[id - S_UNSUPPORTED].name;
    for (size_t i = 0; i < sizeof STR_METHODS / sizeof STR_METHODS[0]; i++)
        if (STR_METHODS[i].id == id) return STR_METHODS[i].name;
    return "?";
}

/* ------------------------------------------------------------- helpers */

static int is_cased(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

static int jinja_word_sep(uint32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || anc_tpl_py_space(cp);
}

/* Full (one-to-many) case mappings Python applies that utf8proc's simple
 * mapping lacks, for the commonest characters. */
static const struct {
    uint32_t cp;
    const char *upper, *title, *lower;
} SPECIAL_CASE[] = {
    {0x00DF, "SS", "Ss", NULL},        {0xFB00, "FF", "Ff", NULL},   {0xFB01, "FI", "Fi", NULL},
    {0xFB02, "FL", "Fl", NULL},        {0xFB03, "FFI", "Ffi", NULL}, {0xFB04, "FFL", "Ffl", NULL},
    {0xFB05, "ST", "St", NULL},        {0xFB06, "ST", "St", NULL},   {0x0149, "\xCA\xBCN", "\xCA\xBCN", NULL},
    {0x0130, NULL, NULL, "i\xCC\x87"},
};

static const char *special_case(uint32_t cp, int kind) {
    for (size_t i = 0; i < sizeof SPECIAL_CASE / sizeof SPECIAL_CASE[0]; i++)
        if (SPECIAL_CASE[i].cp == cp)
            return kind == 0 ? SPECIAL_CASE[i].lower : kind == 1 ? SPECIAL_CASE[i].upper : SPECIAL_CASE[i].title;
    return NULL;
}

int anc_tpl_str_case(tpl_rs *r, const tpl_node *at, tv s, int mode, tv *out) {
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    int rc = 0, prev_cased = 0, word_start = 1;
    for (size_t i = 0; i < s.u.s.n && !rc;) {
        uint32_t cp;
        size_t k = anc_tpl_u8_next(s.u.s.p, s.u.s.n, i, &cp);
        uint32_t o = cp;
        int kind = -1; /* which mapping applied: 0 lower, 1 upper, 2 title */
        if (k > 1 || cp < 0x80) {
            switch (mode) {
            case 0: kind = 0; break;
            case 1: kind = 1; break;
            case 2: kind = i == 0 ? 2 : 0; break;
            case 3: {
                int sep = jinja_word_sep(cp);
                kind = word_start && !sep ? 1 : 0;
                word_start = sep;
                break;
            }
            case 4:
                kind = prev_cased ? 0 : 2;
                prev_cased = is_cased(cp);
                break;
            default: {
                utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
                o = (uint32_t)(c == UTF8PROC_CATEGORY_LU ? utf8proc_tolower((utf8proc_int32_t)cp)
                               : c == UTF8PROC_CATEGORY_LL ? utf8proc_toupper((utf8proc_int32_t)cp)
                                                           : (utf8proc_int32_t)cp);
                break;
            }
            }
        }
        const char *multi = kind >= 0 && cp >= 0x80 ? special_case(cp, kind) : NULL;
        if (kind == 0) o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        if (kind == 1) o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp);
        if (kind == 2) o = (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp);
        if (multi) {
            rc = anc_tpl_buf_put(&b, multi, strlen(multi));
        } else if (k == 1 && cp >= 0x80) {
            rc = anc_tpl_buf_put(&b, s.u.s.p + i, 1);
        } else {
            char enc[4];
            rc = anc_tpl_buf_put(&b, enc, anc_tpl_u8_put(o, enc));
        }
        i += k;
    }
    if (anc_tpl_buf_check(r, at, rc)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

/* 1 when cp is in the code points of set (a string). */
static int in_set(tv set, uint32_t cp) {
    for (size_t i = 0; i < set.u.s.n;) {
        uint32_t c;
        i += anc_tpl_u8_next(set.u.s.p, set.u.s.n, i, &c);
        if (c == cp) return 1;
    }
    return 0;
}

int anc_tpl_str_strip(tpl_rs *r, const tpl_node *at, tv s, tv chars, int left, int right, tv *out) {
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (chars.kind == TV_NONE || chars.kind == TV_UNDEF) {
        size_t l = left ? anc_tpl_lspace(p, n) : 0;
        size_t rr = right ? anc_tpl_rspace(p + l, n - l) : 0;
        *out = anc_tv_str(p + l, n - l - rr);
        return 0;
    }
    if (chars.kind != TV_STR)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: strip arg must be None or str, not %s",
                            anc_tv_type_name(chars));
    size_t start = 0, end = n;
    if (left) {
        while (start < n) {
            uint32_t cp;
            size_t k = anc_tpl_u8_next(p, n, start, &cp);
            if (!in_set(chars, cp)) break;
            start += k;
        }
    }
    if (right) {
        size_t i = start, last = start;
        while (i < n) {
            uint32_t cp;
            size_t k = anc_tpl_u8_next(p, n, i, &cp);
            if (!in_set(chars, cp)) last = i + k;
            i += k;
        }
        end = last;
    }
    *out = anc_tv_str(p + start, end - start);
    return 0;
}

int anc_tpl_str_replace(tpl_rs *r, const tpl_node *at, tv s, tv old, tv new_, int64_t count, tv *out) {
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, i = 0;
    int rc = 0;
    if (old.u.s.n == 0) { /* insert new before every code point and at the end */
        while (!rc && (count < 0 || count-- > 0)) {
            rc = anc_tpl_buf_put(&b, new_.u.s.p, new_.u.s.n);
            if (i >= n) break;
            uint32_t cp;
            size_t k = anc_tpl_u8_next(p, n, i, &cp);
            if (!rc) rc = anc_tpl_buf_put(&b, p + i, k);
            i += k;
        }
        if (!rc && i < n) rc = anc_tpl_buf_put(&b, p + i, n - i);
    } else {
        while (!rc && (count < 0 || count > 0)) {
            const char *hit = anc_tpl_memfind(p + i, n - i, old.u.s.p, old.u.s.n);
            if (!hit) break;
            size_t off = (size_t)(hit - p);
            rc = anc_tpl_buf_put(&b, p + i, off - i);
            if (!rc) rc = anc_tpl_buf_put(&b, new_.u.s.p, new_.u.s.n);
            i = off + old.u.s.n;
            if (count > 0) count--;
        }
        if (!rc) rc = anc_tpl_buf_put(&b, p + i, n - i);
    }
    if (anc_tpl_buf_check(r, at, rc)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

static tv list_of(tv_list *l, int tuple) {
    tv v = anc_tv_none();
    v.kind = TV_LIST;
    v.tuple = (uint8_t)tuple;
    v.u.l = l;
    return v;
}

/* Growable list in the render arena. */
static int list_push(tpl_rs *r, tv_list *l, size_t *cap, tv x) {
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        tv *ni = anc_tpl_grow(&r->arena, l->items, *cap * sizeof *ni, nc * sizeof *ni);
        if (!ni) return -1;
        l->items = ni;
        *cap = nc;
    }
    l->items[l->n++] = x;
    return 0;
}

static int do_split(tpl_rs *r, const tpl_node *at, tv s, tpl_args *a, int from_right, tv *out) {
    static const char *const names[] = {"sep", "maxsplit"};
    if (anc_tpl_args_check(r, at, a, from_right ? "rsplit" : "split", 2, names)) return -1;
    tv sep = anc_tv_none(), ms;
    anc_tpl_arg(a, 0, "sep", &sep);
    int64_t maxsplit = anc_tpl_arg(a, 1, "maxsplit", &ms) && ms.kind == TV_INT ? ms.u.i : -1;
    tv_list *l = anc_tv_list_new(r, 0);
    size_t cap = 1;
    if (!l) return anc_tpl_oom_rs(r, at);
    l->n = 0;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (sep.kind == TV_STR && sep.u.s.n == 0)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: empty separator");
    if (sep.kind != TV_STR && sep.kind != TV_NONE)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: must be str or None, not %s", anc_tv_type_name(sep));
    if (sep.kind == TV_STR) {
        if (!from_right) {
            size_t i = 0;
            for (;;) {
                const char *hit = maxsplit != 0 ? anc_tpl_memfind(p + i, n - i, sep.u.s.p, sep.u.s.n) : NULL;
                size_t end = hit ? (size_t)(hit - p) : n;
                if (list_push(r, l, &cap, anc_tv_str(p + i, end - i))) return anc_tpl_oom_rs(r, at);
                if (!hit) break;
                i = end + sep.u.s.n;
                if (maxsplit > 0) maxsplit--;
            }
        } else {
            size_t end = n;
            for (;;) {
                size_t hit = (size_t)-1;
                if (maxsplit != 0)
                    for (size_t j = end; j >= sep.u.s.n; j--)
                        if (memcmp(p + j - sep.u.s.n, sep.u.s.p, sep.u.s.n) == 0) {
                            hit = j - sep.u.s.n;
                            break;
                        }
                size_t start = hit == (size_t)-1 ? 0 : hit + sep.u.s.n;
                if (list_push(r, l, &cap, anc_tv_str(p + start, end - start))) return anc_tpl_oom_rs(r, at);
                if (hit == (size_t)-1) break;
                end = hit;
                if (maxsplit > 0) maxsplit--;
            }
        }
    } else if (!from_right) {
        size_t i = anc_tpl_lspace(p, n);
        while (i < n) {
            size_t j = i;
            if (maxsplit == 0) {
                j = n;
            } else {
                while (j < n && !anc_tpl_lspace(p + j, n - j)) {
                    uint32_t cp;
                    j += anc_tpl_u8_next(p, n, j, &cp);
                }
            }
            if (list_push(r, l, &cap, anc_tv_str(p + i, j - i))) return anc_tpl_oom_rs(r, at);
            if (maxsplit > 0) maxsplit--;
            i = j + anc_tpl_lspace(p + j, n - j);
        }
    } else {
        size_t end = n - anc_tpl_rspace(p, n);
        while (end > 0) {
            size_t i = end;
            if (maxsplit == 0) {
                i = 0;
            } else {
                while (i > 0 && !anc_tpl_rspace(p, i)) {
                    i--;
                    while (i > 0 && ((unsigned char)p[i] & 0xC0) == 0x80) i--;
                }
            }
            if (list_push(r, l, &cap, anc_tv_str(p + i, end - i))) return anc_tpl_oom_rs(r, at);
            if (maxsplit > 0) maxsplit--;
            end = i - anc_tpl_rspace(p, i);
        }
    }
    if (from_right) {
        for (size_t i = 0; i < l->n / 2; i++) {
            tv t = l->items[i];
            l->items[i] = l->items[l->n - 1 - i];
            l->items[l->n - 1 - i] = t;
        }
    }
    *out = list_of(l, 0);
    return 0;
}

static int do_splitlines(tpl_rs *r, const tpl_node *at, tv s, tpl_args *a, tv *out) {
    tv kv;
    int keep = anc_tpl_arg(a, 0, "keepends", &kv) && anc_tv_truthy(kv);
    tv_list *l = anc_tv_list_new(r, 0);
    size_t cap = 1;
    if (!l) return anc_tpl_oom_rs(r, at);
    l->n = 0;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, start = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = anc_tpl_u8_next(p, n, i, &cp);
        int brk = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x1C || cp == 0x1D || cp == 0x1E ||
                  (k > 1 && (cp == 0x85 || cp == 0x2028 || cp == 0x2029));
        if (!brk) {
            i += k;
            continue;
        }
        size_t eol = i;
        i += k;
        if (cp == '\r' && i < n && p[i] == '\n') i++;
        if (list_push(r, l, &cap, anc_tv_str(p + start, (keep ? i : eol) - start))) return anc_tpl_oom_rs(r, at);
        start = i;
    }
    if (start < n && list_push(r, l, &cap, anc_tv_str(p + start, n - start))) return anc_tpl_oom_rs(r, at);
    *out = list_of(l, 0);
    return 0;
}

/* Code point index of byte offset off. */
static int64_t cp_index(tv s, size_t off) { return (int64_t)anc_tpl_u8_len(s.u.s.p, off); }

static int str_arg0(tpl_rs *r, const tpl_node *at, tpl_args *a, const char *m, tv *out) {
    if (anc_tpl_arg(a, 0, NULL, out) && out->kind == TV_STR) return 0;
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() needs a string argument", m);
}

static int char_test(tv s, int id) {
    if (s.u.s.n == 0) return id == S_ISASCII;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = anc_tpl_u8_next(s.u.s.p, s.u.s.n, i, &cp);
        i += k;
        utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
        int alpha = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
        int dec = c == UTF8PROC_CATEGORY_ND;
        int num = dec || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
        int ok = id == S_ISALPHA ? alpha
                 : id == S_ISALNUM ? alpha || num
                 : id == S_ISASCII ? cp < 0x80 && k == 1
                 : id == S_ISSPACE ? anc_tpl_py_space(cp)
                 : id == S_ISNUMERIC ? num
                                     : dec;
        if (!ok) return 0;
    }
    return 1;
}

static int pad(tpl_rs *r, const tpl_node *at, tv s, tpl_args *a, int id, tv *out) {
    tv w, f = anc_tv_cstr(" ");
    if (!anc_tpl_arg(a, 0, "width", &w) || (w.kind != TV_INT && w.kind != TV_BOOL))
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() needs an integer width",
                            anc_tpl_str_method_name(id));
    if (id != S_ZFILL && anc_tpl_arg(a, 1, "fillchar", &f) &&
        (f.kind != TV_STR || anc_tpl_u8_len(f.u.s.p, f.u.s.n) != 1))
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: the fill character must be exactly one character long");
    int64_t len = (int64_t)anc_tpl_u8_len(s.u.s.p, s.u.s.n), width = w.u.i > 1000000 ? 1000000 : w.u.i;
    if (width <= len) {
        *out = s;
        return 0;
    }
    int64_t marg = width - len, left;
    if (id == S_LJUST) left = 0;
    else if (id == S_RJUST || id == S_ZFILL) left = marg;
    else left = marg / 2 + (marg & width & 1);
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    int rc = 0;
    size_t body = 0;
    if (id == S_ZFILL) {
        f = anc_tv_cstr("0");
        if (s.u.s.n && (s.u.s.p[0] == '+' || s.u.s.p[0] == '-')) {
            rc = anc_tpl_buf_putc(&b, s.u.s.p[0]);
            body = 1;
        }
    }
    for (int64_t i = 0; i < left && !rc; i++) rc = anc_tpl_buf_put(&b, f.u.s.p, f.u.s.n);
    if (!rc) rc = anc_tpl_buf_put(&b, s.u.s.p + body, s.u.s.n - body);
    for (int64_t i = 0; i < marg - left && !rc; i++) rc = anc_tpl_buf_put(&b, f.u.s.p, f.u.s.n);
    if (anc_tpl_buf_check(r, at, rc)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

static int affix_test(tpl_rs *r, const tpl_node *at, tv s, tpl_args *a, int ends, int *res) {
    tv x;
    if (a->npos != 1 || a->nkw)
        return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: %s() with start/end arguments",
                            ends ? "endswith" : "startswith");
    x = a->pos[0];
    tv one[1] = {x};
    const tv *cands = one;
    size_t nc = 1;
    if (x.kind == TV_LIST && x.tuple) {
        cands = x.u.l->items;
        nc = x.u.l->n;
    }
    *res = 0;
    for (size_t i = 0; i < nc; i++) {
        tv c = cands[i];
        if (c.kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s first arg must be str or a tuple of str, not %s",
                                ends ? "endswith" : "startswith", anc_tv_type_name(c));
        if (c.u.s.n <= s.u.s.n && memcmp(s.u.s.p + (ends ? s.u.s.n - c.u.s.n : 0), c.u.s.p, c.u.s.n) == 0) *res = 1;
    }
    return 0;
}

int anc_tpl_call_str_method(tpl_rs *r, const tpl_node *at, tv s, int id, tpl_args *a, tv *out) {
    tv x, y;
    int res;
    switch (id) {
    case S_CAPITALIZE: return anc_tpl_str_case(r, at, s, 2, out);
    case S_CASEFOLD:
    case S_LOWER: return anc_tpl_str_case(r, at, s, 0, out);
    case S_UPPER: return anc_tpl_str_case(r, at, s, 1, out);
    case S_TITLE: return anc_tpl_str_case(r, at, s, 4, out);
    case S_SWAPCASE: return anc_tpl_str_case(r, at, s, 5, out);
    case S_STRIP:
    case S_LSTRIP:
    case S_RSTRIP:
        if (!anc_tpl_arg(a, 0, "chars", &x)) x = anc_tv_none();
        return anc_tpl_str_strip(r, at, s, x, id != S_RSTRIP, id != S_LSTRIP, out);
    case S_SPLIT: return do_split(r, at, s, a, 0, out);
    case S_RSPLIT: return do_split(r, at, s, a, 1, out);
    case S_SPLITLINES: return do_splitlines(r, at, s, a, out);
    case S_STARTSWITH:
    case S_ENDSWITH:
        if (affix_test(r, at, s, a, id == S_ENDSWITH, &res)) return -1;
        *out = anc_tv_bool(res);
        return 0;
    case S_REPLACE: {
        tv cnt;
        if (!anc_tpl_arg(a, 0, "old", &x) || !anc_tpl_arg(a, 1, "new", &y) || x.kind != TV_STR || y.kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: replace() needs two strings");
        int64_t count = anc_tpl_arg(a, 2, "count", &cnt) && cnt.kind == TV_INT ? cnt.u.i : -1;
        return anc_tpl_str_replace(r, at, s, x, y, count, out);
    }
    case S_FIND:
    case S_INDEX:
    case S_RFIND:
    case S_RINDEX:
    case S_COUNT: {
        if (str_arg0(r, at, a, anc_tpl_str_method_name(id), &x)) return -1;
        if (a->npos > 1)
            return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: %s() with start/end",
                                anc_tpl_str_method_name(id));
        if (id == S_COUNT) {
            int64_t c = 0;
            if (x.u.s.n == 0) {
                c = (int64_t)anc_tpl_u8_len(s.u.s.p, s.u.s.n) + 1;
            } else {
                for (size_t i = 0; i + x.u.s.n <= s.u.s.n;) {
                    const char *h = anc_tpl_memfind(s.u.s.p + i, s.u.s.n - i, x.u.s.p, x.u.s.n);
                    if (!h) break;
                    c++;
                    i = (size_t)(h - s.u.s.p) + x.u.s.n;
                }
            }
            *out = anc_tv_int(c);
            return 0;
        }
        long found = -1;
        if (id == S_FIND || id == S_INDEX) {
            const char *h = anc_tpl_memfind(s.u.s.p, s.u.s.n, x.u.s.p, x.u.s.n);
            if (h) found = (long)(h - s.u.s.p);
        } else if (x.u.s.n <= s.u.s.n) {
            for (size_t j = s.u.s.n - x.u.s.n + 1; j-- > 0;)
                if (memcmp(s.u.s.p + j, x.u.s.p, x.u.s.n) == 0) {
                    found = (long)j;
                    break;
                }
        }
        if (found < 0 && (id == S_INDEX || id == S_RINDEX))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: substring not found");
        *out = anc_tv_int(found < 0 ? -1 : cp_index(s, (size_t)found));
        return 0;
    }
    case S_JOIN: {
        tv_list *l;
        if (!anc_tpl_arg(a, 0, NULL, &x))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: join() takes one argument");
        if (anc_tv_iterate(r, at, x, &l)) return -1;
        tpl_buf b;
        anc_tpl_scratch(r, &b);
        for (size_t i = 0; i < l->n; i++) {
            if (l->items[i].kind != TV_STR)
                return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                    "TypeError: sequence item %zu: expected str instance, %s found", i,
                                    anc_tv_type_name(l->items[i]));
            if ((i && anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, s.u.s.p, s.u.s.n))) ||
                anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, l->items[i].u.s.p, l->items[i].u.s.n)))
                return -1;
        }
        *out = anc_tpl_scratch_done(&b);
        return 0;
    }
    case S_CENTER:
    case S_LJUST:
    case S_RJUST:
    case S_ZFILL: return pad(r, at, s, a, id, out);
    case S_PARTITION:
    case S_RPARTITION: {
        if (str_arg0(r, at, a, anc_tpl_str_method_name(id), &x)) return -1;
        if (x.u.s.n == 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: empty separator");
        tv_list *l = anc_tv_list_new(r, 3);
        if (!l) return anc_tpl_oom_rs(r, at);
        long found = -1;
        if (id == S_PARTITION) {
            const char *h = anc_tpl_memfind(s.u.s.p, s.u.s.n, x.u.s.p, x.u.s.n);
            if (h) found = (long)(h - s.u.s.p);
        } else if (x.u.s.n <= s.u.s.n) {
            for (size_t j = s.u.s.n - x.u.s.n + 1; j-- > 0;)
                if (memcmp(s.u.s.p + j, x.u.s.p, x.u.s.n) == 0) {
                    found = (long)j;
                    break;
                }
        }
        if (found < 0) {
            l->items[0] = id == S_PARTITION ? s : anc_tv_str("", 0);
            l->items[1] = anc_tv_str("", 0);
            l->items[2] = id == S_PARTITION ? anc_tv_str("", 0) : s;
        } else {
            l->items[0] = anc_tv_str(s.u.s.p, (size_t)found);
            l->items[1] = x;
            l->items[2] = anc_tv_str(s.u.s.p + found + x.u.s.n, s.u.s.n - (size_t)found - x.u.s.n);
        }
        *out = list_of(l, 1);
        return 0;
    }
    case S_REMOVEPREFIX:
    case S_REMOVESUFFIX:
        if (str_arg0(r, at, a, anc_tpl_str_method_name(id), &x)) return -1;
        *out = s;
        if (x.u.s.n <= s.u.s.n) {
            if (id == S_REMOVEPREFIX && memcmp(s.u.s.p, x.u.s.p, x.u.s.n) == 0)
                *out = anc_tv_str(s.u.s.p + x.u.s.n, s.u.s.n - x.u.s.n);
            if (id == S_REMOVESUFFIX && memcmp(s.u.s.p + s.u.s.n - x.u.s.n, x.u.s.p, x.u.s.n) == 0)
                *out = anc_tv_str(s.u.s.p, s.u.s.n - x.u.s.n);
        }
        return 0;
    case S_ISALNUM:
    case S_ISALPHA:
    case S_ISASCII:
    case S_ISDECIMAL:
    case S_ISDIGIT:
    case S_ISNUMERIC:
    case S_ISSPACE: *out = anc_tv_bool(char_test(s, id)); return 0;
    case S_ISLOWER:
    case S_ISUPPER:
        if (anc_tpl_apply_test(r, at, anc_tpl_test_id(id == S_ISLOWER ? "lower" : "upper", 5), s, a, &res)) return -1;
        *out = anc_tv_bool(res);
        return 0;
    case S_FORMAT: return anc_tpl_str_format(r, at, s, a, out);
    default: return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: method str.%s", anc_tpl_str_method_name(id));
    }
}
