/* SwiGLU gating of the Llama MLP: out = silu(gate) · up, silu(g) = g·σ(g).
 * Vectorised 4-wide (see ops_internal.h): this runs on B·T·intermediate
 * elements per layer, enough that scalar expf would show in a profile. */
#include "tensor/ops.h"
#include "tensor/ops_internal.h"

/* σ(g) = 1/(1+e^-g); anc_v4f_exp saturates for large |g| so σ goes cleanly
 * to 0 or 1 with no inf/inf. */
static inline anc_v4f sigmoid_v4(anc_v4f g) {
    const anc_v4f one = anc_v4f_splat(1.0f);
    return one / (one + anc_v4f_exp(-g));
}

static inline anc_v4f swiglu_fwd_v4(anc_v4f g, anc_v4f u) { return g * sigmoid_v4(g) * u; }

/* Processes [i0, i1) in 4-wide steps; a ragged tail goes through a padded
 * vector so every element sees identical arithmetic. */
static void swiglu_fwd_range(float *out, const float *gate, const float *up, int64_t i0,
                             int64_t i1) {
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4)
        anc_v4f_store(out + i, swiglu_fwd_v4(anc_v4f_load(gate + i), anc_v4f_load(up + i)));
    if (i < i1) {
        size_t m = (size_t)(i1 - i) * sizeof(float);
        anc_v4f g = anc_v4f_splat(0.0f), u = g;
        memcpy(&g, gate + i, m);
        memcpy(&u, up + i, m);
        anc_v4f o = swiglu_fwd_v4(g, u);
        memcpy(out + i, &o, m);
    }
}

/* d silu/dg = σ + g σ (1-σ) = σ (1 + g (1-σ)). */
static inline void swiglu_bwd_v4(anc_v4f *dg, anc_v4f *du, anc_v4f d, anc_v4f g, anc_v4f u) {
    const anc_v4f one = anc_v4f_splat(1.0f);
    anc_v4f s = sigmoid_v4(g);
    *dg = d * u * s * (one + g * (one - s));
    *du = d * g * s;
}

static void swiglu_bwd_range(float *dgate, float *dup, const float *dout, const float *gate,
                             const float *up, int64_t i0, int64_t i1) {
    anc_v4f dg, du;
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4) {
        swiglu_bwd_v4(&dg, &du, anc_v4f_load(dout + i), anc_v4f_load(gate + i),
                      anc_v4f_load(up + i));
        anc_v4f_store(dgate + i, dg);
        anc_v4f_store(dup + i, du);
    }
    if (i < i1) {
        size_t m = (size_t)(i1 - i) * sizeof(float);
        anc_v4f g = anc_v4f_splat(0.0f), u = g, d = g;
        memcpy(&g, gate + i, m);
        memcpy(&u, up + i, m);
        memcpy(&d, dout + i, m);
        swiglu_bwd_v4(&dg, &du, d, g, u);
        memcpy(dgate + i, &dg, m);
        memcpy(dup + i, &du, m);
    }
}

/* Work is split into fixed blocks so results do not depend on the thread
 * count. */
#define SWIGLU_BLOCK 4096

void anc_swiglu_forward(float *out, const float *gate, const float *up, int64_t n) {
    int64_t nblk = (n + SWIGLU_BLOCK - 1) / SWIGLU_BLOCK;
    ANC_OMP("omp parallel for schedule(static) if (n >= ANC_OMP_MIN_WORK)")
    for (int64_t b = 0; b < nblk; b++) {
        int64_t i0 = b * SWIGLU_BLOCK, i1 = i0 + SWIGLU_BLOCK < n ? i0 + SWIGLU_BLOCK : n;
        swiglu_fwd_range(out, gate, up, i0, i1);
    }
}

void anc_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, int64_t n) {
    int64_t nblk = (n + SWIGLU_BLOCK - 1) / SWIGLU_BLOCK;
    ANC_OMP("omp parallel for schedule(static) if (n >= ANC_OMP_MIN_WORK)")
    for (int64_t b = 0; b < nblk; b++) {
        int64_t i0 = b * SWIGLU_BLOCK, i1 = i0 + SWIGLU_BLOCK < n ? i0 + SWIGLU_BLOCK : n;
        swiglu_bwd_range(dgate, dup, dout, gate, up, i0, i1);
    }
}
