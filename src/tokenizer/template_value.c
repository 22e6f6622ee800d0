/* Chat-template engine: values with Python semantics — truthiness,
 * equality, ordering, len(), iteration, str() and repr(). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/template_internal.h"

tv tv_undef(void) {
    tv v;
    memset(&v, 0, sizeof v);
    v.kind = TV_UNDEF;
    return v;
}

tv tv_undef_named(const char *name, size_t n) {
    tv v = tv_undef();
    v.u.s.p = name;
    v.u.s.n = n;
    return v;
}

tv tv_none(void) {
    tv v = tv_undef();
    v.kind = TV_NONE;
    return v;
}

tv tv_bool(int b) {
    tv v = tv_undef();
    v.kind = TV_BOOL;
    v.u.i = b ? 1 : 0;
    return v;
}

tv tv_int(int64_t i) {
    tv v = tv_undef();
    v.kind = TV_INT;
    v.u.i = i;
    return v;
}

tv tv_float(double f) {
    tv v = tv_undef();
    v.kind = TV_FLOAT;
    v.u.f = f;
    return v;
}

tv tv_str(const char *p, size_t n) {
    tv v = tv_undef();
    v.kind = TV_STR;
    v.u.s.p = p ? p : "";
    v.u.s.n = n;
    return v;
}

tv tv_cstr(const char *p) { return tv_str(p, strlen(p)); }

int tv_is_num(tv v) { return v.kind == TV_INT || v.kind == TV_FLOAT || v.kind == TV_BOOL; }

double tv_num(tv v) { return v.kind == TV_FLOAT ? v.u.f : (double)v.u.i; }

int tv_truthy(tv v) {
    switch (v.kind) {
    case TV_UNDEF:
    case TV_NONE: return 0;
    case TV_BOOL:
    case TV_INT: return v.u.i != 0;
    case TV_FLOAT: return v.u.f != 0.0;
    case TV_STR: return v.u.s.n != 0;
    case TV_LIST: return v.u.l->n != 0;
    case TV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

const char *tv_type_name(tv v) {
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

int tv_str_copy(tpl_rs *r, const tpl_node *at, const char *p, size_t n, tv *out) {
    char *c = tpl_alloc(&r->arena, n + 1);
    if (!c) return tpl_oom_rs(r, at);
    if (n) memcpy(c, p, n);
    c[n] = '\0';
    *out = tv_str(c, n);
    return 0;
}

tv_list *tv_list_new(tpl_rs *r, size_t n) {
    tv_list *l = tpl_alloc(&r->arena, sizeof *l);
    if (!l) return NULL;
    l->n = n;
    l->items = tpl_calloc(&r->arena, n ? n : 1, sizeof *l->items);
    return l->items ? l : NULL;
}

tv_dict *tv_dict_new(tpl_rs *r, size_t cap) {
    tv_dict *d = tpl_alloc(&r->arena, sizeof *d);
    if (!d) return NULL;
    d->n = 0;
    d->cap = cap ? cap : 4;
    d->keys = tpl_alloc(&r->arena, d->cap * sizeof *d->keys);
    d->vals = tpl_alloc(&r->arena, d->cap * sizeof *d->vals);
    return d->keys && d->vals ? d : NULL;
}

long tv_dict_find(const tv_dict *d, tv key) {
    for (size_t i = 0; i < d->n; i++)
        if (tv_eq(d->keys[i], key, 0)) return (long)i;
    return -1;
}

long tv_dict_find_str(const tv_dict *d, const char *s, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].kind == TV_STR && d->keys[i].u.s.n == n && memcmp(d->keys[i].u.s.p, s, n) == 0)
            return (long)i;
    return -1;
}

int tv_dict_set(tpl_rs *r, tv_dict *d, tv key, tv val) {
    long i = tv_dict_find(d, key);
    if (i >= 0) {
        d->vals[i] = val;
        return 0;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap * 2;
        tv *nk = tpl_grow(&r->arena, d->keys, d->cap * sizeof *nk, nc * sizeof *nk);
        if (!nk) return -1;
        d->keys = nk;
        tv *nv = tpl_grow(&r->arena, d->vals, d->cap * sizeof *nv, nc * sizeof *nv);
        if (!nv) return -1;
        d->vals = nv;
        d->cap = nc;
    }
    d->keys[d->n] = key;
    d->vals[d->n++] = val;
    return 0;
}

/* ------------------------------------------------------------- compare */

