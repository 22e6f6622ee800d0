/* The eval step: a model on a benchmark file (generate with a grader,
 * multiple choice, or perplexity), with per-row records and a summary. */
#ifndef ANCHOR_FLOW_EVAL_H
#define ANCHOR_FLOW_EVAL_H

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
    int bf16;
    const char *adapter;        /* PEFT LoRA adapter merged into the model */
} anc_eval_opts;

/* The option table of eval (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_eval_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_eval_opts_init(anc_eval_opts *o);

#endif
