/* eval, the generate task: the model answers each prompt (greedy) and a
 * grader scores the response against the row's reference. */
#include <stdlib.h>
#include <string.h>

#include "eval/gen.h"
#include "eval/graders.h"
#include "flow/eval_internal.h"

static const json_t *row_reference(const json_t *row) {
    const json_t *ref = json_object_get(row, "reference");
    return ref ? ref : json_object_get(row, "answer");
}

static const json_t *row_prompt(const json_t *row) {
    const json_t *p = json_object_get(row, "prompt");
    return p ? p : json_object_get(row, "messages");
}

/* The prompt of every row into pv; a row needs a reference unless the
 * grader does without (exec, regex with its own pattern). */
static anc_status collect_prompts(const eval_env *e, const anc_grader *g, const json_t **pv, anc_error *err) {
    for (size_t i = 0; i < e->rows.n; i++) {
        const json_t *row = e->rows.rows[i];
        pv[i] = row_prompt(row);
        const json_t *ref = row_reference(row);
        if (!pv[i] || (!ref && g->kind != ANC_GRADER_EXEC && !(g->kind == ANC_GRADER_REGEX && g->pattern)))
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s:%zu: expected \"prompt\" (or \"messages\") and \"reference\" (or \"answer\")",
                                 e->o->data, e->rows.lines[i]);
    }
    return ANC_OK;
}

/* Grades texts[i] for every row; records them when asked. */
static anc_status grade_all(eval_env *e, const anc_grader *g, char **texts, anc_eval_result *res, anc_error *err) {
    double sum = 0;
    int binary = 1;
    for (size_t i = 0; i < e->rows.n; i++) {
        const json_t *row = e->rows.rows[i], *ref = row_reference(row);
        char *ptext = anc_prompt_text(row_prompt(row));
        double s = 0;
        anc_status st = anc_grade(g, ptext, texts[i], ref, &s, err);
        free(ptext);
        if (st) return anc_error_prefix(err, "%s:%zu", e->o->data, e->rows.lines[i]);
        sum += s;
        binary &= s == 0.0 || s == 1.0;
        if (e->o->out &&
            (st = eval_record(e, json_pack("{s:I, s:s, s:O?, s:f}", "row", (json_int_t)i, "response", texts[i],
                                           "reference", (json_t *)ref, "score", s), err)))
            return st;
    }
    res->grader = anc_grader_name(g->kind);
    eval_metric(&res->metrics[0], "score", sum, e->rows.n, binary);
    res->n_metrics = 1;
    return ANC_OK;
}

/* Under data parallelism: texts[lo, hi) of the other ranks to rank 0
 * (NUL-ended strings in row order); there texts gets all n. */
static anc_status collect_texts(eval_env *e, char **texts, size_t n, anc_error *err) {
    anc_comm *comm = e->o->comm;
    size_t lo, hi, len = 0, *lens = malloc(sizeof(size_t) * (size_t)anc_comm_size(comm));
    if (!lens) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_comm_share(comm, anc_comm_rank(comm), n, &lo, &hi);
    const int root = anc_comm_rank(comm) == 0;
    for (size_t i = lo; !root && i < hi; i++) len += strlen(texts[i]) + 1;
    char *mine = malloc(len ? len : 1), *all = NULL;
    anc_status st = mine ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = lo, at = 0; !st && !root && i < hi; i++) {
        size_t k = strlen(texts[i]) + 1;
        memcpy(mine + at, texts[i], k);
        at += k;
    }
    if (!st) st = anc_comm_gather_bytes(comm, mine, len, (void **)&all, lens, err);
    if (!st && all) {
        size_t total = 0;
        for (int r = 0; r < anc_comm_size(comm); r++) total += lens[r];
        /* rank 0's own texts are in place; the others' follow in rank order */
        size_t at = 0;
        for (size_t i = hi; !st && i < n; i++) {
            const char *end = at < total ? memchr(all + at, '\0', total - at) : NULL;
            if (!end) {
                st = anc_error_set(err, ANC_ERR_IO, "the responses from the other ranks are incomplete");
                break;
            }
            free(texts[i]);
            if (!(texts[i] = strdup(all + at))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            at = (size_t)(end - all) + 1;
        }
    }
    free(all);
    free(mine);
    free(lens);
    return st;
}

anc_status eval_generate(eval_env *e, anc_eval_result *res, anc_error *err) {
    const anc_eval_opts *o = e->o;
    anc_grader g;
    if (anc_grader_parse(o->grader ? o->grader : "exact", &g, err)) return err->code;
    g.pattern = o->pattern;
    g.tolerance = o->tolerance;
    const json_t **pv = calloc(e->rows.n, sizeof *pv);
    if (!pv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = collect_prompts(e, &g, pv, err);
    if (st) {
        free(pv);
        return st;
    }
    anc_eval_gen_opts go;
    anc_eval_gen_opts_init(&go);
    go.max_new_tokens = (int)o->max_new_tokens;
    go.parallel = (int)o->parallel;
    anc_flow_progress p0 = {"responses", 0, 0, e->rows.n, 0};
    anc_flow_progress_report(e->hooks, &p0);
    eval_progress prog = {e->hooks, "responses"};
    /* under mpirun this rank answers its share of the rows; rank 0 grades all */
    const size_t n = e->rows.n;
    size_t lo, hi;
    anc_comm_share(o->comm, anc_comm_rank(o->comm), n, &lo, &hi);
    char **texts = calloc(n, sizeof *texts), **part = NULL;
    if (!texts) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st && hi > lo)
        st = anc_eval_generate(e->m, e->tok, e->tmpl, o->model, pv + lo, hi - lo, &go, &part, eval_progress_cb, &prog, err);
    free(pv);
    for (size_t i = lo; !st && i < hi; i++) {
        texts[i] = part[i - lo];
        part[i - lo] = NULL;
    }
    if (part) anc_eval_texts_free(part, hi - lo);
    if (!st && anc_comm_size(o->comm) > 1) st = collect_texts(e, texts, n, err);
    if (!st && anc_comm_rank(o->comm) == 0) st = grade_all(e, &g, texts, res, err);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return st;
}
