/* Incremental decoding with a KV cache: the drafting engine.
 *
 * A cache holds n_slots independent sequences (up to max_len tokens each).
 * anc_decode_step appends new tokens to several slots at once — a whole
 * prompt (prefill) or one sampled token per slot — and returns the logits of
 * the last new token of each slot. All new tokens of all slots go through the
 * linear layers as one matrix, so decoding several sequences together uses
 * BLAS far better than one at a time. */
#ifndef ANCHOR_MODEL_DECODE_H
#define ANCHOR_MODEL_DECODE_H

#include <stdint.h>

#include "anchor/generate.h" /* anc_sampling */
#include "core/error.h"
#include "core/rng.h"
#include "model/model.h"

typedef struct anc_kv_cache anc_kv_cache;

/* Creates a cache for m with n_slots slots of max_len tokens (all empty).
 * Memory: 2 x layers x n_slots x max_len x kv_heads x head_dim floats. */
anc_status anc_kv_create(anc_kv_cache **out, const anc_model *m, int n_slots, int max_len, anc_error *err);
void anc_kv_free(anc_kv_cache *kv);
/* Empties slot (its tokens are forgotten). */
void anc_kv_reset(anc_kv_cache *kv, int slot);
/* Tokens currently held by slot. */
int anc_kv_len(const anc_kv_cache *kv, int slot);

/* Appends tokens[i][0..n_tokens[i]) to slot slots[i] for i in [0, n) (slots
 * distinct, n_tokens[i] >= 1, room left in each slot) and writes the logits
 * of each slot's last new token to logits[i*V .. (i+1)*V). */
anc_status anc_decode_step(const anc_model *m, anc_kv_cache *kv, const int *slots, const int32_t *const *tokens,
                           const int *n_tokens, int n, float *logits, anc_error *err);

/* Draws a token from logits[V] (modified in place). */
int32_t anc_sample(float *logits, int V, const anc_sampling *s, anc_rng *rng);

#endif
