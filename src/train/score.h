/* Sequence log-probabilities of preference pairs under a model: the
 * quantity every preference objective is built from, and the reference
 * model's cached log-probs. */
#ifndef ANCHOR_TRAIN_SCORE_H
#define ANCHOR_TRAIN_SCORE_H

#include "core/progress.h"
#include "data/pairs.h"
#include "model/model.h"

/* For every pair i of ps: chosen_logp[i] = log p(chosen | prompt) and
 * rejected_logp[i] = log p(rejected | prompt), each summed over the response
 * tokens. Pairs are packed into micro-batches of at most max_tokens tokens.
 * progress (may be NULL) is called after each micro-batch. */
anc_status anc_score_pairs(const anc_model *m, anc_acts *a, const anc_pairset *ps, int64_t max_tokens,
                           float *chosen_logp, float *rejected_logp, anc_progress_fn progress, void *ctx,
                           anc_error *err);

#endif
