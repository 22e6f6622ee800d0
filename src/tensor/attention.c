/* Causal grouped-query self-attention over packed sequences.
 *
 * Per sequence and q head, the L×L score matrix is never materialised whole:
 * queries are processed in row blocks of ATTN_BLOCK rows, and block [r0, r1)
 * only needs keys [0, r1) (causality). Each block's scores, probabilities
 * and their gradients live in scratch (2·ATTN_BLOCK·L floats), and every
 * product is one sgemm reading Q/K/V/O in place through leading dimensions
 * H·D and KVH·D (no head transposes). Row blocking roughly halves the work
 * of a full L×L product for long sequences, and keeps the blocks in cache.
 *
 * Forward saves lse = log Σ_j exp(s_ij) per (token, head); backward
 * recomputes P = exp(S − lse) block by block (flash-attention style), so no
 * L×L matrix is kept between calls. */
#include <math.h>

#include "tensor/ops.h"
#include "tensor/ops_internal.h"

#include <cblas.h>
/* <cblas.h> includes <complex.h>, whose macro I would clobber the
 * parameter name I of ops.h. */
#undef I

/* Query rows per block. Smaller wastes less of the upper triangle, larger
 * makes each sgemm more efficient; 64 is the sweet spot for head_dim 64 on
 * a 2-core AVX-512 machine. */
#ifndef ATTN_BLOCK
#define ATTN_BLOCK 64
#endif

size_t anc_attention_scratch_floats(int64_t max_seq_len) {
    if (max_seq_len <= 0) return 0;
    int64_t br = max_seq_len < ATTN_BLOCK ? max_seq_len : ATTN_BLOCK;
    return (size_t)(2 * br * max_seq_len);
}

static inline float attn_scale(int D) { return (float)(1.0 / sqrt((double)D)); }

/* Forward softmax of one block: S[nb, r1] holds scaled scores of query rows
 * r0..r0+nb-1 against keys 0..r1-1. Row i may see keys 0..i. Writes the
 * UNnormalised exp(s − rowmax) in place (zeros above the diagonal), the
 * row normalisers 1/Σ to inv_sum[nb] (applied to the D-wide output rows
 * after P·V, cheaper than to the r1-wide rows of P), and the lse of each
 * row to lse_out[ii * lse_stride]. */
static void softmax_block_fwd(float *S, float *inv_sum, float *lse_out, int64_t lse_stride,
                              int64_t r0, int64_t nb, int64_t r1) {
    /* Serial on purpose: an OpenMP region between the sgemm calls leaves
     * libgomp's workers spinning while OpenBLAS's threads need the cores,
     * which measured 30x slower overall on 2 cores. */
    for (int64_t ii = 0; ii < nb; ii++) {
        float *row = S + ii * r1;
        int64_t nv = r0 + ii + 1; /* visible keys */
        float m = anc_row_max(row, nv);
        double sum = anc_exp_sub_sum(row, nv, m); /* >= 1: the max term is e^0 */
        for (int64_t j = nv; j < r1; j++) row[j] = 0.0f;
        inv_sum[ii] = (float)(1.0 / sum);
        lse_out[ii * lse_stride] = m + (float)log(sum);
    }
}

