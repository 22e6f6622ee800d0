/* The engine's matrix products behind one interface, in two precisions:
 *   fp32: C = alpha * op(A) op(B) + beta * C through OpenBLAS sgemm;
 *   bf16: the same with A and B in bfloat16 (uint16_t bit patterns) and the
 *         products accumulated and C kept in fp32 (what PyTorch's bf16
 *         autocast does on CPU), through oneDNN's matmul primitive, which
 *         uses AVX512-BF16 (vdpbf16ps) where the CPU has it.
 * Matrices are row-major; op(X) is X or its transpose (trans_x); lda, ldb,
 * ldc are row strides in elements. oneDNN primitives are built once per
 * shape and kept in the caller's anc_gemm context (no global state), so a
 * training step of repeated shapes pays the set-up once.
 *
 * Threading: OpenBLAS runs on its own pthreads; Debian's oneDNN runs on
 * OpenMP (libgomp). Both use every core for one product at a time and never
 * run at once (calls are sequential), see docs/performance.md. */
#ifndef ANCHOR_TENSOR_GEMM_H
#define ANCHOR_TENSOR_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct anc_gemm anc_gemm;

/* A context for bf16 products (oneDNN engine, stream, primitive cache).
 * Errors: ANC_ERR_UNSUPPORTED when oneDNN has no CPU engine. Release with
 * anc_gemm_free. One context is used by one thread at a time. */
anc_status anc_gemm_create(anc_gemm **out, anc_error *err);
void anc_gemm_free(anc_gemm *g);

/* fp32 product (OpenBLAS). Never fails. */
void anc_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* bf16 operands, fp32 accumulation and output. Errors: ANC_ERR_UNSUPPORTED
 * when this CPU has no bf16 matmul implementation in oneDNN (the caller
 * falls back to fp32), ANC_ERR_INVALID for bad shapes, ANC_ERR_NOMEM. */
anc_status anc_gemm_bf16(anc_gemm *g, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc,
                         anc_error *err);

/* The oneDNN implementation the last bf16 product used (e.g.
 * "brg:avx512_core_bf16"), or "none" before the first. Owned by g. */
const char *anc_gemm_bf16_kernel(const anc_gemm *g);

/* Number of primitives built so far (each distinct shape builds one). */
size_t anc_gemm_primitives_built(const anc_gemm *g);

/* The decoding product (tensor/gemv_bf16.c): C[M,N] = A[M,K] · B[N,K]^T,
 * plus C when accumulate, for M <= ANC_GEMV_MAX_M rows, A and B in bf16 and
 * fp32 accumulation (as anc_gemm_bf16 computes it, up to summation order).
 * Each row of B is read once for all M rows, with AVX512-BF16, the rows of
 * B split over OpenMP's threads (the runtime oneDNN's matmul uses). Returns
 * 0 when done, -1 (nothing written) for another M or a CPU without
 * AVX512-BF16; the caller then uses anc_gemm_bf16. */
/* Measured on the SmolLM2-135M shape (bench_generate --bf16 --batch M,
 * 2-core EPYC): tokens/s against oneDNN's matmul 84 vs 45 at M = 1, 121 vs
 * 88 at 2, 153 vs 126 at 4, but 151 vs 171 at 8; so up to 4 rows. */
#define ANC_GEMV_MAX_M 4
int anc_gemv_bf16(int64_t M, int64_t N, int64_t K, const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb,
                  int accumulate, float *C, int64_t ldc);
/* 1 when anc_gemv_bf16 runs on this CPU. */
int anc_gemv_bf16_available(void);

/* Rounds n floats to bf16 (nearest even) into dst; with AVX512-BF16 (chosen
 * at run time) 16 at a time, denormal inputs then becoming zero. */
void anc_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);

/* The matrix-product context the engine's ops take (tensor/ops.h): with
 * g NULL every product is fp32 (OpenBLAS); with g set, both operands are
 * rounded to bf16 and multiplied by oneDNN with fp32 accumulation, as
 * PyTorch's bf16 autocast does. An operand lying inside the registered
 * weight slab [slab, slab + slab_n) is read from its bf16 copy slab16 (same
 * offsets) instead of being converted on every call; other operands are
 * converted into the context's buffers. Ops return nothing, so the first
 * failure is kept in status/message (that product is then done in fp32)
 * for the caller to report. Products of at most ANC_GEMV_MAX_M rows by a
 * weight matrix of the slab (decoding) go through anc_gemv_bf16 where the
 * CPU has AVX512-BF16. With slab_bf16_only set, the slab has no
 * readable fp32 values (a frozen bf16 base): a failed product with an
 * operand in it is left undone instead. Zero-initialise, then set the
 * fields; release with anc_mm_release (frees g and the buffers). */
typedef struct anc_mm {
    anc_gemm *g;
    const float *slab;
    const uint16_t *slab16;
    size_t slab_n;
    int slab_bf16_only;
    uint16_t *buf[2];
    size_t cap[2];
    anc_status status;
    char message[256];
} anc_mm;

/* C[M,N] = alpha op(A) op(B) + beta C through mm (NULL: fp32). */
void anc_mm_gemm(anc_mm *mm, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void anc_mm_release(anc_mm *mm);

#endif
