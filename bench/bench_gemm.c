/* GEMM peaks of this machine through anchor's GEMM layer (src/tensor/gemm.h):
 * fp32 (OpenBLAS) and bf16 operands with fp32 accumulation (oneDNN), best
 * of several runs, at M = 2048 rows (a training block) and N, K in the
 * shapes of SmolLM2-135M and Llama-style MLPs; then small M (decoding: one
 * to 64 sequences), reported as GB/s of weights read, the figure that
 * bounds decoding. Prints "key value" lines and the kernels used.
 *   bench_gemm [--reps K] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/blas.h"
#include "tensor/gemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct bufs {
    float *a, *b, *c;
    uint16_t *ab, *bb;
} bufs;

static void fill(bufs *x, size_t na, size_t nb, size_t nc) {
    x->a = malloc(sizeof(float) * na);
    x->b = malloc(sizeof(float) * nb);
    x->c = calloc(nc, sizeof(float));
    x->ab = malloc(sizeof(uint16_t) * na);
    x->bb = malloc(sizeof(uint16_t) * nb);
    if (!x->a || !x->b || !x->c || !x->ab || !x->bb) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < na; i++) x->a[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (size_t i = 0; i < nb; i++) x->b[i] = (float)(i % 5) * 0.1f - 0.2f;
    anc_f32_to_bf16_n(x->ab, x->a, na);
    anc_f32_to_bf16_n(x->bb, x->b, nb);
}

static void release(bufs *x) {
    free(x->a); free(x->b); free(x->c); free(x->ab); free(x->bb);
}

/* Best seconds of reps runs of C[M,N] = A[M,K] B[N,K]^T (nn.Linear layout). */
static double best_time(anc_gemm *g, int bf16, bufs *x, int64_t M, int64_t N, int64_t K, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* the first run builds the primitive */
        double t0 = now();
        if (bf16) {
            anc_error err = {0};
            if (anc_gemm_bf16(g, 0, 1, M, N, K, 1.0f, x->ab, K, x->bb, K, 0.0f, x->c, N, &err)) {
                fprintf(stderr, "bench_gemm: %s\n", err.message);
                exit(1);
            }
        } else {
            anc_gemm_f32(0, 1, M, N, K, 1.0f, x->a, K, x->b, K, 0.0f, x->c, N);
        }
        double t = now() - t0;
        if (r && t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    anc_blas_select_core(argv);
    int reps = 5;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
    anc_gemm *g = NULL;
    anc_error err = {0};
    if (anc_gemm_create(&g, &err)) {
        fprintf(stderr, "bench_gemm: %s\n", err.message);
        return 1;
    }
    printf("openblas_kernel %s\nopenblas_threads %d\n", anc_blas_corename(), anc_blas_threads());
    const int64_t M = 2048;
    const int64_t nk[][2] = {{576, 576}, {1536, 576}, {576, 1536}, {2048, 2048}, {4096, 4096}};
    double peak32 = 0, peak16 = 0;
    printf("# M=2048 training block, GFLOP/s (fp32 | bf16)\n");
    for (size_t s = 0; s < sizeof nk / sizeof nk[0]; s++) {
        int64_t N = nk[s][0], K = nk[s][1];
        bufs x;
        fill(&x, (size_t)(M * K), (size_t)(N * K), (size_t)(M * N));
        double f = 2.0 * (double)M * (double)N * (double)K;
        double g32 = f / best_time(g, 0, &x, M, N, K, reps) / 1e9, g16 = f / best_time(g, 1, &x, M, N, K, reps) / 1e9;
        printf("gemm_%lldx%lldx%lld_gflops %.1f %.1f\n", (long long)M, (long long)N, (long long)K, g32, g16);
        if (g32 > peak32) peak32 = g32;
        if (g16 > peak16) peak16 = g16;
        release(&x);
    }
    printf("bf16_kernel %s\n", anc_gemm_bf16_kernel(g));
    printf("fp32_peak_gflops %.1f\nbf16_peak_gflops %.1f\nbf16_over_fp32 %.2f\n", peak32, peak16, peak16 / peak32);
    printf("# small M (decoding), 8192 x 4096 weights (beyond the caches), GB/s of weights read (fp32 | bf16)\n");
    const int64_t ms[] = {1, 8, 64};
    for (size_t s = 0; s < sizeof ms / sizeof ms[0]; s++) {
        int64_t m = ms[s], N = 8192, K = 4096;
        bufs x;
        fill(&x, (size_t)(m * K), (size_t)(N * K), (size_t)(m * N));
        double t32 = best_time(g, 0, &x, m, N, K, reps), t16 = best_time(g, 1, &x, m, N, K, reps);
        printf("gemv_m%lld_weight_gbs %.1f %.1f\n", (long long)m, 4.0 * N * K / t32 / 1e9, 2.0 * N * K / t16 / 1e9);
        release(&x);
    }
    anc_gemm_free(g);
    return 0;
}
