/* Private helpers shared by the kernels in src/tensor/ (*.c): OpenMP pragmas
 * that vanish without OpenMP, and small SIMD row primitives (exp, max, sum)
 * written with GCC/Clang vector extensions.
 *
 * Why vector extensions: the Release build uses -O2 -march=x86-64-v2, where
 * GCC's "very cheap" vectorizer leaves loops with unknown trip counts scalar,
 * and glibc's expf is never vectorized without -ffast-math. The softmax of
 * the vocabulary projection alone evaluates R·V exponentials per step
 * (hundreds of millions), so these loops are written 4-wide by hand. 16-byte
 * vectors are the SSE register width: no -Wpsabi issues, and the compiler
 * widens nothing it cannot. */
#ifndef ANCHOR_TENSOR_OPS_INTERNAL_H
#define ANCHOR_TENSOR_OPS_INTERNAL_H

#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#define ANC_OMP(directive) _Pragma(directive)
#else
#define ANC_OMP(directive)
#endif

/* Elementwise kernels only fork OpenMP threads for at least this many
 * elements. The bar is high on purpose: with libgomp's default wait policy
 * its idle workers spin for milliseconds after a region ends, competing
 * with OpenBLAS's pthreads on a 2-core machine. Measured (2-core EPYC,
 * OpenBLAS 0.3.21 pthread): a tiny `omp parallel for` before a 576x576x4096
 * sgemm turned 13.7 ms into 22.3 ms, and before 64-row sgemms made them 6x
 * slower. So kernels that alternate elementwise work with sgemm calls
 * (attention, logprob) stay serial, and the standalone elementwise sweeps
 * go parallel only when they are large enough (>= ~16 MB) to win anyway.
 * (With OMP_WAIT_POLICY=passive in the environment the penalty vanishes.) */
#define ANC_OMP_MIN_WORK (1 << 22)

/* cblas takes int dimensions; row counts are int64. Products are split into
 * row blocks of at most this many rows (ANC_BLAS_MAX_ROWS * any dimension is
 * still addressed through int64 pointer arithmetic). */
#define ANC_BLAS_MAX_ROWS (1 << 30)

/* Splits [0, n) evenly over the threads of the enclosing parallel region
 * (the whole range outside one): for loops where each thread must own a
 * fixed range, e.g. disjoint gradient columns summed over all rows. */
static inline void anc_thread_range(int64_t n, int64_t *lo, int64_t *hi) {
#ifdef _OPENMP
    int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
#else
    *lo = 0;
    *hi = n;
#endif
}

typedef float anc_v4f __attribute__((vector_size(16)));
typedef int32_t anc_v4i __attribute__((vector_size(16)));

