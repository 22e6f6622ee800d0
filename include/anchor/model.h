/* libanchor public API: Llama-family models (Llama, Mistral, Qwen2) held in
 * fp32, loaded from and saved to Hugging Face model folders (config.json +
 * model.safetensors or shards listed in model.safetensors.index.json).
 *
 * An anc_model is opaque. Calls that take a `const anc_model *` (saving,
 * info, scoring, generation) do not change it. */
#ifndef ANCHOR_PUBLIC_MODEL_H
#define ANCHOR_PUBLIC_MODEL_H

#include "anchor/common.h"

ANC_EXTERN_C_BEGIN

typedef struct anc_model anc_model;

/* What a model is, for display and for sizing buffers (anc_model_get_info). */
typedef struct anc_model_info {
    const char *architecture;    /* "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM" (static) */
    const char *model_type;      /* "llama", "mistral", "qwen2" (static) */
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;
    int max_position_embeddings;
    int tie_word_embeddings;     /* 1: lm_head shares the embedding matrix */
    int bos_token_id, eos_token_id;  /* -1 when config.json names none */
    uint64_t n_params;           /* parameters held (a tied lm_head counted once) */
    anc_dtype source_dtype;      /* dtype of the loaded weight files (F32 for a created model) */
} anc_model_info;

/* Loads the Hugging Face model folder dir: config.json plus
 * model.safetensors, or the shards model.safetensors.index.json lists.
 * Tensors may be F32, F16 or BF16 and are converted to fp32. On success *out
 * is a new model (release with anc_model_free); on failure *out is NULL and
 * err names the file and the tensor: ANC_ERR_IO (missing or unreadable
 * file), ANC_ERR_FORMAT (malformed config or weights, a tensor missing or
 * of the wrong shape), ANC_ERR_UNSUPPORTED (another architecture),
 * ANC_ERR_NOMEM. Tokenizer files are not read (see anchor/tokenizer.h). */
ANC_API anc_status anc_model_load_hf(anc_model **out, const char *dir, anc_error *err);

/* Creates a model from the text of a config.json (config_json[0..len), need
 * not be NUL-terminated, not kept) with freshly initialised weights, as
 * transformers does for a new model: every matrix normal(0, init_std) drawn
 * from seed, norm weights 1, biases 0. init_std <= 0 means 0.02. The same
 * seed gives the same weights (with the same C math library). On success *out is a new
 * model (anc_model_free); errors: ANC_ERR_FORMAT / ANC_ERR_UNSUPPORTED for
 * the config (naming the key), ANC_ERR_INVALID for inconsistent sizes,
 * ANC_ERR_NOMEM. */
ANC_API anc_status anc_model_create_random(anc_model **out, const char *config_json, size_t len, uint64_t seed,
                                           double init_std, anc_error *err);

/* Writes m as a Hugging Face folder: config.json and model.safetensors with
 * tensors in dtype F32, F16 or BF16 (rounded to nearest even), creating dir
 * (and its parents) when absent; files are written atomically (replaced
 * whole or not at all). A tied lm_head is not written, as transformers does.
 * Only the weights are written: copy tokenizer files yourself. Errors:
 * ANC_ERR_INVALID (another dtype), ANC_ERR_IO naming the path. */
ANC_API anc_status anc_model_save_hf(const anc_model *m, const char *dir, anc_dtype dtype, anc_error *err);

/* Releases m and everything it holds. NULL is a no-op. */
ANC_API void anc_model_free(anc_model *m);

/* Fills *info (every field) from m. Strings are static. Never fails. */
ANC_API void anc_model_get_info(const anc_model *m, anc_model_info *info);

/* Activations and scratch of the model's passes (anchor/score.h). Grows on
 * demand to the largest micro-batch seen; reuse one per thread across calls
 * to avoid reallocating. Not tied to one model. */
typedef struct anc_acts anc_acts;

/* A new, empty anc_acts for passes that only run forward (scoring), or
 * NULL when out of memory. Release with anc_acts_free. */
ANC_API anc_acts *anc_acts_create_forward_only(void);

/* Releases a (NULL is a no-op). */
ANC_API void anc_acts_free(anc_acts *a);

ANC_EXTERN_C_END

#endif
