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

#endif
