/* Chat-template engine: jinja2 tests (`is defined`, `is string`, ...),
 * global functions (range, dict, namespace, raise_exception, strftime_now)
 * and the methods templates call on values: str (strip, split, startswith,
 * ...: see template_strings.c), dict (items, keys, values, get), list
 * (count, index) and loop (cycle). Methods that would mutate a list or dict
 * are refused, as in transformers' ImmutableSandboxedEnvironment. */
#include <string.h>

#include "jinja/template_internal.h"

/* ------------------------------------------------------------- tests */

enum {
    T_DEFINED, T_UNDEFINED, T_NONE, T_BOOLEAN, T_FALSE, T_TRUE, T_INTEGER, T_FLOAT, T_NUMBER, T_STRING, T_MAPPING,
    T_ITERABLE, T_SEQUENCE, T_CALLABLE, T_SAMEAS, T_ESCAPED, T_LOWER, T_UPPER, T_EVEN, T_ODD, T_DIVISIBLEBY, T_EQ,
    T_NE, T_LT, T_LE, T_GT, T_GE, T_IN, T_FILTER, T_TEST
};

static const struct {
    const char *name;
    int id;
} TESTS[] = {
    {"defined", T_DEFINED}, {"undefined", T_UNDEFINED}, {"none", T_NONE}, {"boolean", T_BOOLEAN},
    {"false", T_FALSE}, {"true", T_TRUE}, {"integer", T_INTEGER}, {"float", T_FLOAT}, {"number", T_NUMBER},
    {"string", T_STRING}, {"mapping", T_MAPPING}, {"iterable", T_ITERABLE}, {"sequence", T_SEQUENCE},
    {"callable", T_CALLABLE}, {"sameas", T_SAMEAS}, {"escaped", T_ESCAPED}, {"lower", T_LOWER}, {"upper", T_UPPER},
    {"even", T_EVEN}, {"odd", T_ODD}, {"divisibleby", T_DIVISIBLEBY}, {"eq", T_EQ}, {"equalto", T_EQ},
    {"==", T_EQ}, {"ne", T_NE}, {"!=", T_NE}, {"lt", T_LT}, {"lessthan", T_LT}, {"<", T_LT}, {"le", T_LE},
    {"<=", T_LE}, {"gt", T_GT}, {"greaterthan", T_GT}, {">", T_GT}, {"ge", T_GE}, {">=", T_GE}, {"in", T_IN},
    {"filter", T_FILTER}, {"test", T_TEST},
};

int anc_tpl_test_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++)
        if (strlen(TESTS[i].name) == n && memcmp(TESTS[i].name, name, n) == 0) return TESTS[i].id;
    return -1;
}

static int need_arg(tpl_rs *r, const tpl_node *at, const tpl_args *a, const char *test, tv *out) {
    if (anc_tpl_arg(a, 0, NULL, out)) return 0;
    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: test '%s' needs an argument", test);
}

/* str.islower() / isupper(): some cased character and none of the other case. */
static int case_test(tpl_rs *r, const tpl_node *at, tv v, int upper, int *out) {
    tv low, up;
    if (anc_tv_to_str(r, at, v, &v) || anc_tpl_str_case(r, at, v, 0, &low) || anc_tpl_str_case(r, at, v, 1, &up))
        return -1;
    int is_low = low.u.s.n == v.u.s.n && !memcmp(low.u.s.p, v.u.s.p, v.u.s.n);
    int is_up = up.u.s.n == v.u.s.n && !memcmp(up.u.s.p, v.u.s.p, v.u.s.n);
    int cased = !(is_low && is_up);
    *out = cased && (upper ? is_up : is_low);
    return 0;
}

