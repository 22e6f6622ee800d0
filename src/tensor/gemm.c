#include "tensor/gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

/* Products of one training step or decoding loop repeat a few dozen shapes;
 * beyond this many the least recently used primitive is rebuilt. */
#define GEMM_CACHE 64

typedef struct gemm_key {
    int trans_a, trans_b;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
} gemm_key;

typedef struct gemm_entry {
    gemm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    const char *impl;   /* owned by the primitive descriptor, kept alive by prim */
    dnnl_primitive_desc_t pd;
    uint64_t used;      /* LRU clock */
} gemm_entry;

struct anc_gemm {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    gemm_entry cache[GEMM_CACHE];
    size_t n_cache;
    uint64_t clock;
    size_t built;
    const char *last_impl;
};

static void entry_release(gemm_entry *e) {
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    memset(e, 0, sizeof *e);
}

anc_status anc_gemm_create(anc_gemm **out, anc_error *err) {
    *out = NULL;
    anc_gemm *g = calloc(1, sizeof *g);
    if (!g) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (dnnl_engine_create(&g->engine, dnnl_cpu, 0) != dnnl_success) {
        free(g);
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "oneDNN: no CPU engine");
    }
    if (dnnl_stream_create(&g->stream, g->engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(g->engine);
        free(g);
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "oneDNN: cannot create a CPU stream");
    }
    g->last_impl = "none";
    *out = g;
    return ANC_OK;
}

void anc_gemm_free(anc_gemm *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_cache; i++) entry_release(&g->cache[i]);
    if (g->stream) dnnl_stream_destroy(g->stream);
    if (g->engine) dnnl_engine_destroy(g->engine);
    free(g);
}

void anc_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* A row-major rows x cols matrix with row stride ld, or its transpose
 * (stored cols x rows) when trans. */
static dnnl_status_t matrix_desc(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t ld, int trans,
                                 dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

static anc_status build(anc_gemm *g, const gemm_key *k, gemm_entry *e, anc_error *err) {
    memset(e, 0, sizeof *e);
    e->key = *k;
    dnnl_memory_desc_t ma, mb, mc;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    anc_status st = ANC_OK;
    if (matrix_desc(&ma, k->M, k->K, k->lda, k->trans_a, dnnl_bf16) != dnnl_success ||
        matrix_desc(&mb, k->K, k->N, k->ldb, k->trans_b, dnnl_bf16) != dnnl_success ||
        matrix_desc(&mc, k->M, k->N, k->ldc, 0, dnnl_f32) != dnnl_success ||
        dnnl_matmul_desc_init(&desc, &ma, &mb, NULL, &mc) != dnnl_success) {
        return anc_error_set(err, ANC_ERR_INVALID, "gemm: oneDNN refused the shape %lldx%lldx%lld (lda %lld, ldb %lld, ldc %lld)",
                             (long long)k->M, (long long)k->N, (long long)k->K, (long long)k->lda, (long long)k->ldb,
                             (long long)k->ldc);
    }
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    int ok = 1;
    if (k->alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
    if (ok && k->beta != 0.0f) {
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, k->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    if (!ok) {
        st = anc_error_set(err, ANC_ERR_INTERNAL, "gemm: oneDNN refused the scaling attributes");
    } else if (dnnl_primitive_desc_create(&e->pd, &desc, attr, g->engine, NULL) != dnnl_success) {
        e->pd = NULL;
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "gemm: oneDNN has no bf16 matmul for this CPU; use fp32");
    } else if (dnnl_primitive_create(&e->prim, e->pd) != dnnl_success ||
               dnnl_memory_create(&e->a, &ma, g->engine, DNNL_MEMORY_NONE) != dnnl_success ||
               dnnl_memory_create(&e->b, &mb, g->engine, DNNL_MEMORY_NONE) != dnnl_success ||
               dnnl_memory_create(&e->c, &mc, g->engine, DNNL_MEMORY_NONE) != dnnl_success) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "gemm: cannot create the oneDNN primitive");
    } else {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) impl = "?";
        e->impl = impl;
    }
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (st) entry_release(e);
    else g->built++;
    return st;
}

static gemm_entry *lookup(anc_gemm *g, const gemm_key *k, anc_error *err) {
    for (size_t i = 0; i < g->n_cache; i++)
        if (!memcmp(&g->cache[i].key, k, sizeof *k)) return &g->cache[i];
    gemm_entry *slot;
    if (g->n_cache < GEMM_CACHE) {
        slot = &g->cache[g->n_cache];
    } else {
        slot = &g->cache[0];
        for (size_t i = 1; i < GEMM_CACHE; i++)
            if (g->cache[i].used < slot->used) slot = &g->cache[i];
        entry_release(slot);
    }
    if (build(g, k, slot, err)) return NULL;
    if (slot == &g->cache[g->n_cache]) g->n_cache++;
    return slot;
}

