/* Chat-template engine: expression evaluation — scopes, attribute and item
 * access (jinja2's sandboxed getattr/getitem), slicing, operators with
 * Python semantics, comparisons, calls. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jinja/template_internal.h"

/* ------------------------------------------------------------- errors */

int anc_tpl_fail(tpl_rs *r, const tpl_node *at, anc_status code, const char *fmt, ...) {
    if (r->failed) return -1;
    r->failed = 1;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        anc_error_set(r->err, code, "%s:%u:%u: %s", r->t->label, at->line, at->col, msg);
    else
        anc_error_set(r->err, code, "%s: %s", r->t->label, msg);
    return -1;
}

int anc_tpl_oom_rs(tpl_rs *r, const tpl_node *at) {
    if (r->arena.limit && r->arena.total + ((size_t)1 << 20) > r->arena.limit)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "render exceeded its memory limit (%zu bytes)", r->arena.limit);
    return anc_tpl_fail(r, at, ANC_ERR_NOMEM, "out of memory");
}

int anc_tpl_buf_check(tpl_rs *r, const tpl_node *at, int rc) {
    if (rc == 0) return 0;
    if (rc == -2) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "rendered output exceeds its size limit");
    return anc_tpl_oom_rs(r, at);
}

static int undefined_error(tpl_rs *r, const tpl_node *at, tv u) {
    if (u.unsafe)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "SecurityError: access to attribute '%.*s' is unsafe", (int)u.u.s.n,
                            u.u.s.p ? u.u.s.p : "");
    if (u.u.s.p)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "UndefinedError: '%.*s' is undefined", (int)u.u.s.n, u.u.s.p);
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "UndefinedError: value is undefined");
}

/* ------------------------------------------------------------- scopes */

tpl_frame *anc_tpl_frame_new(tpl_rs *r, const tpl_node *at, tpl_frame *parent) {
    tpl_frame *f = anc_tpl_calloc(&r->arena, 1, sizeof *f);
    if (!f) {
        anc_tpl_oom_rs(r, at);
        return NULL;
    }
    f->parent = parent;
    return f;
}

int anc_tpl_frame_set(tpl_rs *r, const tpl_node *at, tpl_frame *f, int sym, tv v) {
    for (size_t i = 0; i < f->n; i++)
        if (f->syms[i] == sym) {
            f->vals[i] = v;
            return 0;
        }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 8;
        int *ns = anc_tpl_grow(&r->arena, f->syms, f->cap * sizeof *ns, nc * sizeof *ns);
        if (!ns) return anc_tpl_oom_rs(r, at);
        f->syms = ns;
        tv *nv = anc_tpl_grow(&r->arena, f->vals, f->cap * sizeof *nv, nc * sizeof *nv);
        if (!nv) return anc_tpl_oom_rs(r, at);
        f->vals = nv;
        f->cap = nc;
    }
    f->syms[f->n] = sym;
    f->vals[f->n++] = v;
    return 0;
}

int anc_tpl_lookup(tpl_rs *r, int sym, tv *out) {
    for (tpl_frame *f = r->frame; f; f = f->parent)
        for (size_t i = 0; i < f->n; i++)
            if (f->syms[i] == sym) {
                *out = f->vals[i];
                return 1;
            }
    if (r->ctx_set[sym]) {
        *out = r->ctx[sym];
        return 1;
    }
    if (sym >= SYM_RANGE && sym < TPL_SYM_BUILTIN_COUNT) {
        *out = anc_tv_none();
        out->kind = TV_FUNC;
        out->u.i = sym;
        return 1;
    }
    *out = anc_tv_undef_named(r->t->sym_names[sym], r->t->sym_lens[sym]);
    return 0;
}

/* ------------------------------------------------------------- access */

