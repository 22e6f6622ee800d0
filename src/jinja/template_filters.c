/* Chat-template engine: jinja2 filters (with transformers' tojson) and
 * Python %-formatting. Semantics follow jinja2 3.1 (e.g. sort, unique and
 * dictsort ignore case by default; round rounds half to even; selectattr
 * and map look attributes up with the sandboxed getitem). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja/template_internal.h"

enum {
    F_ABS, F_ATTR, F_BATCH, F_CAPITALIZE, F_CENTER, F_DEFAULT, F_DICTSORT, F_ESCAPE, F_FIRST, F_FLOAT, F_FORMAT,
    F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP, F_MAX, F_MIN, F_REJECT,
    F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR, F_SORT, F_STRING, F_SUM, F_TITLE,
    F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER, F_WORDCOUNT
};

static const struct {
    const char *name;
    int id;
} FILTERS[] = {
    {"abs", F_ABS}, {"attr", F_ATTR}, {"batch", F_BATCH}, {"capitalize", F_CAPITALIZE}, {"center", F_CENTER},
    {"count", F_LENGTH}, {"d", F_DEFAULT}, {"default", F_DEFAULT}, {"dictsort", F_DICTSORT}, {"e", F_ESCAPE},
    {"escape", F_ESCAPE}, {"first", F_FIRST}, {"float", F_FLOAT}, {"forceescape", F_ESCAPE}, {"format", F_FORMAT},
    {"indent", F_INDENT}, {"int", F_INT}, {"items", F_ITEMS}, {"join", F_JOIN}, {"last", F_LAST},
    {"length", F_LENGTH}, {"list", F_LIST}, {"lower", F_LOWER}, {"map", F_MAP}, {"max", F_MAX}, {"min", F_MIN},
    {"reject", F_REJECT}, {"rejectattr", F_REJECTATTR}, {"replace", F_REPLACE}, {"reverse", F_REVERSE},
    {"round", F_ROUND}, {"safe", F_SAFE}, {"select", F_SELECT}, {"selectattr", F_SELECTATTR}, {"sort", F_SORT},
    {"string", F_STRING}, {"sum", F_SUM}, {"title", F_TITLE}, {"tojson", F_TOJSON}, {"trim", F_TRIM},
    {"unique", F_UNIQUE}, {"upper", F_UPPER}, {"wordcount", F_WORDCOUNT},
};

/* jinja2 filters anchor does not implement. */
static const char *const UNSUPPORTED[] = {"filesizeformat", "groupby",   "pprint", "random",   "slice",   "striptags",
                                          "truncate",       "urlencode", "urlize", "wordwrap", "xmlattr", NULL};

int anc_tpl_filter_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof FILTERS / sizeof FILTERS[0]; i++)
        if (strlen(FILTERS[i].name) == n && memcmp(FILTERS[i].name, name, n) == 0) return FILTERS[i].id;
    for (size_t i = 0; UNSUPPORTED[i]; i++)
        if (strlen(UNSUPPORTED[i]) == n && memcmp(UNSUPPORTED[i], name, n) == 0) return -2;
    return -1;
}

/* ------------------------------------------------------------- helpers */

static tv list_value(tv_list *l, int tuple) {
    tv v = anc_tv_none();
    v.kind = TV_LIST;
    v.tuple = (uint8_t)tuple;
    v.u.l = l;
    return v;
}

/* A lazy iterator as jinja2's generator-returning filters give. */
static tv gen_value(tv_list *l, int flavor) {
    tv v = list_value(l, 0);
    v.flavor = (uint8_t)flavor;
    return v;
}

/* jinja2 make_attrgetter: "a.b.0" looked up part by part with getitem. */
static int attr_get(tpl_rs *r, const tpl_node *at, tv item, tv attr, tv *out) {
    if (attr.kind != TV_STR) return anc_tpl_getitem(r, at, item, attr, out);
    const char *p = attr.u.s.p, *end = p + attr.u.s.n;
    tv cur = item;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        int digits = len > 0;
        int64_t idx = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] < '0' || p[i] > '9' || idx > INT64_MAX / 10 - 10) {
                digits = 0;
                break;
            }
            idx = idx * 10 + (p[i] - '0');
        }
        if (anc_tpl_getitem(r, at, cur, digits ? anc_tv_int(idx) : anc_tv_str(p, len), &cur)) return -1;
        if (!dot) break;
        p = dot + 1;
    }
    *out = cur;
    return 0;
}

