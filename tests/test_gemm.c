/* The GEMM layer: fp32 (OpenBLAS) and bf16 (oneDNN) products against a
 * double-precision product of the same operands, for every transpose
 * combination, padded leading dimensions, alpha and beta, and shapes from
 * one row (decoding) to a training block. bf16 x bf16 products are exact in
 * fp32, so both paths differ from the exact sum only by fp32 accumulation:
 * the stated bound is |C - C_exact| <= 2 K eps32 (|alpha| sum_k |a||b| + |beta c|),
 * eps32 = 2^-24. Primitives are built once per shape. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "tensor/gemm.h"

typedef struct shape {
    int64_t M, N, K;
} shape;

static float at(const float *X, int64_t ld, int trans, int64_t r, int64_t c) { return trans ? X[c * ld + r] : X[r * ld + c]; }

/* Fills a rows x cols operand stored (trans: transposed) with leading
 * dimension ld, values rounded to bf16 so both paths see the same numbers. */
static float *operand(tu_rng *rng, int64_t rows, int64_t cols, int trans, int64_t ld, uint16_t **bf) {
    int64_t stored_rows = trans ? cols : rows;
    size_t n = (size_t)(stored_rows * ld);
    float *x = malloc(sizeof(float) * n);
    *bf = malloc(sizeof(uint16_t) * n);
    assert_non_null(x);
    assert_non_null(*bf);
    for (size_t i = 0; i < n; i++) {
        x[i] = anc_bf16_to_f32(anc_f32_to_bf16(tu_rng_normal(rng)));
        (*bf)[i] = anc_f32_to_bf16(x[i]);
    }
    return x;
}

static void check_case(anc_gemm *g, shape s, int ta, int tb, int pad, float alpha, float beta, tu_rng *rng) {
    const int64_t M = s.M, N = s.N, K = s.K;
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    uint16_t *Ab, *Bb;
    float *A = operand(rng, M, K, ta, lda, &Ab), *B = operand(rng, K, N, tb, ldb, &Bb);
    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc)), *C32 = malloc(sizeof(float) * (size_t)(M * ldc)),
          *C16 = malloc(sizeof(float) * (size_t)(M * ldc));
    for (int64_t i = 0; i < M * ldc; i++) C0[i] = tu_rng_normal(rng);
    memcpy(C32, C0, sizeof(float) * (size_t)(M * ldc));
    memcpy(C16, C0, sizeof(float) * (size_t)(M * ldc));
    anc_gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C32, ldc);
    anc_error err = {0};
    TU_CHECK(anc_gemm_bf16(g, ta, tb, M, N, K, alpha, Ab, lda, Bb, ldb, beta, C16, ldc, &err), &err);
    const double eps = ldexp(1.0, -24);
    double worst32 = 0, worst16 = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            size_t ij = (size_t)(i * ldc + j);
            if (j >= N) { /* padding is never written */
                assert_true(C32[ij] == C0[ij] && C16[ij] == C0[ij]);
                continue;
            }
            double exact = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double p = (double)at(A, lda, ta, i, k) * at(B, ldb, tb, k, j);
                exact += p;
                mag += fabs(p);
            }
            double want = alpha * exact + beta * (double)C0[ij];
            double bound = 2.0 * (double)(K + 2) * eps * (fabs(alpha) * mag + fabs(beta * (double)C0[ij])) + 1e-30;
            double e32 = fabs(C32[ij] - want) / bound, e16 = fabs(C16[ij] - want) / bound;
            if (e32 > worst32) worst32 = e32;
            if (e16 > worst16) worst16 = e16;
        }
    if (worst32 > 1.0 || worst16 > 1.0)
        fail_msg("%lldx%lldx%lld ta=%d tb=%d pad=%d alpha=%g beta=%g: error / bound fp32 %.3f bf16 %.3f",
                 (long long)M, (long long)N, (long long)K, ta, tb, pad, alpha, beta, worst32, worst16);
    free(A); free(B); free(Ab); free(Bb); free(C0); free(C32); free(C16);
}

static void test_products_within_bound(void **state) {
    (void)state;
    anc_gemm *g = NULL;
    anc_error err = {0};
    TU_CHECK(anc_gemm_create(&g, &err), &err);
    tu_rng rng = {2024};
    const shape shapes[] = {{1, 96, 64}, {3, 17, 33}, {64, 64, 64}, {130, 70, 257}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_case(g, shapes[s], ta, tb, 0, 1.0f, 0.0f, &rng);
                check_case(g, shapes[s], ta, tb, 3, 0.5f, 1.0f, &rng);
            }
    size_t built = anc_gemm_primitives_built(g);
    assert_int_equal(built, 32);
    /* the same shape again reuses its primitive */
    check_case(g, shapes[1], 0, 1, 0, 1.0f, 0.0f, &rng);
    assert_int_equal(anc_gemm_primitives_built(g), built);
    printf("  bf16 kernel: %s\n", anc_gemm_bf16_kernel(g));
    assert_string_not_equal(anc_gemm_bf16_kernel(g), "none");
    /* bad shapes are refused, not run */
    uint16_t one = 0x3f80;
    float c = 0;
    assert_int_equal(anc_gemm_bf16(g, 0, 0, 0, 1, 1, 1.0f, &one, 1, &one, 1, 0.0f, &c, 1, &err), ANC_ERR_INVALID);
    anc_gemm_free(g);
}

