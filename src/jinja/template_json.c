/* Chat-template engine: JSON in (render context -> values, key order kept)
 * and JSON out (the tojson filter, matching Python's json.dumps as
 * transformers calls it: ensure_ascii=False by default, separators ", " and
 * ": " or "," with indent, optional sort_keys). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja/template_internal.h"

int anc_tpl_from_json(tpl_rs *r, const json_t *j, tv *out, int depth) {
    if (depth > TPL_MAX_VALUE_DEPTH) return anc_tpl_fail(r, NULL, ANC_ERR_INVALID, "context value nested too deeply");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tv_dict *d = anc_tv_dict_new(r, json_object_size(j));
        if (!d) return anc_tpl_oom_rs(r, NULL);
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v) {
            tv val;
            if (anc_tpl_from_json(r, v, &val, depth + 1)) return -1;
            /* JSON objects from jansson have unique keys: append directly. */
            if (d->n == d->cap) {
                if (anc_tv_dict_set(r, d, anc_tv_str(k, klen), val)) return anc_tpl_oom_rs(r, NULL);
            } else {
                d->keys[d->n] = anc_tv_str(k, klen);
                d->vals[d->n++] = val;
            }
        }
        *out = anc_tv_none();
        out->kind = TV_DICT;
        out->u.d = d;
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        tv_list *l = anc_tv_list_new(r, n);
        if (!l) return anc_tpl_oom_rs(r, NULL);
        for (size_t i = 0; i < n; i++)
            if (anc_tpl_from_json(r, json_array_get(j, i), &l->items[i], depth + 1)) return -1;
        *out = anc_tv_none();
        out->kind = TV_LIST;
        out->u.l = l;
        return 0;
    }
    case JSON_STRING: *out = anc_tv_str(json_string_value(j), json_string_length(j)); return 0;
    case JSON_INTEGER: *out = anc_tv_int((int64_t)json_integer_value(j)); return 0;
    case JSON_REAL: *out = anc_tv_float(json_real_value(j)); return 0;
    case JSON_TRUE: *out = anc_tv_bool(1); return 0;
    case JSON_FALSE: *out = anc_tv_bool(0); return 0;
    default: *out = anc_tv_none(); return 0;
    }
}

/* ------------------------------------------------------------- tojson */

typedef struct json_out {
    tpl_rs *r;
    const tpl_node *at;
    tpl_buf *b;
    int ensure_ascii;
    const char *indent;
    size_t indent_len;
    tv item_sep, key_sep;
    int sort_keys;
} json_out;

static int put(json_out *o, const char *s, size_t n) {
    return anc_tpl_buf_check(o->r, o->at, anc_tpl_buf_put(o->b, s, n));
}

static int put_string(json_out *o, const char *s, size_t n) {
    tpl_buf *b = o->b;
    int rc = anc_tpl_buf_putc(b, '"');
    size_t run = 0; /* start of bytes copied verbatim */
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[16];
        size_t len = 1;
        uint32_t cp = c;
        if (c >= 0x80) len = anc_tpl_u8_next(s, n, i, &cp);
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || (o->ensure_ascii && c == 0x7F)) {
                snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)c);
                esc = tmp;
            } else if (o->ensure_ascii && c >= 0x80) {
                if (len == 1) cp = 0xFFFD;
                if (cp >= 0x10000) {
                    uint32_t v = cp - 0x10000;
                    snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)),
                             (unsigned)(0xDC00 + (v & 0x3FF)));
                } else {
                    snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
                }
                esc = tmp;
            }
            break;
        }
        if (esc) {
            if (i > run) rc = anc_tpl_buf_put(b, s + run, i - run);
            if (!rc) rc = anc_tpl_buf_put(b, esc, strlen(esc));
            run = i + len;
        }
        i += len;
    }
    if (!rc && n > run) rc = anc_tpl_buf_put(b, s + run, n - run);
    if (!rc) rc = anc_tpl_buf_putc(b, '"');
    return anc_tpl_buf_check(o->r, o->at, rc);
}

static int put_newline(json_out *o, int level) {
    if (put(o, "\n", 1)) return -1;
    for (int i = 0; i < level; i++)
        if (put(o, o->indent, o->indent_len)) return -1;
    return 0;
}

