/* ab: the per-prompt records (--out), one JSON line per prompt in A's row
 * order, written atomically. */
#include <stdlib.h>

#include "core/fileutil.h"
#include "core/strbuf.h"
#include "flow/ab_internal.h"

static const char *const outcome_names[] = {"win", "tie", "loss", "failed"};

static json_t *record(const ab_item *it, int graded) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(it->id));
    json_object_set(o, "prompt", (json_t *)it->prompt);
    json_object_set_new(o, "response_a", json_string(it->ya));
    json_object_set_new(o, "response_b", json_string(it->yb));
    json_object_set_new(o, "outcome", json_string(outcome_names[it->outcome]));
    if (graded) {
        json_object_set_new(o, "score_a", json_real(it->sa));
        json_object_set_new(o, "score_b", json_real(it->sb));
    } else {
        json_object_set_new(o, "verdicts", json_pack("[ss]", anc_verdict_name(it->v[0]), anc_verdict_name(it->v[1])));
        json_object_set_new(o, "consistent", json_boolean(it->consistent));
        if (it->outcome == AB_FAILED && it->error) json_object_set_new(o, "error", json_string(it->error));
    }
    return o;
}

anc_status ab_write_records(const anc_ab_opts *o, const ab_set *s, int graded, anc_error *err) {
    anc_sbuf b = {0};
    for (size_t i = 0; i < s->n && !b.oom; i++) {
        (void)anc_jsonl_put(&b, record(&s->items[i], graded)); /* out of memory is sticky in b.oom */
    }
    anc_status st = b.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory")
                          : anc_write_file_atomic(o->out, anc_sbuf_str(&b), b.len, err);
    anc_sbuf_free(&b);
    return st;
}