static int loop_attr(tpl_rs *r, const tpl_node *at, tv obj, const char *name, size_t n, tv *out) {
    const tpl_loop *l = obj.u.loop;
    size_t len = l->items->n, i = l->index0;
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
    if (IS("index")) *out = anc_tv_int((int64_t)i + 1);
    else if (IS("index0")) *out = anc_tv_int((int64_t)i);
    else if (IS("revindex")) *out = anc_tv_int((int64_t)(len - i));
    else if (IS("revindex0")) *out = anc_tv_int((int64_t)(len - i - 1));
    else if (IS("first")) *out = anc_tv_bool(i == 0);
    else if (IS("last")) *out = anc_tv_bool(i + 1 == len);
    else if (IS("length")) *out = anc_tv_int((int64_t)len);
    else if (IS("depth")) *out = anc_tv_int(1);
    else if (IS("depth0")) *out = anc_tv_int(0);
    else if (IS("previtem")) *out = i > 0 ? l->items->items[i - 1] : anc_tv_undef_named("previtem", 8);
    else if (IS("nextitem")) *out = i + 1 < len ? l->items->items[i + 1] : anc_tv_undef_named("nextitem", 8);
    else {
        int id = anc_tpl_method_id(obj, name, n);
        if (id < 0) {
            *out = anc_tv_undef_named(name, n);
            return 0;
        }
        tv_method *m = anc_tpl_alloc(&r->arena, sizeof *m);
        if (!m) return anc_tpl_oom_rs(r, at);
        m->self = obj;
        m->id = id;
        *out = anc_tv_none();
        out->kind = TV_METHOD;
        out->u.meth = m;
    }
#undef IS
    return 0;
}

int anc_tpl_getattr(tpl_rs *r, const tpl_node *at, tv obj, const char *name, size_t n, tv *out) {
    if (obj.kind == TV_UNDEF) return undefined_error(r, at, obj);
    if (obj.kind == TV_LOOP) return loop_attr(r, at, obj, name, n, out);
    if (n >= 2 && name[0] == '_' && name[1] == '_') { /* Python internals: refused by the sandbox */
        *out = anc_tv_undef_named(name, n);
        out->unsafe = 1;
        return 0;
    }
    int id = anc_tpl_method_id(obj, name, n);
    if (id == -2) {
        *out = anc_tv_undef_named(name, n);
        out->unsafe = 1;
        return 0;
    }
    if (id >= 0) {
        tv_method *m = anc_tpl_alloc(&r->arena, sizeof *m);
        if (!m) return anc_tpl_oom_rs(r, at);
        m->self = obj;
        m->id = id;
        *out = anc_tv_none();
        out->kind = TV_METHOD;
        out->u.meth = m;
        return 0;
    }
    if (obj.kind == TV_DICT || obj.kind == TV_NS) {
        long i = anc_tv_dict_find_str(obj.u.d, name, n);
        if (i >= 0) {
            *out = obj.u.d->vals[i];
            return 0;
        }
    }
    *out = anc_tv_undef_named(name, n);
    return 0;
}

int anc_tpl_getitem(tpl_rs *r, const tpl_node *at, tv obj, tv key, tv *out) {
    if (obj.kind == TV_UNDEF) return undefined_error(r, at, obj);
    if (obj.kind == TV_DICT) {
        long i = anc_tv_dict_find(obj.u.d, key);
        if (i >= 0) {
            *out = obj.u.d->vals[i];
            return 0;
        }
    } else if (((obj.kind == TV_LIST && !obj.flavor) || obj.kind == TV_STR) &&
               (key.kind == TV_INT || key.kind == TV_BOOL)) {
        int64_t len;
        if (anc_tv_length(r, at, obj, &len)) return -1;
        int64_t i = key.u.i < 0 ? key.u.i + len : key.u.i;
        if (i >= 0 && i < len) {
            if (obj.kind == TV_LIST) {
                *out = obj.u.l->items[i];
            } else {
                size_t off = anc_tpl_u8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
                uint32_t cp;
                *out = anc_tv_str(obj.u.s.p + off, anc_tpl_u8_next(obj.u.s.p, obj.u.s.n, off, &cp));
            }
            return 0;
        }
    }
    if (key.kind == TV_STR) return anc_tpl_getattr(r, at, obj, key.u.s.p, key.u.s.n, out);
    *out = anc_tv_undef();
    return 0;
}

