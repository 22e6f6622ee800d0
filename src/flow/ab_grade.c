/* ab: scoring responses without a judge. A grader (eval/graders.h) scores
 * each response against its row's reference; IFEval ("ifeval" strict,
 * "ifeval-loose" loose) scores it as the share of the prompt's verifiable
 * instructions it follows, the instructions found by the prompt's text among
 * the --prompts rows (IFEval's input_data.jsonl), as the official evaluator
 * finds them. The higher score wins. */
#include <stdlib.h>
#include <string.h>

#include "eval/ifeval.h"
#include "flow/ab_internal.h"

anc_status ab_scorer_setup(const anc_ab_opts *o, ab_scorer *sc, anc_ab_result *res, anc_error *err) {
    memset(sc, 0, sizeof *sc);
    if (!o->grader) return ANC_OK;
    res->graded = 1;
    if (!strcmp(o->grader, "ifeval") || !strcmp(o->grader, "ifeval-loose")) {
        sc->ifeval = o->grader[6] ? 2 : 1;
        res->grader = sc->ifeval == 1 ? "ifeval" : "ifeval-loose";
        return ANC_OK; /* anc_ab_opts_check asked for --prompts */
    }
    if (anc_grader_parse(o->grader, &sc->g, err)) return err->code;
    sc->g.pattern = o->pattern;
    sc->g.tolerance = o->tolerance;
    res->grader = anc_grader_name(sc->g.kind);
    return ANC_OK;
}

int ab_scorer_needs_ref(const ab_scorer *sc, const anc_ab_opts *o) {
    return !sc->ifeval && !(sc->g.kind == ANC_GRADER_EXEC || (sc->g.kind == ANC_GRADER_REGEX && o->pattern));
}

/* IFEval: the --prompts row whose "prompt" is ptext. */
static const json_t *ifeval_row(const ab_scorer *sc, const char *ptext) {
    for (size_t i = 0; sc->input && i < sc->input->n; i++) {
        const char *q = json_string_value(json_object_get(sc->input->rows[i], "prompt"));
        if (q && json_object_get(sc->input->rows[i], "instruction_id_list") && !strcmp(q, ptext)) return sc->input->rows[i];
    }
    return NULL;
}

anc_status ab_score(const ab_scorer *sc, const char *ptext, const char *response, const json_t *ref, double *score,
                    anc_error *err) {
    if (!sc->ifeval) return anc_grade(&sc->g, ptext, response, ref, score, err);
    const json_t *row = ptext ? ifeval_row(sc, ptext) : NULL;
    if (!row)
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "--grader ifeval: the prompt \"%.60s\" is not one of the --prompts rows with an "
                             "\"instruction_id_list\" (IFEval's input_data.jsonl)",
                             ptext ? ptext : "");
    int *strict = NULL, *loose = NULL;
    size_t n = 0;
    anc_status st = anc_ifeval_score(row, response, &strict, &loose, &n, err);
    if (!st) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)!!(sc->ifeval == 1 ? strict[i] : loose[i]);
        *score = n ? (double)k / (double)n : 0;
    }
    free(strict);
    free(loose);
    return st;
}

anc_status ab_grade(const anc_ab_opts *o, ab_scorer *sc, ab_set *s, anc_error *err) {
    int needs_ref = ab_scorer_needs_ref(sc, o);
    sc->input = &s->rp;
    for (size_t i = 0; i < s->n; i++) {
        ab_item *it = &s->items[i];
        if (!it->ref && needs_ref)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a reference field \"%s\" for --grader %s", s->src,
                                 it->line, o->reference_field ? o->reference_field : "reference", o->grader);
        char *ptext = anc_prompt_text(it->prompt);
        anc_status st = ab_score(sc, ptext, it->ya, it->ref, &it->sa, err);
        if (!st) st = ab_score(sc, ptext, it->yb, it->ref, &it->sb, err);
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
