/* The eval step: a model on a benchmark file (generate with a grader,
 * multiple choice, or perplexity), with per-row records and a summary. */
#ifndef ANCHOR_FLOW_EVAL_H
#define ANCHOR_FLOW_EVAL_H

#include "core/comm.h"
#include "flow/flow.h"
#include "flow/options.h"

typedef struct anc_eval_opts {
    const char *model;          /* model folder */
    const char *data;           /* JSONL rows */
    const char *task;           /* auto (default) | generate | mc | perplexity */
    const char *grader;         /* exact (default) | regex | numeric | exec:CMD */
    const char *pattern;        /* regex grader's pattern */
    double tolerance;           /* numeric grader (default 1e-6) */
    long max_new_tokens;        /* default 256 */
    long parallel;              /* default 8 */
    const char *chat_template;  /* NAME|FILE for message prompts */
    long batch_tokens;          /* mc/perplexity: tokens per forward batch (default 4096) */
    const char *out;            /* per-row records (JSONL), may be NULL */
    int json;                   /* the CLI prints JSON instead of a table */
    const char *summary;        /* the CLI also writes the JSON summary here (atomically); may be NULL */
    int bf16;
    const char *adapter;        /* PEFT LoRA adapter merged into the model */
    const char *input;          /* ifeval: IFEval's input_data.jsonl */
    const char *responses;      /* ifeval: {key?, prompt, response} rows to score instead of generating */
    /* Not an option: data parallelism (borrowed; NULL: one process). The
     * generate task divides the rows' responses between the ranks; rank 0
     * grades them all and writes --out; the other tasks refuse to run on
     * more than one process. */
    anc_comm *comm;
} anc_eval_opts;

/* The option table of eval (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_eval_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_eval_opts_init(anc_eval_opts *o);

/* A mean of per-row scores: the generate task's "score", the mc task's
 * "acc" and "acc_norm". */
typedef struct anc_eval_metric {
    const char *name;  /* "score", "acc", "acc_norm" (static) */
    double mean;       /* sum of the row scores / rows */
    int binary;        /* every row scored 0 or 1: [lo, hi] is the Wilson 95% interval of mean */
    double lo, hi;     /* 0, 0 unless binary */
} anc_eval_metric;

/* What an eval found (all strings static; nothing to free). */
typedef struct anc_eval_result {
    /* "generate", "mc", "perplexity" or "ifeval"; set (with n) once the model, the
     * rows and the tokenizer are loaded, before any progress report, so it
     * is set after a later failure too. NULL when the run stopped earlier. */
    const char *task;
    size_t n;                 /* rows evaluated */
    size_t dropped;           /* rows too long for the model (or a forward batch), not evaluated */
    int bad_task;             /* the run failed because o->task is not auto, generate, mc or perplexity */
    /* every row was scored: the summary below is complete (a failure after
     * it can only be writing o->out) */
    int scored;
    const char *grader;       /* generate: the grader's name ("exact", "regex", "numeric", "exec") */
    anc_eval_metric metrics[4];
    size_t n_metrics;         /* generate: 1 (score); mc: 2 (acc, acc_norm); perplexity: 0; ifeval: 4 */
    size_t tokens_scored;     /* perplexity: tokens scored (every token after the first of each row) */
    double nll_sum;           /* perplexity: total negative log-likelihood (nats) */
    double mean_nll;          /* nll_sum / tokens_scored */
    double perplexity;        /* exp(mean_nll) */
    /* ifeval: per instruction type, the instructions seen and followed
     * (ids static, in the order first met) */
    struct anc_eval_ifeval_type {
        const char *id;
        size_t n, strict, loose;
    } types[32];
    size_t n_types;
    size_t instructions;      /* ifeval: instructions scored */
} anc_eval_result;

/* Evaluates o->model (with o->adapter merged, in bf16 when o->bf16) on the
 * rows of o->data by task: o->task, or "auto": "mc" when the first row has
 * "choices" (or "choices_ids"), "perplexity" when it has "text" (or
 * "text_ids"), else "generate". Rows too long for the model's context (or a
 * forward batch) are dropped unparsed, counted in res->dropped, and a note
 * says so. With o->out, writes one record per row (JSONL, atomically) once
 * every row is scored:
 *   generate    {row, response, reference, score}
 *   mc          {row, answer, pred, pred_norm, loglik: [per choice]}
 *   perplexity  nothing (an empty file)
 *   ifeval      {key?, prompt, instruction_id_list, strict: [bool...], loose: [bool...]}
 * Task "ifeval" (never chosen by auto) scores IFEval (eval/ifeval.h): the
 * rows of o->responses, matched to the prompts of o->input by prompt text
 * as the official evaluator does (a response whose prompt is not in the
 * input is an error), or, without o->responses, o->model's greedy answers
 * to each input prompt as a user message through its chat template; the
 * metrics are prompt_strict, instruction_strict, prompt_loose and
 * instruction_loose, with res->types the per-type breakdown.
 * Progress counts "responses" (generate) or "choices" (mc). o->json is the
 * caller's business (the flow prints nothing). Errors: bad options
 * (ANC_ERR_INVALID), an unknown task (ANC_ERR_INVALID, res->bad_task), no
 * rows or bad rows (ANC_ERR_FORMAT naming file:line), model, tokenizer,
 * grader and write errors. res is filled as far as the run got. */
anc_status anc_eval_run(const anc_eval_opts *o, const anc_flow_hooks *hooks, anc_eval_result *res, anc_error *err);

#endif