int anc_tpl_apply_test(tpl_rs *r, const tpl_node *at, int id, tv v, tpl_args *a, int *out) {
    tv x, m;
    int lt;
    switch (id) {
    case T_DEFINED: *out = v.kind != TV_UNDEF; return 0;
    case T_UNDEFINED: *out = v.kind == TV_UNDEF; return 0;
    case T_NONE: *out = v.kind == TV_NONE; return 0;
    case T_BOOLEAN: *out = v.kind == TV_BOOL; return 0;
    case T_FALSE: *out = v.kind == TV_BOOL && !v.u.i; return 0;
    case T_TRUE: *out = v.kind == TV_BOOL && v.u.i; return 0;
    case T_INTEGER: *out = v.kind == TV_INT; return 0;
    case T_FLOAT: *out = v.kind == TV_FLOAT; return 0;
    case T_NUMBER: *out = anc_tv_is_num(v); return 0;
    case T_STRING: *out = v.kind == TV_STR; return 0;
    case T_MAPPING: *out = v.kind == TV_DICT; return 0;
    case T_ITERABLE:
        *out = v.kind == TV_STR || v.kind == TV_LIST || v.kind == TV_DICT || v.kind == TV_UNDEF || v.kind == TV_LOOP;
        return 0;
    case T_SEQUENCE:
        *out = v.kind == TV_STR || (v.kind == TV_LIST && !v.flavor) || v.kind == TV_DICT || v.kind == TV_UNDEF;
        return 0;
    case T_CALLABLE:
        *out = v.kind == TV_MACRO || v.kind == TV_FUNC || v.kind == TV_METHOD || v.kind == TV_UNDEF;
        return 0;
    case T_SAMEAS:
        if (need_arg(r, at, a, "sameas", &x)) return -1;
        if (v.kind != x.kind) *out = 0;
        else if (v.kind == TV_LIST) *out = v.u.l == x.u.l;
        else if (v.kind == TV_DICT || v.kind == TV_NS) *out = v.u.d == x.u.d;
        else if (v.kind == TV_STR) *out = v.u.s.p == x.u.s.p && v.u.s.n == x.u.s.n;
        else *out = anc_tv_eq(v, x, 0);
        return 0;
    case T_ESCAPED: *out = 0; return 0;
    case T_LOWER: return case_test(r, at, v, 0, out);
    case T_UPPER: return case_test(r, at, v, 1, out);
    case T_EVEN:
    case T_ODD:
    case T_DIVISIBLEBY:
        if (id == T_DIVISIBLEBY) {
            if (need_arg(r, at, a, "divisibleby", &x)) return -1;
        } else {
            x = anc_tv_int(2);
        }
        if (anc_tpl_binop(r, at, OP_MOD, v, x, &m)) return -1;
        *out = anc_tv_eq(m, anc_tv_int(id == T_ODD ? 1 : 0), 0);
        return 0;
    case T_EQ:
    case T_NE:
        if (need_arg(r, at, a, "eq", &x)) return -1;
        *out = anc_tv_eq(v, x, 0) == (id == T_EQ);
        return 0;
    case T_LT:
    case T_GT:
        if (need_arg(r, at, a, "lt", &x)) return -1;
        return id == T_LT ? anc_tv_less(r, at, v, x, out) : anc_tv_less(r, at, x, v, out);
    case T_LE:
    case T_GE:
        if (need_arg(r, at, a, "le", &x)) return -1;
        if (id == T_LE ? anc_tv_less(r, at, v, x, &lt) : anc_tv_less(r, at, x, v, &lt)) return -1;
        *out = lt || anc_tv_eq(v, x, 0);
        return 0;
    case T_IN:
        if (need_arg(r, at, a, "in", &x)) return -1;
        return anc_tpl_contains(r, at, x, v, out);
    case T_FILTER:
    case T_TEST:
        *out = v.kind == TV_STR &&
               (id == T_FILTER ? anc_tpl_filter_id(v.u.s.p, v.u.s.n) : anc_tpl_test_id(v.u.s.p, v.u.s.n)) >= 0;
        return 0;
    default: return anc_tpl_fail(r, at, ANC_ERR_INTERNAL, "unknown test id %d", id);
    }
}

/* ------------------------------------------------------------- methods */

/* Method ids: the str ones are handled in template_strings.c. */
enum {
    M_DICT_GET = 1000, M_DICT_ITEMS, M_DICT_KEYS, M_DICT_VALUES, M_DICT_COPY, M_LIST_COUNT, M_LIST_INDEX,
    M_LIST_COPY, M_LOOP_CYCLE, M_LOOP_CHANGED, M_UNSUPPORTED
};

static const struct {
    const char *name;
    int id; /* -2: refused by the immutable sandbox; M_UNSUPPORTED: exists in Python, not here */
} DICT_METHODS[] =
    {
        {"get", M_DICT_GET},   {"items", M_DICT_ITEMS},     {"keys", M_DICT_KEYS}, {"values", M_DICT_VALUES},
        {"copy", M_DICT_COPY}, {"fromkeys", M_UNSUPPORTED}, {"clear", -2},         {"pop", -2},
        {"popitem", -2},       {"setdefault", -2},          {"update", -2},
},
  LIST_METHODS[] =
      {
          {"count", M_LIST_COUNT}, {"index", M_LIST_INDEX}, {"copy", M_LIST_COPY}, {"append", -2},
          {"clear", -2},           {"extend", -2},          {"insert", -2},        {"pop", -2},
          {"remove", -2},          {"reverse", -2},         {"sort", -2},
},
  LOOP_METHODS[] = {
      {"cycle", M_LOOP_CYCLE},
      {"changed", M_LOOP_CHANGED},
};

