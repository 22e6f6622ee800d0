/* The generate step: the model being aligned answers prompts (KV cache,
 * several sequences decoded together); each row of the output is one
 * completion with its prompt, id, sample index, finish reason and token
 * counts. */
#ifndef ANCHOR_FLOW_GENERATE_H
#define ANCHOR_FLOW_GENERATE_H

#include "flow/flow.h"
#include "flow/options.h"

typedef struct anc_generate_opts {
    const char *model;          /* model folder (weights + tokenizer) */
    const char *prompts;        /* JSONL prompt rows */
    const char *out;            /* output JSONL */
    double temperature;         /* 0 = greedy (default 0.7) */
    double top_p;               /* default 1 = off */
    long top_k;                 /* default 0 = off */
    long max_new_tokens;        /* default 256 */
    long samples_per_prompt;    /* default 1 */
    long seed;                  /* default 0 */
    anc_opt_list stop;          /* stop strings */
    long parallel;              /* sequences decoded together (default 8) */
    const char *chat_template;  /* NAME|FILE overriding the tokenizer's */
    int bf16;                   /* bf16 matrix products */
    const char *adapter;        /* PEFT LoRA adapter merged into the model */
} anc_generate_opts;

/* The option table of generate (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_generate_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_generate_opts_init(anc_generate_opts *o);

#endif
