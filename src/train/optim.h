/* Optimisers and learning-rate schedules with the semantics of PyTorch's
 * torch.optim.AdamW / SGD and transformers' schedulers, on one parameter
 * slab (gradients and moments share the parameter layout). */
#ifndef ANCHOR_TRAIN_OPTIM_H
#define ANCHOR_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/params.h"

typedef enum { ANC_OPT_ADAMW = 0, ANC_OPT_SGD = 1 } anc_opt_type;
typedef enum { ANC_SCHED_CONSTANT = 0, ANC_SCHED_LINEAR, ANC_SCHED_COSINE } anc_sched_type;

typedef struct anc_optim_config {
    anc_opt_type type;
    double lr;
    double beta1, beta2, eps;    /* AdamW: 0.9, 0.999, 1e-8 */
    double weight_decay;         /* decoupled (AdamW) / L2 (SGD); 0 by default, as HF */
} anc_optim_config;

/* Optimiser state: AdamW moments m, v (n floats each) and the step count.
 * decay_mask[n] (owned) is 1 for parameters that get weight decay: as the
 * HF Trainer, biases and normalisation weights do not. */
typedef struct anc_optim {
    anc_optim_config cfg;
    size_t n;
    float *m, *v;
    uint8_t *decay_mask;
    int64_t step;
} anc_optim;

/* Allocates state for n parameters laid out by specs (used for the decay
 * mask: 1-D tensors are exempt). */
anc_status anc_optim_init(anc_optim *o, const anc_optim_config *cfg, const anc_param_spec *specs,
                          size_t n_specs, size_t n, anc_error *err);
void anc_optim_free(anc_optim *o);

/* One update of params with grads at learning rate lr (the schedule's value
 * for this step). Increments o->step. */
void anc_optim_step(anc_optim *o, float *params, const float *grads, double lr);

/* L2 norm of grads[0..n) (computed in double). */
double anc_grad_norm(const float *grads, size_t n);
/* If max_norm > 0 and norm > max_norm, scales grads by max_norm/(norm+1e-6),
 * as torch.nn.utils.clip_grad_norm_. Returns the pre-clip norm. */
double anc_clip_grad_norm(float *grads, size_t n, double max_norm);

/* Learning rate at optimiser step `step` (0-based) of `total`, after
 * `warmup` warm-up steps, as transformers' get_*_schedule_with_warmup.
 * constant ignores warm-up only when warmup == 0. */
double anc_schedule_lr(anc_sched_type t, double base_lr, int64_t step, int64_t warmup, int64_t total);

/* Parses "constant" | "linear" | "cosine" (-1 when unknown) and
 * "adamw" | "adamw_torch" | "sgd". */
int anc_sched_from_name(const char *name);
int anc_opt_from_name(const char *name);

#endif
