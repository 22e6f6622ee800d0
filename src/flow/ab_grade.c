/* ab: a grader scores both responses of every prompt against its
 * reference; the higher score wins. */
#include <stdlib.h>

#include "flow/ab_internal.h"

anc_status ab_grade(const anc_ab_opts *o, const anc_grader *g, ab_set *s, anc_error *err) {
    int needs_ref = !(g->kind == ANC_GRADER_EXEC || (g->kind == ANC_GRADER_REGEX && o->pattern));
    for (size_t i = 0; i < s->n; i++) {
        ab_item *it = &s->items[i];
        if (!it->ref && needs_ref)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a reference field \"%s\" for --grader %s", s->src,
                                 it->line, o->reference_field ? o->reference_field : "reference", o->grader);
        char *ptext = anc_prompt_text(it->prompt);
        anc_status st = anc_grade(g, ptext, it->ya, it->ref, &it->sa, err);
        if (!st) st = anc_grade(g, ptext, it->yb, it->ref, &it->sb, err);
        free(ptext);
        if (st) {
            anc_error_prefix(err, "%s:%zu", s->src, it->line);
            return st;
        }
        it->outcome = it->sa > it->sb ? AB_WIN : it->sa < it->sb ? AB_LOSS : AB_TIE;
        it->consistent = 1;
    }
    return ANC_OK;
}