/* Python slice.indices() then the selected positions. */
static int do_slice(tpl_rs *r, const tpl_node *at, tv obj, tv s0, tv s1, tv s2, tv *out) {
    tv b[3] = {s0, s1, s2};
    int64_t v[3] = {0, 0, 1};
    /* jinja2 compiles slices to a plain Python subscript: no undefined fallback. */
    if (obj.kind == TV_UNDEF) return undefined_error(r, at, obj);
    if (obj.kind == TV_DICT) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: unhashable type: 'slice'");
    if ((obj.kind != TV_LIST && obj.kind != TV_STR) || obj.flavor)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not subscriptable",
                            anc_tv_type_name(obj));
    for (int k = 0; k < 3; k++) {
        if (b[k].kind == TV_NONE) continue;
        if (b[k].kind == TV_UNDEF) return undefined_error(r, at, b[k]);
        if (b[k].kind != TV_INT && b[k].kind != TV_BOOL)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                "TypeError: slice indices must be integers or None or have an __index__ method");
        v[k] = b[k].u.i;
    }
    int64_t step = b[2].kind == TV_INT || b[2].kind == TV_BOOL ? v[2] : 1;
    if (step == 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: slice step cannot be zero");
    int64_t len;
    if (anc_tv_length(r, at, obj, &len)) return -1;
    int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? len - 1 : len;
    int64_t start, stop;
    for (int k = 0; k < 2; k++) {
        int64_t *dst = k == 0 ? &start : &stop;
        int has = b[k].kind == TV_INT || b[k].kind == TV_BOOL;
        if (!has) {
            *dst = (k == 0) == (step < 0) ? upper : lower;
            continue;
        }
        int64_t x = v[k];
        if (x < 0) {
            x += len;
            if (x < lower) x = lower;
        } else if (x > upper) {
            x = upper;
        }
        *dst = x;
    }
    size_t count = 0;
    if (step > 0 && start < stop) count = (size_t)((stop - start + step - 1) / step);
    if (step < 0 && start > stop) count = (size_t)((start - stop + (-step) - 1) / (-step));
    if (obj.kind == TV_LIST) {
        tv_list *l = anc_tv_list_new(r, count);
        if (!l) return anc_tpl_oom_rs(r, at);
        for (size_t k = 0; k < count; k++) l->items[k] = obj.u.l->items[start + (int64_t)k * step];
        *out = obj;
        out->u.l = l;
        return 0;
    }
    const char *s = obj.u.s.p;
    size_t n = obj.u.s.n;
    if ((size_t)len == n) { /* ASCII-only (one byte per code point) */
        if (step == 1) {
            *out = anc_tv_str(s + start, count);
            return 0;
        }
        char *o = anc_tpl_alloc(&r->arena, count + 1);
        if (!o) return anc_tpl_oom_rs(r, at);
        for (size_t k = 0; k < count; k++) o[k] = s[start + (int64_t)k * step];
        o[count] = '\0';
        *out = anc_tv_str(o, count);
        return 0;
    }
    size_t *offs = anc_tpl_alloc(&r->arena, ((size_t)len + 1) * sizeof *offs);
    if (!offs) return anc_tpl_oom_rs(r, at);
    size_t i = 0;
    for (int64_t k = 0; k < len; k++) {
        uint32_t cp;
        offs[k] = i;
        i += anc_tpl_u8_next(s, n, i, &cp);
    }
    offs[len] = n;
    if (step == 1) {
        *out = count ? anc_tv_str(s + offs[start], offs[start + (int64_t)count] - offs[start]) : anc_tv_str("", 0);
        return 0;
    }
    tpl_buf buf;
    anc_tpl_scratch(r, &buf);
    for (size_t k = 0; k < count; k++) {
        int64_t c = start + (int64_t)k * step;
        if (anc_tpl_buf_check(r, at, anc_tpl_buf_put(&buf, s + offs[c], offs[c + 1] - offs[c]))) return -1;
    }
    *out = anc_tpl_scratch_done(&buf);
    return 0;
}

