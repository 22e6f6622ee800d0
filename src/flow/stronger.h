/* The stronger step (`anchor pairs stronger`, the paper's "stronger
 * preferred" baseline): the stronger model answers each prompt from
 * scratch; the pair is (prompt, chosen = its answer, rejected = the draft).
 * Replies go through the run store as in revise. */
#ifndef ANCHOR_FLOW_STRONGER_H
#define ANCHOR_FLOW_STRONGER_H

#include "flow/llm_step.h"

typedef struct anc_stronger_opts {
    const char *input;          /* drafts: rows with a prompt and a response */
    const char *out;            /* pairs */
    const char *response_field; /* default "completion" */
    anc_llm_step_opts llm;      /* --stronger SPEC and the backend knobs */
} anc_stronger_opts;

/* The option table of stronger (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_stronger_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_stronger_opts_init(anc_stronger_opts *o);

#endif
