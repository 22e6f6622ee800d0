/* What the files of the eval flow share (eval.c sets up, eval_gen.c and
 * eval_ll.c run the tasks). Not a public header. */
#ifndef ANCHOR_FLOW_EVAL_INTERNAL_H
#define ANCHOR_FLOW_EVAL_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "data/jsonl.h"
#include "core/strbuf.h"
#include "flow/eval.h"
#include "jinja/template.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

/* One eval run: the loaded model, rows and (for text rows) tokenizer, and
 * the --out records made so far. */
typedef struct eval_env {
    const anc_eval_opts *o;
    const anc_flow_hooks *hooks;
    anc_model *m;
    anc_tokenizer *tok;   /* NULL when no row needs one */
    anc_template *tmpl;   /* NULL when the tokenizer has none and none was asked for */
    anc_rows rows;
    anc_sbuf out;         /* the records (JSONL), when o->out */
} eval_env;

/* Appends rec (consumed, may be NULL) as one line to e's records. */
anc_status eval_record(eval_env *e, json_t *rec, anc_error *err);

/* Sets *m to the mean of k over n rows and, when binary, its Wilson 95%
 * interval. */
void eval_metric(anc_eval_metric *m, const char *name, double k, size_t n, int binary);

/* Reports progress in unit (ctx: an eval_progress). */
typedef struct eval_progress {
    const anc_flow_hooks *hooks;
    const char *unit;
} eval_progress;
void eval_progress_cb(void *ctx, size_t done, size_t total, int64_t tokens);

/* The tasks: each scores every row, fills its part of res and adds the
 * records. */
anc_status eval_generate(eval_env *e, anc_eval_result *res, anc_error *err);
anc_status eval_mc(eval_env *e, anc_eval_result *res, anc_error *err);
anc_status eval_perplexity(eval_env *e, anc_eval_result *res, anc_error *err);
/* IFEval (eval_ifeval.c): loads what it needs itself and frees it. */
anc_status eval_ifeval(eval_env *e, anc_eval_result *res, anc_error *err);
/* Loads e's tokenizer and chat template from o->model. */
anc_status eval_load_tokenizer(eval_env *e, anc_error *err);

#endif