/* Lower-cases strings (jinja2 ignore_case) for case-insensitive ordering. */
static int fold(tpl_rs *r, const tpl_node *at, tv v, int case_sensitive, tv *out) {
    if (case_sensitive || v.kind != TV_STR) {
        *out = v;
        return 0;
    }
    return anc_tpl_str_case(r, at, v, 0, out);
}

/* Stable merge sort of items by keys (ties keep their order; reverse too). */
static int sort_by(tpl_rs *r, const tpl_node *at, tv *items, tv *keys, size_t n, int reverse) {
    if (n < 2) return 0;
    tv *ti = anc_tpl_alloc(&r->arena, n * sizeof *ti), *tk = anc_tpl_alloc(&r->arena, n * sizeof *tk);
    if (!ti || !tk) return anc_tpl_oom_rs(r, at);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int take_right;
                if (reverse ? anc_tv_less(r, at, keys[i], keys[j], &take_right)
                            : anc_tv_less(r, at, keys[j], keys[i], &take_right))
                    return -1;
                size_t s = take_right ? j++ : i++;
                ti[k] = items[s];
                tk[k++] = keys[s];
            }
            while (i < mid) ti[k] = items[i], tk[k++] = keys[i++];
            while (j < hi) ti[k] = items[j], tk[k++] = keys[j++];
        }
        memcpy(items, ti, n * sizeof *ti);
        memcpy(keys, tk, n * sizeof *tk);
    }
    return 0;
}

static int str_arg(tpl_rs *r, const tpl_node *at, const tpl_args *a, size_t i, const char *name, const char *def,
                   tv *out) {
    tv v;
    if (!anc_tpl_arg(a, i, name, &v)) {
        *out = anc_tv_cstr(def);
        return 0;
    }
    return anc_tv_to_str(r, at, v, out);
}

static int bool_arg(const tpl_args *a, size_t i, const char *name, int def) {
    tv v;
    return anc_tpl_arg(a, i, name, &v) ? anc_tv_truthy(v) : def;
}

static int copy_list(tpl_rs *r, const tpl_node *at, tv in, tv_list **out) {
    tv_list *src;
    if (anc_tv_iterate(r, at, in, &src)) return -1;
    tv_list *l = anc_tv_list_new(r, src->n);
    if (!l) return anc_tpl_oom_rs(r, at);
    if (src->n) memcpy(l->items, src->items, src->n * sizeof(tv));
    *out = l;
    return 0;
}

/* select / reject / selectattr / rejectattr. */
static int select_items(tpl_rs *r, const tpl_node *at, tv in, tpl_args *a, int with_attr, int keep, tv *out) {
    tv_list *src;
    if (anc_tv_iterate(r, at, in, &src)) return -1;
    size_t first_test = with_attr ? 1 : 0;
    tv attr = anc_tv_none(), test_name;
    if (with_attr && !anc_tpl_arg(a, 0, NULL, &attr))
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s needs an attribute name",
                            keep ? "selectattr" : "rejectattr");
    int test_id = -3;
    tpl_args targs;
    memset(&targs, 0, sizeof targs);
    if (anc_tpl_arg(a, first_test, NULL, &test_name)) {
        if (test_name.kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: test name must be a string");
        test_id = anc_tpl_test_id(test_name.u.s.p, test_name.u.s.n);
        if (test_id < 0)
            return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "no test named '%.*s'", (int)test_name.u.s.n,
                                test_name.u.s.p);
        targs.pos = a->pos + first_test + 1;
        targs.npos = a->npos - first_test - 1;
        targs.kw_names = a->kw_names;
        targs.kw = a->kw;
        targs.nkw = a->nkw;
    }
    tv_list *l = anc_tv_list_new(r, src->n);
    if (!l) return anc_tpl_oom_rs(r, at);
    l->n = 0;
    for (size_t i = 0; i < src->n; i++) {
        tv x = src->items[i];
        int res;
        if (with_attr && attr_get(r, at, x, attr, &x)) return -1;
        if (test_id == -3) {
            res = anc_tv_truthy(x);
        } else if (anc_tpl_apply_test(r, at, test_id, x, &targs, &res)) {
            return -1;
        }
        if (res == keep) l->items[l->n++] = src->items[i];
    }
    *out = gen_value(l, FL_GEN_SELECT);
    return 0;
}

