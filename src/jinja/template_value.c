/* Chat-template engine: values with Python semantics — truthiness,
 * equality, ordering, len(), iteration, str() and repr(). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "jinja/template_internal.h"

tv anc_tv_undef(void) {
    tv v;
    memset(&v, 0, sizeof v);
    v.kind = TV_UNDEF;
    return v;
}

tv anc_tv_undef_named(const char *name, size_t n) {
    tv v = anc_tv_undef();
    v.u.s.p = name;
    v.u.s.n = n;
    return v;
}

tv anc_tv_none(void) {
    tv v = anc_tv_undef();
    v.kind = TV_NONE;
    return v;
}

tv anc_tv_bool(int b) {
    tv v = anc_tv_undef();
    v.kind = TV_BOOL;
    v.u.i = b ? 1 : 0;
    return v;
}

tv anc_tv_int(int64_t i) {
    tv v = anc_tv_undef();
    v.kind = TV_INT;
    v.u.i = i;
    return v;
}

tv anc_tv_float(double f) {
    tv v = anc_tv_undef();
    v.kind = TV_FLOAT;
    v.u.f = f;
    return v;
}

tv anc_tv_str(const char *p, size_t n) {
    tv v = anc_tv_undef();
    v.kind = TV_STR;
    v.u.s.p = p ? p : "";
    v.u.s.n = n;
    return v;
}

tv anc_tv_cstr(const char *p) { return anc_tv_str(p, strlen(p)); }

int anc_tv_is_num(tv v) { return v.kind == TV_INT || v.kind == TV_FLOAT || v.kind == TV_BOOL; }

double anc_tv_num(tv v) { return v.kind == TV_FLOAT ? v.u.f : (double)v.u.i; }

int anc_tv_truthy(tv v) {
    switch (v.kind) {
    case TV_UNDEF:
    case TV_NONE: return 0;
    case TV_BOOL:
    case TV_INT: return v.u.i != 0;
    case TV_FLOAT: return v.u.f != 0.0;
    case TV_STR: return v.u.s.n != 0;
    case TV_LIST: return TV_IS_ITERATOR(v) || v.u.l->n != 0;
    case TV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

static const char *const FLAVOR_TYPES[] = {"list",
                                           "generator", "generator", "generator", "generator", "generator",
                                           "list_reverseiterator", "reversed", "dict_reversekeyiterator",
                                           "dict_items", "dict_keys",
                                           "dict_values"};
static const char *const GENERATOR_NAMES[] = {"",         "select_or_reject", "sync_do_map", "sync_do_unique",
                                              "do_items", "do_batch"};

const char *anc_tv_type_name(tv v) {
    if (v.kind == TV_LIST && v.flavor) return FLAVOR_TYPES[v.flavor];
    switch (v.kind) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return v.tuple ? "tuple" : "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_MACRO: return "Macro";
    case TV_FUNC: return "function";
    case TV_METHOD: return "builtin_function_or_method";
    case TV_LOOP: return "LoopContext";
    default: return "object";
    }
}

int anc_tv_str_copy(tpl_rs *r, const tpl_node *at, const char *p, size_t n, tv *out) {
    char *c = anc_tpl_alloc(&r->arena, n + 1);
    if (!c) return anc_tpl_oom_rs(r, at);
    if (n) memcpy(c, p, n);
    c[n] = '\0';
    *out = anc_tv_str(c, n);
    return 0;
}

tv_list *anc_tv_list_new(tpl_rs *r, size_t n) {
    tv_list *l = anc_tpl_alloc(&r->arena, sizeof *l);
    if (!l) return NULL;
    l->n = n;
    l->items = anc_tpl_calloc(&r->arena, n ? n : 1, sizeof *l->items);
    return l->items ? l : NULL;
}

tv_dict *anc_tv_dict_new(tpl_rs *r, size_t cap) {
    tv_dict *d = anc_tpl_alloc(&r->arena, sizeof *d);
    if (!d) return NULL;
    d->n = 0;
    d->cap = cap ? cap : 4;
    d->keys = anc_tpl_alloc(&r->arena, d->cap * sizeof *d->keys);
    d->vals = anc_tpl_alloc(&r->arena, d->cap * sizeof *d->vals);
    return d->keys && d->vals ? d : NULL;
}

long anc_tv_dict_find(const tv_dict *d, tv key) {
    for (size_t i = 0; i < d->n; i++)
        if (anc_tv_eq(d->keys[i], key, 0)) return (long)i;
    return -1;
}

long anc_tv_dict_find_str(const tv_dict *d, const char *s, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].kind == TV_STR && d->keys[i].u.s.n == n && memcmp(d->keys[i].u.s.p, s, n) == 0)
            return (long)i;
    return -1;
}

int anc_tv_dict_set(tpl_rs *r, tv_dict *d, tv key, tv val) {
    long i = anc_tv_dict_find(d, key);
    if (i >= 0) {
        d->vals[i] = val;
        return 0;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap * 2;
        tv *nk = anc_tpl_grow(&r->arena, d->keys, d->cap * sizeof *nk, nc * sizeof *nk);
        if (!nk) return -1;
        d->keys = nk;
        tv *nv = anc_tpl_grow(&r->arena, d->vals, d->cap * sizeof *nv, nc * sizeof *nv);
        if (!nv) return -1;
        d->vals = nv;
        d->cap = nc;
    }
    d->keys[d->n] = key;
    d->vals[d->n++] = val;
    return 0;
}

/* ------------------------------------------------------------- compare */

