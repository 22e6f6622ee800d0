/* The resumable partial output of the generate step (gen_partial.h). */
#include "flow/gen_partial.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"

#define PARTIAL_MAX_BYTES ((size_t)4 << 30)

/* 1 when o is a result line within bounds (then *q and *r are filled, r->ids
 * malloc'd), 0 when not (a torn or foreign line). */
static int parse_line(json_t *o, size_t n_req, int max_new, int vocab, size_t *q, anc_gen_result *r) {
    json_t *jq = json_object_get(o, "q"), *ids = json_object_get(o, "ids");
    json_t *fin = json_object_get(o, "finish"), *cap = json_object_get(o, "capped");
    if (!json_is_integer(jq) || !json_is_array(ids) || !json_is_integer(fin) || !json_is_integer(cap)) return 0;
    json_int_t x = json_integer_value(jq);
    size_t n = json_array_size(ids);
    if (x < 0 || (uint64_t)x >= n_req || n > (size_t)max_new) return 0;
    memset(r, 0, sizeof *r);
    r->ids = malloc(sizeof(int32_t) * (n ? n : 1));
    if (!r->ids) return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= vocab) {
            free(r->ids);
            r->ids = NULL;
            return 0;
        }
        r->ids[i] = (int32_t)id;
    }
    r->n = (int)n;
    r->finish = json_integer_value(fin) ? ANC_FINISH_STOP : ANC_FINISH_LENGTH;
    r->capped = json_integer_value(cap) != 0;
    *q = (size_t)x;
    return 1;
}

static char *result_line(size_t q, const anc_gen_result *r) {
    json_t *o = json_object(), *ids = json_array();
    if (!o || !ids) {
        json_decref(o);
        json_decref(ids);
        return NULL;
    }
    for (int i = 0; i < r->n; i++) json_array_append_new(ids, json_integer(r->ids[i]));
    json_object_set_new(o, "q", json_integer((json_int_t)q));
    json_object_set_new(o, "ids", ids);
    json_object_set_new(o, "finish", json_integer(r->finish == ANC_FINISH_STOP));
    json_object_set_new(o, "capped", json_integer(r->capped != 0));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

anc_status anc_gen_partial_open(anc_gen_partial *gp, const char *out, uint64_t sig, size_t n_req, int max_new,
                                int vocab, anc_gen_result *res, unsigned char *done, size_t *kept, int *other,
                                const anc_flow_hooks *hooks, anc_error *err) {
    memset(gp, 0, sizeof *gp);
    gp->hooks = hooks;
    *kept = 0;
    *other = 0;
    size_t n = strlen(out) + 9;
    if (!(gp->path = malloc(n))) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    snprintf(gp->path, n, "%s.partial", out);
    char head[64];
    snprintf(head, sizeof head, "{\"anchor_generate\": \"%016llx\"}\n", (unsigned long long)sig);
    /* what survives of an earlier run: the header and every whole line */
    char *text = NULL;
    size_t len = 0;
    size_t good = 0;
    if (anc_path_exists(gp->path) && anc_read_file(gp->path, PARTIAL_MAX_BYTES, &text, &len, NULL) == ANC_OK) {
        size_t hl = strlen(head);
        if (len >= hl && !memcmp(text, head, hl)) {
            good = hl;
            for (size_t at = hl; at < len;) {
                char *nl = memchr(text + at, '\n', len - at);
                if (!nl) break; /* torn: the process died mid-line */
                json_t *o = json_loadb(text + at, (size_t)(nl - (text + at)), 0, NULL);
                size_t q = 0;
                anc_gen_result r;
                int ok = o && parse_line(o, n_req, max_new, vocab, &q, &r);
                json_decref(o);
                if (!ok) break;
                if (done[q]) {
                    free(r.ids);
                } else {
                    res[q] = r;
                    done[q] = 1;
                    (*kept)++;
                }
                at = (size_t)(nl - text) + 1;
                good = at;
            }
        } else {
            *other = 1;
        }
    }
    /* rewrite what is good, then append from there */
    anc_status st = good ? anc_write_file_atomic(gp->path, text, good, err) : anc_write_file_atomic(gp->path, head, strlen(head), err);
    free(text);
    if (!st && !(gp->f = fopen(gp->path, "a")))
        st = anc_error_set(err, ANC_ERR_IO, "%s: cannot open for appending: %s", gp->path, strerror(errno));
    if (st) anc_gen_partial_close(gp, 0);
    return st;
}

void anc_gen_partial_add(anc_gen_partial *gp, size_t q, const anc_gen_result *r) {
    if (!gp->f) return;
    char *line = result_line(q, r);
    int ok = line && fprintf(gp->f, "%s\n", line) > 0 && fflush(gp->f) == 0;
    int e = errno;
    free(line);
    if (!ok) {
        anc_flow_note(gp->hooks, "warning: %s: cannot write (%s); completions are kept in memory only", gp->path,
                      strerror(e));
        fclose(gp->f);
        gp->f = NULL;
        gp->write_failed = 1;
    }
}

void anc_gen_partial_close(anc_gen_partial *gp, int remove_file) {
    if (gp->f) fclose(gp->f);
    gp->f = NULL;
    if (remove_file && gp->path) unlink(gp->path);
    free(gp->path);
    gp->path = NULL;
}
