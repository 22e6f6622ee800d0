/* A Llama-family causal language model in fp32: configuration, one
 * parameter slab, and the packed-batch forward/backward that every part of
 * anchor (scoring, drafting, preference training) runs on.
 *
 * Data flow of one step:
 *   anc_batch (packed token ids + sequence offsets + response mask)
 *     -> anc_model_forward: per-token log p(token | earlier tokens of its
 *        sequence) for masked tokens, summed per sequence
 *     -> loss (caller) gives d loss / d token_logp
 *     -> anc_model_backward: accumulates d loss / d every parameter.
 * The vocabulary projection runs only over scored rows and in chunks, so the
 * [tokens x vocab] logits are never materialised. */
#ifndef ANCHOR_MODEL_MODEL_H
#define ANCHOR_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model/batch.h"
#include "model/config.h"
#include "model/params.h"

/* The public part (anchor/model.h): the anc_model and anc_acts types,
 * anc_model_load_hf, anc_model_create_random, anc_model_save_hf,
 * anc_model_free, anc_model_get_info, anc_acts_create_forward_only and
 * anc_acts_free. */
#include "anchor/model.h"

struct anc_model {
    anc_config cfg;
    float *params;              /* the slab: n_params floats, owned */
    size_t n_params;
    anc_param_spec *specs;      /* tensor table in HF order, owned */
    size_t n_specs;
    anc_param_view w;           /* named views into params */
    anc_dtype source_dtype;     /* dtype of the loaded weights (F32 for a new model) */
    float *inv_freq;            /* [head_dim/2] rotary inverse frequencies */
    uint16_t *params16;         /* NULL: fp32 products; else the slab in bf16 (anc_model_set_bf16), owned */
    struct anc_lora *lora;      /* NULL: the base model; else its LoRA adapters run too (model/lora.h), borrowed */
    int frozen16;               /* 1: a frozen base held only in bf16 (anc_model_create_frozen16) */
};

/* Creates a model of config cfg with all parameters zero. */
anc_status anc_model_create(anc_model **out, const anc_config *cfg, anc_error *err);
/* Creates a model of config cfg for a frozen bf16 base (LoRA with --bf16),
 * all parameters zero: its weight matrices exist only in params16, so the
 * model takes 2 bytes per parameter, not 4 + 2. params is then address
 * space only (reserved, never resident): it still names each tensor's
 * offset, which the bf16 products look up in params16, and only the pages
 * of the 1-D tensors (norms, biases) are usable fp32 memory, written
 * through the views as usual; reading a matrix through params faults.
 * Such a model runs forward, backward with grads NULL, and decoding, all
 * in bf16; it cannot leave bf16 or be saved, merged into, or trained in
 * full (those return ANC_ERR_INVALID). Fill matrices in params16. */
anc_status anc_model_create_frozen16(anc_model **out, const anc_config *cfg, anc_error *err);

/* Mixed precision as TRL's bf16 = True: on: the matrix products of linear
 * layers and the vocabulary projection take bf16 operands (weights from a
 * bf16 copy of the slab, activations and gradients rounded per product)
 * and accumulate in fp32; norms, softmax, attention, losses and the fp32
 * master weights are untouched. off: back to fp32 everywhere. */
anc_status anc_model_set_bf16(anc_model *m, int on, anc_error *err);
/* Refreshes the bf16 copy from the fp32 slab (after an optimiser step);
 * no-op in fp32 and for a frozen bf16 base. */
void anc_model_sync_bf16(anc_model *m);

/* Copies the embedding row of token id tok (checked by the caller) into
 * dst[hidden_size] as fp32, from the bf16 weights of a frozen base. */
void anc_model_embed_row(const anc_model *m, int32_t tok, float *dst);

/* Loads like anc_model_load_hf (anchor/model.h) into a frozen bf16 base
 * (anc_model_create_frozen16): each weight matrix is read from its file
 * straight into bf16 (BF16 files are copied, others rounded to nearest
 * even). Both loaders copy tensor by tensor and let the kernel drop each
 * tensor's file pages after its copy, so loading holds no full-size
 * temporary and the peak memory is the model as held. */
anc_status anc_model_load_hf_frozen16(anc_model **out, const char *dir, anc_error *err);

/* The weight files of a model directory: the shards named by
 * model.safetensors.index.json, else model.safetensors. *files is a malloc'd
 * array of n malloc'd paths (caller frees each and the array). */
anc_status anc_model_weight_files(const char *dir, char ***files, size_t *n_files, anc_error *err);

/* The files of a model folder beside its weights that travel with it
 * (tokenizer, special tokens, generation config, chat template), as a
 * NULL-terminated list of names; static storage. */
const char *const *anc_model_aux_files(void);

/* Bytes of activations and gradient buffers anc_model_forward/backward
 * hold per token of a micro-batch (excluding the vocabulary rows and
 * adapter scratch), for memory estimates; checkpointing as
 * anc_acts_set_checkpointing (only the residual stream of every layer is
 * kept, the inner activations of one layer at a time). */
size_t anc_model_act_bytes_per_token(const anc_config *cfg, int checkpointing);

/* Acts for training passes (anc_acts_create_forward_only, public, turns
 * checkpointing on for passes that only run forward). NULL when out of memory. */
anc_acts *anc_acts_create(void);
/* Gradient checkpointing per layer (TRL's gradient_checkpointing): on: a
 * forward keeps only the residual stream entering each layer, and backward
 * re-runs each layer's forward before its backward, so the activations of
 * one layer are held at a time for one more forward's work; results are
 * bit-identical to off. Takes effect at the next forward (a NULL a is a
 * no-op). Passes that only run forward (scoring) lose nothing with it on. */
void anc_acts_set_checkpointing(anc_acts *a, int on);
/* Bytes currently held by a. */
size_t anc_acts_bytes(const anc_acts *a);

/* Checks a batch against the model (offsets, ids in range, mask). */
anc_status anc_batch_validate(const anc_model *m, const anc_batch *b, anc_error *err);

/* Forward pass over a packed batch. token_logp[n_tokens] (may be NULL)
 * receives log p for scored tokens and 0 elsewhere; seq_logp[n_seqs] (may
 * be NULL) the per-sequence sums; logit_sum_seq[n_seqs] (may be NULL) the
 * sum over scored tokens of the mean logit over the vocabulary (TRL's
 * logits/chosen and logits/rejected metrics). Saves what backward needs in a. */
anc_status anc_model_forward(const anc_model *m, anc_acts *a, const anc_batch *b,
                             float *token_logp, float *seq_logp, float *logit_sum_seq,
                             anc_error *err);

/* Backward pass of the last forward on the same batch and acts: given
 * d_token_logp[n_tokens] (d loss / d token_logp; only scored tokens are
 * read), ACCUMULATES d loss / d parameters into grads (a slab of
 * m->n_params floats laid out like m->params), or, with grads NULL, into
 * nothing of the base (it is frozen: its weight products are skipped).
 * With m->lora set and its gradients allocated, d loss / d adapter
 * weights are accumulated into m->lora->grads. m->lora must be what the
 * forward ran with. */
anc_status anc_model_backward(const anc_model *m, anc_acts *a, const anc_batch *b,
                              const float *d_token_logp, float *grads, anc_error *err);

/* After a forward: the full logits [n_rows, V] of the given token rows
 * (the prediction for the token after each row). For tests, teacher-forced
 * checks and sampling. */
anc_status anc_model_logits_rows(const anc_model *m, anc_acts *a, const int64_t *rows,
                                 int64_t n_rows, float *logits, anc_error *err);

#endif