#define FIND_IN(table)                                                                  \
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)                         \
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0) return table[i].id

int anc_tpl_method_id(tv obj, const char *name, size_t n) {
    switch (obj.kind) {
    case TV_STR: return anc_tpl_str_method_id(name, n);
    case TV_DICT: FIND_IN(DICT_METHODS); return -1;
    case TV_LIST:
        if (obj.flavor) return -1;
        if (obj.tuple && !(n == 5 && (!memcmp(name, "count", 5) || !memcmp(name, "index", 5)))) return -1;
        FIND_IN(LIST_METHODS);
        return -1;
    case TV_LOOP: FIND_IN(LOOP_METHODS); return -1;
    default: return -1;
    }
}

const char *anc_tpl_method_name(int id) {
    for (size_t i = 0; i < sizeof DICT_METHODS / sizeof DICT_METHODS[0]; i++)
        if (DICT_METHODS[i].id == id) return DICT_METHODS[i].name;
    for (size_t i = 0; i < sizeof LIST_METHODS / sizeof LIST_METHODS[0]; i++)
        if (LIST_METHODS[i].id == id) return LIST_METHODS[i].name;
    for (size_t i = 0; i < sizeof LOOP_METHODS / sizeof LOOP_METHODS[0]; i++)
        if (LOOP_METHODS[i].id == id) return LOOP_METHODS[i].name;
    return anc_tpl_str_method_name(id);
}

static tv pair(tpl_rs *r, tv a, tv b) {
    tv v = anc_tv_none();
    tv_list *l = anc_tv_list_new(r, 2);
    if (!l) return v;
    l->items[0] = a;
    l->items[1] = b;
    v.kind = TV_LIST;
    v.tuple = 1;
    v.u.l = l;
    return v;
}

int anc_tpl_call_method(tpl_rs *r, const tpl_node *at, tv self, int id, tpl_args *a, tv *out) {
    if (id < 1000) return anc_tpl_call_str_method(r, at, self, id, a, out);
    tv x;
    if (id != M_LOOP_CYCLE && id != M_DICT_GET && id != M_LIST_COUNT && id != M_LIST_INDEX) {
        if (anc_tpl_args_check(r, at, a, anc_tpl_method_name(id), 0, NULL)) return -1;
    }
    switch (id) {
    case M_DICT_GET: {
        static const char *const names[] = {"key", "default"};
        if (anc_tpl_args_check(r, at, a, "get", 2, names)) return -1;
        if (!anc_tpl_arg(a, 0, "key", &x))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: get expected at least 1 argument");
        long i = anc_tv_dict_find(self.u.d, x);
        if (i >= 0) *out = self.u.d->vals[i];
        else if (!anc_tpl_arg(a, 1, "default", out)) *out = anc_tv_none();
        return 0;
    }
    case M_DICT_ITEMS:
    case M_DICT_KEYS:
    case M_DICT_VALUES: {
        tv_list *l = anc_tv_list_new(r, self.u.d->n);
        if (!l) return anc_tpl_oom_rs(r, at);
        for (size_t i = 0; i < self.u.d->n; i++) {
            if (id == M_DICT_ITEMS) {
                l->items[i] = pair(r, self.u.d->keys[i], self.u.d->vals[i]);
                if (l->items[i].kind != TV_LIST) return anc_tpl_oom_rs(r, at);
            } else {
                l->items[i] = id == M_DICT_KEYS ? self.u.d->keys[i] : self.u.d->vals[i];
            }
        }
        *out = anc_tv_none();
        out->kind = TV_LIST;
        out->flavor = id == M_DICT_ITEMS ? FL_DICT_ITEMS : id == M_DICT_KEYS ? FL_DICT_KEYS : FL_DICT_VALUES;
        out->u.l = l;
        return 0;
    }
    case M_DICT_COPY:
    case M_LIST_COPY:
        *out = self;
        out->tuple = 0;
        return 0;
    case M_LIST_COUNT:
    case M_LIST_INDEX: {
        if (anc_tpl_args_check(r, at, a, anc_tpl_method_name(id), 1, NULL) || !anc_tpl_arg(a, 0, NULL, &x))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %s() takes exactly one argument",
                                anc_tpl_method_name(id));
        int64_t count = 0;
        for (size_t i = 0; i < self.u.l->n; i++) {
            if (!anc_tv_eq(self.u.l->items[i], x, 0)) continue;
            if (id == M_LIST_INDEX) {
                *out = anc_tv_int((int64_t)i);
                return 0;
            }
            count++;
        }
        if (id == M_LIST_INDEX) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: value is not in list");
        *out = anc_tv_int(count);
        return 0;
    }
    case M_LOOP_CYCLE:
        if (a->npos == 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: no items for cycling given");
        *out = a->pos[self.u.loop->index0 % a->npos];
        return 0;
    case M_LOOP_CHANGED:
    case M_UNSUPPORTED:
        return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: method '%s' of %s", anc_tpl_method_name(id),
                            anc_tv_type_name(self));
    default: return anc_tpl_fail(r, at, ANC_ERR_INTERNAL, "unknown method id %d", id);
    }
}

