/* The revise step (CLAIR): a stronger model minimally revises each draft;
 * the pair is (prompt, chosen = revision, rejected = draft). Every reply is
 * committed to the run store before it is used, so an interrupted run loses
 * at most the requests in flight and a rerun repeats no paid request;
 * finished items are kept, failed ones retried. */
#ifndef ANCHOR_FLOW_REVISE_H
#define ANCHOR_FLOW_REVISE_H

#include "flow/llm_step.h"

typedef struct anc_revise_opts {
    const char *input;          /* drafts: rows with a prompt and a response */
    const char *out;            /* CLAIR pairs (JSONL) */
    const char *template_path;  /* reviser prompt with {input} and {output}; NULL: the CLAIR authors' */
    const char *response_field; /* default "completion" */
    const char *prompt_field;   /* default "prompt" ("messages" works too) */
    int retry_failed;           /* kept for older scripts: failed items are always retried */
    anc_llm_step_opts llm;      /* --reviser SPEC and the backend knobs */
} anc_revise_opts;

/* The option table of revise (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_revise_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_revise_opts_init(anc_revise_opts *o);

/* Revises o->input into o->out. store: the run store to use (borrowed; NULL:
 * o->llm.store, else OUT.store.db). Errors: bad rows (file:line), other
 * settings than the stored items were made with (ANC_ERR_INVALID, see
 * anc_llm_step_open), backend and store errors. Items that failed are not
 * an error: *res counts them (free with anc_items_result_free). */
anc_status anc_revise_run(const anc_revise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_items_result *res, anc_error *err);

#endif
