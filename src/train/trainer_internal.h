/* Internals shared by trainer.c (setup, the step loop) and trainer_step.c
 * (one micro-step: packing, forward, loss, backward; logging; evaluation).
 * Not part of the public API. */
#ifndef ANCHOR_TRAIN_TRAINER_INTERNAL_H
#define ANCHOR_TRAIN_TRAINER_INTERNAL_H

#include <stdio.h>

#include "train/train_data.h"
#include "train/trainer.h"

/* Metric window slots (sums over micro-steps; see anc_ckpt_state.window). */
enum { W_LOSS, W_RC, W_RR, W_RM, W_RA, W_LPC, W_LPR, W_LGC, W_LGR, W_KL, W_N };

typedef struct trainer {
    const anc_train_config *cfg;
    anc_model *policy, *ref;         /* ref only when not precomputed (and not the base of a LoRA policy) */
    anc_lora *lora;                  /* use_peft: the trained adapters, attached to policy; owned */
    int ref_is_base;                 /* reference in memory = the policy with its adapters off */
    float *params;                   /* what the optimiser updates: the policy slab or the adapter slab */
    size_t n_train;                  /* floats in params / grads */
    uint64_t micro_id;               /* global index of the running micro-step (LoRA dropout masks) */
    anc_acts *acts, *ref_acts;
    anc_train_data data, eval;
    anc_dataset_stats data_stats;
    float *ref_c, *ref_r, *eval_ref_c, *eval_ref_r;
    float *grads;
    anc_optim opt;
    anc_loss_state loss_state;
    int needs_ref;
    int log_rewards;   /* metrics.jsonl carries reward keys: a reference, or a loss other than sft */
    int orpo;                        /* some objective needs prompt log-probs (ORPO) */
    /* per micro-step scratch, sized for batch_size pairs */
    anc_pairset sub;                 /* shallow copies of anc_pair (not owned) */
    float *c, *r, *rc, *rr, *dc, *dr, *dck, *drk, *lgc, *lgr;
    int32_t *clen, *rlen, *plen;
    float *plogp;                    /* [B] policy log-prob of prompt tokens 1..P-1 (orpo) */
    float d_prompt;                  /* d loss / d plogp[i] of the micro-step (orpo) */
    float *toklogp;                  /* [tokens] per-token log-probs (orpo) */
    int64_t toklogp_cap;
    uint8_t *label;
    float *dtok;
    int64_t dtok_cap;
    float *seqbuf, *lgbuf;
    size_t seqbuf_cap;
    anc_packed pk;
} trainer;

anc_status anc_tr_alloc_micro(trainer *t, size_t B, anc_error *err);
void anc_tr_free_trainer(trainer *t);
/* Runs one micro-step on pairs idx[0..n) of d; pre_c/pre_r are precomputed
 * reference log-probs (NULL: use t->ref). scale multiplies the gradients;
 * backward = 0 for evaluation. Adds metrics to win and tokens to *tokens. */
anc_status anc_tr_micro_step(trainer *t, const anc_train_data *d, const float *pre_c, const float *pre_r,
                         const size_t *idx, size_t n, double scale, int backward, double *win, int64_t *tokens,
                         anc_error *err);
/* Appends one line to metrics.jsonl (prefix "" or "eval_"); without a
 * reward (rewards 0: a plain sft run) the rewards and kl keys are left out. */
anc_status anc_tr_log_line(FILE *f, const char *prefix, const double *win, double count, int unpaired, int rewards,
                       int64_t step, double epoch, double grad_norm, double lr, int64_t tokens, double tps, anc_error *err);
/* Evaluates on t->eval and logs eval_ metrics. */
anc_status anc_tr_run_eval(trainer *t, int64_t step, double epoch, FILE *mf, anc_train_report_fn report, void *ctx,
                       anc_error *err);
/* Keeps the lines of metrics.jsonl with step <= step. */
anc_status anc_tr_truncate_metrics(const char *path, int64_t step, anc_error *err);

/* Refuses (ANC_ERR_NOMEM, with the plan and what would fit) a run whose
 * memory plan for model config mc and the loaded data d / eval (may be
 * empty) exceeds what this process can use; OK when it fits, when
 * c->no_memory_check is set, or when the available memory is unknown.
 * Runs before any weights are loaded. (train_memory.c) */
anc_status anc_tr_check_memory(const anc_train_config *c, const anc_config *mc, const anc_train_data *d,
                           const anc_train_data *eval, anc_error *err);

#endif
