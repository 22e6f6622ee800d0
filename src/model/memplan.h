/* Memory plan of a training or scoring run: what the engine will allocate
 * (weights as held, gradient slab, AdamW moments, LoRA adapters,
 * activations, vocabulary scratch, a held reference model) for a model
 * config at a token budget and precision, before anything is allocated,
 * and what this process can still use. anchor info prints it; the trainer
 * refuses a run whose plan does not fit.
 *
 * The figures follow the allocations of model.c, forward.c, lora.c,
 * optim.c, gemm.c and logprob.c (each term in memplan.c names its source);
 * they are upper bounds within the stated estimates, not measurements. */
#ifndef ANCHOR_MODEL_MEMPLAN_H
#define ANCHOR_MODEL_MEMPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/config.h"
#include "model/lora.h"

/* Runtime overhead added into anc_mem_plan.total: the allocator's slack
 * and fragmentation, thread stacks, OpenBLAS/oneDNN buffers and primitive
 * caches, the tokenizer and data set, none of which the plan counts one by
 * one: ANC_MEM_OVERHEAD_PCT percent of the counted bytes plus
 * ANC_MEM_OVERHEAD_FIXED bytes. */
#define ANC_MEM_OVERHEAD_PCT 5
#define ANC_MEM_OVERHEAD_FIXED (256ull << 20)

/* The largest token budget a plan takes (2^40). */
#define ANC_MEM_PLAN_MAX_TOKENS ((int64_t)1 << 40)

typedef struct anc_mem_plan_opts {
    int lora;                        /* 1: LoRA on a frozen base; 0: full fine-tuning */
    const anc_lora_config *lora_cfg; /* r, targets and dropout when lora (model/lora.h) */
    int bf16;                        /* --bf16 */
    int checkpointing;               /* --gradient-checkpointing */
    int64_t tokens;                  /* tokens of the largest micro-batch, 1..ANC_MEM_PLAN_MAX_TOKENS */
    int64_t scored_rows;             /* scored tokens in it (<= tokens); 0 = tokens */
    int ref_model_held;              /* a second model is held for the reference (--no-precompute-ref with a separate --ref-model) */
    int train;                       /* 0: scoring/generation only (no grads/optimizer/backward buffers) */
} anc_mem_plan_opts;

typedef struct anc_mem_plan {
    uint64_t weights;        /* the model's weights as held */
    uint64_t grads;          /* gradient slab */
    uint64_t optimizer;      /* AdamW m and v, and the optimiser's 1-byte weight-decay mask per parameter */
    uint64_t adapters;       /* LoRA params+grads+m+v (16 bytes per adapter parameter) + decay mask (1) */
    uint64_t activations;    /* anc_model_act_bytes_per_token(cfg, checkpointing) * tokens (+ LoRA scratch, + bf16 conversion buffers) */
    uint64_t vocab;          /* vocabulary-projection scratch and row buffers */
    uint64_t ref;            /* a held reference model: its weights and forward-only activations */
    uint64_t overhead;       /* ANC_MEM_OVERHEAD_PCT % of the above + ANC_MEM_OVERHEAD_FIXED */
    uint64_t total;          /* all of the above */
    size_t n_params, n_adapter_params;
} anc_mem_plan;

/* Plans the memory of a run of a model of config cfg with options o into
 * *out (zeroed first). AdamW is assumed for training (SGD would hold no
 * moments: the plan is then an upper bound). With train == 0 the
 * activations still come from anc_model_act_bytes_per_token, which counts
 * the backward buffers a forward-only run never allocates: an upper bound.
 * Errors, naming what was expected: ANC_ERR_INVALID for cfg, o or out
 * NULL, tokens outside [1, ANC_MEM_PLAN_MAX_TOKENS], scored_rows outside [0, tokens], lora without a valid
 * lora_cfg, a plan beyond 2^64 bytes; anc_config_validate's for an
 * inconsistent cfg. */
anc_status anc_mem_plan_compute(const anc_config *cfg, const anc_mem_plan_opts *o, anc_mem_plan *out, anc_error *err);

/* Bytes this process can still use: the smaller of /proc/meminfo
 * MemAvailable and the cgroup headroom when a limit is set (cgroup v2
 * memory.max, v1 memory.limit_in_bytes, of this process's cgroup or any
 * ancestor, minus its usage less the reclaimable inactive file cache of
 * memory.stat, as the kubelet's working set). ANC_ERR_UNSUPPORTED when
 * neither can be read. */
anc_status anc_mem_available(uint64_t *bytes, anc_error *err);

/* anc_mem_available reading its files under root ("" = this system:
 * root "/x" reads /x/proc/meminfo, /x/proc/self/cgroup, /x/sys/fs/cgroup/...),
 * for tests. *source (may be NULL) is set to a static name of what bound
 * the figure: "MemAvailable", "cgroup v2 memory.max" or
 * "cgroup v1 memory.limit_in_bytes". */
anc_status anc_mem_available_under(const char *root, uint64_t *bytes, const char **source, anc_error *err);

/* Formats bytes as "1.5 GiB" (B, KiB, MiB, GiB, TiB; one decimal) into
 * buf of n bytes (truncated, always NUL-terminated when n > 0). */
void anc_mem_human(char *buf, size_t n, double bytes);

/* Number of LoRA parameters for a model of config cfg with adapters lc:
 * the sum over layers and targeted projections of r * (in + out), as
 * anc_lora_create lays them out. 0 when cfg or lc is NULL. */
size_t anc_lora_param_count(const anc_config *cfg, const anc_lora_config *lc);

#endif
