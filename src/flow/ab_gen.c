/* ab: generating A's and B's responses to the prompt rows with two models
 * and the same settings. */
#include <stdlib.h>

#include "eval/gen.h"
#include "flow/ab_internal.h"
#include "jinja/chat_template.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct gen_progress {
    const anc_flow_hooks *hooks;
} gen_progress;

static void on_progress(void *ctx, size_t done, size_t total, int64_t tokens) {
    const gen_progress *g = ctx;
    anc_flow_progress p = {"responses", done, 0, total, tokens};
    anc_flow_progress_report(g->hooks, &p);
}

anc_status anc_ab_generate_dir(const char *dir, const char *chat_template, const json_t *const *prompts, size_t n,
                               const anc_eval_gen_opts *go, int bf16, const anc_flow_hooks *hooks, char ***texts,
                               anc_error *err) {
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    anc_template *tmpl = NULL;
    anc_status st = anc_model_load_hf(&m, dir, err);
    if (!st && bf16) st = anc_model_set_bf16(m, 1, err);
    if (!st) st = anc_tokenizer_load_dir(&tok, dir, err);
    if (!st) st = anc_chat_template_resolve(tok, chat_template, &tmpl, err);
    if (!st) {
        anc_flow_progress p0 = {"responses", 0, 0, n, 0};
        anc_flow_progress_report(hooks, &p0);
        gen_progress g = {hooks};
        st = anc_eval_generate(m, tok, tmpl, dir, prompts, n, go, texts, on_progress, &g, err);
    }
    if (st) anc_error_prefix(err, "%s", dir);
    anc_template_free(tmpl);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    return st;
}

/* The generation settings of o. */
static void gen_opts(const anc_ab_opts *o, anc_eval_gen_opts *go) {
    anc_eval_gen_opts_init(go);
    go->max_new_tokens = (int)o->max_new_tokens;
    go->temperature = o->gen_temperature;
    go->seed = (uint64_t)o->gen_seed;
    go->parallel = (int)o->parallel;
}

/* The prompts of rows (pv[i] borrowed from rows->rows[i]). */
static anc_status row_prompts(const char *src, const anc_rows *rows, const json_t ***pv, anc_error *err) {
    *pv = calloc(rows->n + 1, sizeof **pv);
    if (!*pv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n; i++)
        if (!((*pv)[i] = ab_row_prompt(rows->rows[i])))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\" or \"messages\"", src, rows->lines[i]);
    return ANC_OK;
}

anc_status ab_generate_answers(const anc_ab_opts *o, const char *dir, const anc_rows *prompts,
                               const anc_flow_hooks *hooks, char ***texts, anc_error *err) {
    const json_t **pv = NULL;
    anc_eval_gen_opts go;
    gen_opts(o, &go);
    anc_status st = row_prompts(o->prompts, prompts, &pv, err);
    if (!st) st = anc_ab_generate_dir(dir, o->model_chat_template, pv, prompts->n, &go, o->bf16, hooks, texts, err);
    free(pv);
    return st;
}

anc_status ab_generate(const anc_ab_opts *o, ab_set *s, const anc_flow_hooks *hooks, anc_error *err) {
    s->src = o->prompts;
    if (anc_rows_load(&s->rp, o->prompts, err)) return err->code;
    s->items = calloc(s->rp.n + 1, sizeof *s->items);
    anc_status st = !s->items ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
    if (!st) st = ab_generate_answers(o, o->model_a, &s->rp, hooks, &s->gen_a, err);
    if (!st) st = ab_generate_answers(o, o->model_b, &s->rp, hooks, &s->gen_b, err);
    for (size_t i = 0; !st && i < s->rp.n; i++) {
        ab_item *it = &s->items[s->n++];
        ab_item_key(s->rp.rows[i], it->id, sizeof it->id);
        it->prompt = ab_row_prompt(s->rp.rows[i]);
        it->ya = s->gen_a[i];
        it->yb = s->gen_b[i];
        it->line = s->rp.lines[i];
        it->ref = ab_row_reference(s->rp.rows[i], o->reference_field);
    }
    return st;
}