int tv_eq(tv a, tv b, int depth) {
    if (depth > TPL_MAX_VALUE_DEPTH) return 0;
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT) return a.u.i == b.u.i;
        return tv_num(a) == tv_num(b);
    }
    if (a.kind != b.kind) return 0;
    switch (a.kind) {
    case TV_UNDEF:
    case TV_NONE: return 1;
    case TV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case TV_LIST:
        if (a.tuple != b.tuple || a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!tv_eq(a.u.l->items[i], b.u.l->items[i], depth + 1)) return 0;
        return 1;
    case TV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            long j = tv_dict_find(b.u.d, a.u.d->keys[i]);
            if (j < 0 || !tv_eq(a.u.d->vals[i], b.u.d->vals[j], depth + 1)) return 0;
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
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT)
            *lt = a.u.i < b.u.i;
        else
            *lt = tv_num(a) < tv_num(b);
        return 0;
    }
    if (a.kind == TV_STR && b.kind == TV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        *lt = c < 0 || (c == 0 && a.u.s.n < b.u.s.n);
        return 0;
    }
    if (a.kind == TV_LIST && b.kind == TV_LIST && a.tuple == b.tuple && depth < TPL_MAX_VALUE_DEPTH) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (tv_eq(a.u.l->items[i], b.u.l->items[i], depth + 1)) continue;
            return less_rec(r, at, a.u.l->items[i], b.u.l->items[i], lt, depth + 1);
        }
        *lt = a.u.l->n < b.u.l->n;
        return 0;
    }
    if (a.kind == TV_UNDEF || b.kind == TV_UNDEF)
        return tpl_fail(r, at, ANC_ERR_INVALID, "'%.*s' is undefined",
                        (int)(a.kind == TV_UNDEF ? a.u.s.n : b.u.s.n),
                        a.kind == TV_UNDEF ? (a.u.s.p ? a.u.s.p : "") : (b.u.s.p ? b.u.s.p : ""));
    return tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '<' not supported between instances of '%s' and '%s'",
                    tv_type_name(a), tv_type_name(b));
}

int tv_less(tpl_rs *r, const tpl_node *at, tv a, tv b, int *lt) { return less_rec(r, at, a, b, lt, 0); }

/* ------------------------------------------------------------- iteration */

int tv_iterate(tpl_rs *r, const tpl_node *at, tv v, tv_list **out) {
    static tv_list empty = {0, NULL};
    switch (v.kind) {
    case TV_UNDEF: *out = &empty; return 0;
    case TV_LIST: *out = v.u.l; return 0;
    case TV_DICT:
    case TV_NS: {
        tv_list *l = tv_list_new(r, v.u.d->n);
        if (!l) return tpl_oom_rs(r, at);
        if (v.u.d->n) memcpy(l->items, v.u.d->keys, v.u.d->n * sizeof *l->items);
        *out = l;
        return 0;
    }
    case TV_STR: {
        size_t n = tpl_u8_len(v.u.s.p, v.u.s.n);
        tv_list *l = tv_list_new(r, n);
        if (!l) return tpl_oom_rs(r, at);
        size_t i = 0;
        for (size_t k = 0; k < n; k++) {
            uint32_t cp;
            size_t len = tpl_u8_next(v.u.s.p, v.u.s.n, i, &cp);
            l->items[k] = tv_str(v.u.s.p + i, len);
            i += len;
        }
        *out = l;
        return 0;
    }
    default:
        return tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not iterable", tv_type_name(v));
    }
}

int tv_length(tpl_rs *r, const tpl_node *at, tv v, int64_t *out) {
    switch (v.kind) {
    case TV_UNDEF: *out = 0; return 0;
    case TV_STR: *out = (int64_t)tpl_u8_len(v.u.s.p, v.u.s.n); return 0;
    case TV_LIST: *out = (int64_t)v.u.l->n; return 0;
    case TV_DICT:
    case TV_NS: *out = (int64_t)v.u.d->n; return 0;
    case TV_LOOP: *out = (int64_t)v.u.loop->items->n; return 0;
    default: return tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: object of type '%s' has no len()", tv_type_name(v));
    }
}

/* ------------------------------------------------------------- str / repr */

void tpl_scratch(tpl_rs *r, tpl_buf *b) {
    memset(b, 0, sizeof *b);
    b->arena = &r->arena;
}

