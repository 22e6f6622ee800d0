/* Small-M bf16 products for decoding (gemm.h: anc_gemv_bf16). A decode
 * step multiplies a few rows of activations by every weight matrix, so it
 * is bound by reading the weights: each bf16 row of B is loaded once and
 * multiplied into all M rows of A with AVX512-BF16 vdpbf16ps (32 products
 * per instruction, fp32 accumulation), the rows of B split over OpenMP's
 * threads. OpenMP because under --bf16 oneDNN's matmul already runs on it
 * (libgomp) and OpenBLAS is held to one thread: one parallel runtime. This
 * file alone is built with -fopenmp (CMakeLists.txt). */
#include "tensor/gemm.h"

#include <immintrin.h>

/* Weight rows per OpenMP work item, and the smallest product (N * K) worth
 * waking the other threads for. */
#define ROWS_PER_ITEM 16
#define THREADED_MIN (1 << 16)

/* The 32 bf16 values at p (fewer at a row's end: the rest zero). */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static inline __m512bh load32(const uint16_t *p, int64_t left) {
    if (left >= 32) return (__m512bh)_mm512_loadu_si512((const void *)p);
    __mmask32 m = (__mmask32)((1ull << left) - 1);
    return (__m512bh)_mm512_maskz_loadu_epi16(m, (const void *)p);
}

/* C[0..M, n] for weight rows n in [n0, n1); M a constant after inlining, so
 * the accumulators stay in registers. */
__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline)) static inline void rows(
    const int M, int64_t n0, int64_t n1, int64_t K, const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb,
    int accumulate, float *C, int64_t ldc) {
    for (int64_t n = n0; n < n1; n++) {
        const uint16_t *w = B + n * ldb;
        __m512 acc[ANC_GEMV_MAX_M];
        for (int m = 0; m < M; m++) acc[m] = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 32) {
            __m512bh wv = load32(w + k, K - k);
            for (int m = 0; m < M; m++) acc[m] = _mm512_dpbf16_ps(acc[m], load32(A + m * lda + k, K - k), wv);
        }
        for (int m = 0; m < M; m++) {
            float s = _mm512_reduce_add_ps(acc[m]);
            C[m * ldc + n] = accumulate ? C[m * ldc + n] + s : s;
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void block(int64_t M, int64_t n0, int64_t n1, int64_t K,
                                                                          const uint16_t *A, int64_t lda, const uint16_t *B,
                                                                          int64_t ldb, int accumulate, float *C,
                                                                          int64_t ldc) {
    switch (M) {
    case 1: rows(1, n0, n1, K, A, lda, B, ldb, accumulate, C, ldc); break;
    case 2: rows(2, n0, n1, K, A, lda, B, ldb, accumulate, C, ldc); break;
    case 3: rows(3, n0, n1, K, A, lda, B, ldb, accumulate, C, ldc); break;
    default: rows(4, n0, n1, K, A, lda, B, ldb, accumulate, C, ldc); break;
    }
}

int anc_gemv_bf16_available(void) { return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw"); }

int anc_gemv_bf16(int64_t M, int64_t N, int64_t K, const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb,
                  int accumulate, float *C, int64_t ldc) {
    if (M < 1 || M > ANC_GEMV_MAX_M || N < 1 || K < 1 || !anc_gemv_bf16_available()) return -1;
    int64_t items = (N + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM;
#pragma omp parallel for schedule(static) if (N * K >= THREADED_MIN)
    for (int64_t i = 0; i < items; i++) {
        int64_t n0 = i * ROWS_PER_ITEM, n1 = n0 + ROWS_PER_ITEM < N ? n0 + ROWS_PER_ITEM : N;
        block(M, n0, n1, K, A, lda, B, ldb, accumulate, C, ldc);
    }
    return 0;
}
