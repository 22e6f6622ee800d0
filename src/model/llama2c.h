/* Import of llama2.c "v0" checkpoints (karpathy/llama2.c run.c format):
 * a header of 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size — negative when the classifier is not shared — and seq_len),
 * then fp32 weights. Query/key rows are permuted from Meta's interleaved
 * rotary layout into Hugging Face's rotate_half layout, so the imported model
 * computes exactly what llama2.c computes. */
#ifndef ANCHOR_MODEL_LLAMA2C_H
#define ANCHOR_MODEL_LLAMA2C_H

#include "core/error.h"
#include "model/model.h"

/* Reads path and returns a new model (caller frees with anc_model_free).
 * Every size is checked against the file size; errors name the file. */
anc_status anc_llama2c_load(anc_model **out, const char *path, anc_error *err);

#endif