/* More distinct shapes than the cache holds: the oldest are rebuilt, the
 * results stay right. */
static void test_cache_eviction(void **state) {
    (void)state;
    anc_gemm *g = NULL;
    anc_error err = {0};
    TU_CHECK(anc_gemm_create(&g, &err), &err);
    tu_rng rng = {7};
    for (int64_t n = 1; n <= 80; n++) check_case(g, (shape){2, n, 5}, 0, 1, 0, 1.0f, 0.0f, &rng);
    check_case(g, (shape){2, 1, 5}, 0, 1, 0, 1.0f, 0.0f, &rng);
    assert_int_equal(anc_gemm_primitives_built(g), 81);
    anc_gemm_free(g);
}

/* The decoding product (anc_gemv_bf16): M = 1..8 rows times B[N,K]^T,
 * K not a multiple of 32 too, with and without accumulation, within the
 * same fp32-accumulation bound; and anc_mm_gemm takes it for a weight of
 * the registered slab (the result equals the direct call bit for bit). */
static void test_decoding_product(void **state) {
    (void)state;
    if (!anc_gemv_bf16_available()) {
        printf("  this CPU has no AVX512-BF16: anc_gemv_bf16 refuses, anc_mm_gemm uses oneDNN (skipped)\n");
        assert_int_equal(anc_gemv_bf16(1, 1, 1, (const uint16_t[]){0x3f80}, 1, (const uint16_t[]){0x3f80}, 1, 0,
                                       (float[]){0}, 1), -1);
        skip();
    }
    tu_rng rng = {99};
    const int64_t Ns[] = {1, 17, 300}, Ks[] = {1, 31, 32, 33, 576, 1000};
    const double eps = ldexp(1.0, -24);
    double worst = 0;
    for (int64_t M = 1; M <= ANC_GEMV_MAX_M; M++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 6; b++)
                for (int acc = 0; acc < 2; acc++) {
                    const int64_t N = Ns[a], K = Ks[b], lda = K + 5, ldb = K + 3, ldc = N + 2;
                    uint16_t *Ab, *Bb;
                    float *A = operand(&rng, M, K, 0, lda, &Ab), *B = operand(&rng, N, K, 0, ldb, &Bb);
                    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc)), *C = malloc(sizeof(float) * (size_t)(M * ldc));
                    for (int64_t i = 0; i < M * ldc; i++) C0[i] = tu_rng_normal(&rng);
                    memcpy(C, C0, sizeof(float) * (size_t)(M * ldc));
                    assert_int_equal(anc_gemv_bf16(M, N, K, Ab, lda, Bb, ldb, acc, C, ldc), 0);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < ldc; j++) {
                            size_t ij = (size_t)(i * ldc + j);
                            if (j >= N) {
                                assert_true(C[ij] == C0[ij]);
                                continue;
                            }
                            double exact = 0, mag = 0;
                            for (int64_t k = 0; k < K; k++) {
                                double p = (double)A[i * lda + k] * B[j * ldb + k];
                                exact += p;
                                mag += fabs(p);
                            }
                            double want = exact + (acc ? (double)C0[ij] : 0.0);
                            double bound = 2.0 * (double)(K + 2) * eps * (mag + (acc ? fabs((double)C0[ij]) : 0.0)) + 1e-30;
                            double e = fabs(C[ij] - want) / bound;
                            if (e > worst) worst = e;
                        }
                    free(A), free(B), free(Ab), free(Bb), free(C0), free(C);
                }
    printf("  anc_gemv_bf16, M 1..%d: worst error / bound %.3f\n", ANC_GEMV_MAX_M, worst);
    assert_true(worst <= 1.0);

    /* through anc_mm_gemm: B inside the registered slab */
    const int64_t M = 3, N = 40, K = 70;
    uint16_t *Ab, *Bb;
    float *A = operand(&rng, M, K, 0, K, &Ab), *B = operand(&rng, N, K, 0, K, &Bb);
    float C1[3 * 40], C2[3 * 40];
    anc_mm mm = {0};
    anc_error err = {0};
    TU_CHECK(anc_gemm_create(&mm.g, &err), &err);
    mm.slab = B, mm.slab16 = Bb, mm.slab_n = (size_t)(N * K);
    size_t before = anc_gemm_primitives_built(mm.g);
    anc_mm_gemm(&mm, 0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
    assert_int_equal(anc_gemv_bf16(M, N, K, Ab, K, Bb, K, 0, C2, N), 0);
    assert_memory_equal(C1, C2, sizeof C1);
    assert_int_equal(anc_gemm_primitives_built(mm.g), before); /* oneDNN was not asked */
    assert_int_equal(mm.status, ANC_OK);
    anc_mm_release(&mm);
    free(A), free(B), free(Ab), free(Bb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products_within_bound),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_decoding_product),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