int anc_tv_eq(tv a, tv b, int depth) {
    if (depth > TPL_MAX_VALUE_DEPTH) return 0;
    if (anc_tv_is_num(a) && anc_tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT) return a.u.i == b.u.i;
        return anc_tv_num(a) == anc_tv_num(b);
    }
    if (a.kind != b.kind) return 0;
    switch (a.kind) {
    case TV_UNDEF:
    case TV_NONE: return 1;
    case TV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case TV_LIST:
        if (TV_IS_ITERATOR(a) || TV_IS_ITERATOR(b)) return a.u.l == b.u.l;
        if (a.tuple != b.tuple || a.flavor != b.flavor || a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!anc_tv_eq(a.u.l->items[i], b.u.l->items[i], depth + 1)) return 0;
        return 1;
    case TV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            long j = anc_tv_dict_find(b.u.d, a.u.d->keys[i]);
            if (j < 0 || !anc_tv_eq(a.u.d->vals[i], b.u.d->vals[j], depth + 1)) return 0;
        }
        return 1;
    case TV_NS: return a.u.d == b.u.d;
    case TV_MACRO: return a.u.m == b.u.m;
    case TV_FUNC: return a.u.i == b.u.i;
    case TV_LOOP: return a.u.loop == b.u.loop;
    default: return 0;
    }
}

static int less_rec(tpl_rs *r, const tpl_node *at, tv a, tv b, int *lt, int depth) {
    if (anc_tv_is_num(a) && anc_tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT)
            *lt = a.u.i < b.u.i;
        else
            *lt = anc_tv_num(a) < anc_tv_num(b);
        return 0;
    }
    if (a.kind == TV_STR && b.kind == TV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        *lt = c < 0 || (c == 0 && a.u.s.n < b.u.s.n);
        return 0;
    }
    if (a.kind == TV_LIST && b.kind == TV_LIST && a.tuple == b.tuple && !a.flavor && !b.flavor &&
        depth < TPL_MAX_VALUE_DEPTH) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (anc_tv_eq(a.u.l->items[i], b.u.l->items[i], depth + 1)) continue;
            return less_rec(r, at, a.u.l->items[i], b.u.l->items[i], lt, depth + 1);
        }
        *lt = a.u.l->n < b.u.l->n;
        return 0;
    }
    if (a.kind == TV_UNDEF || b.kind == TV_UNDEF)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "UndefinedError: '%.*s' is undefined",
                            (int)(a.kind == TV_UNDEF ? a.u.s.n : b.u.s.n),
                            a.kind == TV_UNDEF ? (a.u.s.p ? a.u.s.p : "") : (b.u.s.p ? b.u.s.p : ""));
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '<' not supported between instances of '%s' and '%s'",
                        anc_tv_type_name(a), anc_tv_type_name(b));
}

int anc_tv_less(tpl_rs *r, const tpl_node *at, tv a, tv b, int *lt) { return less_rec(r, at, a, b, lt, 0); }

/* ------------------------------------------------------------- iteration */

