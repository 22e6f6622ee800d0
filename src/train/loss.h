/* Preference objectives, exactly as TRL defines them (DPOTrainer.dpo_loss,
 * KTOTrainer.kto_loss, CPOTrainer/ORPOTrainer), on sequence log-probs.
 *
 * Inputs are per-sequence log-probs SUMMED over response tokens plus the
 * response lengths; objectives that TRL computes on length-averaged log-probs
 * (ipo, sigmoid_norm, simpo, orpo) divide internally. Outputs are the batch
 * loss (mean over pairs, as TRL) and its gradient with respect to each summed
 * policy log-prob, which the trainer hands to every scored token of that
 * sequence. Reference log-probs are constants (no gradient).
 *
 * TRL version followed: the DPO family is TRL v0.28's DPOTrainer.dpo_loss (the
 * last release with label smoothing on "sigmoid", bco_pair's running reward
 * mean and ipo's averaged log-probs in the logged metrics); "sigmoid_norm"
 * exists only from TRL v1.5 and follows that release. KTO, CPO and ORPO are
 * the same in v0.28 and v1.x. TRL's rpo_alpha equals adding ANC_LOSS_SFT with
 * loss weight rpo_alpha (same token-mean NLL). Not implemented: TRL's
 * f_divergence_type other than reverse KL, use_weighting (WPO), ld_alpha,
 * reference_free, CPO's AlphaPO alpha. */
#ifndef ANCHOR_TRAIN_LOSS_H
#define ANCHOR_TRAIN_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum anc_loss_type {
    ANC_LOSS_SIGMOID = 0,   /* DPO; alias "dpo" */
    ANC_LOSS_APO_ZERO,
    ANC_LOSS_APO_DOWN,
    ANC_LOSS_IPO,
    ANC_LOSS_HINGE,
    ANC_LOSS_ROBUST,
    ANC_LOSS_EXO_PAIR,
    ANC_LOSS_NCA_PAIR,
    ANC_LOSS_BCO_PAIR,
    ANC_LOSS_SPPO_HARD,
    ANC_LOSS_AOT,
    ANC_LOSS_AOT_PAIR,      /* TRL <= 0.27's "aot_pair" = TRL >= 0.28's "aot_unpaired"; both names accepted */
    ANC_LOSS_DISCOPOP,
    ANC_LOSS_SIGMOID_NORM,  /* TRL >= 1.5: DPO on length-averaged log-ratios, no label smoothing */
    ANC_LOSS_SFT,           /* token-mean NLL of the chosen responses */
    ANC_LOSS_SIMPO,         /* reference-free (CPOTrainer loss_type="simpo") */
    ANC_LOSS_CPO,           /* reference-free (CPOTrainer loss_type="sigmoid") */
    ANC_LOSS_ORPO,          /* reference-free (ORPOTrainer) */
    ANC_LOSS_KTO,           /* unpaired rows with labels (KTOTrainer) */
    ANC_LOSS_APO_ZERO_UNPAIRED,
    ANC_LOSS__COUNT
} anc_loss_type;

/* Name <-> type. Names are TRL's spellings; "dpo" = sigmoid, "aot_unpaired" =
 * aot_pair. Returns -1 / NULL when unknown. */
int anc_loss_from_name(const char *name);
const char *anc_loss_name(anc_loss_type t);
/* 1 when the objective needs reference log-probs. (sft does not, but uses
 * them for its reward metrics when given.) */
int anc_loss_needs_ref(anc_loss_type t);
/* 1 for objectives on unpaired rows (kto, apo_zero_unpaired). */
int anc_loss_is_unpaired(anc_loss_type t);
/* 1 when a pair's gradient depends on other pairs of the batch (aot,
 * aot_pair: sorting; bco_pair: batch reward mean; kto: batch KL estimate;
 * sft, cpo, simpo, orpo: their NLL is a token mean over the whole batch, so
 * its gradient is -1/(total chosen tokens of the batch)), so the whole
 * logical batch must be scored before any backward. */
int anc_loss_is_batch_coupled(anc_loss_type t);

/* Hyper-parameters, with TRL's defaults from anc_loss_params_default. */
typedef struct anc_loss_params {
    double beta;             /* 0.1; must be > 0 */
    double label_smoothing;  /* 0.0; used by sigmoid, robust (must be != 0.5), exo_pair (0 means 1e-3, as
                                TRL 0.28), aot, aot_pair, cpo, simpo */
    double simpo_gamma;      /* 0.5 */
    double cpo_alpha;        /* 1.0: weight of the chosen NLL term in cpo/simpo */
    double discopop_tau;     /* 0.05; must be > 0 */
    double desirable_weight; /* 1.0 (kto, apo_zero_unpaired) */
    double undesirable_weight; /* 1.0 (kto, apo_zero_unpaired) */
} anc_loss_params;
void anc_loss_params_default(anc_loss_params *p);

