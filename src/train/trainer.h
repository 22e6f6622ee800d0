/* The preference trainer: `anchor train`. Loads a policy (and reference)
 * model and a dataset of pairs (or unpaired labelled rows), computes the
 * reference log-probs once (cached in the output directory), then runs
 * optimiser steps of the chosen objectives with TRL's semantics, logging
 * TRL's metrics to metrics.jsonl, writing atomic checkpoints and resuming
 * bit-exactly from the newest complete one. Public (anchor/train.h): the
 * status report types, anc_train_latest_checkpoint, and anc_train_opts
 * (src/api/train_opts.c), settings by name over anc_train_config. */
#ifndef ANCHOR_TRAIN_TRAINER_H
#define ANCHOR_TRAIN_TRAINER_H

#include <stdint.h>

#include "anchor/train.h"
#include "core/comm.h"
#include "core/dtype.h"
#include "core/error.h"
#include "model/lora.h"
#include "train/loss.h"
#include "train/optim.h"

#define ANC_MAX_LOSSES 8

/* What the anchoring advisor decided for `--loss-type auto` (flow/advise.h),
 * for the trainer to record: as "advisor:" in train_config.yaml and as the
 * first line of metrics.jsonl, {"step": 0, "advisor": {...}}. Strings are
 * borrowed. */
typedef struct anc_train_advice {
    const char *recommendation;    /* the loss type it chose: "apo_zero" or "apo_down" */
    const char *judge, *grader;    /* what compared the answers (one of them is NULL) */
    double win_rate;               /* model-vs-chosen, ties half */
    double ci_lo, ci_hi;           /* Wilson 95% */
    double bootstrap_lo, bootstrap_hi; /* paired bootstrap 95% */
    int64_t n;                     /* prompts compared */
    int confident;                 /* both intervals exclude 0.5 */
    const char *rule;
} anc_train_advice;

typedef struct anc_train_config {
    const char *model_dir;      /* starting policy (HF folder) */
    const char *data_path;      /* JSONL / JSON array of pre-tokenised rows */
    const char *output_dir;
    const char *ref_model_dir;  /* NULL: the starting model */
    const char *eval_data_path; /* NULL: no evaluation */
    int n_losses;
    anc_loss_type losses[ANC_MAX_LOSSES];
    double loss_weights[ANC_MAX_LOSSES];
    anc_loss_params loss;
    anc_optim_config opt;
    anc_sched_type scheduler;
    double warmup_ratio;
    int64_t warmup_steps;       /* > 0 overrides warmup_ratio */
    int64_t batch_size;         /* pairs per micro-step (per_device_train_batch_size) */
    int64_t grad_accum;
    int64_t max_steps;          /* > 0 overrides epochs */
    double epochs;
    double max_grad_norm;       /* 0 disables clipping */
    uint64_t seed;
    int64_t logging_steps, save_steps, eval_steps;
    int eval_on_start;          /* evaluate before the first step (logged as step 0) */
    int64_t max_tokens;         /* token budget of one forward/backward chunk */
    int precompute_ref;         /* 1: reference log-probs once, cached; 0: reference model kept in memory */
    int bf16;                   /* TRL's bf16: matrix products in bf16 for policy and reference, fp32 master weights;
                                   with use_peft the frozen base is held in bf16 only (anc_model_load_hf_frozen16) */
    int gradient_checkpointing; /* TRL's gradient_checkpointing: per-layer recomputation in backward (anc_acts_set_checkpointing) */
    int no_memory_check;        /* 1: start even when the memory plan exceeds what is available */
    int resume;                 /* continue from the newest complete checkpoint */
    anc_dtype save_dtype;       /* ANC_DT_INVALID: the input model's dtype */
    const char *chat_template;  /* NULL: the tokenizer's; else a built-in name or a file */
    int64_t max_length, max_prompt_length;  /* 0: no limit */
    int truncation_keep_start;  /* 0: keep_end (TRL's default), 1: keep_start */
    /* LoRA (TRL's --use_peft): only adapters train, the base stays frozen
     * and, with adapters off, is the reference (no second model). The run
     * writes PEFT's adapter files instead of a model. */
    int use_peft;
    anc_lora_config lora;       /* r, alpha, dropout, targets, rsLoRA (defaults: anc_lora_config_default) */
    const char *adapter_dir;    /* NULL: a new adapter; else continue from this PEFT adapter (its r, alpha, targets) */
    const anc_train_advice *advice; /* NULL, or the advisor's verdict behind the loss types (recorded, borrowed) */
    /* Data parallelism (borrowed; NULL: one process). With N ranks every
     * micro-step takes N x batch_size pairs in the order one process with
     * batch N x batch_size takes them; each rank runs forward and backward on
     * its share, the per-pair log-probs are exchanged so every rank computes
     * the loss of the whole micro-step, and the gradients are summed before
     * clipping and the optimiser step, which every rank repeats. Rank 0
     * alone writes the output folder (metrics, checkpoints, model). */
    anc_comm *comm;
} anc_train_config;

/* Fills TRL/transformers defaults (beta 0.1, lr 1e-6, AdamW 0.9/0.999/1e-8,
 * linear schedule, batch 8, 1 epoch, max_grad_norm 1.0, seed 42, logging
 * every 10 steps, loss sigmoid...). */
void anc_train_config_default(anc_train_config *c);

/* Runs training as configured. report (may be NULL) is called after each
 * step and during long phases. On success the final model, tokenizer files
 * and train_config.yaml are in output_dir. On a non-finite loss or gradient
 * the run stops with ANC_ERR_NUMERIC naming the step; checkpoints already
 * written stay intact. */
anc_status anc_train(const anc_train_config *cfg, anc_train_report_fn report, void *ctx, anc_error *err);

#endif
