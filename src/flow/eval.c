/* The eval step (eval.h): options, loading, the task, the records. */
#include "flow/eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "data/dataset.h"
#include "eval/stats.h"
#include "core/strbuf.h"
#include "flow/eval_internal.h"
#include "jinja/chat_template.h"
#include "model/lora.h"

#define T anc_eval_opts
const anc_option anc_eval_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR", "model folder (weights; a tokenizer for text rows)"},
    {"data", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, data), NULL, "FILE",
     "JSONL rows: {prompt, reference|answer}, {question, choices, answer} or {text}"},
    {"task", ANC_OPT_STR, 0, 0, offsetof(T, task), "auto", "T", "auto (default: from the first row) | generate | mc | perplexity | ifeval"},
    {"grader", ANC_OPT_STR, 0, 0, offsetof(T, grader), "exact", "G",
     "generate: exact (default, SQuAD normalisation) | regex | numeric | exec:CMD"},
    {"pattern", ANC_OPT_STR, 0, 0, offsetof(T, pattern), NULL, "RE", "regex grader: this pattern instead of each row's reference"},
    {"tolerance", ANC_OPT_FLOAT, 0, 0, offsetof(T, tolerance), "1e-6", "T",
     "numeric grader: |x - ref| <= T * max(1, |ref|) (default 1e-6)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N",
     "generate: tokens per response at most (default 256; greedy)"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "generate: sequences decoded together (default 8)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "generate: chat template for message prompts"},
    {"batch-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, batch_tokens), "4096", "N",
     "mc/perplexity: tokens per forward batch (default 4096)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "per-row records (JSONL)"},
    {"json", ANC_OPT_FLAG, 0, 0, offsetof(T, json), NULL, NULL, "print the results as JSON instead of a table"},
    {"summary", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, summary), NULL, "FILE",
     "also write the results as JSON (what --json prints) to FILE; a pipeline's default is eval-NAME.json"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL, "matrix products in bf16 with fp32 accumulation (as train --bf16)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR", "PEFT LoRA adapter merged into --model before evaluating"},
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, input), NULL, "FILE",
     "ifeval: IFEval's input_data.jsonl (prompt, instruction_id_list, kwargs per row)"},
    {"responses", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, responses), NULL, "FILE",
     "ifeval: score these {key?, prompt, response} rows instead of generating with --model"},
    {0},
};
#undef T

void anc_eval_opts_init(anc_eval_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_eval_option_table, o, &err); /* the table's literals */
}

anc_status eval_record(eval_env *e, json_t *rec, anc_error *err) {
    return anc_jsonl_put(&e->out, rec) ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
}

void eval_metric(anc_eval_metric *m, const char *name, double k, size_t n, int binary) {
    memset(m, 0, sizeof *m);
    m->name = name;
    m->mean = n ? k / (double)n : 0;
    m->binary = binary;
    anc_error e = {0};
    if (n && binary) (void)anc_wilson_interval(k, n, ANC_Z95, &m->lo, &m->hi, &e);
}

void eval_progress_cb(void *ctx, size_t done, size_t total, int64_t tokens) {
    const eval_progress *g = ctx;
    anc_flow_progress p = {g->unit, done, 0, total, tokens};
    anc_flow_progress_report(g->hooks, &p);
}

/* Loads the model and the rows; rows too long for the model's context (or
 * a forward batch) cannot be evaluated: their lines are dropped unparsed,
 * counted. */
static anc_status load_model_rows(eval_env *e, anc_eval_result *res, anc_error *err) {
    const anc_eval_opts *o = e->o;
    if (anc_model_load_adapted(&e->m, o->model, o->adapter, err) || (o->bf16 && anc_model_set_bf16(e->m, 1, err)))
        return err->code;
    int64_t ctx = e->m->cfg.max_position_embeddings;
    int64_t limit = o->batch_tokens > ctx ? o->batch_tokens : ctx;
    anc_dataset_opts lo = {0};
    lo.max_row_bytes = anc_dataset_byte_limit(limit);
    if (anc_rows_load_limited(&e->rows, o->data, anc_dataset_line_limit(&lo), err)) return err->code;
    if (e->rows.n_too_long) {
        anc_flow_note(e->hooks, "%zu rows dropped, not evaluated: too long for %lld tokens; first at line %zu",
                      e->rows.n_too_long, (long long)limit, e->rows.first_too_long_line);
        res->dropped = e->rows.n_too_long;
    }
    if (!e->rows.n) return anc_error_set(err, ANC_ERR_FORMAT, "%s: no rows", o->data);
    return ANC_OK;
}