/* State carried across steps (bco_pair's running mean of rewards). Zero-init.
 * TRL's RunningMoments is updated once per loss call with ONE sample, the
 * batch's mean reward mean(beta*[dw; dl]); so the running mean is the mean of
 * the per-call batch means, and bco_count counts calls. */
typedef struct anc_loss_state {
    double bco_running_mean;
    int64_t bco_count;
} anc_loss_state;

/* One batch. Paired objectives: n pairs, chosen/rejected arrays. Unpaired
 * objectives: n rows in chosen_* with label[i] (1 desirable, 0 undesirable);
 * kto also needs kl_logp/ref_kl_logp[n] (log-probs of mismatched
 * prompt/completion rows, TRL's KL estimate: row i = prompt i with the
 * completion of row (i-1) mod n of the same batch). Unused arrays may be NULL.
 * Lengths are needed by ipo, sigmoid_norm, simpo, orpo (both) and by the NLL
 * of sft, cpo, simpo (chosen); every used length must be >= 1.
 * orpo also needs prompt_logp/prompt_len: TRL's ORPO NLL is the token mean
 * over the FULL chosen sequence (prompt and response, every token after the
 * first), so prompt_logp[i] = sum of the policy log-probs of prompt tokens
 * 1..P-1 of pair i and prompt_len[i] = P-1 (>= 0). */
typedef struct anc_loss_batch {
    size_t n;
    const float *chosen_logp, *rejected_logp;          /* policy, summed */
    const float *ref_chosen_logp, *ref_rejected_logp;  /* reference, summed */
    const int32_t *chosen_len, *rejected_len;          /* response tokens */
    const uint8_t *label;                              /* unpaired */
    const float *kl_logp, *ref_kl_logp;                /* kto */
    const float *prompt_logp;                          /* orpo: policy, summed over prompt tokens 1..P-1 */
    const int32_t *prompt_len;                         /* orpo: P-1 */
} anc_loss_batch;

/* Per-batch results and TRL's metrics (means over the batch; never scaled).
 * rewards: beta*(policy - reference) per sequence; for the reference-free
 * cpo/simpo/orpo, beta*policy. Metrics use TRL's per-sequence log-probs:
 * length-averaged for ipo (TRL 0.28 averages before the loss), simpo and orpo;
 * summed otherwise. accuracies: share of pairs with reward_chosen >
 * reward_rejected. sft without reference arrays reports zero rewards.
 * Unpaired objectives: *_chosen are means over desirable rows and *_rejected
 * over undesirable rows (0 when there are none), margins = chosen - rejected
 * only when both kinds are present (else 0), accuracies 0 (KTO logs none). */
typedef struct anc_loss_out {
    double loss;  /* scale * batch loss */
    double rewards_chosen, rewards_rejected, rewards_margins, rewards_accuracies;
    double logps_chosen, logps_rejected;
    double kl;  /* kto's KL estimate (0 otherwise) */
    double nll; /* TRL's nll_loss metric: sft, cpo, simpo, orpo (0 otherwise) */
    double log_odds_ratio, log_odds_chosen; /* orpo: mean logsigmoid(log_odds), mean log_odds */
    /* orpo: d loss / d prompt_logp[i] (scaled), the same for every pair: the
     * trainer hands it to every scored prompt token. 0 for other objectives. */
    double d_prompt_logp;
    /* Rows behind the *_chosen / *_rejected means (paired: n and n; unpaired:
     * desirable and undesirable rows), to combine batches as TRL does
     * (sum / count). */
    int64_t count_chosen, count_rejected;
} anc_loss_out;

/* Computes the loss of batch b under objective t. d_chosen[n] and
 * d_rejected[n] (either may be NULL) receive d loss / d chosen_logp[i] and
 * d loss / d rejected_logp[i] (OVERWRITTEN; d_rejected is all zero for
 * unpaired objectives). scale multiplies the loss and its gradients (e.g. a
 * loss weight, or 1/accumulation). state may be NULL when t is not bco_pair;
 * for bco_pair it is updated (once per call, after all checks pass).
 * Errors: ANC_ERR_INVALID for n == 0, a missing array, a bad length or a bad
 * parameter; ANC_ERR_NUMERIC (naming the pair/row index) for a non-finite
 * input, an orpo average log-prob >= 0, or a non-finite loss or gradient.
 * On error out and the gradients are unspecified and state is unchanged. */
anc_status anc_loss_compute(anc_loss_type t, const anc_loss_params *p, anc_loss_state *state,
                            const anc_loss_batch *b, double scale, anc_loss_out *out, float *d_chosen,
                            float *d_rejected, anc_error *err);

#endif
