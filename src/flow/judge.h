/* The judge step (on-policy judge pairs): a judge compares two samples per
 * prompt in both orders; consistent verdicts become pairs, ties and
 * position-inconsistent verdicts are counted and dropped. Replies go
 * through the run store as in revise. */
#ifndef ANCHOR_FLOW_JUDGE_H
#define ANCHOR_FLOW_JUDGE_H

#include "flow/llm_step.h"

typedef struct anc_judge_opts {
    const char *input;          /* samples: at least two rows per prompt */
    const char *out;            /* judge pairs */
    const char *template_path;  /* judge prompt; NULL: the built-in one */
    const char *response_field; /* default "completion" */
    anc_llm_step_opts llm;      /* --judge SPEC and the backend knobs */
} anc_judge_opts;

/* The option table of judge (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_judge_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_judge_opts_init(anc_judge_opts *o);

/* The outcome of a judge run: the items (prompts judged in both orders) as
 * for every stored LLM step, and what the judge's verdicts came to. The
 * verdict counts are over all finished items of the output's store step
 * (those of earlier runs on the same output included), as the pairs are. */
typedef struct anc_judge_result {
    anc_items_result items;
    size_t consistent;   /* both orders picked the same sample: a pair */
    size_t ties;         /* both orders said tie: no pair */
    size_t inconsistent; /* the orders disagree (position bias): no pair */
    size_t singles;      /* prompts of this input with fewer than two samples: not judged */
} anc_judge_result;
/* Frees what r holds (a zeroed result is fine). */
void anc_judge_result_free(anc_judge_result *r);

/* Judges the sample pairs of o->input into o->out. Rows are grouped by
 * their "id" (else by their prompt); a group's first two samples are
 * judged, in both orders, as one item. store: the run store to use
 * (borrowed; NULL: o->llm.store, else OUT.store.db). Errors: bad rows
 * (file:line), other settings than the stored items were made with
 * (ANC_ERR_INVALID, see anc_llm_step_open), backend and store errors.
 * Items that failed are not an error: res->items counts them (free with
 * anc_judge_result_free). */
anc_status anc_judge_run(const anc_judge_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                         anc_judge_result *res, anc_error *err);

#endif