static int do_map(tpl_rs *r, const tpl_node *at, tv in, tpl_args *a, tv *out) {
    tv_list *src;
    if (anc_tv_iterate(r, at, in, &src)) return -1;
    tv_list *l = anc_tv_list_new(r, src->n);
    if (!l) return anc_tpl_oom_rs(r, at);
    tv attr, def;
    if (a->npos == 0 && anc_tpl_arg(a, 99, "attribute", &attr)) {
        int has_def = anc_tpl_arg(a, 99, "default", &def);
        for (size_t i = 0; i < src->n; i++) {
            if (attr_get(r, at, src->items[i], attr, &l->items[i])) return -1;
            if (has_def && l->items[i].kind == TV_UNDEF) l->items[i] = def;
        }
        *out = gen_value(l, FL_GEN_MAP);
        return 0;
    }
    tv fname;
    if (!anc_tpl_arg(a, 0, NULL, &fname) || fname.kind != TV_STR)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: map() needs a filter name or attribute=");
    int id = anc_tpl_filter_id(fname.u.s.p, fname.u.s.n);
    if (id < 0)
        return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "no filter named '%.*s'", (int)fname.u.s.n, fname.u.s.p);
    tpl_args fa = *a;
    fa.pos++;
    fa.npos--;
    for (size_t i = 0; i < src->n; i++)
        if (anc_tpl_apply_filter(r, at, id, src->items[i], &fa, &l->items[i])) return -1;
    *out = gen_value(l, FL_GEN_MAP);
    return 0;
}