/* The task o->task names, or the one the first row's fields call for;
 * NULL when o->task is unknown. */
static const char *pick_task(const char *task, const json_t *r0) {
    if (!task || !strcmp(task, "auto"))
        return json_object_get(r0, "choices") || json_object_get(r0, "choices_ids") ? "mc"
               : json_object_get(r0, "text") || json_object_get(r0, "text_ids")     ? "perplexity"
                                                                                     : "generate";
    static const char *const known[] = {"generate", "mc", "perplexity"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(task, known[i])) return known[i];
    return NULL;
}

/* Loads the tokenizer (and chat template) when a row holds text: every
 * generate row, a {question, choices} or a {text} row. */
static anc_status load_tokenizer(eval_env *e, const char *task, anc_error *err) {
    int needs_tok = !strcmp(task, "generate");
    for (size_t i = 0; i < e->rows.n && !needs_tok; i++)
        needs_tok = json_object_get(e->rows.rows[i], "question") || json_object_get(e->rows.rows[i], "text");
    if (!needs_tok) return ANC_OK;
    return eval_load_tokenizer(e, err);
}

anc_status eval_load_tokenizer(eval_env *e, anc_error *err) {
    if (anc_tokenizer_load_dir(&e->tok, e->o->model, err) ||
        anc_chat_template_resolve(e->tok, e->o->chat_template, &e->tmpl, err))
        return err->code;
    return ANC_OK;
}

static anc_status check_opts(const anc_eval_opts *o, anc_error *err) {
    if (o->task && !strcmp(o->task, "ifeval")) {
        if (!o->input || !!o->model == !!o->responses)
            return anc_error_set(err, ANC_ERR_INVALID, "eval --task ifeval needs --input and either --model or --responses");
    } else if (!o->model || !o->data) {
        return anc_error_set(err, ANC_ERR_INVALID, "eval needs a model and a data file");
    }
    if (o->max_new_tokens < 1 || o->parallel < 1 || o->tolerance < 0 || o->batch_tokens < 0)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "eval: max-new-tokens and parallel must be >= 1, tolerance and batch-tokens >= 0");
    return ANC_OK;
}

anc_status anc_eval_run(const anc_eval_opts *o, const anc_flow_hooks *hooks, anc_eval_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    anc_status st = check_opts(o, err);
    if (st) return st;
    eval_env e;
    memset(&e, 0, sizeof e);
    e.o = o;
    e.hooks = hooks;
    if (o->task && !strcmp(o->task, "ifeval")) {
        if (anc_comm_size(o->comm) > 1)
            return anc_error_set(err, ANC_ERR_UNSUPPORTED, "eval --task ifeval runs as one process; under mpirun only the generate task divides its rows");
        return eval_ifeval(&e, res, err);
    }
    const char *task = NULL;
    if ((st = load_model_rows(&e, res, err))) goto done;
    if (!(task = pick_task(o->task, e.rows.rows[0]))) {
        res->bad_task = 1;
        st = anc_error_set(err, ANC_ERR_INVALID, "task '%s': expected auto, generate, mc or perplexity", o->task);
        goto done;
    }
    if (strcmp(task, "generate") && anc_comm_size(o->comm) > 1) {
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "eval: the %s task runs as one process; under mpirun only the generate task divides its rows", task);
        goto done;
    }
    if ((st = load_tokenizer(&e, task, err))) goto done;
    res->task = task;
    res->n = e.rows.n;
    st = !strcmp(task, "generate") ? eval_generate(&e, res, err)
         : !strcmp(task, "mc")     ? eval_mc(&e, res, err)
                                   : eval_perplexity(&e, res, err);
    res->scored = !st;
    if (!st && o->out && anc_comm_rank(o->comm) == 0) st = anc_write_file_atomic(o->out, anc_sbuf_str(&e.out), e.out.len, err);
    /* the others end when rank 0 has graded and written, with its outcome */
    st = anc_comm_agree(o->comm, st, err);
done:
    anc_sbuf_free(&e.out);
    anc_rows_free(&e.rows);
    anc_template_free(e.tmpl);
    anc_tokenizer_free(e.tok);
    anc_model_free(e.m);
    return st;
}
