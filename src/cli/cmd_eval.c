/* anchor eval: evaluates one model on a data file, by task (detected from
 * the first row unless --task says):
 *
 *   generate    rows {prompt, reference} (or {prompt, answer}): the model
 *               generates (greedy, --max-new-tokens) and a grader scores the
 *               response (eval/graders.h: exact after SQuAD normalisation,
 *               regex, numeric with tolerance, exec:CMD); reports the mean
 *               score and, for 0/1 scores, the 95% Wilson interval.
 *   mc          rows {question, choices: [...], answer: index} or the
 *               pre-tokenised {question_ids, choices_ids: [[...]], answer}:
 *               lm-evaluation-harness log-likelihood accuracy (eval/loglik.h):
 *               each choice is scored as the continuation " " + choice of the
 *               question; acc = argmax of the summed log-prob, acc_norm =
 *               argmax of log-prob / characters of the choice (tokens for
 *               pre-tokenised rows).
 *   perplexity  rows {text} or {text_ids}: exp(total NLL / tokens scored),
 *               every token after the first of each row scored (text rows
 *               start with the tokenizer's BOS when it adds one).
 *   ifeval      IFEval (--input input_data.jsonl): --responses rows scored,
 *               or --model's own answers; four accuracies and the per-type
 *               breakdown (eval/ifeval.h).
 *
 * flow/eval.h does the work; this prints its summary as a table or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_summary.h"
#include "core/blas.h"

/* The CLI's hooks, and the line that heads the table: printed once the
 * task is known, before the progress line starts (and after a failure that
 * came later). */
typedef struct eval_view {
    cli_hooks h;
    const anc_eval_opts *o;
    const anc_eval_result *res;
    int headed;
    anc_flow_hooks hooks;   /* what the flow gets */
} eval_view;

static void print_header(eval_view *v) {
    if (v->headed || !v->res->task) return;
    v->headed = 1;
    if (v->o->json) return;
    if (!strcmp(v->res->task, "ifeval"))
        printf("eval ifeval: %s on %s (%zu responses)\n", v->o->model ? v->o->model : v->o->responses, v->o->input,
               v->res->n);
    else
        printf("eval %s: %s on %s (%zu rows)\n", v->res->task, v->o->model, v->o->data, v->res->n);
}

static void view_note(void *ctx, const char *text) {
    eval_view *v = ctx;
    v->h.hooks.note(v->h.hooks.ctx, text);
}

static void view_progress(void *ctx, const anc_flow_progress *p) {
    eval_view *v = ctx;
    print_header(v);
    v->h.hooks.progress(v->h.hooks.ctx, p);
}

static void print_table(const anc_eval_result *r) {
    if (r->grader) printf("  grader     %s\n", r->grader);
    int w = 10; /* the names' column: ifeval's are longer */
    for (size_t i = 0; i < r->n_metrics; i++)
        if ((int)strlen(r->metrics[i].name) > w) w = (int)strlen(r->metrics[i].name);
    for (size_t i = 0; i < r->n_metrics; i++) {
        const anc_eval_metric *m = &r->metrics[i];
        if (m->binary) printf("  %-*s %.4f  (Wilson 95%% [%.4f, %.4f])\n", w, m->name, m->mean, m->lo, m->hi);
        else printf("  %-*s %.4f\n", w, m->name, m->mean);
    }
    if (!strcmp(r->task, "perplexity"))
        printf("  %-10s %zu\n  %-10s %.6f\n  %-10s %.6f\n", "tokens", r->tokens_scored, "mean NLL", r->mean_nll,
               "perplexity", r->perplexity);
    if (r->n_types) printf("  %-44s %5s %8s %8s\n", "instruction type", "n", "strict", "loose");
    for (size_t i = 0; i < r->n_types; i++)
        printf("  %-44s %5zu %8.4f %8.4f\n", r->types[i].id, r->types[i].n, (double)r->types[i].strict / (double)r->types[i].n,
               (double)r->types[i].loose / (double)r->types[i].n);
}