static int do_indent(tpl_rs *r, const tpl_node *at, tv s, tpl_args *a, tv *out) {
    tv w, ind;
    if (!anc_tpl_arg(a, 0, "width", &w)) w = anc_tv_int(4);
    if (w.kind == TV_STR) {
        ind = w;
    } else if (w.kind == TV_INT || w.kind == TV_BOOL) {
        tpl_buf b;
        anc_tpl_scratch(r, &b);
        for (int64_t i = 0; i < w.u.i && i < 4096; i++)
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_putc(&b, ' '))) return -1;
        ind = anc_tpl_scratch_done(&b);
    } else {
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: indent width must be an int or a string");
    }
    int first = bool_arg(a, 1, "first", 0), blank = bool_arg(a, 2, "blank", 0);
    if (s.kind != TV_STR) /* jinja2 appends "\n" to the value itself */
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: indent needs a string, not %s", anc_tv_type_name(s));
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    const char *p = s.u.s.p, *end = p + s.u.s.n;
    int line_no = 0, rc = 0;
    /* s + "\n" split into lines (Python splitlines on \n, \r\n, \r). */
    while (p < end && !rc) {
        const char *q = p;
        while (q < end && *q != '\n' && *q != '\r') q++;
        size_t len = (size_t)(q - p);
        if (line_no > 0) rc = anc_tpl_buf_putc(&b, '\n');
        if (!rc && (line_no > 0 || first) && (blank || len > 0 || (line_no == 0 && first)))
            rc = anc_tpl_buf_put(&b, ind.u.s.p, ind.u.s.n);
        if (!rc) rc = anc_tpl_buf_put(&b, p, len);
        if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n') q++;
        p = q < end ? q + 1 : q;
        line_no++;
    }
    if (!rc && line_no == 0 && first) rc = anc_tpl_buf_put(&b, ind.u.s.p, ind.u.s.n);
    if (!rc && s.u.s.n && (end[-1] == '\n' || end[-1] == '\r')) rc = anc_tpl_buf_putc(&b, '\n');
    if (anc_tpl_buf_check(r, at, rc)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

static int do_round(tpl_rs *r, const tpl_node *at, tv v, tpl_args *a, tv *out) {
    tv pv, mv;
    int64_t prec = anc_tpl_arg(a, 0, "precision", &pv) && (pv.kind == TV_INT || pv.kind == TV_BOOL) ? pv.u.i : 0;
    tv method = anc_tv_cstr("common");
    if (anc_tpl_arg(a, 1, "method", &mv)) method = mv;
    if (!anc_tv_is_num(v))
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: round() needs a number, not %s", anc_tv_type_name(v));
    if (prec > 300) prec = 300;
    if (prec < -300) prec = -300;
    double x = anc_tv_num(v), scale = pow(10.0, (double)(prec < 0 ? -prec : prec));
    if (method.kind == TV_STR && method.u.s.n == 6 && memcmp(method.u.s.p, "common", 6) == 0) {
        if (v.kind != TV_FLOAT && prec >= 0) {
            *out = anc_tv_int(v.u.i);
            return 0;
        }
        if (prec == 0) {
            *out = anc_tv_float(rint(x));
        } else if (prec > 0) {
            char buf[512];
            snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
            char clean[512];
            size_t k = 0;
            for (size_t i = 0; buf[i] && k + 1 < sizeof clean; i++)
                clean[k++] = (buf[i] == ',' ? '.' : buf[i]);
            double y;
            *out = anc_tv_float(anc_tpl_parse_float(clean, k, &y) == 0 ? y : x);
        } else {
            *out = anc_tv_float(rint(x / scale) * scale);
        }
        if (v.kind != TV_FLOAT) *out = anc_tv_int((int64_t)out->u.f);
        return 0;
    }
    int is_floor = method.kind == TV_STR && method.u.s.n == 5 && memcmp(method.u.s.p, "floor", 5) == 0;
    int is_ceil = method.kind == TV_STR && method.u.s.n == 4 && memcmp(method.u.s.p, "ceil", 4) == 0;
    if (!is_floor && !is_ceil)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: method must be common, ceil or floor");
    double y = prec >= 0 ? x * scale : x / scale;
    y = is_floor ? floor(y) : ceil(y);
    *out = anc_tv_float(prec >= 0 ? y / scale : y * scale);
    return 0;
}

/* Python int(str, base) (whitespace, sign, underscores, prefixes). */
static int parse_int(const char *s, size_t n, int base, int64_t *out) {
    size_t i = anc_tpl_lspace(s, n);
    n -= anc_tpl_rspace(s + i, n - i);
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i + 1 < n && s[i] == '0') {
        char p = (char)(s[i + 1] | 0x20);
        int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
        if (pb && (base == 0 || base == pb)) {
            base = pb;
            i += 2;
            if (i < n && s[i] == '_') i++;
        }
    }
    if (base == 0) base = 10;
    if (i >= n) return -1;
    uint64_t v = 0;
    int prev_digit = 0;
    for (; i < n; i++) {
        if (s[i] == '_' && prev_digit && i + 1 < n) {
            prev_digit = 0;
            continue;
        }
        int d = (s[i] >= '0' && s[i] <= '9')                     ? s[i] - '0'
                : ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ? (s[i] | 0x20) - 'a' + 10
                                                                 : 99;
        if (d >= base) return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return -2;
        v = v * (uint64_t)base + (uint64_t)d;
        prev_digit = 1;
    }
    if (!prev_digit) return -1;
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg) return -2;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Python float(str): whitespace, underscores between digits, inf/nan. */
static int parse_pyfloat(const char *s, size_t n, double *out) {
    size_t i = anc_tpl_lspace(s, n);
    n -= anc_tpl_rspace(s + i, n - i);
    char buf[128];
    size_t k = 0;
    for (; i < n; i++) {
        if (s[i] == '_') continue;
        if (k + 1 >= sizeof buf) return -1;
        buf[k++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    }
    buf[k] = '\0';
    const char *b = buf;
    int neg = 0;
    if (*b == '+' || *b == '-') neg = *b++ == '-';
    if (!strcmp(b, "inf") || !strcmp(b, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcmp(b, "nan")) {
        *out = NAN;
        return 0;
    }
    return anc_tpl_parse_float(buf, k, out);
}

static int to_int(tpl_rs *r, const tpl_node *at, tv v, tpl_args *a, tv *out) {
    tv def = anc_tv_int(0), bv;
    anc_tpl_arg(a, 0, "default", &def);
    int base = anc_tpl_arg(a, 1, "base", &bv) && bv.kind == TV_INT ? (int)bv.u.i : 10;
    int64_t i;
    double f;
    switch (v.kind) {
    case TV_INT:
    case TV_BOOL: *out = anc_tv_int(v.u.i); return 0;
    case TV_FLOAT:
        if (isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) {
            *out = anc_tv_int((int64_t)v.u.f);
            return 0;
        }
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "OverflowError: cannot convert float to integer");
    case TV_STR:
        if (base >= 0 && base <= 36 && base != 1) {
            int rc = parse_int(v.u.s.p, v.u.s.n, base, &i);
            if (rc == -2) return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "integer does not fit in 64 bits");
            if (rc == 0) {
                *out = anc_tv_int(i);
                return 0;
            }
        }
        if (parse_pyfloat(v.u.s.p, v.u.s.n, &f) == 0 && isfinite(f) && fabs(f) < 9.2e18) {
            *out = anc_tv_int((int64_t)f);
            return 0;
        }
        *out = def;
        return 0;
    case TV_UNDEF: return anc_tpl_fail(r, at, ANC_ERR_INVALID, "UndefinedError: int of an undefined value");
    default: *out = def; return 0;
    }
}

