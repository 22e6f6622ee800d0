/* Pair records and writing a step's records from the run store in input
 * order (flow/llm_step.h). */
#include "flow/llm_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/text.h"
#include "core/fileutil.h"

static json_t *answer(const json_t *prompt, const char *text) {
    if (!json_is_array(prompt)) return json_string(text);
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string("assistant"));
    json_object_set_new(m, "content", json_string(text));
    json_t *a = json_array();
    json_array_append_new(a, m);
    return a;
}

json_t *anc_pair_record(const char *id, const json_t *prompt, const char *chosen, const char *rejected,
                        const char *source) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set(o, "prompt", (json_t *)prompt);
    json_object_set_new(o, "chosen", answer(prompt, chosen));
    json_object_set_new(o, "rejected", answer(prompt, rejected));
    json_object_set_new(o, "source", json_string(source));
    return o;
}

anc_status anc_pairs_write_ordered(anc_store *store, const char *step, const char *const *ids, size_t n,
                                   const char *out, size_t *written, size_t *done, size_t *failed, anc_error *err) {
    *written = *failed = 0;
    if (done) *done = 0;
    anc_sbuf b = {0};
    anc_status st = ANC_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int seen = 0;
        for (size_t k = i; k-- > 0 && !seen;) seen = !strcmp(ids[k], ids[i]);
        if (seen) continue;
        anc_item_status is;
        json_t *rec = NULL;
        if ((st = anc_store_item_get(store, step, ids[i], &is, &rec, NULL, err))) break;
        if (is == ANC_ITEM_DONE && done) (*done)++;
        if (is == ANC_ITEM_DONE && rec && json_object_get(rec, "chosen")) {
            char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (!line) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            else if (!(st = anc_sbuf_puts(&b, line))) st = anc_sbuf_putc(&b, '\n');
            free(line);
            (*written)++;
        } else if (is == ANC_ITEM_FAILED) {
            (*failed)++;
        }
        json_decref(rec);
    }
    if (!st) st = anc_write_file_atomic(out, b.len ? anc_sbuf_str(&b) : "", b.len, err);
    anc_sbuf_free(&b);
    return st;
}

