/* Vocabulary projection fused with log-softmax at the target token.
 *
 * The full logits matrix of a step (R × V, e.g. 8192 × 49152 floats =
 * 1.6 GB) is never held: rows are taken LP_ROWS at a time and the
 * vocabulary LP_COLS columns at a time, so one chunk of logits (at most
 * 256 × 4096 floats = 4 MB) lives in scratch. The forward pass folds the
 * chunks into an online log-sum-exp (running max m and Σ exp(l − m)); the
 * backward pass recomputes each chunk's logits with one sgemm and turns them
 * straight into dlogits = dlogp·(onehot(target) − softmax), which two more
 * sgemms push into dh and dW.
 *
 * The elementwise work between the sgemms is deliberately serial (see
 * ANC_OMP_MIN_WORK in ops_internal.h): it is ~1% of the flops, and an
 * OpenMP region between sgemm calls slows the next sgemm by milliseconds. */
#include <float.h>
#include <math.h>

#include "tensor/ops.h"
#include "tensor/ops_internal.h"


#ifndef LP_ROWS
#define LP_ROWS 256  /* rows per chunk */
#endif
#ifndef LP_COLS
#define LP_COLS 4096 /* vocabulary columns per chunk */
#endif
/* Backward skips rows with dlogp == 0 (masked prompt tokens, padding) by
 * cutting the rows into pieces of consecutive rows; a run of zero rows
 * shorter than this stays inside a piece (computed as zero) rather than
 * splitting the sgemms into slivers. */
#define LP_GAP 16

static int64_t lp_rows(int64_t R) { return R < LP_ROWS ? R : LP_ROWS; }
static int64_t lp_cols(int V) { return V < LP_COLS ? V : LP_COLS; }

size_t anc_logprob_scratch_floats(int64_t R, int V) {
    if (R <= 0 || V <= 0) return 0;
    /* one logits chunk + a running exp-sum per chunk row */
    return (size_t)(lp_rows(R) * lp_cols(V) + lp_rows(R));
}

void anc_logprob_forward(anc_mm *mm, float *logp, float *lse, float *logit_sum, const float *h,
                         const float *W, const int32_t *targets, int64_t R, int C, int V,
                         float *scratch) {
    if (R <= 0 || V <= 0) return;
    float *logits = scratch;                           /* [nr, nv] */
    float *esum = scratch + lp_rows(R) * lp_cols(V);   /* [nr] */
    for (int64_t r0 = 0; r0 < R; r0 += LP_ROWS) {
        int64_t nr = R - r0 < LP_ROWS ? R - r0 : LP_ROWS;
        /* Running state: lse[r] holds the max so far, esum Σ exp(l − max),
         * logp[r] the target's logit, logit_sum[r] the sum of logits. */
        for (int64_t i = 0; i < nr; i++) {
            lse[r0 + i] = -FLT_MAX;
            esum[i] = 0.0f;
            logp[r0 + i] = 0.0f;
            if (logit_sum) logit_sum[r0 + i] = 0.0f;
        }
        for (int v0 = 0; v0 < V; v0 += LP_COLS) {
            int nv = V - v0 < LP_COLS ? V - v0 : LP_COLS;
            /* logits[nr, nv] = h[r0:r0+nr] · W[v0:v0+nv]^T */
            anc_mm_gemm(mm, 0, 1, nr, nv, C, 1.0f, h + r0 * C, C, W + (int64_t)v0 * C, C, 0.0f, logits, nv);
            for (int64_t i = 0; i < nr; i++) {
                int64_t r = r0 + i;
                float *row = logits + i * nv;
                int32_t t = targets[r];
                if (t >= v0 && t < v0 + nv) logp[r] = row[t - v0];
                if (logit_sum) logit_sum[r] += (float)anc_row_sum_f64(row, nv);
                float m = lse[r], cm = anc_row_max(row, nv);
                if (cm > m) {
                    /* new max: rescale what was summed against the old one */
                    esum[i] = (float)(esum[i] * exp((double)m - (double)cm));
                    m = cm;
                    lse[r] = m;
                }
                esum[i] += (float)anc_exp_sub_sum(row, nv, m);
            }
        }
        for (int64_t i = 0; i < nr; i++) {
            int64_t r = r0 + i;
            lse[r] = lse[r] + (float)log((double)esum[i]);
            logp[r] = logp[r] - lse[r];
        }
    }
}

/* Next piece of rows [*a, *b) at or after `from` holding non-zero dlogp:
 * at most LP_ROWS rows, starting and ending on non-zero rows, with no run
 * of LP_GAP or more zero rows inside. Returns 0 when none is left. */
static int next_piece(const float *dlogp, int64_t R, int64_t from, int64_t *a, int64_t *b) {
    int64_t s = from;
    while (s < R && dlogp[s] == 0.0f) s++;
    if (s >= R) return 0;
    int64_t e = s + 1;
    while (e < R && e - s < LP_ROWS) {
        if (dlogp[e] != 0.0f) {
            e++;
            continue;
        }
        int64_t z = e; /* measure the zero run starting at e */
        while (z < R && z - s < LP_ROWS && dlogp[z] == 0.0f) z++;
        if (z >= R || z - s >= LP_ROWS || z - e >= LP_GAP) break;
        e = z;
    }
    *a = s;
    *b = e;
    return 1;
}

void anc_logprob_backward(anc_mm *mm, float *dh, float *dW, const float *dlogp, const float *h,
                          const float *W, const int32_t *targets, const float *lse, int64_t R,
                          int C, int V, float *scratch) {
    if (R <= 0 || V <= 0) return;
    float *dlogits = scratch; /* [nr, nv] */
    int64_t a, b;
    for (int64_t from = 0; next_piece(dlogp, R, from, &a, &b); from = b) {
        int64_t nr = b - a;
        for (int v0 = 0; v0 < V; v0 += LP_COLS) {
            int nv = V - v0 < LP_COLS ? V - v0 : LP_COLS;
            const float *Wc = W + (int64_t)v0 * C;
            /* recompute logits[nr, nv] = h[a:b] · Wc^T */
            anc_mm_gemm(mm, 0, 1, nr, nv, C, 1.0f, h + a * C, C, Wc, C, 0.0f, dlogits, nv);
            /* d logp_r / d logit_rj = onehot(t_r)_j − softmax_rj */
            for (int64_t i = 0; i < nr; i++) {
                int64_t r = a + i;
                float *row = dlogits + i * nv;
                float d = dlogp[r];
                if (d == 0.0f) {
                    memset(row, 0, (size_t)nv * sizeof(float));
                    continue;
                }
                anc_exp_sub_scale(row, nv, lse[r], -d);
                int32_t t = targets[r];
                if (t >= v0 && t < v0 + nv) row[t - v0] += d;
            }
            /* dh[a:b] += dlogits · Wc */
            anc_mm_gemm(mm, 0, 0, nr, C, nv, 1.0f, dlogits, nv, Wc, C, 1.0f, dh + a * C, C);
            /* dW[v0:v0+nv] += dlogits^T · h[a:b] */
            if (dW)
                anc_mm_gemm(mm, 1, 0, nv, C, nr, 1.0f, dlogits, nv, h + a * C, C, 1.0f, dW + (int64_t)v0 * C, C);
        }
    }
}