/* ------------------------------------------------------------- globals */

static int make_ns_or_dict(tpl_rs *r, const tpl_node *at, tpl_args *a, int kind, tv *out) {
    tv_dict *d = anc_tv_dict_new(r, 4 + a->nkw);
    if (!d) return anc_tpl_oom_rs(r, at);
    if (a->npos > 1) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: expected at most 1 positional argument");
    if (a->npos == 1) {
        tv src = a->pos[0];
        if (src.kind == TV_DICT || src.kind == TV_NS) {
            for (size_t i = 0; i < src.u.d->n; i++)
                if (anc_tv_dict_set(r, d, src.u.d->keys[i], src.u.d->vals[i])) return anc_tpl_oom_rs(r, at);
        } else if (src.kind == TV_LIST) {
            for (size_t i = 0; i < src.u.l->n; i++) {
                tv it = src.u.l->items[i];
                if (it.kind != TV_LIST || it.u.l->n != 2)
                    return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                        "ValueError: dictionary update sequence element #%zu has the wrong length", i);
                if (anc_tv_dict_set(r, d, it.u.l->items[0], it.u.l->items[1])) return anc_tpl_oom_rs(r, at);
            }
        } else {
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: '%s' object is not a mapping",
                                anc_tv_type_name(src));
        }
    }
    for (size_t k = 0; k < a->nkw; k++)
        if (anc_tv_dict_set(r, d, a->kw_names[k], a->kw[k])) return anc_tpl_oom_rs(r, at);
    *out = anc_tv_none();
    out->kind = (uint8_t)kind;
    out->u.d = d;
    return 0;
}

int anc_tpl_call_global(tpl_rs *r, const tpl_node *at, int sym, tpl_args *a, tv *out) {
    tv x;
    switch (sym) {
    case SYM_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->nkw || a->npos < 1 || a->npos > 3)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: range expected 1 to 3 integer arguments");
        for (size_t i = 0; i < a->npos; i++) {
            if (a->pos[i].kind != TV_INT && a->pos[i].kind != TV_BOOL)
                return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                    "TypeError: '%s' object cannot be interpreted as an integer",
                                    anc_tv_type_name(a->pos[i]));
        }
        if (a->npos == 1) {
            v[1] = a->pos[0].u.i;
        } else {
            v[0] = a->pos[0].u.i;
            v[1] = a->pos[1].u.i;
            if (a->npos == 3) v[2] = a->pos[2].u.i;
        }
        if (v[2] == 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: range() arg 3 must not be zero");
        double count = ((double)v[1] - (double)v[0]) / (double)v[2];
        size_t n =
            count > 0 ? (size_t)((v[2] > 0 ? (v[1] - v[0] + v[2] - 1) / v[2] : (v[0] - v[1] - v[2] - 1) / -v[2])) : 0;
        if (count > TPL_MAX_RANGE + 1 || n > TPL_MAX_RANGE)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "OverflowError: range too big, maximum size is %d",
                                TPL_MAX_RANGE);
        tv_list *l = anc_tv_list_new(r, n);
        if (!l) return anc_tpl_oom_rs(r, at);
        for (size_t i = 0; i < n; i++) l->items[i] = anc_tv_int(v[0] + (int64_t)i * v[2]);
        *out = anc_tv_none();
        out->kind = TV_LIST;
        out->u.l = l;
        return 0;
    }
    case SYM_DICT: return make_ns_or_dict(r, at, a, TV_DICT, out);
    case SYM_NAMESPACE: return make_ns_or_dict(r, at, a, TV_NS, out);
    case SYM_RAISE_EXCEPTION: {
        tv msg = anc_tv_str("", 0);
        if (anc_tpl_arg(a, 0, "message", &x) && anc_tv_to_str(r, at, x, &msg)) return -1;
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "raise_exception: %.*s", (int)(msg.u.s.n > 600 ? 600 : msg.u.s.n),
                            msg.u.s.p);
    }
    case SYM_STRFTIME_NOW:
        if (!anc_tpl_arg(a, 0, "format", &x) || x.kind != TV_STR)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: strftime_now() needs a format string");
        return anc_tpl_strftime(r, at, x, r->now, out);
    default:
        return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: the global function '%s'", r->t->sym_names[sym]);
    }
}