int anc_tv_iterate(tpl_rs *r, const tpl_node *at, tv v, tv_list **out) {
    switch (v.kind) {
    case TV_UNDEF:
        if (!(*out = anc_tv_list_new(r, 0))) return anc_tpl_oom_rs(r, at);
        return 0;
    case TV_LIST: *out = v.u.l; return 0;
    case TV_DICT:
    case TV_NS: {
        tv_list *l = anc_tv_list_new(r, v.u.d->n);
        if (!l) return anc_tpl_oom_rs(r, at);
        if (v.u.d->n) memcpy(l->items, v.u.d->keys, v.u.d->n * sizeof *l->items);
        *out = l;
        return 0;
    }
    case TV_STR: {
        size_t n = anc_tpl_u8_len(v.u.s.p, v.u.s.n);
        tv_list *l = anc_tv_list_new(r, n);
        if (!l) return anc_tpl_oom_rs(r, at);
        size_t i = 0;
        for (size_t k = 0; k < n; k++) {
            uint32_t cp;
            size_t len = anc_tpl_u8_next(v.u.s.p, v.u.s.n, i, &cp);
            l->items[k] = anc_tv_str(v.u.s.p + i, len);
            i += len;
        }
        *out = l;
        return 0;
    }
    default: return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not iterable", anc_tv_type_name(v));
    }
}

int anc_tv_length(tpl_rs *r, const tpl_node *at, tv v, int64_t *out) {
    switch (v.kind) {
    case TV_UNDEF: *out = 0; return 0;
    case TV_STR: *out = (int64_t)anc_tpl_u8_len(v.u.s.p, v.u.s.n); return 0;
    case TV_LIST:
        if (TV_IS_ITERATOR(v)) break;
        *out = (int64_t)v.u.l->n;
        return 0;
    case TV_DICT:
    case TV_NS: *out = (int64_t)v.u.d->n; return 0;
    case TV_LOOP: *out = (int64_t)v.u.loop->items->n; return 0;
    default: break;
    }
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: object of type '%s' has no len()", anc_tv_type_name(v));
}

/* ------------------------------------------------------------- str / repr */

void anc_tpl_scratch(tpl_rs *r, tpl_buf *b) {
    memset(b, 0, sizeof *b);
    b->arena = &r->arena;
}

tv anc_tpl_scratch_done(tpl_buf *b) { return anc_tv_str(b->p ? b->p : "", b->n); }

static int py_printable(uint32_t cp) {
    if (cp == ' ') return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return 0;
    default: return 1;
    }
}

static int repr_str(tpl_buf *b, const char *s, size_t n) {
    char quote = '\'';
    if (memchr(s, '\'', n) && !memchr(s, '"', n)) quote = '"';
    int rc = anc_tpl_buf_putc(b, quote);
    for (size_t i = 0; i < n && !rc;) {
        uint32_t cp;
        size_t len = anc_tpl_u8_next(s, n, i, &cp);
        if (cp == (uint32_t)quote || cp == '\\') {
            char e[2] = {'\\', (char)cp};
            rc = anc_tpl_buf_put(b, e, 2);
        } else if (cp == '\t') {
            rc = anc_tpl_buf_put(b, "\\t", 2);
        } else if (cp == '\n') {
            rc = anc_tpl_buf_put(b, "\\n", 2);
        } else if (cp == '\r') {
            rc = anc_tpl_buf_put(b, "\\r", 2);
        } else if (cp < 0x20 || cp == 0x7F || (len == 1 && cp >= 0x80)) {
            rc = anc_tpl_buf_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp < 0x80 || py_printable(cp)) {
            rc = anc_tpl_buf_put(b, s + i, len);
        } else if (cp <= 0xFF) {
            rc = anc_tpl_buf_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp <= 0xFFFF) {
            rc = anc_tpl_buf_printf(b, "\\u%04x", (unsigned)cp);
        } else {
            rc = anc_tpl_buf_printf(b, "\\U%08x", (unsigned)cp);
        }
        i += len;
    }
    return rc ? rc : anc_tpl_buf_putc(b, quote);
}

