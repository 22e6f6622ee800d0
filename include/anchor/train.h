/* libanchor public API: preference training, what `anchor train` runs. A
 * run loads a policy (and reference) model and a dataset of pairs (or
 * unpaired labelled rows), computes the reference log-probs once (cached in
 * the output folder), then runs optimiser steps of the chosen objectives
 * with TRL's semantics (apo_zero, apo_down, sigmoid (DPO), ipo, hinge,
 * robust, exo_pair, nca_pair, bco_pair, sppo_hard, aot, aot_pair, discopop,
 * sigmoid_norm, sft, simpo, cpo, orpo, kto, apo_zero_unpaired), logging
 * TRL's metrics to metrics.jsonl, writing atomic checkpoints and resuming
 * bit-exactly from the newest complete one.
 *
 * The settings are an opaque anc_train_opts set by name, so that new
 * settings never change this API: the names are those of `anchor train
 * --help` with '_' or '-' between words (TRL's argument names). */
#ifndef ANCHOR_PUBLIC_TRAIN_H
#define ANCHOR_PUBLIC_TRAIN_H

#include "anchor/common.h"

ANC_EXTERN_C_BEGIN

typedef struct anc_train_opts anc_train_opts;

/* What the trainer reports after every optimiser step and during long
 * phases. Borrowed for the duration of the callback. */
typedef struct anc_train_status {
    int64_t step, total_steps;
    double epoch;
    double loss, reward_accuracy, reward_margin, grad_norm, lr;
    double tokens_per_second;
    int64_t tokens;
    const char *phase;   /* "ref" while computing reference log-probs, "train", "eval" */
    size_t done, total;  /* progress within the phase (pairs for "ref"/"eval") */
    double comm_seconds; /* "train" under data parallelism: time so far in summing gradients across processes */
} anc_train_status;

typedef void (*anc_train_report_fn)(void *ctx, const anc_train_status *s);

/* New settings for training the Hugging Face model folder model_dir on the
 * dataset file data_path (anchor/dataset.h formats) into output_dir, with
 * TRL's defaults (loss sigmoid, beta 0.1, learning rate 1e-6, AdamW
 * 0.9/0.999/1e-8, linear schedule, batch 8, 1 epoch, max_grad_norm 1.0,
 * seed 42, logging every 10 steps). The strings are copied. On success *out
 * is new settings (release with anc_train_opts_free); errors:
 * ANC_ERR_INVALID (a NULL or empty path), ANC_ERR_NOMEM. */
ANC_API anc_status anc_train_opts_create(anc_train_opts **out, const char *model_dir, const char *data_path,
                                         const char *output_dir, anc_error *err);

/* Sets the setting key to value (text, copied), as `anchor train --KEY
 * VALUE` would: the keys are the options of `anchor train --help` (one
 * table serves both), with '_' or '-' between words, e.g. learning_rate,
 * per_device_train_batch_size, loss_type, use_peft, lora_r, bf16, resume.
 * Switches take true/false (yes/no); a list option (loss_type,
 * loss_weights, lora_target_modules) takes comma-separated values: the
 * whole list, replacing the default or an earlier set. Errors: ANC_ERR_INVALID for an unknown key
 * or a value of the wrong type (a number, a count >= 0, a switch), naming
 * both; names (a loss type, an optimizer) and combinations (loss_weights per
 * loss type, lora_* needing use_peft) are checked by anc_train_run before
 * any work, as the command checks them after reading every flag. */
ANC_API anc_status anc_train_opts_set(anc_train_opts *o, const char *key, const char *value, anc_error *err);

/* Releases o (NULL is a no-op). */
ANC_API void anc_train_opts_free(anc_train_opts *o);

/* Runs training as o says, on the calling thread (OpenBLAS threads do the
 * matrix products). report (may be NULL) is called after each step and
 * during long phases. On success the final model (or, with use_peft, the
 * PEFT adapter), the tokenizer files, metrics.jsonl and train_config.yaml
 * are in output_dir. Errors: ANC_ERR_INVALID (an unknown name, inconsistent
 * settings, a
 * memory plan that does not fit unless no_memory_check, an output folder
 * overlapping an input), ANC_ERR_NUMERIC (a non-finite loss or gradient,
 * naming the step; checkpoints already written stay intact), and those of
 * loading models and data (ANC_ERR_IO, ANC_ERR_FORMAT, ...). */
ANC_API anc_status anc_train_run(const anc_train_opts *o, anc_train_report_fn report, void *ctx, anc_error *err);

/* Step number of the newest complete checkpoint in output_dir (0 when
 * none); *path (path may be NULL) receives its malloc'd path (caller frees;
 * NULL when none). */
ANC_API int64_t anc_train_latest_checkpoint(const char *output_dir, char **path);

ANC_EXTERN_C_END

#endif
