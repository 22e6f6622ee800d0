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

/* Answers the prompts of o->input with the stronger model and writes the
 * pairs to o->out. A string prompt is sent as one user message, a
 * message-list prompt as the conversation it is. store: the run store to use
 * (borrowed; NULL: o->llm.store, else OUT.store.db). Errors: bad rows
 * (file:line), other settings than the stored items were made with
 * (ANC_ERR_INVALID, see anc_llm_step_open), backend and store errors. Items
 * that failed (an error or an empty answer) are not an error: *res counts
 * them (free with anc_items_result_free). */
anc_status anc_stronger_run(const anc_stronger_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                            anc_items_result *res, anc_error *err);

#endif
