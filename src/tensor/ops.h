/* CPU kernels of the Llama-family transformer, llm.c style: every op is a
 * forward/backward pair on raw row-major fp32 pointers, shapes in comments.
 * Matrix products of linear layers and the vocabulary projection go through
 * the anc_mm context of tensor/gemm.h (NULL: fp32 OpenBLAS; else bf16
 * operands with fp32 accumulation); attention's stay fp32. Unless stated otherwise,
 * backward functions ACCUMULATE (+=) into their gradient outputs, so callers
 * zero gradients once per step. Pointers marked "may be NULL" skip that
 * output. No function allocates; scratch buffers are supplied by the caller. */
#ifndef ANCHOR_TENSOR_OPS_H
#define ANCHOR_TENSOR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/gemm.h"

/* ---- linear: out[N,O] = inp[N,I] · W[O,I]^T + bias[O] ------------------
 * (I = in_dim, O = out_dim.) W is in PyTorch nn.Linear layout [out, in]. bias may be NULL. Overwrites out. */
void anc_linear_forward(anc_mm *mm, float *out, const float *inp, const float *W, const float *bias,
                        int64_t N, int in_dim, int out_dim);
/* dinp[N,I] += dout·W (dinp may be NULL); dW[O,I] += dout^T·inp (may be NULL);
 * dbias[O] += column sums of dout (may be NULL). */
void anc_linear_backward(anc_mm *mm, float *dinp, float *dW, float *dbias, const float *dout,
                         const float *inp, const float *W, int64_t N, int in_dim, int out_dim);

/* ---- RMSNorm: out[n,:] = inp[n,:] * rstd[n] * weight, rstd = 1/sqrt(mean(x²)+eps)
 * rstd[N] is saved for backward. Overwrites out and rstd. */
void anc_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                         int64_t N, int C, float eps);
/* dinp[N,C] += ..., dweight[C] += ... (dweight may be NULL). */
void anc_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                          const float *weight, const float *rstd, int64_t N, int C);

/* ---- RoPE (Hugging Face "rotate_half" convention: pairs (i, i + D/2)) ----
 * Scaling of the inverse frequencies, as transformers' rope_scaling. */
typedef enum { ANC_ROPE_DEFAULT = 0, ANC_ROPE_LLAMA3 = 1 } anc_rope_type;
typedef struct anc_rope_scaling {
    anc_rope_type type;
    float factor;
    float low_freq_factor;
    float high_freq_factor;
    float original_max_position_embeddings;
} anc_rope_scaling;

/* inv_freq[D/2] = 1/theta^(2i/D), then scaled (scaling may be NULL = none).
 * head_dim must be even. */
void anc_rope_inv_freq(float *inv_freq, int head_dim, float theta, const anc_rope_scaling *scaling);
/* cos/sin tables for N tokens: cos_t[N, D/2], sin_t[N, D/2] of pos[n]*inv_freq[i]
 * (angle computed in double, rounded to float as PyTorch does in fp32). */
void anc_rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq,
                    int64_t N, int head_dim);
/* In place on x[N, n_heads, D]: x := R(pos) x. */
void anc_rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t N, int n_heads,
                      int head_dim);
/* In place on dx[N, n_heads, D]: dx := R(pos)^T dx (the gradient wrt the
 * un-rotated input; overwrites, does not accumulate). */
void anc_rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t N, int n_heads,
                       int head_dim);

/* ---- causal self-attention over packed sequences --------------------------
 * q[N, H, D], k[N, KVH, D], v[N, KVH, D]; seq_offsets[n_seqs+1] are token
 * ranges (0 = first, N = last); attention is causal and never crosses a
 * sequence boundary. Grouped-query: q head h reads kv head h / (H/KVH).
 * scale = 1/sqrt(D). out[N, H, D] is overwritten; lse[N, H] saves each row's
 * log-sum-exp of scaled scores for backward. scratch holds at least
 * anc_attention_scratch_floats(max sequence length) floats. */
size_t anc_attention_scratch_floats(int64_t max_seq_len);
void anc_attention_forward(float *out, float *lse, const float *q, const float *k,
                           const float *v, const int64_t *seq_offsets, int n_seqs, int H,
                           int KVH, int D, float *scratch);
/* Given dout[N, H, D], writes (overwrites) dq[N,H,D], dk[N,KVH,D], dv[N,KVH,D]. */
void anc_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                            const float *out, const float *lse, const float *q,
                            const float *k, const float *v, const int64_t *seq_offsets,
                            int n_seqs, int H, int KVH, int D, float *scratch);

/* ---- SwiGLU: out[n] = silu(gate[n]) * up[n] ------------------------------ */
void anc_swiglu_forward(float *out, const float *gate, const float *up, int64_t n);
/* Overwrites dgate[n] and dup[n]. */
void anc_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, int64_t n);

/* ---- vocabulary projection + log-softmax, chunked ------------------------
 * For R rows of hidden states h[R, C] and the output matrix W[V, C]:
 * logp[r] = log_softmax(h[r]·W^T)[targets[r]]; lse[r] saves the log-sum-exp;
 * logit_sum[r] (may be NULL) = sum over the vocabulary of the logits (for
 * TRL's logits/chosen and logits/rejected metrics). Never holds more than one chunk of logits:
 * scratch holds anc_logprob_scratch_floats(R, V) floats. Targets must lie in
 * [0, V). */
size_t anc_logprob_scratch_floats(int64_t R, int V);
void anc_logprob_forward(anc_mm *mm, float *logp, float *lse, float *logit_sum, const float *h,
                         const float *W, const int32_t *targets, int64_t R, int C, int V,
                         float *scratch);
/* Given dlogp[R]: dh[R, C] += ..., dW[V, C] += ... (dW may be NULL).
 * Rows with dlogp[r] == 0 contribute nothing. */
void anc_logprob_backward(anc_mm *mm, float *dh, float *dW, const float *dlogp, const float *h,
                          const float *W, const int32_t *targets, const float *lse, int64_t R,
                          int C, int V, float *scratch);

#endif
