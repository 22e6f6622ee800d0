/* Llama-family model configuration, read from and written to Hugging Face
 * config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM). */
#ifndef ANCHOR_MODEL_CONFIG_H
#define ANCHOR_MODEL_CONFIG_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"
#include "tensor/ops.h"

typedef enum anc_arch { ANC_ARCH_LLAMA = 0, ANC_ARCH_MISTRAL, ANC_ARCH_QWEN2 } anc_arch;

typedef struct anc_config {
    anc_arch arch;
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;
    int max_position_embeddings;
    float rms_norm_eps;
    float rope_theta;
    anc_rope_scaling rope_scaling;   /* type ANC_ROPE_DEFAULT when absent */
    int tie_word_embeddings;
    int attention_bias;              /* q/k/v biases (Qwen2 always; Llama when attention_bias) */
    int bos_token_id;                /* -1 when absent */
    int eos_token_id;                /* first of a list; -1 when absent */
    int sliding_window;              /* 0 when absent/null (Mistral) */
    anc_dtype torch_dtype;           /* dtype the checkpoint declares (F32 when absent) */
} anc_config;

/* Architecture name as in config.json "architectures" ("LlamaForCausalLM"). */
const char *anc_arch_name(anc_arch a);
/* model_type string ("llama", "mistral", "qwen2"). */
const char *anc_arch_model_type(anc_arch a);

/* Parses a config.json text (len bytes). label names the file in errors
 * (which say the key and what was expected). Unknown architectures are
 * ANC_ERR_UNSUPPORTED naming the supported ones. */
anc_status anc_config_parse(anc_config *cfg, const char *json, size_t len, const char *label,
                            anc_error *err);
/* Reads and parses path. */
anc_status anc_config_load(anc_config *cfg, const char *path, anc_error *err);
/* Checks internal consistency (positive sizes, heads divide, even head_dim). */
anc_status anc_config_validate(const anc_config *cfg, const char *label, anc_error *err);
/* Writes cfg as an HF config.json to path (atomically); dtype is what the
 * saved weights use. */
anc_status anc_config_save(const anc_config *cfg, anc_dtype dtype, const char *path, anc_error *err);

#endif