int anc_tv_repr_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v, int depth) {
    if (depth > TPL_MAX_VALUE_DEPTH)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "value nested too deeply (or contains itself)");
    int rc = 0;
    char num[40];
    switch (v.kind) {
    case TV_UNDEF: rc = anc_tpl_buf_put(b, "Undefined", 9); break;
    case TV_NONE: rc = anc_tpl_buf_put(b, "None", 4); break;
    case TV_BOOL: rc = v.u.i ? anc_tpl_buf_put(b, "True", 4) : anc_tpl_buf_put(b, "False", 5); break;
    case TV_INT: rc = anc_tpl_buf_printf(b, "%" PRId64, v.u.i); break;
    case TV_FLOAT:
        anc_tpl_fmt_float(v.u.f, num, sizeof num);
        rc = anc_tpl_buf_put(b, num, strlen(num));
        break;
    case TV_STR: rc = repr_str(b, v.u.s.p, v.u.s.n); break;
    case TV_LIST:
        if (v.flavor >= FL_GEN_SELECT && v.flavor <= FL_GEN_BATCH) {
            rc = anc_tpl_buf_printf(b, "<generator object %s>", GENERATOR_NAMES[v.flavor]);
            break;
        }
        if (TV_IS_ITERATOR(v)) {
            rc = anc_tpl_buf_printf(b, "<%s object>", FLAVOR_TYPES[v.flavor]);
            break;
        }
        if (v.flavor) rc = anc_tpl_buf_printf(b, "%s(", FLAVOR_TYPES[v.flavor]);
        if (!rc) rc = anc_tpl_buf_putc(b, v.tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n && !rc; i++) {
            if (i) rc = anc_tpl_buf_put(b, ", ", 2);
            if (!rc && anc_tv_repr_append(r, at, b, v.u.l->items[i], depth + 1)) return -1;
        }
        if (!rc && v.tuple && v.u.l->n == 1) rc = anc_tpl_buf_putc(b, ',');
        if (!rc) rc = anc_tpl_buf_putc(b, v.tuple ? ')' : ']');
        if (!rc && v.flavor) rc = anc_tpl_buf_putc(b, ')');
        break;
    case TV_NS:
        rc = anc_tpl_buf_put(b, "<Namespace ", 11);
        /* fall through */
    case TV_DICT:
        if (!rc) rc = anc_tpl_buf_putc(b, '{');
        for (size_t i = 0; i < v.u.d->n && !rc; i++) {
            if (i) rc = anc_tpl_buf_put(b, ", ", 2);
            if (!rc && anc_tv_repr_append(r, at, b, v.u.d->keys[i], depth + 1)) return -1;
            if (!rc) rc = anc_tpl_buf_put(b, ": ", 2);
            if (!rc && anc_tv_repr_append(r, at, b, v.u.d->vals[i], depth + 1)) return -1;
        }
        if (!rc) rc = anc_tpl_buf_putc(b, '}');
        if (!rc && v.kind == TV_NS) rc = anc_tpl_buf_putc(b, '>');
        break;
    case TV_MACRO:
        rc = anc_tpl_buf_printf(b, "<Macro '%.*s'>", (int)v.u.m->name_len, v.u.m->name ? v.u.m->name : "caller");
        break;
    case TV_FUNC: rc = anc_tpl_buf_printf(b, "<function %s>", r->t->sym_names[v.u.i]); break;
    case TV_METHOD:
        rc = anc_tpl_buf_printf(b, "<built-in method %s of %s object>", anc_tpl_method_name(v.u.meth->id),
                                anc_tv_type_name(v.u.meth->self));
        break;
    case TV_LOOP: rc = anc_tpl_buf_printf(b, "<LoopContext %zu/%zu>", v.u.loop->index0 + 1, v.u.loop->items->n); break;
    default: break;
    }
    return rc ? anc_tpl_buf_check(r, at, rc) : 0;
}

int anc_tv_str_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v) {
    if (v.kind == TV_STR) return anc_tpl_buf_check(r, at, anc_tpl_buf_put(b, v.u.s.p, v.u.s.n));
    if (v.kind == TV_UNDEF) return 0;
    return anc_tv_repr_append(r, at, b, v, 0);
}

int anc_tv_to_str(tpl_rs *r, const tpl_node *at, tv v, tv *out) {
    if (v.kind == TV_STR) {
        *out = v;
        return 0;
    }
    if (v.kind == TV_UNDEF) {
        *out = anc_tv_str("", 0);
        return 0;
    }
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    if (anc_tv_repr_append(r, at, &b, v, 0)) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}
