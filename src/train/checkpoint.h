/* Training checkpoints: output_dir/checkpoint-N/ holds the model (HF files,
 * f32 so a resume is bit-exact), the optimiser moments, and
 * trainer_state.json. The folder is written as checkpoint-N.tmp and renamed
 * after its completion marker is written, so a checkpoint-N without the
 * marker never exists and a kill at any moment leaves the previous
 * checkpoints intact. */
#ifndef ANCHOR_TRAIN_CHECKPOINT_H
#define ANCHOR_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "model/lora.h"
#include "model/model.h"
#include "train/loss.h"
#include "train/optim.h"

#define ANC_CKPT_MARKER "checkpoint.complete"
#define ANC_CKPT_WINDOW 16

/* Trainer progress saved with the weights. window[] holds the running sums
 * of the metrics of the current logging window (so a resume logs exactly
 * what an uninterrupted run logs). */
typedef struct anc_ckpt_state {
    int64_t step;
    int64_t tokens;
    uint64_t seed;
    anc_loss_state loss_state;
    double window[ANC_CKPT_WINDOW];
    int64_t window_count;
    double last_grad_norm;
} anc_ckpt_state;

/* Writes checkpoint-<s->step> under output_dir (replacing one of that
 * step): the model, or with lora non-NULL only the adapter (PEFT files;
 * the frozen base is not repeated). */
anc_status anc_ckpt_save(const char *output_dir, const anc_model *m, const anc_lora *lora, const anc_optim *o,
                         const anc_ckpt_state *s, const char *const *copy_files, anc_error *err);

/* Loads a checkpoint folder into an existing model of the same shape (or,
 * with lora non-NULL, into that adapter of the same layout), the optimiser
 * (same type and size) and s. */
anc_status anc_ckpt_load(const char *path, anc_model *m, anc_lora *lora, anc_optim *o, anc_ckpt_state *s,
                         anc_error *err);

#endif