static int to_float(tpl_rs *r, const tpl_node *at, tv v, tpl_args *a, tv *out) {
    tv def = anc_tv_float(0.0);
    anc_tpl_arg(a, 0, "default", &def);
    double f;
    if (anc_tv_is_num(v)) {
        *out = anc_tv_float(anc_tv_num(v));
    } else if (v.kind == TV_STR && parse_pyfloat(v.u.s.p, v.u.s.n, &f) == 0) {
        *out = anc_tv_float(f);
    } else if (v.kind == TV_UNDEF) {
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "UndefinedError: float of an undefined value");
    } else {
        *out = def;
    }
    return 0;
}

static int html_escape(tpl_rs *r, const tpl_node *at, tv v, tv *out) {
    if (anc_tv_to_str(r, at, v, &v)) return -1;
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    int rc = 0;
    for (size_t i = 0; i < v.u.s.n && !rc; i++) {
        char c = v.u.s.p[i];
        const char *e = c == '&'    ? "&amp;"
                        : c == '<'  ? "&lt;"
                        : c == '>'  ? "&gt;"
                        : c == '"'  ? "&#34;"
                        : c == '\'' ? "&#39;"
                                    : NULL;
        rc = e ? anc_tpl_buf_put(&b, e, strlen(e)) : anc_tpl_buf_putc(&b, c);
    }
    if (anc_tpl_buf_check(r, at, rc)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

static int do_tojson(tpl_rs *r, const tpl_node *at, tv v, tpl_args *a, tv *out) {
    static const char *const names[] = {"ensure_ascii", "indent", "separators", "sort_keys"};
    if (anc_tpl_args_check(r, at, a, "tojson", 4, names)) return -1;
    int ensure_ascii = bool_arg(a, 0, "ensure_ascii", 0), sort_keys = bool_arg(a, 3, "sort_keys", 0);
    tv ind = anc_tv_none(), seps = anc_tv_none(), item_sep = anc_tv_none(), key_sep = anc_tv_none();
    anc_tpl_arg(a, 1, "indent", &ind);
    anc_tpl_arg(a, 2, "separators", &seps);
    const char *indent = NULL;
    size_t indent_len = 0;
    char spaces[256];
    if (ind.kind == TV_INT || ind.kind == TV_BOOL) {
        int64_t k = ind.u.i < 0 ? 0 : ind.u.i > 255 ? 255 : ind.u.i;
        memset(spaces, ' ', (size_t)k);
        indent = spaces;
        indent_len = (size_t)k;
    } else if (ind.kind == TV_STR) {
        indent = ind.u.s.p;
        indent_len = ind.u.s.n;
    } else if (ind.kind != TV_NONE) {
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: tojson indent must be an int or a string");
    }
    if (seps.kind == TV_LIST) {
        if (seps.u.l->n != 2 || seps.u.l->items[0].kind != TV_STR || seps.u.l->items[1].kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: tojson separators must be two strings");
        item_sep = seps.u.l->items[0];
        key_sep = seps.u.l->items[1];
    }
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    if (anc_tpl_tojson(r, at, &b, v, ensure_ascii, indent, indent_len, item_sep, key_sep, sort_keys)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

static int wordcount(tv s) {
    int count = 0, in_word = 0;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = anc_tpl_u8_next(s.u.s.p, s.u.s.n, i, &cp);
        int w = cp == '_' || (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') ||
                (cp >= 0x80 && k > 1 && !anc_tpl_py_space(cp));
        if (w && !in_word) count++;
        in_word = w;
        i += k;
    }
    return count;
}

int anc_tpl_apply_filter(tpl_rs *r, const tpl_node *at, int id, tv in, tpl_args *a, tv *out) {
    tv x, y;
    tv_list *l;
    int64_t n;
    switch (id) {
    case F_ABS:
        if (in.kind == TV_FLOAT)
            *out = anc_tv_float(fabs(in.u.f));
        else if (in.kind == TV_INT || in.kind == TV_BOOL) {
            if (in.u.i == INT64_MIN) return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "integer does not fit in 64 bits");
            *out = anc_tv_int(in.u.i < 0 ? -in.u.i : in.u.i);
        } else
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: bad operand type for abs(): '%s'",
                                anc_tv_type_name(in));
        return 0;
    case F_ATTR: /* Python attributes only (no item fallback), as jinja2's attr filter */
        if (!anc_tpl_arg(a, 0, "name", &x) || x.kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: attr() needs an attribute name");
        if (in.kind == TV_LOOP || (in.kind != TV_UNDEF && anc_tpl_method_id(in, x.u.s.p, x.u.s.n) != -1))
            return anc_tpl_getattr(r, at, in, x.u.s.p, x.u.s.n, out);
        *out = anc_tv_undef_named(x.u.s.p, x.u.s.n);
        return 0;
    case F_BATCH: {
        if (!anc_tpl_arg(a, 0, "linecount", &x) || x.kind != TV_INT || x.u.i <= 0)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: batch() needs a positive line count");
        int fill = anc_tpl_arg(a, 1, "fill_with", &y) && y.kind != TV_NONE;
        if (anc_tv_iterate(r, at, in, &l)) return -1;
        size_t per = (size_t)x.u.i, groups = (l->n + per - 1) / per;
        tv_list *res = anc_tv_list_new(r, groups);
        if (!res) return anc_tpl_oom_rs(r, at);
        for (size_t g = 0; g < groups; g++) {
            size_t cnt = (g + 1) * per <= l->n ? per : l->n - g * per;
            tv_list *grp = anc_tv_list_new(r, fill ? per : cnt);
            if (!grp) return anc_tpl_oom_rs(r, at);
            for (size_t k = 0; k < grp->n; k++) grp->items[k] = k < cnt ? l->items[g * per + k] : y;
            res->items[g] = list_value(grp, 0);
        }
        *out = gen_value(res, FL_GEN_BATCH);
        return 0;
    }
    case F_CAPITALIZE: return anc_tv_to_str(r, at, in, &x) || anc_tpl_str_case(r, at, x, 2, out);
    case F_TITLE: return anc_tv_to_str(r, at, in, &x) || anc_tpl_str_case(r, at, x, 3, out);
    case F_LOWER: return anc_tv_to_str(r, at, in, &x) || anc_tpl_str_case(r, at, x, 0, out);
    case F_UPPER: return anc_tv_to_str(r, at, in, &x) || anc_tpl_str_case(r, at, x, 1, out);
    case F_CENTER: {
        tpl_args ca;
        memset(&ca, 0, sizeof ca);
        tv w = anc_tv_int(80);
        anc_tpl_arg(a, 0, "width", &w);
        ca.pos = &w;
        ca.npos = 1;
        if (anc_tv_to_str(r, at, in, &x)) return -1;
        return anc_tpl_call_method(r, at, x, anc_tpl_method_id(x, "center", 6), &ca, out);
    }
    case F_DEFAULT:
        if (!anc_tpl_arg(a, 0, "default_value", &x)) x = anc_tv_str("", 0);
        *out = (in.kind == TV_UNDEF || (bool_arg(a, 1, "boolean", 0) && !anc_tv_truthy(in))) ? x : in;
        return 0;
    case F_DICTSORT: {
        if (in.kind != TV_DICT && in.kind != TV_NS)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: dictsort() needs a mapping, not %s",
                                anc_tv_type_name(in));
        int cs = bool_arg(a, 0, "case_sensitive", 0), rev = bool_arg(a, 2, "reverse", 0), by_value = 0;
        if (anc_tpl_arg(a, 1, "by", &y)) {
            if (y.kind == TV_STR && y.u.s.n == 5 && !memcmp(y.u.s.p, "value", 5)) by_value = 1;
            else if (!(y.kind == TV_STR && y.u.s.n == 3 && !memcmp(y.u.s.p, "key", 3)))
                return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                    "FilterArgumentError: you can only sort by either \"key\" or \"value\"");
        }
        size_t cnt = in.u.d->n;
        tv_list *res = anc_tv_list_new(r, cnt);
        tv *keys = anc_tpl_alloc(&r->arena, (cnt ? cnt : 1) * sizeof *keys);
        if (!res || !keys) return anc_tpl_oom_rs(r, at);
        for (size_t i = 0; i < cnt; i++) {
            tv_list *pair = anc_tv_list_new(r, 2);
            if (!pair) return anc_tpl_oom_rs(r, at);
            pair->items[0] = in.u.d->keys[i];
            pair->items[1] = in.u.d->vals[i];
            res->items[i] = list_value(pair, 1);
            if (fold(r, at, pair->items[by_value], cs, &keys[i])) return -1;
        }
        if (sort_by(r, at, res->items, keys, cnt, rev)) return -1;
        *out = list_value(res, 0);
        return 0;
    }
    case F_ESCAPE: return html_escape(r, at, in, out);
    case F_FIRST:
    case F_LAST:
        if (id == F_LAST && TV_IS_ITERATOR(in))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not reversible",
                                anc_tv_type_name(in));
        if (anc_tv_iterate(r, at, in, &l)) return -1;
        *out = l->n ? l->items[id == F_FIRST ? 0 : l->n - 1] : anc_tv_undef();
        return 0;
    case F_FLOAT: return to_float(r, at, in, a, out);
    case F_INT: return to_int(r, at, in, a, out);
    case F_FORMAT: {
        if (anc_tv_to_str(r, at, in, &x)) return -1;
        if (a->nkw) {
            tv_dict *d = anc_tv_dict_new(r, a->nkw);
            if (!d) return anc_tpl_oom_rs(r, at);
            for (size_t k = 0; k < a->nkw; k++)
                if (anc_tv_dict_set(r, d, a->kw_names[k], a->kw[k])) return anc_tpl_oom_rs(r, at);
            y = anc_tv_none();
            y.kind = TV_DICT;
            y.u.d = d;
        } else {
            if (!(l = anc_tv_list_new(r, a->npos))) return anc_tpl_oom_rs(r, at);
            if (a->npos) memcpy(l->items, a->pos, a->npos * sizeof(tv));
            y = list_value(l, 1);
        }
        return anc_tpl_percent_format(r, at, x, y, out);
    }
    case F_INDENT: return do_indent(r, at, in, a, out);
    case F_ITEMS:
        if (in.kind == TV_UNDEF) {
            if (!(l = anc_tv_list_new(r, 0))) return anc_tpl_oom_rs(r, at);
            *out = gen_value(l, FL_GEN_ITEMS);
            return 0;
        }
        if (in.kind != TV_DICT)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: Can only get item pairs from a mapping.");
        if (anc_tpl_call_method(r, at, in, anc_tpl_method_id(in, "items", 5), a, out)) return -1;
        out->flavor = FL_GEN_ITEMS;
        return 0;
    case F_JOIN: {
        tv sep;
        if (str_arg(r, at, a, 0, "d", "", &sep) || anc_tv_iterate(r, at, in, &l)) return -1;
        int has_attr = anc_tpl_arg(a, 1, "attribute", &y);
        tpl_buf b;
        anc_tpl_scratch(r, &b);
        for (size_t i = 0; i < l->n; i++) {
            x = l->items[i];
            if (has_attr && attr_get(r, at, x, y, &x)) return -1;
            if (i && anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, sep.u.s.p, sep.u.s.n))) return -1;
            if (anc_tv_str_append(r, at, &b, x)) return -1;
        }
        *out = anc_tpl_scratch_done(&b);
        return 0;
    }
    case F_LENGTH:
        if (anc_tv_length(r, at, in, &n)) return -1;
        *out = anc_tv_int(n);
        return 0;
    case F_LIST:
        if (copy_list(r, at, in, &l)) return -1;
        *out = list_value(l, 0);
        return 0;
    case F_MAP: return do_map(r, at, in, a, out);
    case F_MAX:
    case F_MIN: {
        int cs = bool_arg(a, 0, "case_sensitive", 0), has_attr = anc_tpl_arg(a, 1, "attribute", &y);
        if (anc_tv_iterate(r, at, in, &l)) return -1;
        *out = anc_tv_undef();
        tv best_key = anc_tv_none();
        for (size_t i = 0; i < l->n; i++) {
            tv key = l->items[i];
            int better;
            if ((has_attr && attr_get(r, at, key, y, &key)) || fold(r, at, key, cs, &key)) return -1;
            if (i == 0) better = 1;
            else if (id == F_MIN ? anc_tv_less(r, at, key, best_key, &better)
                                 : anc_tv_less(r, at, best_key, key, &better))
                return -1;
            if (better) {
                best_key = key;
                *out = l->items[i];
            }
        }
        return 0;
    }
    case F_REJECT: return select_items(r, at, in, a, 0, 0, out);
    case F_SELECT: return select_items(r, at, in, a, 0, 1, out);
    case F_REJECTATTR: return select_items(r, at, in, a, 1, 0, out);
    case F_SELECTATTR: return select_items(r, at, in, a, 1, 1, out);
    case F_REPLACE: {
        tv old, nw, cnt;
        if (anc_tv_to_str(r, at, in, &x) || str_arg(r, at, a, 0, "old", "", &old) ||
            str_arg(r, at, a, 1, "new", "", &nw))
            return -1;
        int64_t count = anc_tpl_arg(a, 2, "count", &cnt) && cnt.kind == TV_INT ? cnt.u.i : -1;
        return anc_tpl_str_replace(r, at, x, old, nw, count, out);
    }
    case F_REVERSE:
        if (in.kind == TV_STR) {
            tv_list *chars;
            if (anc_tv_iterate(r, at, in, &chars)) return -1;
            tpl_buf b;
            anc_tpl_scratch(r, &b);
            for (size_t i = chars->n; i-- > 0;)
                if (anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, chars->items[i].u.s.p, chars->items[i].u.s.n)))
                    return -1;
            *out = anc_tpl_scratch_done(&b);
            return 0;
        }
        if (copy_list(r, at, in, &l)) return -1;
        for (size_t i = 0; i < l->n / 2; i++) {
            tv t = l->items[i];
            l->items[i] = l->items[l->n - 1 - i];
            l->items[l->n - 1 - i] = t;
        }
        /* reversed(x) is an iterator; a generator falls back to a reversed list. */
        *out = TV_IS_ITERATOR(in) ? list_value(l, 0)
                                  : gen_value(l, in.kind == TV_DICT ? FL_REV_DICT
                                                 : (in.kind == TV_LIST && in.tuple) ? FL_REV_TUPLE : FL_REV_LIST);
        return 0;
    case F_ROUND: return do_round(r, at, in, a, out);
    case F_SAFE:
    case F_STRING: return anc_tv_to_str(r, at, in, out);
    case F_SORT:
    case F_UNIQUE: {
        int rev = id == F_SORT && bool_arg(a, 0, "reverse", 0);
        int cs = bool_arg(a, id == F_SORT ? 1 : 0, "case_sensitive", 0);
        int has_attr = anc_tpl_arg(a, id == F_SORT ? 2 : 1, "attribute", &y);
        if (copy_list(r, at, in, &l)) return -1;
        tv *keys = anc_tpl_alloc(&r->arena, (l->n ? l->n : 1) * sizeof *keys);
        if (!keys) return anc_tpl_oom_rs(r, at);
        for (size_t i = 0; i < l->n; i++) {
            keys[i] = l->items[i];
            if ((has_attr && attr_get(r, at, keys[i], y, &keys[i])) || fold(r, at, keys[i], cs, &keys[i])) return -1;
        }
        if (id == F_SORT) {
            if (sort_by(r, at, l->items, keys, l->n, rev)) return -1;
        } else {
            size_t kept = 0;
            for (size_t i = 0; i < l->n; i++) {
                size_t j;
                for (j = 0; j < kept; j++)
                    if (anc_tv_eq(keys[j], keys[i], 0)) break;
                if (j < kept) continue;
                keys[kept] = keys[i];
                l->items[kept++] = l->items[i];
            }
            l->n = kept;
        }
        *out = id == F_UNIQUE ? gen_value(l, FL_GEN_UNIQUE) : list_value(l, 0);
        return 0;
    }
    case F_SUM: {
        int has_attr = anc_tpl_arg(a, 0, "attribute", &y);
        if (!anc_tpl_arg(a, 1, "start", out)) *out = anc_tv_int(0);
        if (anc_tv_iterate(r, at, in, &l)) return -1;
        for (size_t i = 0; i < l->n; i++) {
            x = l->items[i];
            if ((has_attr && attr_get(r, at, x, y, &x)) || anc_tpl_binop(r, at, OP_ADD, *out, x, out)) return -1;
        }
        return 0;
    }
    case F_TOJSON: return do_tojson(r, at, in, a, out);
    case F_TRIM:
        if (!anc_tpl_arg(a, 0, "chars", &y)) y = anc_tv_none();
        return anc_tv_to_str(r, at, in, &x) || anc_tpl_str_strip(r, at, x, y, 1, 1, out);
    case F_WORDCOUNT:
        if (anc_tv_to_str(r, at, in, &x)) return -1;
        *out = anc_tv_int(wordcount(x));
        return 0;
    default: return anc_tpl_fail(r, at, ANC_ERR_INTERNAL, "unknown filter id %d", id);
    }
}