static json_t *summary_json(const anc_eval_result *r) {
    json_t *j = json_object();
    if (r->dropped) json_object_set_new(j, "dropped", json_integer((json_int_t)r->dropped));
    json_object_set_new(j, "task", json_string(r->task));
    json_object_set_new(j, "n", json_integer((json_int_t)r->n));
    if (r->grader) json_object_set_new(j, "grader", json_string(r->grader));
    for (size_t i = 0; i < r->n_metrics; i++) {
        const anc_eval_metric *m = &r->metrics[i];
        json_object_set_new(j, m->name, json_real(m->mean));
        if (!m->binary) continue;
        char key[64];
        snprintf(key, sizeof key, "%s_wilson_95", m->name);
        json_object_set_new(j, key, json_pack("[f,f]", m->lo, m->hi));
    }
    if (!strcmp(r->task, "perplexity")) {
        json_object_set_new(j, "tokens_scored", json_integer((json_int_t)r->tokens_scored));
        json_object_set_new(j, "nll_sum", json_real(r->nll_sum));
        json_object_set_new(j, "mean_nll", json_real(r->mean_nll));
        json_object_set_new(j, "perplexity", json_real(r->perplexity));
    }
    if (r->n_types) {
        json_t *bt = json_object();
        for (size_t i = 0; i < r->n_types; i++)
            json_object_set_new(bt, r->types[i].id, json_pack("{s:I, s:I, s:I}", "n", (json_int_t)r->types[i].n, "strict",
                                                               (json_int_t)r->types[i].strict, "loose",
                                                               (json_int_t)r->types[i].loose));
        json_object_set_new(j, "by_type", bt);
    }
    return j;
}

int cli_eval_exec(const anc_eval_opts *o) {
    if (o->bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    anc_eval_result res;
    memset(&res, 0, sizeof res);
    eval_view v;
    memset(&v, 0, sizeof v);
    cli_hooks_init(&v.h, "eval");
    v.o = o;
    v.res = &res;
    v.hooks = (anc_flow_hooks){view_note, view_progress, &v};
    anc_error err = {0};
    anc_status st = anc_eval_run(o, &v.hooks, &res, &err);
    cli_hooks_done(&v.h);
    print_header(&v);
    /* the table shows what was scored even when writing --out failed after */
    if (res.scored && !o->json) print_table(&res);
    if (st && res.bad_task)
        return cli_usage_error("eval", "--task '%s': expected auto, generate, mc or perplexity", o->task);
    if (st) return cli_fail("eval", &err);
    if (o->summary && cli_write_summary(o->summary, summary_json(&res), &err)) return cli_fail("eval", &err);
    if (o->json) cli_print_json(summary_json(&res));
    return 0;
}

int cmd_eval(int argc, char **argv) {
    anc_eval_opts o;
    anc_eval_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_eval_option_table, &o, "eval",
                             "--model DIR --data FILE [options] | --task ifeval --input FILE (--responses FILE | --model DIR)",
                             "Evaluates a model: graded generation (exact/regex/numeric/exec), multiple-choice\n"
                             "accuracy by log-likelihood (acc, acc_norm as lm-evaluation-harness), perplexity, or\n"
                             "IFEval (--task ifeval --input input_data.jsonl with --responses FILE or --model DIR).",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!strcmp(o.task, "ifeval")) {
        if (!o.input || !!o.model == !!o.responses)
            return cli_usage_error("eval", "--task ifeval needs --input FILE and either --responses FILE or --model DIR");
    } else if (!o.model || !o.data) {
        return cli_usage_error("eval", "--model and --data are required");
    }
    if (o.max_new_tokens < 1 || o.parallel < 1 || o.tolerance < 0)
        return cli_usage_error("eval", "--max-new-tokens, --parallel must be >= 1, --tolerance >= 0");
    o.comm = cli_comm(); /* under mpirun: the generate task's rows divided between the ranks */
    return cli_eval_exec(&o);
}
