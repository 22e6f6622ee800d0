/* RMSNorm (Llama): out = x · rstd · weight, rstd = 1/sqrt(mean(x²) + eps).
 * Operation order follows transformers' LlamaRMSNorm in fp32:
 * weight * (x * rsqrt(variance + eps)). */
#include <math.h>

#include "tensor/ops.h"
#include "tensor/ops_internal.h"

void anc_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                         int64_t N, int C, float eps) {
    ANC_OMP("omp parallel for schedule(static) if (N * (int64_t)C >= ANC_OMP_MIN_WORK)")
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *o = out + n * C;
        float ms = C > 0 ? (float)(anc_row_dot(x, x, C) / C) : 0.0f;
        float r = 1.0f / sqrtf(ms + eps);
        rstd[n] = r;
        for (int i = 0; i < C; i++) o[i] = weight[i] * (x[i] * r);
    }
}

/* With y_i = w_i x_i r and r = (mean(x²) + eps)^-1/2, dr/dx_j = -r³ x_j / C:
 *   dx_j = r w_j dy_j - x_j (r³/C) Σ_i dy_i w_i x_i
 *   dw_j = Σ_n dy_j x_j r. */
void anc_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                          const float *weight, const float *rstd, int64_t N, int C) {
    if (N <= 0 || C <= 0) return;
    ANC_OMP("omp parallel for schedule(static) if (N * (int64_t)C >= ANC_OMP_MIN_WORK)")
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C;
        float *dx = dinp + n * C;
        float r = rstd[n];
        double dot = 0.0;
        for (int i = 0; i < C; i++) dot += (double)dy[i] * weight[i] * x[i];
        float k = (float)(dot * r * r * r / C);
        for (int i = 0; i < C; i++) dx[i] += r * weight[i] * dy[i] - x[i] * k;
    }
    if (dweight) {
        /* Threads own disjoint column ranges and sum over all rows: no races,
         * and the result does not depend on the thread count. */
        ANC_OMP("omp parallel if (N * (int64_t)C >= ANC_OMP_MIN_WORK && C >= 64)")
        {
            int64_t c0, c1;
            anc_thread_range(C, &c0, &c1);
            for (int64_t n = 0; n < N; n++) {
                const float *x = inp + n * C, *dy = dout + n * C;
                float r = rstd[n];
                for (int64_t i = c0; i < c1; i++) dweight[i] += dy[i] * x[i] * r;
            }
        }
    }
}