/* ------------------------------------------------------------- operators */

static int type_error2(tpl_rs *r, const tpl_node *at, const char *op, tv a, tv b) {
    if (a.kind == TV_UNDEF) return undefined_error(r, at, a);
    if (b.kind == TV_UNDEF) return undefined_error(r, at, b);
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op,
                        anc_tv_type_name(a), anc_tv_type_name(b));
}

static int overflow(tpl_rs *r, const tpl_node *at) {
    return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "integer result does not fit in 64 bits");
}

/* s repeated k times (k may be <= 0). */
static int repeat(tpl_rs *r, const tpl_node *at, tv s, int64_t k, tv *out) {
    if (k <= 0) {
        if (s.kind == TV_STR) {
            *out = anc_tv_str("", 0);
        } else {
            tv_list *l = anc_tv_list_new(r, 0);
            if (!l) return anc_tpl_oom_rs(r, at);
            *out = s;
            out->u.l = l;
        }
        return 0;
    }
    size_t unit = s.kind == TV_STR ? s.u.s.n : s.u.l->n * sizeof(tv);
    if (unit && (uint64_t)k > (uint64_t)(r->arena.limit ? r->arena.limit : ((size_t)1 << 40)) / unit)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "repetition result is too large");
    if (s.kind == TV_STR) {
        tpl_buf b;
        anc_tpl_scratch(r, &b);
        for (int64_t i = 0; i < k; i++)
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, s.u.s.p, s.u.s.n))) return -1;
        *out = anc_tpl_scratch_done(&b);
        return 0;
    }
    tv_list *l = anc_tv_list_new(r, s.u.l->n * (size_t)k);
    if (!l) return anc_tpl_oom_rs(r, at);
    for (int64_t i = 0; i < k; i++)
        if (s.u.l->n) memcpy(l->items + (size_t)i * s.u.l->n, s.u.l->items, s.u.l->n * sizeof(tv));
    *out = s;
    out->u.l = l;
    return 0;
}

static double py_fmod(double a, double b) {
    double m = fmod(a, b);
    if (m != 0 && ((b < 0) != (m < 0))) m += b;
    return m;
}

