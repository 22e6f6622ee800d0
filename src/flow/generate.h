/* The generate step: the model being aligned answers prompts (KV cache,
 * several sequences decoded together); each row of the output is one
 * completion with its prompt, id, sample index, finish reason and token
 * counts. */
#ifndef ANCHOR_FLOW_GENERATE_H
#define ANCHOR_FLOW_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/comm.h"
#include "core/error.h"
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
    /* Not an option: data parallelism (borrowed; NULL: one process). Each
     * rank decodes every size-th of the completions still to make; rank 0
     * alone reads and writes OUT.partial (its own completions) and writes
     * OUT in input order, so the output equals one process's. */
    anc_comm *comm;
} anc_generate_opts;

/* The option table of generate (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_generate_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_generate_opts_init(anc_generate_opts *o);

/* What a generate run made (the figures of the command's closing lines).
 * kept is set once OUT.partial was read; completions, capped and context
 * once decoding finished (also when writing OUT fails after it); tokens on
 * success. */
typedef struct anc_generate_result {
    size_t completions;      /* rows written: prompts x samples per prompt */
    size_t kept;             /* of which kept from an interrupted run (OUT.partial) */
    int64_t tokens;          /* completion tokens written */
    size_t capped;           /* completions stopped at the model's context before max_new_tokens */
    int context;             /* the model's context (max_position_embeddings) */
} anc_generate_result;

/* Samples o->samples_per_prompt completions for each row of o->prompts with
 * o->model and writes them to o->out in prompt order. Completions are kept
 * in OUT.partial as they finish; a rerun with the same settings continues
 * from it (notes say so) and the file is removed once OUT is written.
 * Progress is reported in "completions" with the tokens generated. Errors:
 * a bad prompt row (file:line), loading, decoding and write errors. The
 * process-wide OpenBLAS thread count is the caller's (see core/blas.h for
 * o->bf16). */
anc_status anc_generate_run(const anc_generate_opts *o, const anc_flow_hooks *hooks, anc_generate_result *res,
                            anc_error *err);

#endif
