/* ab: pairing the rows of A's and B's response files (by "id", else by the
 * prompt), each with its reference. */
#include <stdlib.h>
#include <string.h>

#include "flow/ab_internal.h"

const json_t *ab_row_prompt(const json_t *row) {
    const json_t *p = json_object_get(row, "prompt");
    return p ? p : json_object_get(row, "messages");
}

const json_t *ab_row_reference(const json_t *row, const char *field) {
    if (!row) return NULL;
    if (field) return json_object_get(row, field);
    const json_t *r = json_object_get(row, "reference");
    return r ? r : json_object_get(row, "answer");
}

void ab_item_key(const json_t *row, char *buf, size_t cap) {
    char *pj = json_dumps(ab_row_prompt(row), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    const char *parts[1] = {pj};
    anc_item_id(row, parts, 1, buf, cap);
    free(pj);
}

/* Every row of rows (from file) has a prompt and a string response field. */
static anc_status check_rows(const anc_rows *rows, const char *file, const char *field, anc_error *err) {
    for (size_t i = 0; i < rows->n; i++)
        if (!ab_row_prompt(rows->rows[i]) || !json_is_string(json_object_get(rows->rows[i], field)))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\" (or \"messages\") and a string \"%s\"",
                                 file, rows->lines[i], field);
    return ANC_OK;
}

/* The reference of item it (row a of A, row b of B): A's row, else B's,
 * else the first prompt row with the same key that has one. */
static const json_t *find_reference(const anc_ab_opts *o, const ab_set *s, const ab_item *it, const json_t *a,
                                    const json_t *b) {
    const json_t *ref = ab_row_reference(a, o->reference_field);
    if (!ref) ref = ab_row_reference(b, o->reference_field);
    for (size_t p = 0; !ref && p < s->rp.n; p++) {
        char k[96];
        ab_item_key(s->rp.rows[p], k, sizeof k);
        if (!strcmp(k, it->id)) ref = ab_row_reference(s->rp.rows[p], o->reference_field);
    }
    return ref;
}

/* Pairs each row of A with the first unused row of B with the same key. */
static void pair_rows(const anc_ab_opts *o, ab_set *s, char (*kb)[96], int *used) {
    for (size_t i = 0; i < s->ra.n; i++) {
        const json_t *row = s->ra.rows[i];
        ab_item *it = &s->items[s->n];
        ab_item_key(row, it->id, sizeof it->id);
        size_t j = 0;
        while (j < s->rb.n && (used[j] || strcmp(kb[j], it->id))) j++;
        if (j == s->rb.n) {
            s->unmatched++;
            continue;
        }
        used[j] = 1;
        it->prompt = ab_row_prompt(row);
        it->ya = json_string_value(json_object_get(row, o->response_field));
        it->yb = json_string_value(json_object_get(s->rb.rows[j], o->response_field));
        it->line = s->ra.lines[i];
        it->ref = find_reference(o, s, it, row, s->rb.rows[j]);
        s->n++;
    }
    for (size_t j = 0; j < s->rb.n; j++) s->unmatched += !used[j];
}

anc_status ab_match_files(const anc_ab_opts *o, ab_set *s, anc_error *err) {
    s->src = o->a;
    if (anc_rows_load(&s->ra, o->a, err) || anc_rows_load(&s->rb, o->b, err) ||
        (o->prompts && anc_rows_load(&s->rp, o->prompts, err)))
        return err->code;
    s->items = calloc(s->ra.n + 1, sizeof *s->items);
    char (*kb)[96] = calloc(s->rb.n + 1, sizeof *kb);
    int *used = calloc(s->rb.n + 1, sizeof *used);
    anc_status st = !s->items || !kb || !used ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
    if (!st) st = check_rows(&s->rb, o->b, o->response_field, err);
    if (!st) st = check_rows(&s->ra, o->a, o->response_field, err);
    if (!st) {
        for (size_t j = 0; j < s->rb.n; j++) ab_item_key(s->rb.rows[j], kb[j], sizeof kb[j]);
        pair_rows(o, s, kb, used);
    }
    free(kb);
    free(used);
    return st;
}