static inline anc_v4f anc_v4f_load(const float *p) {
    anc_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void anc_v4f_store(float *p, anc_v4f v) { memcpy(p, &v, sizeof v); }
static inline anc_v4f anc_v4f_splat(float x) { return (anc_v4f){x, x, x, x}; }
/* mask ? a : b with mask lanes all-ones or all-zeros (C has no vector ?:). */
static inline anc_v4f anc_v4f_select(anc_v4i mask, anc_v4f a, anc_v4f b) {
    return (anc_v4f)(((anc_v4i)a & mask) | ((anc_v4i)b & ~mask));
}
static inline anc_v4f anc_v4f_max(anc_v4f a, anc_v4f b) { return anc_v4f_select(a > b, a, b); }

/* exp(x) per lane, Cephes expf algorithm: x = n·ln2 + r with |r| <= ln2/2,
 * degree-6 polynomial for e^r, 2^n built in the exponent bits. Max relative
 * error about 2 ulp over the normal range. Inputs below -87 give exactly 0
 * (softmax rows only ever need the underflowing tail as 0); inputs above
 * 88.3 saturate at e^88.3 (never reached: callers subtract a row max). NaN
 * propagates. */
static inline anc_v4f anc_v4f_exp(anc_v4f x) {
    const anc_v4f lo = anc_v4f_splat(-87.0f), hi = anc_v4f_splat(88.3f);
    anc_v4i under = x < lo;
    x = anc_v4f_select(x < lo, lo, x);
    x = anc_v4f_select(x > hi, hi, x);
    /* Round-to-nearest of x·log2(e) with the 1.5·2^23 trick (not folded
     * away: no -ffast-math). */
    const anc_v4f magic = anc_v4f_splat(12582912.0f);
    anc_v4f n = (x * anc_v4f_splat(1.44269504088896341f) + magic) - magic;
    /* Cody-Waite: ln2 = C1 + C2 with C1 exact in few bits, so n·C1 is exact. */
    anc_v4f r = x - n * anc_v4f_splat(0.693359375f);
    r = r - n * anc_v4f_splat(-2.12194440e-4f);
    anc_v4f p = anc_v4f_splat(1.9875691500e-4f);
    p = p * r + anc_v4f_splat(1.3981999507e-3f);
    p = p * r + anc_v4f_splat(8.3334519073e-3f);
    p = p * r + anc_v4f_splat(4.1665795894e-2f);
    p = p * r + anc_v4f_splat(1.6666665459e-1f);
    p = p * r + anc_v4f_splat(5.0000001201e-1f);
    anc_v4f y = p * r * r + r + anc_v4f_splat(1.0f);
    anc_v4i e = (__builtin_convertvector(n, anc_v4i) + 127) << 23;
    y = y * (anc_v4f)e;
    return (anc_v4f)((anc_v4i)y & ~under);
}

/* Scalar exp with exactly the same rounding as the vector lanes, so a value
 * never depends on whether it fell in a loop's tail. */
static inline float anc_expf(float x) {
    anc_v4f v = anc_v4f_exp(anc_v4f_splat(x));
    return v[0];
}

/* x[j] := exp(x[j] - m) for j < n; returns Σ_j x[j]. One pass instead of
 * exp-then-sum. The fp32 lane sums are flushed into a double every 256
 * terms, so long rows (a 4096-wide vocabulary chunk) keep ~1e-7 accuracy. */
static inline double anc_exp_sub_sum(float *x, int64_t n, float m) {
    const anc_v4f mv = anc_v4f_splat(m);
    double s = 0.0;
    int64_t j = 0;
    while (j + 4 <= n) {
        anc_v4f acc = anc_v4f_splat(0.0f);
        int64_t end = j + 256 < n ? j + 256 : n;
        for (; j + 4 <= end; j += 4) {
            anc_v4f e = anc_v4f_exp(anc_v4f_load(x + j) - mv);
            anc_v4f_store(x + j, e);
            acc += e;
        }
        s += ((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3]);
    }
    for (; j < n; j++) s += (x[j] = anc_expf(x[j] - m));
    return s;
}

/* x[j] := a · exp(x[j] - m) for j < n. */
static inline void anc_exp_sub_scale(float *x, int64_t n, float m, float a) {
    const anc_v4f mv = anc_v4f_splat(m), av = anc_v4f_splat(a);
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) anc_v4f_store(x + j, av * anc_v4f_exp(anc_v4f_load(x + j) - mv));
    for (; j < n; j++) x[j] = a * anc_expf(x[j] - m);
}

/* max_j x[j] (-INFINITY-like -FLT_MAX for n == 0). */
static inline float anc_row_max(const float *x, int64_t n) {
    anc_v4f a = anc_v4f_splat(-3.402823466e38f), b = a;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        a = anc_v4f_max(a, anc_v4f_load(x + j));
        b = anc_v4f_max(b, anc_v4f_load(x + j + 4));
    }
    a = anc_v4f_max(a, b);
    float m = a[0];
    for (int k = 1; k < 4; k++) m = a[k] > m ? a[k] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* sum_j x[j] in double precision (eight independent chains, so still about
 * one add per cycle): for sums whose terms cancel, e.g. a row of logits. */
static inline double anc_row_sum_f64(const float *x, int64_t n) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += x[j + k];
    double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < n; j++) s += x[j];
    return s;
}

/* sum_j x[j]·y[j]: eight fp32 partial sums (each lane sums n/8 terms,
 * plenty for rows of a few thousand), combined in double. */
static inline double anc_row_dot(const float *x, const float *y, int64_t n) {
    anc_v4f a = anc_v4f_splat(0.0f), b = a;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        a += anc_v4f_load(x + j) * anc_v4f_load(y + j);
        b += anc_v4f_load(x + j + 4) * anc_v4f_load(y + j + 4);
    }
    double s = 0.0;
    for (int k = 0; k < 4; k++) s += (double)a[k] + (double)b[k];
    for (; j < n; j++) s += (double)x[j] * y[j];
    return s;
}

#endif
