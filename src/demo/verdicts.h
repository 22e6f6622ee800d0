/* The demo's verdicts (issue 13): the comparisons that carry the paper's
 * claims, each a paired difference of held-out "solved" rates with a 95%
 * interval from the two-level bootstrap over prompts and seeds
 * (anc_bootstrap_diff_ci, eval/stats.h) and a plain verdict: "better" when
 * the interval lies above 0, "worse" below 0, else "not distinguishable".
 *
 *   CLAIR vs stronger-preferred pairs, and vs on-policy judge pairs, under
 *   each objective (SFT, APO-zero, APO-down, DPO);
 *   on CLAIR pairs: APO-zero vs DPO, vs SFT, vs APO-down.
 *
 * Part of the anchor_demo library. */
#ifndef ANCHOR_DEMO_VERDICTS_H
#define ANCHOR_DEMO_VERDICTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

/* The grid's per-prompt scores: solved[(ds * n_obj + obj) * seeds + s] is
 * run s (0-based) of dataset ds x objective obj, `prompts` scores (1 or 0)
 * on the same held-out prompts in the same order. ds_keys/obj_keys name the
 * rows and columns ("clair", "stronger", "judge"; "sft", "apo_zero",
 * "apo_down", "sigmoid"). */
typedef struct anc_demo_grid {
    int n_ds, n_obj, seeds;
    size_t prompts;
    const char *const *ds_keys, *const *obj_keys;
    double *const *solved;
} anc_demo_grid;

/* Computes the verdicts (10,000 resamples, seed 0) and writes them as a
 * Markdown table to md and as "verdict.<A>_vs_<B>.<within>.{diff,lo,hi,
 * verdict}" keys (differences as shares, not points) into j. Comparisons
 * whose dataset or objective the grid lacks are left out. Errors:
 * ANC_ERR_NOMEM. */
anc_status anc_demo_verdicts(const anc_demo_grid *g, FILE *md, json_t *j, anc_error *err);

#endif