int anc_tpl_binop(tpl_rs *r, const tpl_node *at, int op, tv a, tv b, tv *out) {
    int nums = anc_tv_is_num(a) && anc_tv_is_num(b);
    int ints = nums && a.kind != TV_FLOAT && b.kind != TV_FLOAT;
    int64_t x = a.u.i, y = b.u.i, z;
    switch (op) {
    case OP_TILDE: {
        tpl_buf buf;
        anc_tpl_scratch(r, &buf);
        if (anc_tv_str_append(r, at, &buf, a) || anc_tv_str_append(r, at, &buf, b)) return -1;
        *out = anc_tpl_scratch_done(&buf);
        return 0;
    }
    case OP_ADD:
        if (ints) {
            if (__builtin_add_overflow(x, y, &z)) return overflow(r, at);
            *out = anc_tv_int(z);
            return 0;
        }
        if (nums) {
            *out = anc_tv_float(anc_tv_num(a) + anc_tv_num(b));
            return 0;
        }
        if (a.kind == TV_STR && b.kind == TV_STR) {
            tpl_buf buf;
            anc_tpl_scratch(r, &buf);
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_put(&buf, a.u.s.p, a.u.s.n)) ||
                anc_tpl_buf_check(r, at, anc_tpl_buf_put(&buf, b.u.s.p, b.u.s.n)))
                return -1;
            *out = anc_tpl_scratch_done(&buf);
            return 0;
        }
        if (a.kind == TV_LIST && b.kind == TV_LIST && a.tuple == b.tuple && !a.flavor && !b.flavor) {
            tv_list *l = anc_tv_list_new(r, a.u.l->n + b.u.l->n);
            if (!l) return anc_tpl_oom_rs(r, at);
            if (a.u.l->n) memcpy(l->items, a.u.l->items, a.u.l->n * sizeof(tv));
            if (b.u.l->n) memcpy(l->items + a.u.l->n, b.u.l->items, b.u.l->n * sizeof(tv));
            *out = a;
            out->u.l = l;
            return 0;
        }
        if (a.kind == TV_STR && b.kind != TV_UNDEF)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: can only concatenate str (not \"%s\") to str",
                                anc_tv_type_name(b));
        return type_error2(r, at, "+", a, b);
    case OP_SUB:
        if (ints) {
            if (__builtin_sub_overflow(x, y, &z)) return overflow(r, at);
            *out = anc_tv_int(z);
            return 0;
        }
        if (nums) {
            *out = anc_tv_float(anc_tv_num(a) - anc_tv_num(b));
            return 0;
        }
        return type_error2(r, at, "-", a, b);
    case OP_MUL:
        if (ints) {
            if (__builtin_mul_overflow(x, y, &z)) return overflow(r, at);
            *out = anc_tv_int(z);
            return 0;
        }
        if (nums) {
            *out = anc_tv_float(anc_tv_num(a) * anc_tv_num(b));
            return 0;
        }
        if ((a.kind == TV_STR || (a.kind == TV_LIST && !a.flavor)) && (b.kind == TV_INT || b.kind == TV_BOOL))
            return repeat(r, at, a, b.u.i, out);
        if ((b.kind == TV_STR || (b.kind == TV_LIST && !b.flavor)) && (a.kind == TV_INT || a.kind == TV_BOOL))
            return repeat(r, at, b, a.u.i, out);
        return type_error2(r, at, "*", a, b);
    case OP_DIV:
        if (!nums) return type_error2(r, at, "/", a, b);
        if (anc_tv_num(b) == 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ZeroDivisionError: division by zero");
        *out = anc_tv_float(anc_tv_num(a) / anc_tv_num(b));
        return 0;
    case OP_FLOORDIV:
    case OP_MOD:
        if (op == OP_MOD && a.kind == TV_STR) return anc_tpl_percent_format(r, at, a, b, out);
        if (!nums) return type_error2(r, at, op == OP_MOD ? "%" : "//", a, b);
        if (anc_tv_num(b) == 0)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ZeroDivisionError: integer division or modulo by zero");
        if (ints) {
            if (x == INT64_MIN && y == -1) return overflow(r, at);
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                q -= 1;
                m += y;
            }
            *out = anc_tv_int(op == OP_MOD ? m : q);
            return 0;
        }
        {
            double fa = anc_tv_num(a), fb = anc_tv_num(b);
            double m = py_fmod(fa, fb);
            if (op == OP_MOD) {
                *out = anc_tv_float(m);
            } else {
                double d = (fa - m) / fb;
                double fl = floor(d);
                if (d - fl > 0.5) fl += 1.0;
                *out = anc_tv_float(fl);
            }
            return 0;
        }
    case OP_POW:
        if (ints && y >= 0) {
            int64_t res = 1, base = x;
            for (int64_t e = y; e > 0; e >>= 1) {
                if ((e & 1) && __builtin_mul_overflow(res, base, &res)) return overflow(r, at);
                if (e > 1 && __builtin_mul_overflow(base, base, &base)) return overflow(r, at);
            }
            *out = anc_tv_int(res);
            return 0;
        }
        if (nums) {
            if (anc_tv_num(a) == 0 && anc_tv_num(b) < 0)
                return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                    "ZeroDivisionError: 0.0 cannot be raised to a negative power");
            *out = anc_tv_float(pow(anc_tv_num(a), anc_tv_num(b)));
            return 0;
        }
        return type_error2(r, at, "**", a, b);
    default: return anc_tpl_fail(r, at, ANC_ERR_INTERNAL, "unknown operator %d", op);
    }
}