anc_status anc_gemm_bf16(anc_gemm *g, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc,
                         anc_error *err) {
    if (M <= 0 || N <= 0 || K <= 0) return anc_error_set(err, ANC_ERR_INVALID, "gemm: empty product %lldx%lldx%lld",
                                                         (long long)M, (long long)N, (long long)K);
    gemm_key k;
    memset(&k, 0, sizeof k); /* padding compared by memcmp */
    k.trans_a = trans_a != 0;
    k.trans_b = trans_b != 0;
    k.M = M;
    k.N = N;
    k.K = K;
    k.lda = lda;
    k.ldb = ldb;
    k.ldc = ldc;
    k.alpha = alpha;
    k.beta = beta;
    gemm_entry *e = lookup(g, &k, err);
    if (!e) return err ? err->code : ANC_ERR_INTERNAL;
    e->used = ++g->clock;
    if (dnnl_memory_set_data_handle(e->a, (void *)A) != dnnl_success ||
        dnnl_memory_set_data_handle(e->b, (void *)B) != dnnl_success || dnnl_memory_set_data_handle(e->c, C) != dnnl_success)
        return anc_error_set(err, ANC_ERR_INTERNAL, "gemm: cannot bind oneDNN memory");
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    if (dnnl_primitive_execute(e->prim, g->stream, 3, args) != dnnl_success || dnnl_stream_wait(g->stream) != dnnl_success)
        return anc_error_set(err, ANC_ERR_INTERNAL, "gemm: oneDNN matmul failed");
    g->last_impl = e->impl;
    return ANC_OK;
}

const char *anc_gemm_bf16_kernel(const anc_gemm *g) { return g->last_impl; }

size_t anc_gemm_primitives_built(const anc_gemm *g) { return g->built; }

/* vcvtneps2bf16: round to nearest even as anc_f32_to_bf16, except that
 * denormal inputs become zero (no real weight or activation is one). */
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void f32_to_bf16_avx512(uint16_t *dst, const float *src,
                                                                                        size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh r = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)r);
    }
    for (; i < n; i++) dst[i] = anc_f32_to_bf16(src[i]);
}

void anc_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n) {
    if (n >= 16 && __builtin_cpu_supports("avx512bf16")) {
        f32_to_bf16_avx512(dst, src, n);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = anc_f32_to_bf16(src[i]);
}

/* The bf16 form of a stored rows x cols operand with row stride ld: its
 * slice of the registered slab's copy, or a dense conversion into buffer
 * `which` (then *ld_out = cols). NULL when out of memory. */
static int in_slab(const anc_mm *mm, const float *X, int64_t rows, int64_t cols, int64_t ld) {
    return mm->slab16 && X >= mm->slab && X + (size_t)((rows - 1) * ld + cols) <= mm->slab + mm->slab_n;
}

static const uint16_t *as_bf16(anc_mm *mm, int which, const float *X, int64_t rows, int64_t cols, int64_t ld,
                               int64_t *ld_out) {
    if (in_slab(mm, X, rows, cols, ld)) {
        *ld_out = ld;
        return mm->slab16 + (X - mm->slab);
    }
    size_t n = (size_t)(rows * cols);
    if (n > mm->cap[which]) {
        uint16_t *nb = realloc(mm->buf[which], sizeof(uint16_t) * n);
        if (!nb) return NULL;
        mm->buf[which] = nb;
        mm->cap[which] = n;
    }
    uint16_t *dst = mm->buf[which];
    for (int64_t r = 0; r < rows; r++) anc_f32_to_bf16_n(dst + r * cols, X + r * ld, (size_t)cols);
    *ld_out = cols;
    return dst;
}

static void mm_fail(anc_mm *mm, anc_status st, const char *msg) {
    if (mm->status) return;
    mm->status = st;
    size_t n = strlen(msg);
    if (n >= sizeof mm->message) n = sizeof mm->message - 1;
    memcpy(mm->message, msg, n);
    mm->message[n] = '\0';
}

void anc_mm_gemm(anc_mm *mm, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (!mm || !mm->g || K <= 0) {
        anc_gemm_f32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int64_t la = 0, lb = 0;
    /* decoding: a few rows times a weight matrix held in bf16 */
    if (!trans_a && trans_b && M <= ANC_GEMV_MAX_M && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
        in_slab(mm, B, N, K, ldb) && anc_gemv_bf16_available()) {
        const uint16_t *x16 = as_bf16(mm, 0, A, M, K, lda, &la);
        if (x16 && anc_gemv_bf16(M, N, K, x16, la, mm->slab16 + (B - mm->slab), ldb, beta != 0.0f, C, ldc) == 0) return;
    }
    const uint16_t *a16 = as_bf16(mm, 0, A, trans_a ? K : M, trans_a ? M : K, lda, &la);
    const uint16_t *b16 = a16 ? as_bf16(mm, 1, B, trans_b ? N : K, trans_b ? K : N, ldb, &lb) : NULL;
    anc_error err = {0};
    if (!a16 || !b16) {
        mm_fail(mm, ANC_ERR_NOMEM, "out of memory converting a matrix to bf16");
    } else if (anc_gemm_bf16(mm->g, trans_a, trans_b, M, N, K, alpha, a16, la, b16, lb, beta, C, ldc, &err) == ANC_OK) {
        return;
    } else {
        mm_fail(mm, err.code, err.message);
    }
    if (mm->slab_bf16_only && (in_slab(mm, A, trans_a ? K : M, trans_a ? M : K, lda) ||
                               in_slab(mm, B, trans_b ? N : K, trans_b ? K : N, ldb)))
        return; /* no fp32 weights to fall back on; status carries the failure */
    anc_gemm_f32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void anc_mm_release(anc_mm *mm) {
    if (!mm) return;
    anc_gemm_free(mm->g);
    free(mm->buf[0]);
    free(mm->buf[1]);
    memset(mm, 0, sizeof *mm);
}