static int put_scalar(json_out *o, tv v, int as_key) {
    char num[48];
    switch (v.kind) {
    case TV_NONE: snprintf(num, sizeof num, "null"); break;
    case TV_BOOL: snprintf(num, sizeof num, v.u.i ? "true" : "false"); break;
    case TV_INT: snprintf(num, sizeof num, "%" PRId64, v.u.i); break;
    case TV_FLOAT:
        if (isnan(v.u.f)) {
            snprintf(num, sizeof num, "NaN");
        } else if (isinf(v.u.f)) {
            snprintf(num, sizeof num, v.u.f < 0 ? "-Infinity" : "Infinity");
        } else {
            anc_tpl_fmt_float(v.u.f, num, sizeof num);
        }
        break;
    default: return -2;
    }
    if (as_key) return put_string(o, num, strlen(num));
    return put(o, num, strlen(num));
}

static int dump(json_out *o, tv v, int level) {
    if (level > TPL_MAX_VALUE_DEPTH)
        return anc_tpl_fail(o->r, o->at, ANC_ERR_INVALID, "ValueError: value nested too deeply for tojson (circular?)");
    if (v.kind == TV_STR) return put_string(o, v.u.s.p, v.u.s.n);
    int rc = put_scalar(o, v, 0);
    if (rc != -2) return rc;
    const char *open = v.kind == TV_LIST ? "[" : "{";
    const char *close = v.kind == TV_LIST ? "]" : "}";
    if ((v.kind != TV_LIST && v.kind != TV_DICT) || (v.kind == TV_LIST && v.flavor))
        return anc_tpl_fail(o->r, o->at, ANC_ERR_INVALID, "TypeError: Object of type %s is not JSON serializable",
                            anc_tv_type_name(v));
    size_t n = v.kind == TV_LIST ? v.u.l->n : v.u.d->n;
    if (n == 0) return put(o, open, 1) || put(o, close, 1) ? -1 : 0;
    if (put(o, open, 1)) return -1;
    if (o->indent && put_newline(o, level + 1)) return -1;
    size_t *order = NULL;
    if (v.kind == TV_DICT && o->sort_keys) {
        order = anc_tpl_alloc(&o->r->arena, n * sizeof *order);
        if (!order) return anc_tpl_oom_rs(o->r, o->at);
        for (size_t i = 0; i < n; i++) { /* insertion sort: stable, errors surface */
            size_t j = i;
            while (j > 0) {
                int lt;
                if (anc_tv_less(o->r, o->at, v.u.d->keys[i], v.u.d->keys[order[j - 1]], &lt)) return -1;
                if (!lt) break;
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            if (put(o, o->item_sep.u.s.p, o->item_sep.u.s.n)) return -1;
            if (o->indent && put_newline(o, level + 1)) return -1;
        }
        if (v.kind == TV_LIST) {
            if (dump(o, v.u.l->items[i], level + 1)) return -1;
            continue;
        }
        size_t k = order ? order[i] : i;
        tv key = v.u.d->keys[k];
        if (key.kind == TV_STR) {
            if (put_string(o, key.u.s.p, key.u.s.n)) return -1;
        } else if ((rc = put_scalar(o, key, 1)) != 0) {
            if (rc == -2)
                return anc_tpl_fail(o->r, o->at, ANC_ERR_INVALID,
                                    "TypeError: keys must be str, int, float, bool or None, not %s",
                                    anc_tv_type_name(key));
            return -1;
        }
        if (put(o, o->key_sep.u.s.p, o->key_sep.u.s.n)) return -1;
        if (dump(o, v.u.d->vals[k], level + 1)) return -1;
    }
    if (o->indent && put_newline(o, level)) return -1;
    return put(o, close, 1);
}

int anc_tpl_tojson(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v, int ensure_ascii, const char *indent_str,
                   size_t indent_len, tv item_sep, tv key_sep, int sort_keys) {
    json_out o;
    o.r = r;
    o.at = at;
    o.b = b;
    o.ensure_ascii = ensure_ascii;
    o.indent = indent_str;
    o.indent_len = indent_len;
    o.item_sep = item_sep.kind == TV_STR ? item_sep : anc_tv_cstr(indent_str ? "," : ", ");
    o.key_sep = key_sep.kind == TV_STR ? key_sep : anc_tv_cstr(": ");
    o.sort_keys = sort_keys;
    return dump(&o, v, 0);
}
