/* Linear layer (PyTorch nn.Linear layout) on top of anc_mm_gemm. */

#include "tensor/ops.h"
#include "tensor/ops_internal.h"


void anc_linear_forward(anc_mm *mm, float *out, const float *inp, const float *W, const float *bias,
                        int64_t N, int I, int O) {
    if (N <= 0 || O <= 0) return;
    /* With a bias, pre-fill out with it and let sgemm accumulate (beta = 1):
     * one pass over out instead of a second sweep after the product. */
    if (bias) {
        ANC_OMP("omp parallel for schedule(static) if (N * (int64_t)O >= ANC_OMP_MIN_WORK)")
        for (int64_t n = 0; n < N; n++) memcpy(out + n * O, bias, (size_t)O * sizeof(float));
    }
    if (I <= 0) {
        if (!bias) memset(out, 0, (size_t)N * (size_t)O * sizeof(float));
        return;
    }
    const float beta = bias ? 1.0f : 0.0f;
    for (int64_t n0 = 0; n0 < N; n0 += ANC_BLAS_MAX_ROWS) {
        int64_t nb = N - n0 < ANC_BLAS_MAX_ROWS ? N - n0 : ANC_BLAS_MAX_ROWS;
        /* out[nb,O] = inp[nb,I] · W[O,I]^T */
        anc_mm_gemm(mm, 0, 1, nb, O, I, 1.0f, inp + n0 * I, I, W, I, beta, out + n0 * O, O);
    }
}

void anc_linear_backward(anc_mm *mm, float *dinp, float *dW, float *dbias, const float *dout,
                         const float *inp, const float *W, int64_t N, int I, int O) {
    if (N <= 0 || O <= 0) return;
    for (int64_t n0 = 0; n0 < N; n0 += ANC_BLAS_MAX_ROWS) {
        int64_t nb = N - n0 < ANC_BLAS_MAX_ROWS ? N - n0 : ANC_BLAS_MAX_ROWS;
        if (dinp && I > 0) /* dinp[nb,I] += dout[nb,O] · W[O,I] */
            anc_mm_gemm(mm, 0, 0, nb, I, O, 1.0f, dout + n0 * O, O, W, I, 1.0f, dinp + n0 * I, I);
        if (dW && I > 0) /* dW[O,I] += dout[nb,O]^T · inp[nb,I] */
            anc_mm_gemm(mm, 1, 0, O, I, nb, 1.0f, dout + n0 * O, O, inp + n0 * I, I, 1.0f, dW, I);
    }
    if (dbias) {
        /* Column sums. Threads own disjoint column ranges (no reduction
         * races) and walk rows in order, so reads stay contiguous. */
        ANC_OMP("omp parallel if (N * (int64_t)O >= ANC_OMP_MIN_WORK && O >= 64)")
        {
            int64_t o0, o1;
            anc_thread_range(O, &o0, &o1);
            for (int64_t n = 0; n < N; n++) {
                const float *d = dout + n * O;
                for (int64_t o = o0; o < o1; o++) dbias[o] += d[o];
            }
        }
    }
}