int anc_tpl_contains(tpl_rs *r, const tpl_node *at, tv container, tv item, int *out) {
    switch (container.kind) {
    case TV_UNDEF: *out = 0; return 0;
    case TV_STR:
        if (item.kind != TV_STR) {
            if (item.kind == TV_UNDEF) return undefined_error(r, at, item);
            return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                "TypeError: 'in <string>' requires string as left operand, not %s",
                                anc_tv_type_name(item));
        }
        *out = item.u.s.n == 0 || (item.u.s.n <= container.u.s.n &&
                                   anc_tpl_memfind(container.u.s.p, container.u.s.n, item.u.s.p, item.u.s.n) != NULL);
        return 0;
    case TV_LIST:
        *out = 0;
        for (size_t i = 0; i < container.u.l->n && !*out; i++) *out = anc_tv_eq(container.u.l->items[i], item, 0);
        return 0;
    case TV_DICT:
    case TV_NS: *out = anc_tv_dict_find(container.u.d, item) >= 0; return 0;
    default:
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: argument of type '%s' is not iterable",
                            anc_tv_type_name(container));
    }
}

static int compare(tpl_rs *r, const tpl_node *at, int op, tv a, tv b, int *res) {
    int lt;
    switch (op) {
    case OP_EQ: *res = anc_tv_eq(a, b, 0); return 0;
    case OP_NE: *res = !anc_tv_eq(a, b, 0); return 0;
    case OP_LT: return anc_tv_less(r, at, a, b, res);
    case OP_GT: return anc_tv_less(r, at, b, a, res);
    case OP_LE:
        if (anc_tv_less(r, at, a, b, &lt)) return -1;
        *res = lt || anc_tv_eq(a, b, 0);
        return 0;
    case OP_GE:
        if (anc_tv_less(r, at, b, a, &lt)) return -1;
        *res = lt || anc_tv_eq(a, b, 0);
        return 0;
    case OP_IN: return anc_tpl_contains(r, at, b, a, res);
    case OP_NOTIN:
        if (anc_tpl_contains(r, at, b, a, &lt)) return -1;
        *res = !lt;
        return 0;
    default: return anc_tpl_fail(r, at, ANC_ERR_INTERNAL, "unknown comparison %d", op);
    }
}

/* ------------------------------------------------------------- calls */

int anc_tpl_eval_args(tpl_rs *r, const tpl_node *n, tpl_args *a) {
    memset(a, 0, sizeof *a);
    if (n->n_items) {
        a->pos = anc_tpl_alloc(&r->arena, n->n_items * sizeof *a->pos);
        if (!a->pos) return anc_tpl_oom_rs(r, n);
        for (size_t i = 0; i < n->n_items; i++)
            if (anc_tpl_eval(r, n->items[i], &a->pos[i])) return -1;
        a->npos = n->n_items;
    }
    if (n->n_items2) {
        a->kw = anc_tpl_alloc(&r->arena, n->n_items2 * sizeof *a->kw);
        if (!a->kw) return anc_tpl_oom_rs(r, n);
        for (size_t i = 0; i < n->n_items2; i++)
            if (anc_tpl_eval(r, n->items2[i], &a->kw[i])) return -1;
        a->kw_names = n->names;
        a->nkw = n->n_items2;
    }
    return 0;
}

int anc_tpl_arg(const tpl_args *a, size_t i, const char *name, tv *out) {
    if (i < a->npos) {
        *out = a->pos[i];
        return 1;
    }
    if (name) {
        size_t n = strlen(name);
        for (size_t k = 0; k < a->nkw; k++)
            if (a->kw_names[k].u.s.n == n && memcmp(a->kw_names[k].u.s.p, name, n) == 0) {
                *out = a->kw[k];
                return 1;
            }
    }
    return 0;
}

int anc_tpl_args_check(tpl_rs *r, const tpl_node *at, const tpl_args *a, const char *fname, size_t max,
                       const char *const *names) {
    if (a->npos > max)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() takes at most %zu arguments (%zu given)", fname,
                            max, a->npos);
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i;
        for (i = 0; i < max; i++)
            if (names && names[i] && a->kw_names[k].u.s.n == strlen(names[i]) &&
                memcmp(a->kw_names[k].u.s.p, names[i], a->kw_names[k].u.s.n) == 0)
                break;
        if (i == max)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() got an unexpected keyword argument '%.*s'",
                                fname, (int)a->kw_names[k].u.s.n, a->kw_names[k].u.s.p);
        if (i < a->npos)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() got multiple values for argument '%s'", fname,
                                names[i]);
    }
    return 0;
}

