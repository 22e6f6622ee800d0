/* LoRA (Hu et al. 2021) on the linear layers of a frozen base model, with
 * PEFT's conventions: for an adapted projection y = W x (+ b),
 *     y += scale * B (A dropout(x)),   A [r, in], B [out, r],
 * scale = alpha / r (alpha / sqrt(r) with rsLoRA), A initialised as PEFT's
 * kaiming_uniform_(a = sqrt(5)) (uniform in +-1/sqrt(in)), B zero, so a new
 * adapter leaves the model's outputs bit-identical. Adapter parameters live
 * in ONE fp32 slab (same layout for gradients and optimiser moments) with
 * PEFT's tensor names, so checkpoints, AdamW and clipping work on it as on
 * a model slab. The base model is never written.
 *
 * A model runs its adapters when anc_model.lora points at one (borrowed);
 * with it NULL the same model is the base: that is the reference of
 * preference training, no second model needed. */
#ifndef ANCHOR_MODEL_LORA_H
#define ANCHOR_MODEL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/config.h"
#include "model/params.h"
#include "tensor/gemm.h"

/* The projections LoRA can adapt, in PEFT's module names. */
typedef enum {
    ANC_LORA_Q = 0,   /* self_attn.q_proj */
    ANC_LORA_K,       /* self_attn.k_proj */
    ANC_LORA_V,       /* self_attn.v_proj */
    ANC_LORA_O,       /* self_attn.o_proj */
    ANC_LORA_GATE,    /* mlp.gate_proj */
    ANC_LORA_UP,      /* mlp.up_proj */
    ANC_LORA_DOWN,    /* mlp.down_proj */
    ANC_LORA_NMOD
} anc_lora_module;

#define ANC_LORA_ALL_LINEAR ((1u << ANC_LORA_NMOD) - 1u)
/* PEFT's default targets for Llama-family models: q_proj and v_proj. */
#define ANC_LORA_DEFAULT_TARGETS ((1u << ANC_LORA_Q) | (1u << ANC_LORA_V))

typedef struct anc_lora_config {
    int r;               /* rank (PEFT's r), 1..65536 */
    double alpha;        /* lora_alpha, > 0 */
    double dropout;      /* lora_dropout, in [0, 1): applied to the input of A while training */
    int use_rslora;      /* scale alpha / sqrt(r) instead of alpha / r */
    unsigned targets;    /* bit (1u << anc_lora_module) per adapted projection, nonzero */
} anc_lora_config;

/* TRL's ModelConfig defaults: r 16, alpha 32, dropout 0.05, PEFT's default
 * targets for Llama (q_proj, v_proj), no rsLoRA. */
void anc_lora_config_default(anc_lora_config *c);

/* Checks r (1..65536), alpha (> 0), dropout ([0, 1)) and targets. */
anc_status anc_lora_config_check(const anc_lora_config *c, anc_error *err);

/* "q_proj" ... "down_proj". */
const char *anc_lora_module_name(anc_lora_module mod);

/* Parses target names ("q_proj", "v_proj", ...; "all-linear" for all seven
 * projections, never lm_head, as PEFT) given as n strings, each possibly a
 * comma-separated list, into a bit mask. Unknown names are an error that
 * lists the valid ones. */
anc_status anc_lora_parse_targets(const char *const *names, int n, unsigned *mask, anc_error *err);

/* The adapter of one projection: A [r, in], B [out, r] inside the slab;
 * A == NULL when that projection is not adapted. */
typedef struct anc_lora_pair {
    float *A, *B;
    int in, out;
} anc_lora_pair;

typedef struct anc_lora {
    anc_lora_config cfg;
    float scale;                /* alpha / r, or alpha / sqrt(r) */
    int n_layers;
    float *params;              /* the adapter slab, n_params floats, owned */
    size_t n_params;
    anc_param_spec *specs;      /* PEFT tensor names, shapes, offsets; owned */
    size_t n_specs;
    anc_lora_pair *at;          /* [n_layers * ANC_LORA_NMOD], views into params; owned */
    float *grads;               /* NULL until anc_lora_alloc_grads; same layout; owned */
    anc_lora_pair *gat;         /* views into grads (NULL until allocated); owned */
    /* Dropout is applied only while training is set; its masks are a pure
     * function of (seed, pass, layer, projection, element), so the forward
     * re-run of backward and a resumed run draw the same masks. */
    int training;
    uint64_t dropout_seed, dropout_pass;
} anc_lora;

