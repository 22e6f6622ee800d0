/* The public forms of the run store calls whose internal twins take
 * jansson values (anchor/store.h): JSON text in and out. */
#include <jansson.h>
#include <stdlib.h>

#include "anchor/store.h"
#include "store/store.h"

/* Parses text (NUL-terminated, or len bytes when len is not (size_t)-1). */
static anc_status parse(const char *text, size_t len, const char *what, json_t **out, anc_error *err) {
    json_error_t je;
    *out = len == (size_t)-1 ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je)
                             : json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!*out) return anc_error_set(err, ANC_ERR_FORMAT, "run store: %s:%d:%d: invalid JSON: %s", what, je.line, je.column, je.text);
    return ANC_OK;
}

/* Compact JSON text of v (NULL stays NULL); ANC_ERR_NOMEM when it cannot be
 * serialised. */
static anc_status dump(const json_t *v, char **out, anc_error *err) {
    *out = NULL;
    if (!v) return ANC_OK;
    if (!(*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) return anc_error_set(err, ANC_ERR_NOMEM, "run store: out of memory");
    return ANC_OK;
}

anc_status anc_store_request_key_json(const char *backend_id, const char *salt, const char *request_json, size_t len,
                                      char key[ANC_STORE_KEY_HEX], anc_error *err) {
    if (!backend_id || !request_json || !key) return anc_error_set(err, ANC_ERR_INVALID, "run store: request key: NULL argument");
    json_t *req = NULL;
    anc_status st = parse(request_json, len, "request", &req, err);
    if (st) return st;
    st = anc_store_request_key(backend_id, salt, req, key, err);
    json_decref(req);
    return st;
}

anc_status anc_store_get_reply_json(anc_store *s, const char *key, char **reply_text, char **reply_json, int *found,
                                    anc_error *err) {
    if (reply_json) *reply_json = NULL;
    json_t *j = NULL;
    anc_status st = anc_store_get_reply(s, key, reply_text, reply_json ? &j : NULL, found, err);
    if (!st && reply_json) st = dump(j, reply_json, err);
    if (st && reply_text) {
        free(*reply_text);
        *reply_text = NULL;
    }
    json_decref(j);
    return st;
}

anc_status anc_store_item_get_json(anc_store *s, const char *step, const char *item_id, anc_item_status *status,
                                   char **record_json, char **error, anc_error *err) {
    if (record_json) *record_json = NULL;
    json_t *j = NULL;
    anc_status st = anc_store_item_get(s, step, item_id, status, record_json ? &j : NULL, error, err);
    if (!st && record_json) st = dump(j, record_json, err);
    if (st && error) {
        free(*error);
        *error = NULL;
    }
    json_decref(j);
    return st;
}

anc_status anc_store_item_put_json(anc_store *s, const char *step, const char *item_id, anc_item_status status,
                                   const char *record_json, const char *error, anc_error *err) {
    json_t *rec = NULL;
    if (record_json) {
        anc_status st = parse(record_json, (size_t)-1, "record", &rec, err);
        if (st) return st;
    }
    anc_status st = anc_store_item_put(s, step, item_id, status, rec, error, err);
    json_decref(rec);
    return st;
}