int anc_tpl_call_value(tpl_rs *r, const tpl_node *at, tv fn, tpl_args *a, tv *out) {
    switch (fn.kind) {
    case TV_MACRO: return anc_tpl_call_macro(r, at, fn.u.m, a, NULL, out);
    case TV_FUNC: return anc_tpl_call_global(r, at, (int)fn.u.i, a, out);
    case TV_METHOD: return anc_tpl_call_method(r, at, fn.u.meth->self, fn.u.meth->id, a, out);
    case TV_UNDEF: return undefined_error(r, at, fn);
    default:
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not callable", anc_tv_type_name(fn));
    }
}

/* Call nodes report errors at the callee (where the name is). */
static int eval_call(tpl_rs *r, const tpl_node *n, tv *out) {
    tpl_args a;
    const tpl_node *callee = n->a;
    if (callee->kind == N_GETATTR) { /* obj.method(...): no bound-method value needed */
        tv obj;
        if (anc_tpl_eval(r, callee->a, &obj)) return -1;
        int id = obj.kind == TV_UNDEF ? -1 : anc_tpl_method_id(obj, callee->value.u.s.p, callee->value.u.s.n);
        if (id >= 0) {
            if (anc_tpl_eval_args(r, n, &a)) return -1;
            return anc_tpl_call_method(r, n, obj, id, &a, out);
        }
        tv fn;
        if (anc_tpl_getattr(r, callee, obj, callee->value.u.s.p, callee->value.u.s.n, &fn) ||
            anc_tpl_eval_args(r, n, &a))
            return -1;
        return anc_tpl_call_value(r, n, fn, &a, out);
    }
    tv fn;
    if (anc_tpl_eval(r, callee, &fn) || anc_tpl_eval_args(r, n, &a)) return -1;
    return anc_tpl_call_value(r, n, fn, &a, out);
}

/* ------------------------------------------------------------- eval */

static int eval_node(tpl_rs *r, const tpl_node *n, tv *out);

int anc_tpl_eval(tpl_rs *r, const tpl_node *n, tv *out) {
    if (anc_tpl_too_deep(r))
        return anc_tpl_fail(r, n, ANC_ERR_INVALID, "evaluation nested more than %d deep (or past %d KiB of stack)",
                            TPL_MAX_RENDER_NESTING, (int)(TPL_MAX_STACK_BYTES >> 10));
    r->nesting++;
    int rc = eval_node(r, n, out);
    r->nesting--;
    return rc;
}

