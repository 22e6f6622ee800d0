/* anchor's models and tokenizers <-> GGUF, as llama.cpp's
 * convert_hf_to_gguf.py maps them (here in flow/, since it joins the model,
 * the tokenizer and the file formats of io/).
 *
 * Tensors (HF -> GGUF): model.embed_tokens -> token_embd,
 * layers.N.input_layernorm -> blk.N.attn_norm, self_attn.{q,k,v}_proj ->
 * attn_{q,k,v} (weights and biases), o_proj -> attn_output,
 * post_attention_layernorm -> ffn_norm, mlp.{gate,up,down}_proj ->
 * ffn_{gate,up,down}, model.norm -> output_norm, lm_head -> output (absent
 * when tied: llama.cpp then uses token_embd). A [out, in] matrix is ne =
 * [in, out]. Architecture "llama" (Llama and Mistral) stores q and k in
 * Meta's interleaved rotary order (llama.cpp's rope type NORM): GGUF row
 * h*D + 2j + s is HF row h*D + s*D/2 + j (LlamaModel.permute); "qwen2"
 * keeps HF's order (rope NEOX). rope_scaling llama3 adds rope_freqs.weight
 * [D/2], the factor each inverse frequency is divided by.
 *
 * Types: 1-D tensors and norms stay F32 (as the converter does); matrices
 * take the requested type, Q8_0 falling back to F16 for rows that are not a
 * multiple of 32. */
#ifndef ANCHOR_FLOW_GGUF_MODEL_H
#define ANCHOR_FLOW_GGUF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "model/model.h"

/* What anc_gguf_put_model added. */
typedef struct anc_gguf_model_counts {
    size_t tensors;       /* tensor infos added */
    size_t by_type[4];    /* of which F32, F16, BF16, Q8_0 */
    size_t q8_fallbacks;  /* matrices asked as Q8_0 and written as F16 (rows not a multiple of 32) */
    const char *arch;     /* "llama" or "qwen2" (static) */
} anc_gguf_model_counts;

/* Row orders and extra tensors that must live until the file is written. */
typedef struct anc_gguf_model_keep {
    int64_t *perm_q, *perm_k; /* GGUF row -> HF row of a q / k weight (and bias) */
    float *rope_factors;      /* rope_freqs.weight (llama3 rope scaling) */
    float *bias_copies;       /* llama's q/k biases in GGUF order */
} anc_gguf_model_keep;
/* Frees what k holds and zeroes it (NULL is a no-op). */
void anc_gguf_model_keep_free(anc_gguf_model_keep *k);

/* Adds the architecture's hyper-parameters (general.architecture,
 * general.name (name may be NULL: not written), general.file_type,
 * general.quantization_version, <arch>.context_length, embedding_length,
 * block_count, feed_forward_length, attention.head_count(_kv),
 * attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count,
 * attention.key_length/value_length when head_dim != hidden/heads, vocab_size)
 * and every tensor of m (borrowed until the write) to w. type is the matrix
 * type: ANC_GGML_F32, _F16, _BF16 or _Q8_0. keep must be zeroed; free it
 * after anc_gguf_write. A model with a bf16-only frozen base cannot be
 * exported (ANC_ERR_INVALID). */
anc_status anc_gguf_put_model(anc_gguf_writer *w, const anc_model *m, uint32_t type, const char *name,
                              anc_gguf_model_keep *keep, anc_gguf_model_counts *counts, anc_error *err);

/* What anc_gguf_put_vocab added. */
typedef struct anc_gguf_vocab_info {
    const char *model;     /* "gpt2" or "llama" (static) */
    char pre[32];          /* tokenizer.ggml.pre */
    size_t tokens, merges; /* array lengths written */
    int add_bos, add_eos;  /* as anchor's encode adds them */
    size_t templates;      /* chat templates written */
} anc_gguf_vocab_info;

/* Adds tokenizer.ggml.* and tokenizer.chat_template* from model_dir's
 * tokenizer.json and tokenizer_config.json for a model of configuration cfg
 * (its vocab_size embedding rows; its bos/eos ids where the tokenizer
 * config names none, as the converter's SpecialVocab does): the tokens of every id (ids the tokenizer lacks as
 * "[PADn]", type UNUSED), token types (NORMAL, UNKNOWN, CONTROL for special
 * added tokens, USER_DEFINED for the others, BYTE for <0xNN> of byte-fallback
 * vocabularies), the merges, for "llama" (byte-fallback BPE,
 * SentencePiece-style) scores (-(rank + 1) of the first merge making a
 * token; 0 for characters, bytes and specials; -1e9, SentencePiece's
 * lowest, for longer tokens no merge makes) and
 * add_space_prefix, bos/eos/unk/pad ids, add_bos_token / add_eos_token as
 * anchor's own encode applies them, and the chat templates. A byte-level
 * BPE ("gpt2") needs a pre-tokenizer llama.cpp knows: recognised from
 * tokenizer.json (gpt-2, qwen2, llama-bpe, smollm) unless pre (non-NULL)
 * names one. Errors: ANC_ERR_IO (missing tokenizer.json), ANC_ERR_FORMAT
 * (ids outside vocab_size), ANC_ERR_UNSUPPORTED (another tokenizer model,
 * an unrecognised pre-tokenizer). */
anc_status anc_gguf_put_vocab(anc_gguf_writer *w, const char *model_dir, const anc_config *cfg, const char *pre,
                              anc_gguf_vocab_info *info, anc_error *err);

/* Builds an anchor model from a GGUF of architecture llama or qwen2 with
 * F32, F16, BF16 or Q8_0 tensors (the inverse of anc_gguf_put_model,
 * llama's q/k rows back to HF order, rope_freqs back to a llama3
 * rope_scaling). Every tensor must be one the architecture has, with the
 * shape the hyper-parameters imply. *out is the caller's. Errors name the
 * file, key or tensor: ANC_ERR_FORMAT, ANC_ERR_UNSUPPORTED (another
 * architecture, tensor type, rope scaling or partial rotary dimension). */
anc_status anc_gguf_load_model(const anc_gguf *g, anc_model **out, anc_error *err);

/* tokenizer.json and tokenizer_config.json texts (caller frees both) for
 * the vocabulary of g: gpt2 -> byte-level BPE with the pre-tokenizer named
 * by tokenizer.ggml.pre (gpt-2/default, qwen2, llama-bpe, smollm); llama ->
 * byte-fallback BPE in the Llama-2 form (Prepend/Replace normalizer unless
 * add_space_prefix is false), merges from tokenizer.ggml.merges or, when
 * absent, derived from the scores (every split of a token into two tokens,
 * highest score first). CONTROL/UNKNOWN tokens become special added
 * tokens, USER_DEFINED ones plain added tokens; the config names bos, eos,
 * unk, pad, add_bos_token, add_eos_token and the chat template. */
anc_status anc_gguf_vocab_to_hf(const anc_gguf *g, char **tokenizer_json, char **tokenizer_config, anc_error *err);

/* What anc_gguf_import made. */
typedef struct anc_gguf_import_result {
    char arch[16];
    size_t tensors;
    size_t n_params;
    int vocab_size, num_layers;
    int tokenizer; /* 1: tokenizer files written */
} anc_gguf_import_result;

/* anchor convert --from gguf: the GGUF at path -> a Hugging Face folder
 * out_dir (config.json, model.safetensors in dtype F32/F16/BF16,
 * tokenizer.json and tokenizer_config.json when the file has a
 * vocabulary). */
anc_status anc_gguf_import(const char *path, const char *out_dir, anc_dtype dtype, anc_gguf_import_result *res,
                           anc_error *err);

#endif