/* Creates an adapter for a model of config mc with all adapter weights
 * zero. Errors: invalid r/alpha/dropout/targets. */
anc_status anc_lora_create(anc_lora **out, const anc_config *mc, const anc_lora_config *lc, anc_error *err);
void anc_lora_free(anc_lora *l);
/* PEFT's initialisation: A uniform in +-1/sqrt(in) from seed, B zero. */
void anc_lora_init(anc_lora *l, uint64_t seed);
/* Allocates the zeroed gradient slab (idempotent). */
anc_status anc_lora_alloc_grads(anc_lora *l, anc_error *err);

/* The pair of layer/projection (A NULL when not adapted). */
static inline const anc_lora_pair *anc_lora_get(const anc_lora *l, int layer, anc_lora_module mod) {
    return &l->at[(size_t)layer * ANC_LORA_NMOD + mod];
}

/* Floats of scratch anc_lora_forward / anc_lora_backward need for n
 * tokens with inputs of at most max_in features. */
size_t anc_lora_scratch_floats(const anc_lora *l, int64_t n, int max_in);

/* out[N, out] += scale * B (A dropout(inp)) for projection mod of layer.
 * No-op when that projection is not adapted. scratch: anc_lora_scratch_floats. */
void anc_lora_forward(anc_mm *mm, const anc_lora *l, int layer, anc_lora_module mod, float *out, const float *inp,
                      int64_t N, float *scratch);
/* Backward of anc_lora_forward given dout[N, out]: ACCUMULATES d/dA and
 * d/dB into l->grads (when allocated) and d/dinp into dinp (may be NULL). */
void anc_lora_backward(anc_mm *mm, const anc_lora *l, int layer, anc_lora_module mod, float *dinp, const float *dout,
                       const float *inp, int64_t N, float *scratch);

/* PEFT's files: adapter_config.json and adapter_model.safetensors (f32,
 * names as base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight)
 * written into dir (created). base_model (may be NULL) is recorded as
 * base_model_name_or_path. Atomic per file. */
anc_status anc_lora_save_peft(const anc_lora *l, const char *dir, const char *base_model, anc_error *err);
/* Reads a PEFT LoRA adapter folder for a model of config mc. Refuses what
 * anchor does not implement (DoRA, rank/alpha patterns, biases, layer
 * subsets, fan_in_fan_out, modules_to_save, regex targets) and any tensor
 * missing, unexpected or of the wrong shape, naming the file and tensor.
 * dropout is taken from the file (0 when absent). */
anc_status anc_lora_load_peft(anc_lora **out, const char *dir, const anc_config *mc, anc_error *err);
/* Adds scale * B A into the base weights of m's fp32 slab (PEFT's
 * merge_and_unload); refreshes m's bf16 copy when it has one. */
struct anc_model;
anc_status anc_lora_merge(const anc_lora *l, struct anc_model *m, anc_error *err);

/* Loads the HF model in model_dir and, when adapter_dir is non-NULL,
 * merges that PEFT adapter into it (for generation, scoring, evaluation:
 * the adapted model at the base's cost). *out is owned by the caller. */
anc_status anc_model_load_adapted(struct anc_model **out, const char *model_dir, const char *adapter_dir, anc_error *err);

/* anchor merge: base + adapter -> a merged HF folder (PEFT's
 * merge_and_unload then save_pretrained), tokenizer files copied. out_dir
 * must not be, hold or lie inside either input. dtype: F32, F16, BF16 or
 * ANC_DT_INVALID for the base's own. */
typedef struct anc_merge_opts {
    const char *model_dir, *adapter_dir, *out_dir;
    int dtype;  /* anc_dtype */
} anc_merge_opts;
anc_status anc_merge_run(const anc_merge_opts *o, anc_error *err);

#endif
