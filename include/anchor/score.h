/* libanchor public API: sequence log-probabilities of preference pairs under
 * a model, the quantity every preference objective is built from (and what
 * a reference model contributes). */
#ifndef ANCHOR_PUBLIC_SCORE_H
#define ANCHOR_PUBLIC_SCORE_H

#include "anchor/common.h"
#include "anchor/dataset.h"
#include "anchor/model.h"

ANC_EXTERN_C_BEGIN

/* For every pair i of ps: chosen_logp[i] = log p(chosen | prompt) and
 * rejected_logp[i] = log p(rejected | prompt) under m, each summed over the
 * response tokens (natural log; an empty response scores 0). Both arrays
 * hold ps->n floats and are written. Pairs are packed whole into micro-batches of at most
 * max_tokens tokens (anc_pair_tokens; a pair larger than that goes alone;
 * max_tokens <= 0: one pair per pass). a is the scratch to reuse
 * (anc_acts_create_forward_only), or NULL to allocate one for this call.
 * progress (may be NULL) is called after each micro-batch with pairs done,
 * ps->n and tokens so far. m is not changed. Errors: ANC_ERR_INVALID (an id
 * outside the model's vocabulary or an empty prompt, naming the pair's
 * line), ANC_ERR_NOMEM; the arrays are then partly written. */
ANC_API anc_status anc_score_pairs(const anc_model *m, anc_acts *a, const anc_pairset *ps, int64_t max_tokens,
                                   float *chosen_logp, float *rejected_logp, anc_progress_fn progress, void *ctx,
                                   anc_error *err);

ANC_EXTERN_C_END

#endif
