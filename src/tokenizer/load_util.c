/* JSON member readers shared by the tokenizer loaders. Each checks the
 * member's type and reports "<file>: <key path>: <problem>". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

anc_status anc_tk_fail(anc_error *err, anc_status code, const anc_tk_ctx *cx, const char *path, const char *fmt, ...) {
    char msg[ANC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return anc_error_set(err, code, "%s: %s: %s", cx->file, path, msg);
}

anc_status anc_tk_dup(const char *s, size_t len, char **out, anc_error *err) {
    *out = malloc(len + 1);
    if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    if (len) memcpy(*out, s, len);
    (*out)[len] = '\0';
    return ANC_OK;
}

anc_status anc_tk_get_bool(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, int def, int *out,
                           anc_error *err) {
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v)) return ANC_OK;
    if (!json_is_boolean(v)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be true or false", key);
    *out = json_is_true(v);
    return ANC_OK;
}

anc_status anc_tk_get_string(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, int required,
                             const char **s, size_t *len, anc_error *err) {
    json_t *v = json_object_get(obj, key);
    *s = NULL;
    if (len) *len = 0;
    if (!v || json_is_null(v)) {
        if (required) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "missing string \"%s\"", key);
        return ANC_OK;
    }
    if (!json_is_string(v)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be a string", key);
    *s = json_string_value(v);
    if (len) *len = json_string_length(v);
    return ANC_OK;
}

anc_status anc_tk_get_char(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, uint32_t *cp,
                           char utf8[4], size_t *utf8_len, anc_error *err) {
    const char *s;
    size_t len, i = 0;
    anc_status st = anc_tk_get_string(cx, obj, key, path, 1, &s, &len, err);
    if (st) return st;
    if (len == 0 || len > 4) goto bad;
    *cp = anc_tk_utf8_next(s, len, &i);
    if (i != len) goto bad;
    memcpy(utf8, s, len);
    *utf8_len = len;
    return ANC_OK;
bad:
    return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be exactly one character", key);
}

anc_status anc_tk_get_size(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, size_t def,
                           size_t *out, anc_error *err) {
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v)) return ANC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be a non-negative integer", key);
    *out = (size_t)json_integer_value(v);
    return ANC_OK;
}

anc_status anc_tk_get_type(const anc_tk_ctx *cx, json_t *obj, const char *path, const char **type, anc_error *err) {
    if (!json_is_object(obj)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "expected an object or null");
    return anc_tk_get_string(cx, obj, "type", path, 1, type, NULL, err);
}

int anc_tk_behavior_from_name(const char *name) {
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

anc_status anc_tk_load_pattern(anc_tk_regex *re, const anc_tk_ctx *cx, json_t *obj, const char *path,
                               anc_error *err) {
    char where[ANC_TK_PATH + 64];
    json_t *p = json_object_get(obj, "pattern");
    if (!json_is_object(p))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    json_t *v = s ? s : r;
    if (!v || !json_is_string(v) || (s && r))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
    snprintf(where, sizeof where, "%s: %s.pattern.%s", cx->file, path, s ? "String" : "Regex");
    return anc_tk_regex_compile(re, json_string_value(v), json_string_length(v), s != NULL, where, err);
}
