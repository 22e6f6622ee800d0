#include "data/jsonl.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

void anc_rows_free(anc_rows *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) json_decref(r->rows[i]);
    free(r->rows);
    free(r->lines);
    memset(r, 0, sizeof *r);
}

static anc_status push_row(anc_rows *r, size_t *cap, json_t *row, size_t line, anc_error *err) {
    if (r->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        json_t **nr = realloc(r->rows, nc * sizeof *nr);
        if (!nr) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory reading rows");
        r->rows = nr;
        size_t *nl = realloc(r->lines, nc * sizeof *nl);
        if (!nl) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory reading rows");
        r->lines = nl;
        *cap = nc;
    }
    r->rows[r->n] = row;
    r->lines[r->n] = line;
    r->n++;
    return ANC_OK;
}

static anc_status parse_rows(anc_rows *out, const char *text, size_t len, const char *label, size_t max_line,
                             anc_error *err) {
    memset(out, 0, sizeof *out);
    size_t cap = 0, i = 0;
    /* a UTF-8 byte order mark (as some editors save) is not part of the data */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    if (i < len && text[i] == '[') {
        json_error_t je;
        json_t *arr = json_loadb(text, len, 0, &je);
        if (!arr) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", label, je.line, je.column, je.text);
        for (size_t k = 0; k < json_array_size(arr); k++) {
            json_t *row = json_array_get(arr, k);
            if (!json_is_object(row)) {
                json_decref(arr);
                anc_rows_free(out);
                return anc_error_set(err, ANC_ERR_FORMAT, "%s: element %zu of the top-level array is not an object", label, k);
            }
            json_incref(row);
            /* jansson does not report element positions; use the element index + 1. */
            anc_status st = push_row(out, &cap, row, k + 1, err);
            if (st) {
                json_decref(row);
                json_decref(arr);
                anc_rows_free(out);
                return st;
            }
        }
        json_decref(arr);
        return ANC_OK;
    }
    size_t line = 1, start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n') end++;
        size_t s = start, e = end;
        while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r')) s++;
        while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
        if (max_line && e - s > max_line) {
            out->n_too_long++;
            if (!out->first_too_long_line) out->first_too_long_line = line;
        } else if (e > s) {
            json_error_t je;
            json_t *row = json_loadb(text + s, e - s, JSON_REJECT_DUPLICATES, &je);
            if (!row) {
                anc_rows_free(out);
                return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu:%d: invalid JSON: %s", label, line, je.column + (int)(s - start), je.text);
            }
            if (!json_is_object(row)) {
                json_decref(row);
                anc_rows_free(out);
                return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a JSON object per line", label, line);
            }
            anc_status st = push_row(out, &cap, row, line, err);
            if (st) {
                json_decref(row);
                anc_rows_free(out);
                return st;
            }
        }
        start = end + 1;
        line++;
    }
    return ANC_OK;
}

anc_status anc_rows_parse(anc_rows *out, const char *text, size_t len, const char *label, anc_error *err) {
    return parse_rows(out, text, len, label, 0, err);
}

anc_status anc_rows_load_limited(anc_rows *out, const char *path, size_t max_line_bytes, anc_error *err) {
    char *text = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    anc_status st = anc_read_file(path, (size_t)8 << 30, &text, &len, err);
    if (st) return st;
    st = parse_rows(out, text, len, path, max_line_bytes, err);
    free(text);
    return st;
}

anc_status anc_rows_load(anc_rows *out, const char *path, anc_error *err) {
    return anc_rows_load_limited(out, path, 0, err);
}

anc_status anc_row_ids(const json_t *row, const char *key, int optional, int vocab, int32_t **ids, size_t *n,
                       const char *label, size_t line, anc_error *err) {
    *ids = NULL;
    *n = 0;
    json_t *arr = json_object_get(row, key);
    if (!arr) {
        if (optional) return ANC_OK;
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: missing \"%s\" (an array of token ids)", label, line, key);
    }
    if (!json_is_array(arr))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: \"%s\" must be an array of token ids", label, line, key);
    size_t cnt = json_array_size(arr);
    int32_t *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(arr, i);
        json_int_t id = json_is_integer(x) ? json_integer_value(x) : -1;
        if (!json_is_integer(x) || id < 0 || id > INT32_MAX || (vocab > 0 && id >= vocab)) {
            free(v);
            if (vocab > 0)
                return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: \"%s\"[%zu] must be an integer token id in [0, %d)", label, line, key, i, vocab);
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: \"%s\"[%zu] must be a non-negative integer token id", label, line, key, i);
        }
        v[i] = (int32_t)id;
    }
    *ids = v;
    *n = cnt;
    return ANC_OK;
}

char *anc_prompt_text(const json_t *p) {
    if (json_is_string(p)) return strdup(json_string_value(p));
    if (json_is_array(p))
        for (size_t i = json_array_size(p); i-- > 0;) {
            json_t *m = json_array_get(p, i);
            const char *role = json_string_value(json_object_get(m, "role"));
            const char *content = json_string_value(json_object_get(m, "content"));
            if (role && content && !strcmp(role, "user")) return strdup(content);
        }
    return NULL;
}

anc_status anc_jsonl_put(anc_sbuf *b, json_t *row) {
    char *line = row ? json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(row);
    anc_status st = line ? anc_sbuf_puts(b, line) : ANC_ERR_NOMEM;
    if (!st) st = anc_sbuf_putc(b, '\n');
    free(line);
    if (st) b->oom = 1;
    return st ? ANC_ERR_NOMEM : ANC_OK;
}