static int eval_node(tpl_rs *r, const tpl_node *n, tv *out) {
    tv a, b, c, d;
    switch (n->kind) {
    case N_CONST: *out = n->value; return 0;
    case N_NAME: anc_tpl_lookup(r, n->sym, out); return 0;
    case N_BLOCKVAL: *out = r->block_value; return 0;
    case N_GETATTR:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        return anc_tpl_getattr(r, n, a, n->value.u.s.p, n->value.u.s.n, out);
    case N_GETITEM:
        if (anc_tpl_eval(r, n->a, &a) || anc_tpl_eval(r, n->b, &b)) return -1;
        return anc_tpl_getitem(r, n, a, b, out);
    case N_SLICE:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        b = c = d = anc_tv_none();
        if ((n->b && anc_tpl_eval(r, n->b, &b)) || (n->c && anc_tpl_eval(r, n->c, &c)) ||
            (n->d && anc_tpl_eval(r, n->d, &d)))
            return -1;
        return do_slice(r, n, a, b, c, d, out);
    case N_CALL: return eval_call(r, n, out);
    case N_FILTER: {
        tpl_args args;
        if (anc_tpl_eval(r, n->a, &a) || anc_tpl_eval_args(r, n, &args)) return -1;
        return anc_tpl_apply_filter(r, n, n->op, a, &args, out);
    }
    case N_TEST: {
        tpl_args args;
        int res;
        if (anc_tpl_eval(r, n->a, &a) || anc_tpl_eval_args(r, n, &args) ||
            anc_tpl_apply_test(r, n, n->op, a, &args, &res))
            return -1;
        *out = anc_tv_bool(res);
        return 0;
    }
    case N_UNARY:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        if (n->op == OP_NOT) {
            *out = anc_tv_bool(!anc_tv_truthy(a));
            return 0;
        }
        if (a.kind == TV_FLOAT) {
            *out = anc_tv_float(n->op == OP_NEG ? -a.u.f : a.u.f);
            return 0;
        }
        if (a.kind == TV_INT || a.kind == TV_BOOL) {
            if (n->op == OP_NEG && a.u.i == INT64_MIN) return overflow(r, n);
            *out = anc_tv_int(n->op == OP_NEG ? -a.u.i : a.u.i);
            return 0;
        }
        if (a.kind == TV_UNDEF) return undefined_error(r, n, a);
        return anc_tpl_fail(r, n, ANC_ERR_INVALID, "TypeError: bad operand type for unary %c: '%s'",
                            n->op == OP_NEG ? '-' : '+', anc_tv_type_name(a));
    case N_BIN:
        if (anc_tpl_eval(r, n->a, &a) || anc_tpl_eval(r, n->b, &b)) return -1;
        return anc_tpl_binop(r, n, n->op, a, b, out);
    case N_AND:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        if (!anc_tv_truthy(a)) {
            *out = a;
            return 0;
        }
        return anc_tpl_eval(r, n->b, out);
    case N_OR:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        if (anc_tv_truthy(a)) {
            *out = a;
            return 0;
        }
        return anc_tpl_eval(r, n->b, out);
    case N_CMP: {
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        int res = 1;
        for (size_t i = 0; i < n->n_items && res; i++) {
            if (anc_tpl_eval(r, n->items[i], &b) || compare(r, n, n->ops[i], a, b, &res)) return -1;
            a = b;
        }
        *out = anc_tv_bool(res);
        return 0;
    }
    case N_COND:
        if (anc_tpl_eval(r, n->a, &a)) return -1;
        if (anc_tv_truthy(a)) return anc_tpl_eval(r, n->b, out);
        if (n->c) return anc_tpl_eval(r, n->c, out);
        *out = anc_tv_undef();
        return 0;
    case N_LIST:
    case N_TUPLE: {
        tv_list *l = anc_tv_list_new(r, n->n_items);
        if (!l) return anc_tpl_oom_rs(r, n);
        for (size_t i = 0; i < n->n_items; i++)
            if (anc_tpl_eval(r, n->items[i], &l->items[i])) return -1;
        *out = anc_tv_none();
        out->kind = TV_LIST;
        out->tuple = n->kind == N_TUPLE;
        out->u.l = l;
        return 0;
    }
    case N_DICT: {
        tv_dict *dict = anc_tv_dict_new(r, n->n_items);
        if (!dict) return anc_tpl_oom_rs(r, n);
        for (size_t i = 0; i < n->n_items; i++) {
            if (anc_tpl_eval(r, n->items[i], &a) || anc_tpl_eval(r, n->items2[i], &b)) return -1;
            if (a.kind == TV_LIST && !a.tuple)
                return anc_tpl_fail(r, n, ANC_ERR_INVALID, "TypeError: unhashable type: 'list'");
            if (a.kind == TV_DICT || a.kind == TV_NS)
                return anc_tpl_fail(r, n, ANC_ERR_INVALID, "TypeError: unhashable type: 'dict'");
            if (anc_tv_dict_set(r, dict, a, b)) return anc_tpl_oom_rs(r, n);
        }
        *out = anc_tv_none();
        out->kind = TV_DICT;
        out->u.d = dict;
        return 0;
    }
    default: return anc_tpl_fail(r, n, ANC_ERR_INTERNAL, "not an expression (node kind %d)", (int)n->kind);
    }
}