tv tpl_scratch_done(tpl_buf *b) { return tv_str(b->p ? b->p : "", b->n); }

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
    int rc = tpl_buf_putc(b, quote);
    for (size_t i = 0; i < n && !rc;) {
        uint32_t cp;
        size_t len = tpl_u8_next(s, n, i, &cp);
        if (cp == (uint32_t)quote || cp == '\\') {
            char e[2] = {'\\', (char)cp};
            rc = tpl_buf_put(b, e, 2);
        } else if (cp == '\t') {
            rc = tpl_buf_put(b, "\\t", 2);
        } else if (cp == '\n') {
            rc = tpl_buf_put(b, "\\n", 2);
        } else if (cp == '\r') {
            rc = tpl_buf_put(b, "\\r", 2);
        } else if (cp < 0x20 || cp == 0x7F || (len == 1 && cp >= 0x80)) {
            rc = tpl_buf_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp < 0x80 || py_printable(cp)) {
            rc = tpl_buf_put(b, s + i, len);
        } else if (cp <= 0xFF) {
            rc = tpl_buf_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp <= 0xFFFF) {
            rc = tpl_buf_printf(b, "\\u%04x", (unsigned)cp);
        } else {
            rc = tpl_buf_printf(b, "\\U%08x", (unsigned)cp);
        }
        i += len;
    }
    return rc ? rc : tpl_buf_putc(b, quote);
}

int tv_repr_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v, int depth) {
    if (depth > TPL_MAX_VALUE_DEPTH)
        return tpl_fail(r, at, ANC_ERR_INVALID, "value nested too deeply (or contains itself)");
    int rc = 0;
    char num[40];
    switch (v.kind) {
    case TV_UNDEF: rc = tpl_buf_put(b, "Undefined", 9); break;
    case TV_NONE: rc = tpl_buf_put(b, "None", 4); break;
    case TV_BOOL: rc = v.u.i ? tpl_buf_put(b, "True", 4) : tpl_buf_put(b, "False", 5); break;
    case TV_INT: rc = tpl_buf_printf(b, "%" PRId64, v.u.i); break;
    case TV_FLOAT:
        tpl_fmt_float(v.u.f, num, sizeof num);
        rc = tpl_buf_put(b, num, strlen(num));
        break;
    case TV_STR: rc = repr_str(b, v.u.s.p, v.u.s.n); break;
    case TV_LIST:
        rc = tpl_buf_putc(b, v.tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n && !rc; i++) {
            if (i) rc = tpl_buf_put(b, ", ", 2);
            if (!rc && tv_repr_append(r, at, b, v.u.l->items[i], depth + 1)) return -1;
        }
        if (!rc && v.tuple && v.u.l->n == 1) rc = tpl_buf_putc(b, ',');
        if (!rc) rc = tpl_buf_putc(b, v.tuple ? ')' : ']');
        break;
    case TV_NS:
        rc = tpl_buf_put(b, "<Namespace ", 11);
        /* fall through */
    case TV_DICT:
        if (!rc) rc = tpl_buf_putc(b, '{');
        for (size_t i = 0; i < v.u.d->n && !rc; i++) {
            if (i) rc = tpl_buf_put(b, ", ", 2);
            if (!rc && tv_repr_append(r, at, b, v.u.d->keys[i], depth + 1)) return -1;
            if (!rc) rc = tpl_buf_put(b, ": ", 2);
            if (!rc && tv_repr_append(r, at, b, v.u.d->vals[i], depth + 1)) return -1;
        }
        if (!rc) rc = tpl_buf_putc(b, '}');
        if (!rc && v.kind == TV_NS) rc = tpl_buf_putc(b, '>');
        break;
    case TV_MACRO:
        rc = tpl_buf_printf(b, "<Macro '%.*s'>", (int)v.u.m->name_len, v.u.m->name ? v.u.m->name : "caller");
        break;
    case TV_FUNC: rc = tpl_buf_printf(b, "<function %s>", r->t->sym_names[v.u.i]); break;
    case TV_METHOD:
        rc = tpl_buf_printf(b, "<built-in method %s of %s object>", tpl_method_name(v.u.meth->id),
                            tv_type_name(v.u.meth->self));
        break;
    case TV_LOOP:
        rc = tpl_buf_printf(b, "<LoopContext %zu/%zu>", v.u.loop->index0 + 1, v.u.loop->items->n);
        break;
    default: break;
    }
    return rc ? tpl_buf_check(r, at, rc) : 0;
}

int tv_str_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v) {
    if (v.kind == TV_STR) return tpl_buf_check(r, at, tpl_buf_put(b, v.u.s.p, v.u.s.n));
    if (v.kind == TV_UNDEF) return 0;
    return tv_repr_append(r, at, b, v, 0);
}

int tv_to_str(tpl_rs *r, const tpl_node *at, tv v, tv *out) {
    if (v.kind == TV_STR) {
        *out = v;
        return 0;
    }
    if (v.kind == TV_UNDEF) {
        *out = tv_str("", 0);
        return 0;
    }
    tpl_buf b;
    tpl_scratch(r, &b);
    if (tv_repr_append(r, at, &b, v, 0)) return -1;
    *out = tpl_scratch_done(&b);
    return 0;
}