void anc_attention_forward(float *out, float *lse, const float *q, const float *k,
                           const float *v, const int64_t *seq_offsets, int n_seqs, int H,
                           int KVH, int D, float *scratch) {
    const int64_t qs = (int64_t)H * D, ks = (int64_t)KVH * D; /* row strides */
    const int group = H / KVH;                                 /* q heads per kv head */
    const float scale = attn_scale(D);
    float inv_sum[ATTN_BLOCK];
    for (int s = 0; s < n_seqs; s++) {
        int64_t t0 = seq_offsets[s], L = seq_offsets[s + 1] - t0;
        if (L <= 0) continue;
        for (int h = 0; h < H; h++) {
            int g = h / group;
            const float *Q = q + t0 * qs + (int64_t)h * D; /* [L, D], ld qs */
            const float *K = k + t0 * ks + (int64_t)g * D; /* [L, D], ld ks */
            const float *Vh = v + t0 * ks + (int64_t)g * D;
            float *O = out + t0 * qs + (int64_t)h * D;
            for (int64_t r0 = 0; r0 < L; r0 += ATTN_BLOCK) {
                int64_t nb = L - r0 < ATTN_BLOCK ? L - r0 : ATTN_BLOCK, r1 = r0 + nb;
                float *S = scratch; /* [nb, r1] */
                /* S = scale · Q[r0:r1] · K[0:r1]^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)r1, D, scale,
                            Q + r0 * qs, (int)qs, K, (int)ks, 0.0f, S, (int)r1);
                softmax_block_fwd(S, inv_sum, lse + (t0 + r0) * H + h, H, r0, nb, r1);
                /* O[r0:r1] = diag(1/Σ) · exp(S − max) · V[0:r1] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, D, (int)r1, 1.0f,
                            S, (int)r1, Vh, (int)ks, 0.0f, O + r0 * qs, (int)qs);
                for (int64_t ii = 0; ii < nb; ii++)
                    for (int x = 0; x < D; x++) O[(r0 + ii) * qs + x] *= inv_sum[ii];
            }
        }
    }
}

/* Backward elementwise part of one block. On entry P holds scaled scores and
 * dP = dO·V^T; on exit P = exp(S − lse) and dP holds scale·dS with
 * dS = P ⊙ (dP − Δ), Δ_i = Σ_d dO_id O_id (= Σ_j P_ij dP_ij), both zero
 * above the diagonal. */
static void softmax_block_bwd(float *P, float *dP, const float *lse, int64_t lse_stride,
                              const float *dO, const float *O, int64_t qs, int D, float scale,
                              int64_t r0, int64_t nb, int64_t r1) {
    for (int64_t ii = 0; ii < nb; ii++) {
        float *p = P + ii * r1, *dp = dP + ii * r1;
        int64_t nv = r0 + ii + 1;
        float delta = (float)anc_row_dot(dO + ii * qs, O + ii * qs, D);
        float l = lse[ii * lse_stride];
        const anc_v4f lv = anc_v4f_splat(l), dv = anc_v4f_splat(delta), sv = anc_v4f_splat(scale);
        int64_t j = 0;
        for (; j + 4 <= nv; j += 4) { /* one fused pass: P and scale·dS */
            anc_v4f pj = anc_v4f_exp(anc_v4f_load(p + j) - lv);
            anc_v4f_store(p + j, pj);
            anc_v4f_store(dp + j, sv * pj * (anc_v4f_load(dp + j) - dv));
        }
        for (; j < nv; j++) {
            p[j] = anc_expf(p[j] - l);
            dp[j] = scale * p[j] * (dp[j] - delta);
        }
        for (; j < r1; j++) p[j] = dp[j] = 0.0f;
    }
}

void anc_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                            const float *out, const float *lse, const float *q,
                            const float *k, const float *v, const int64_t *seq_offsets,
                            int n_seqs, int H, int KVH, int D, float *scratch) {
    const int64_t qs = (int64_t)H * D, ks = (int64_t)KVH * D;
    const int group = H / KVH;
    const float scale = attn_scale(D);
    if (n_seqs <= 0) return;
    /* dk/dv are sums over query rows and over the q heads of a group: zero
     * them once, then every block accumulates (sgemm beta = 1). */
    int64_t first = seq_offsets[0], last = seq_offsets[n_seqs];
    if (last > first) {
        memset(dk + first * ks, 0, (size_t)((last - first) * ks) * sizeof(float));
        memset(dv + first * ks, 0, (size_t)((last - first) * ks) * sizeof(float));
    }
    for (int s = 0; s < n_seqs; s++) {
        int64_t t0 = seq_offsets[s], L = seq_offsets[s + 1] - t0;
        if (L <= 0) continue;
        for (int h = 0; h < H; h++) {
            int g = h / group;
            const float *Q = q + t0 * qs + (int64_t)h * D;
            const float *K = k + t0 * ks + (int64_t)g * D;
            const float *Vh = v + t0 * ks + (int64_t)g * D;
            const float *O = out + t0 * qs + (int64_t)h * D;
            const float *dO = dout + t0 * qs + (int64_t)h * D;
            float *dQ = dq + t0 * qs + (int64_t)h * D;
            float *dK = dk + t0 * ks + (int64_t)g * D;
            float *dV = dv + t0 * ks + (int64_t)g * D;
            for (int64_t r0 = 0; r0 < L; r0 += ATTN_BLOCK) {
                int64_t nb = L - r0 < ATTN_BLOCK ? L - r0 : ATTN_BLOCK, r1 = r0 + nb;
                float *P = scratch, *dP = scratch + nb * r1; /* both [nb, r1] */
                const float *Qb = Q + r0 * qs, *dOb = dO + r0 * qs;
                /* P := scale · Q_b K^T (scores; exponentiated below) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)r1, D, scale,
                            Qb, (int)qs, K, (int)ks, 0.0f, P, (int)r1);
                /* dP = dO_b V^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)r1, D, 1.0f,
                            dOb, (int)qs, Vh, (int)ks, 0.0f, dP, (int)r1);
                softmax_block_bwd(P, dP, lse + (t0 + r0) * H + h, H, dOb, O + r0 * qs, qs, D,
                                  scale, r0, nb, r1);
                /* dQ_b = scale·dS K  (each dq row belongs to exactly one block) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, D, (int)r1, 1.0f,
                            dP, (int)r1, K, (int)ks, 0.0f, dQ + r0 * qs, (int)qs);
                /* dK[0:r1] += (scale·dS)^T Q_b */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r1, D, (int)nb, 1.0f,
                            dP, (int)r1, Qb, (int)qs, 1.0f, dK, (int)ks);
                /* dV[0:r1] += P^T dO_b */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r1, D, (int)nb, 1.0f,
                            P, (int)r1, dOb, (int)qs, 1.0f, dV, (int)ks);
            }
        }
    }
}
