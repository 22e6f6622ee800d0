/* Tests of the tensor kernels (src/tensor/ops.h).
 *
 * Every op is checked two ways against a naive double-precision reference
 * written here:
 *   - forward: float kernel vs reference, max abs error <= 1e-5 x max|ref|;
 *   - backward: the objective f = Σ g·out (g a random upstream gradient) is
 *     evaluated on the double reference, and its central differences
 *     (step 1e-5, double) at a sample of coordinates of every input and
 *     parameter are compared with the kernel's analytic gradient:
 *     |numeric − analytic| <= 1e-4 x max|analytic| (fp32 accumulation noise is
 *     ~1e-6; a wrong term shows up as O(1)).
 * Since the reference forward equals the kernel forward (first check), the
 * second check validates the kernel's gradients of its own function.
 * Max errors are printed so regressions in accuracy are visible. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/ops_internal.h"

#define FWD_TOL 1e-5
#define GRAD_TOL 1e-4
#define FD_STEP 1e-5

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}
static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}
static double *to_double(const float *x, size_t n) {
    double *d = dalloc(n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static float *randn(tu_rng *rng, size_t n, float std) {
    float *x = falloc(n);
    tu_fill_normal(rng, x, n, std);
    return x;
}

/* max|a − b| / max(max|b|, floor) for a float result vs a double reference;
 * fails the test above tol. Returns the ratio for reporting. */
static double check_fwd(const char *label, const float *a, const double *b, size_t n, double tol,
                        double floor) {
    double d = 0, m = floor;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = isnan(e) ? INFINITY : e;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    if (!(d <= tol * m)) fail_msg("%s: max abs err %.3g > %.1g x %.3g", label, d, tol, m);
    return d / m;
}

/* Objective on double inputs held in a test-specific context. */
typedef double (*objective_fn)(void *ctx);

/* Central differences of f at n_coords coordinates of x[n] (always the first
 * and last, the rest random), compared with analytic[n]. Returns the max of
 * |numeric − analytic| / scale, scale = max(max|analytic|, 1e-3) unless a
 * positive scale is given (checks of a window of a larger gradient pass
 * the whole gradient's scale). */
static double fd_check_scaled(const char *label, objective_fn f, void *ctx, double *x, size_t n,
                              const float *analytic, int n_coords, tu_rng *rng, double scale) {
    if (scale <= 0) {
        scale = 1e-3;
        for (size_t i = 0; i < n; i++)
            if (fabs(analytic[i]) > scale) scale = fabs(analytic[i]);
    }
    double worst = 0;
    for (int c = 0; c < n_coords; c++) {
        size_t i = c == 0 ? 0 : c == 1 ? n - 1 : (size_t)(tu_rng_uniform(rng) * n) % n;
        double x0 = x[i];
        x[i] = x0 + FD_STEP;
        double fp = f(ctx);
        x[i] = x0 - FD_STEP;
        double fm = f(ctx);
        x[i] = x0;
        double num = (fp - fm) / (2 * FD_STEP), err = fabs(num - analytic[i]) / scale;
        if (!(err <= GRAD_TOL))
            fail_msg("%s[%zu]: numeric %.7g vs analytic %.7g (rel err %.3g)", label, i, num,
                     (double)analytic[i], err);
        if (err > worst) worst = err;
    }
    return worst;
}

static double fd_check(const char *label, objective_fn f, void *ctx, double *x, size_t n,
                       const float *analytic, int n_coords, tu_rng *rng) {
    return fd_check_scaled(label, f, ctx, x, n, analytic, n_coords, rng, 0.0);
}

static double max_abs_f(const float *x, size_t n) {
    double m = 1e-3;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static double dot_d(const double *g, const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += g[i] * y[i];
    return s;
}

/* Asserts twice ≈ 2·once (a second call of an accumulating backward that
 * started from zero), up to fp32 rounding of the accumulation order:
 * |twice − 2·once| <= 1e-6 x max|2·once|. */
static void check_doubled(const char *label, const float *once, const float *twice, size_t n) {
    double scale = 1e-6;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(2.0 * once[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)twice[i] - 2.0 * once[i]) <= 1e-6 * scale))
            fail_msg("%s[%zu]: second backward gave %.8g, expected 2 x %.8g", label, i,
                     (double)twice[i], (double)once[i]);
}

/* ---------------------------------------------------------------- linear */

typedef struct {
    double *inp, *W, *b, *g, *out;
    int64_t N;
    int I, O;
} linear_ctx;

static void ref_linear(double *out, const double *inp, const double *W, const double *b,
                       int64_t N, int I, int O) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < I; i++) s += inp[n * I + i] * W[o * I + i];
            out[n * O + o] = s;
        }
}
static double linear_obj(void *p) {
    linear_ctx *c = p;
    ref_linear(c->out, c->inp, c->W, c->b, c->N, c->I, c->O);
    return dot_d(c->g, c->out, (size_t)(c->N * c->O));
}

static void linear_case(int64_t N, int I, int O, uint64_t seed) {
    tu_rng rng = {seed};
    size_t ni = (size_t)(N * I), nw = (size_t)O * I, no = (size_t)(N * O);
    float *inp = randn(&rng, ni, 1.0f), *W = randn(&rng, nw, 0.5f), *b = randn(&rng, O, 1.0f);
    float *g = randn(&rng, no, 1.0f), *out = falloc(no);
    linear_ctx c = {to_double(inp, ni), to_double(W, nw), to_double(b, O), to_double(g, no),
                    dalloc(no), N, I, O};
    double fe = 0;
    /* forward with and without bias */
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        anc_linear_forward(NULL, out, inp, W, with_bias ? b : NULL, N, I, O);
        ref_linear(c.out, c.inp, c.W, with_bias ? c.b : NULL, N, I, O);
        double e = check_fwd("linear fwd", out, c.out, no, FWD_TOL, 1e-3);
        fe = e > fe ? e : fe;
    }
    float *dinp = falloc(ni), *dW = falloc(nw), *db = falloc(O);
    anc_linear_backward(NULL, dinp, dW, db, g, inp, W, N, I, O);
    double ge = 0, e;
    e = fd_check("linear dinp", linear_obj, &c, c.inp, ni, dinp, 12, &rng), ge = fmax(ge, e);
    e = fd_check("linear dW", linear_obj, &c, c.W, nw, dW, 12, &rng), ge = fmax(ge, e);
    e = fd_check("linear dbias", linear_obj, &c, c.b, O, db, 8, &rng), ge = fmax(ge, e);
    /* += semantics: a second call doubles; NULL outputs are skipped. */
    float *dinp2 = falloc(ni), *dW2 = falloc(nw), *db2 = falloc(O);
    memcpy(dinp2, dinp, ni * sizeof(float));
    memcpy(dW2, dW, nw * sizeof(float));
    memcpy(db2, db, O * sizeof(float));
    anc_linear_backward(NULL, dinp2, dW2, db2, g, inp, W, N, I, O);
    check_doubled("linear dinp", dinp, dinp2, ni);
    check_doubled("linear dW", dW, dW2, nw);
    check_doubled("linear dbias", db, db2, O);
    memset(dinp2, 0, ni * sizeof(float));
    anc_linear_backward(NULL, dinp2, NULL, NULL, g, inp, W, N, I, O);
    assert_memory_equal(dinp2, dinp, ni * sizeof(float));
    print_message("linear N=%lld I=%d O=%d: fwd rel err %.2g, grad rel err %.2g\n", (long long)N,
                  I, O, fe, ge);
    free(inp), free(W), free(b), free(g), free(out), free(dinp), free(dW), free(db);
    free(dinp2), free(dW2), free(db2);
    free(c.inp), free(c.W), free(c.b), free(c.g), free(c.out);
}

static void test_linear(void **state) {
    (void)state;
    linear_case(7, 13, 11, 1);
    linear_case(300, 16, 130, 2); /* wider, odd sizes */
}

/* --------------------------------------------------------------- rmsnorm */

typedef struct {
    double *inp, *w, *g, *out, *rstd;
    int64_t N;
    int C;
    double eps;
} rms_ctx;

static void ref_rmsnorm(double *out, double *rstd, const double *x, const double *w, int64_t N,
                        int C, double eps) {
    for (int64_t n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
        double r = 1.0 / sqrt(ss / C + eps);
        rstd[n] = r;
        for (int i = 0; i < C; i++) out[n * C + i] = x[n * C + i] * r * w[i];
    }
}
static double rms_obj(void *p) {
    rms_ctx *c = p;
    ref_rmsnorm(c->out, c->rstd, c->inp, c->w, c->N, c->C, c->eps);
    return dot_d(c->g, c->out, (size_t)(c->N * c->C));
}

static void rmsnorm_case(int64_t N, int C, uint64_t seed) {
    tu_rng rng = {seed};
    size_t n = (size_t)(N * C);
    float *x = randn(&rng, n, 1.0f), *w = randn(&rng, C, 1.0f), *g = randn(&rng, n, 1.0f);
    for (int64_t r = 0; r < N; r++) /* rows of different scales */
        for (int i = 0; i < C; i++) x[r * C + i] *= 0.1f + (float)(r % 5);
    float *out = falloc(n), *rstd = falloc(N), eps = 1e-5f;
    rms_ctx c = {to_double(x, n), to_double(w, C), to_double(g, n), dalloc(n), dalloc(N), N, C,
                 eps};
    anc_rmsnorm_forward(out, rstd, x, w, N, C, eps);
    rms_obj(&c);
    double fe = check_fwd("rmsnorm out", out, c.out, n, FWD_TOL, 1e-3);
    fe = fmax(fe, check_fwd("rmsnorm rstd", rstd, c.rstd, N, FWD_TOL, 1e-3));
    float *dx = falloc(n), *dw = falloc(C);
    anc_rmsnorm_backward(dx, dw, g, x, w, rstd, N, C);
    double ge = fd_check("rmsnorm dinp", rms_obj, &c, c.inp, n, dx, 16, &rng);
    ge = fmax(ge, fd_check("rmsnorm dweight", rms_obj, &c, c.w, C, dw, 12, &rng));
    float *dx2 = falloc(n), *dw2 = falloc(C);
    memcpy(dx2, dx, n * sizeof(float));
    memcpy(dw2, dw, C * sizeof(float));
    anc_rmsnorm_backward(dx2, dw2, g, x, w, rstd, N, C);
    check_doubled("rmsnorm dinp", dx, dx2, n);
    check_doubled("rmsnorm dweight", dw, dw2, C);
    memset(dx2, 0, n * sizeof(float));
    anc_rmsnorm_backward(dx2, NULL, g, x, w, rstd, N, C);
    assert_memory_equal(dx2, dx, n * sizeof(float));
    print_message("rmsnorm N=%lld C=%d: fwd rel err %.2g, grad rel err %.2g\n", (long long)N, C,
                  fe, ge);
    free(x), free(w), free(g), free(out), free(rstd), free(dx), free(dw), free(dx2), free(dw2);
    free(c.inp), free(c.w), free(c.g), free(c.out), free(c.rstd);
}

static void test_rmsnorm(void **state) {
    (void)state;
    rmsnorm_case(5, 24, 3);
    rmsnorm_case(64, 576, 4); /* SmolLM width */
}

/* ------------------------------------------------------------------ rope */

/* Independent double-precision llama3 scaling (transformers'
 * _compute_llama3_parameters). band: 0 high freq (kept), 1 low (divided),
 * 2 smoothed. */
static double ref_llama3(double inv, double factor, double low, double high, double old,
                         int *band) {
    double wavelen = 2 * M_PI / inv;
    if (wavelen < old / high) return *band = 0, inv;
    if (wavelen > old / low) return *band = 1, inv / factor;
    double smooth = (old / wavelen - low) / (high - low);
    *band = 2;
    return (1 - smooth) * inv / factor + smooth * inv;
}

static void llama3_case(float original, int expect_all_bands) {
    const int D = 16;
    const double theta = 500000;
    anc_rope_scaling sc = {ANC_ROPE_LLAMA3, 8.0f, 1.0f, 4.0f, original};
    float inv[8];
    anc_rope_inv_freq(inv, D, (float)theta, &sc);
    int seen[3] = {0, 0, 0};
    double worst = 0;
    for (int i = 0; i < D / 2; i++) {
        int band;
        double ref = ref_llama3(pow(theta, -2.0 * i / D), 8, 1, 4, original, &band);
        seen[band]++;
        double e = fabs(inv[i] - ref) / ref;
        if (!(e <= 1e-6)) fail_msg("llama3 inv_freq[%d] = %.9g, expected %.9g", i, inv[i], ref);
        worst = fmax(worst, e);
    }
    /* With original 16 the highest frequency has wavelength 2π > 16/4, so
     * the "kept" band is empty; original 64 exercises all three bands. */
    assert_true(seen[1] > 0 && seen[2] > 0);
    if (expect_all_bands) assert_true(seen[0] > 0);
    print_message("llama3 inv_freq (original %g): bands high/low/mid = %d/%d/%d, rel err %.2g\n",
                  (double)original, seen[0], seen[1], seen[2], worst);
}

static void test_rope_inv_freq(void **state) {
    (void)state;
    float inv[32];
    anc_rope_inv_freq(inv, 64, 10000.0f, NULL);
    for (int i = 0; i < 32; i++) {
        double ref = pow(10000.0, -2.0 * i / 64);
        assert_true(fabs(inv[i] - ref) <= 1e-6 * ref);
    }
    anc_rope_scaling none = {ANC_ROPE_DEFAULT, 8.0f, 1.0f, 4.0f, 16.0f};
    float inv2[32];
    anc_rope_inv_freq(inv2, 64, 10000.0f, &none);
    assert_memory_equal(inv, inv2, sizeof inv);
    llama3_case(16.0f, 0);
    llama3_case(64.0f, 1);
}

typedef struct {
    double *x, *g, *out;
    const float *cs, *sn;
    int64_t N;
    int nh, D;
} rope_ctx;

static void ref_rope(double *out, const double *x, const float *cs, const float *sn, int64_t N,
                     int nh, int D) {
    int half = D / 2;
    for (int64_t n = 0; n < N; n++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < D; i++) {
                const double *v = x + (n * nh + h) * D;
                double c = cs[n * half + i % half], s = sn[n * half + i % half];
                /* x·cos + rotate_half(x)·sin, rotate_half = cat(−x2, x1) */
                double rot = i < half ? -v[i + half] : v[i - half];
                out[(n * nh + h) * D + i] = v[i] * c + rot * s;
            }
}
static double rope_obj(void *p) {
    rope_ctx *c = p;
    ref_rope(c->out, c->x, c->cs, c->sn, c->N, c->nh, c->D);
    return dot_d(c->g, c->out, (size_t)(c->N * c->nh * c->D));
}

static void test_rope(void **state) {
    (void)state;
    tu_rng rng = {5};
    const int D = 16, half = 8, nh = 3;
    int32_t pos[] = {0, 1, 2, 7, 100, 1000, 4095, 70000};
    const int64_t N = 8;
    float inv[8], cs[8 * 8], sn[8 * 8];
    anc_rope_inv_freq(inv, D, 10000.0f, NULL);
    anc_rope_table(cs, sn, pos, inv, N, D);
    double te = 0;
    for (int64_t n = 0; n < N; n++)
        for (int i = 0; i < half; i++) {
            /* Angle as torch forms it: the fp32 product of position and
             * inv_freq (formed here in double and rounded once). */
            double a = (float)((double)pos[n] * (double)inv[i]);
            double e = fmax(fabs(cs[n * half + i] - cos(a)), fabs(sn[n * half + i] - sin(a)));
            assert_true(e <= 1e-7);
            te = fmax(te, e);
            if (pos[n] <= 100) { /* small angles: also close to the exact one */
                double ex = (double)pos[n] * pow(10000.0, -2.0 * i / D);
                assert_true(fabs(cs[n * half + i] - cos(ex)) <= 1e-5);
            }
        }
    size_t nx = (size_t)(N * nh * D);
    float *x = randn(&rng, nx, 1.0f), *g = randn(&rng, nx, 1.0f), *y = falloc(nx);
    rope_ctx c = {to_double(x, nx), to_double(g, nx), dalloc(nx), cs, sn, N, nh, D};
    memcpy(y, x, nx * sizeof(float));
    anc_rope_forward(y, cs, sn, N, nh, D);
    rope_obj(&c);
    double fe = check_fwd("rope fwd", y, c.out, nx, FWD_TOL, 1e-3);
    /* R^T R = I: backward of the forward output returns the input */
    anc_rope_backward(y, cs, sn, N, nh, D);
    tu_assert_close("rope roundtrip", y, x, nx, 1e-6, 1e-3);
    float *dx = falloc(nx);
    memcpy(dx, g, nx * sizeof(float));
    anc_rope_backward(dx, cs, sn, N, nh, D);
    double ge = fd_check("rope dx", rope_obj, &c, c.x, nx, dx, 24, &rng);
    print_message("rope: table abs err %.2g, fwd rel err %.2g, grad rel err %.2g\n", te, fe, ge);
    free(x), free(g), free(y), free(dx), free(c.x), free(c.g), free(c.out);
}

/* ---------------------------------------------------------------- swiglu */

typedef struct {
    double *gate, *up, *g;
    int64_t n;
} swiglu_ctx;

static double ref_silu(double x) { return x / (1 + exp(-x)); }
static double swiglu_obj(void *p) {
    swiglu_ctx *c = p;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) s += c->g[i] * ref_silu(c->gate[i]) * c->up[i];
    return s;
}

static void swiglu_case(int64_t n, uint64_t seed, int grad) {
    tu_rng rng = {seed};
    float *gate = randn(&rng, n, 3.0f), *up = randn(&rng, n, 1.0f), *g = randn(&rng, n, 1.0f);
    const float extremes[] = {-100.0f, -30.0f, -1e-4f, 0.0f, 1e-4f, 30.0f, 100.0f};
    for (int i = 0; i < 7 && i < n; i++) gate[i] = extremes[i];
    float *out = falloc(n);
    double *ref = dalloc(n);
    anc_swiglu_forward(out, gate, up, n);
    for (int64_t i = 0; i < n; i++) ref[i] = ref_silu(gate[i]) * up[i];
    double fe = check_fwd("swiglu fwd", out, ref, n, FWD_TOL, 1e-3);
    for (int64_t i = 0; i < n; i++) /* and elementwise, where it is not tiny */
        if (fabs(ref[i]) > 1e-3) assert_true(fabs(out[i] - ref[i]) <= 1e-5 * fabs(ref[i]));
    double ge = 0;
    if (grad) {
        float *dg = falloc(n), *du = falloc(n);
        for (int64_t i = 0; i < n; i++) dg[i] = du[i] = 1e30f; /* overwritten */
        anc_swiglu_backward(dg, du, g, gate, up, n);
        swiglu_ctx c = {to_double(gate, n), to_double(up, n), to_double(g, n), n};
        ge = fd_check("swiglu dgate", swiglu_obj, &c, c.gate, n, dg, 24, &rng);
        ge = fmax(ge, fd_check("swiglu dup", swiglu_obj, &c, c.up, n, du, 24, &rng));
        /* also every extreme coordinate (saturated sigmoid) */
        for (int i = 0; i < 7 && i < n; i++) {
            double s = 1 / (1 + exp(-(double)gate[i]));
            double want = g[i] * up[i] * s * (1 + gate[i] * (1 - s));
            assert_true(fabs(dg[i] - want) <= 1e-5 * (fabs(want) + 1e-3));
        }
        free(dg), free(du), free(c.gate), free(c.up), free(c.g);
    }
    if (grad)
        print_message("swiglu n=%lld: fwd rel err %.2g, grad rel err %.2g\n", (long long)n, fe, ge);
    else
        print_message("swiglu n=%lld: fwd rel err %.2g\n", (long long)n, fe);
    free(gate), free(up), free(g), free(out), free(ref);
}

static void test_swiglu(void **state) {
    (void)state;
    swiglu_case(1003, 6, 1);
    swiglu_case(40003, 7, 0); /* many blocks, ragged tail */
}

/* Fast exp used by the softmax kernels: within a few ulp over its range. */
static void test_fast_exp(void **state) {
    (void)state;
    double worst = 0;
    for (double x = -87.0; x <= 88.0; x += 0.0137) {
        double ref = exp((double)(float)x), e = fabs(anc_expf((float)x) - ref) / ref;
        worst = fmax(worst, e);
    }
    assert_true(worst <= 4e-7);
    assert_true(anc_expf(-87.5f) == 0.0f && anc_expf(-1e30f) == 0.0f);
    assert_true(anc_expf(0.0f) == 1.0f);
    assert_true(isnan(anc_expf(NAN)));
    print_message("fast exp: max rel err %.2g\n", worst);
}

/* ------------------------------------------------------------- attention */

typedef struct {
    double *q, *k, *v, *g, *out, *lse, *sc;
    const int64_t *off;
    int ns, H, KVH, D;
} attn_ctx;

static void ref_attention(attn_ctx *c) {
    int H = c->H, KVH = c->KVH, D = c->D, group = H / KVH;
    double scale = 1 / sqrt((double)D);
    for (int s = 0; s < c->ns; s++)
        for (int64_t t = c->off[s]; t < c->off[s + 1]; t++)
            for (int h = 0; h < H; h++) {
                int kh = h / group;
                const double *qr = c->q + (t * H + h) * D;
                double m = -INFINITY, sum = 0;
                for (int64_t j = c->off[s]; j <= t; j++) {
                    double d = 0;
                    for (int x = 0; x < D; x++) d += qr[x] * c->k[(j * KVH + kh) * D + x];
                    c->sc[j - c->off[s]] = d * scale;
                    m = fmax(m, d * scale);
                }
                for (int64_t j = c->off[s]; j <= t; j++) sum += exp(c->sc[j - c->off[s]] - m);
                double lse = m + log(sum), *o = c->out + (t * H + h) * D;
                c->lse[t * H + h] = lse;
                for (int x = 0; x < D; x++) o[x] = 0;
                for (int64_t j = c->off[s]; j <= t; j++) {
                    double p = exp(c->sc[j - c->off[s]] - lse);
                    for (int x = 0; x < D; x++) o[x] += p * c->v[(j * KVH + kh) * D + x];
                }
            }
}
static double attn_obj(void *p) {
    attn_ctx *c = p;
    ref_attention(c);
    return dot_d(c->g, c->out, (size_t)(c->off[c->ns] * c->H * c->D));
}

static void attention_case(int H, int KVH, int D, uint64_t seed) {
    /* packed: lengths 3, 1, 70, 5, 131 (131 spans three query blocks) */
    const int64_t off[] = {0, 3, 4, 74, 79, 210};
    const int ns = 5;
    const int64_t N = off[ns], maxL = 131;
    tu_rng rng = {seed};
    size_t nq = (size_t)(N * H * D), nk = (size_t)(N * KVH * D);
    float *q = randn(&rng, nq, 1.5f), *k = randn(&rng, nk, 1.5f), *v = randn(&rng, nk, 1.0f);
    float *g = randn(&rng, nq, 1.0f), *out = falloc(nq), *lse = falloc(N * H);
    /* exactly the promised scratch, so ASan catches any overrun */
    size_t ns_f = anc_attention_scratch_floats(maxL);
    float *scratch = malloc(ns_f * sizeof(float));
    assert_non_null(scratch);
    attn_ctx c = {to_double(q, nq), to_double(k, nk), to_double(v, nk), to_double(g, nq),
                  dalloc(nq), dalloc(N * H), dalloc(maxL), off, ns, H, KVH, D};
    anc_attention_forward(out, lse, q, k, v, off, ns, H, KVH, D, scratch);
    ref_attention(&c);
    double fe = check_fwd("attention out", out, c.out, nq, FWD_TOL, 1e-3);
    fe = fmax(fe, check_fwd("attention lse", lse, c.lse, N * H, FWD_TOL, 1e-3));
    /* gradients are overwritten: start from garbage */
    float *dq = falloc(nq), *dk = falloc(nk), *dv = falloc(nk);
    for (size_t i = 0; i < nq; i++) dq[i] = 7.0f;
    for (size_t i = 0; i < nk; i++) dk[i] = dv[i] = -3.0f;
    anc_attention_backward(dq, dk, dv, g, out, lse, q, k, v, off, ns, H, KVH, D, scratch);
    double ge = fd_check("attention dq", attn_obj, &c, c.q, nq, dq, 24, &rng);
    ge = fmax(ge, fd_check("attention dk", attn_obj, &c, c.k, nk, dk, 24, &rng));
    ge = fmax(ge, fd_check("attention dv", attn_obj, &c, c.v, nk, dv, 24, &rng));
    /* the single-token sequence (token 3) and the last token of each
     * sequence: their keys/values are seen by few queries */
    const float *grads[] = {dq, dk, dv};
    double *inputs[] = {c.q, c.k, c.v};
    for (int which = 0; which < 3; which++) {
        int heads = which == 0 ? H : KVH;
        double scale = max_abs_f(grads[which], which == 0 ? nq : nk);
        for (int s = 0; s < ns; s++) {
            size_t base = (size_t)((off[s + 1] - 1) * heads * D);
            /* a window over the token's heads, checked through fd_check's
             * first/last coordinates plus random ones inside */
            ge = fmax(ge, fd_check_scaled("attention edge", attn_obj, &c, inputs[which] + base,
                                          (size_t)heads * D, grads[which] + base, 3, &rng,
                                          scale));
        }
    }
    print_message("attention H=%d KVH=%d D=%d: fwd rel err %.2g, grad rel err %.2g\n", H, KVH, D,
                  fe, ge);
    free(q), free(k), free(v), free(g), free(out), free(lse), free(scratch);
    free(dq), free(dk), free(dv);
    free(c.q), free(c.k), free(c.v), free(c.g), free(c.out), free(c.lse), free(c.sc);
}

static void test_attention(void **state) {
    (void)state;
    assert_true(anc_attention_scratch_floats(4096) <= 2 * (size_t)4096 * 4096);
    attention_case(4, 2, 8, 8);
    attention_case(4, 1, 8, 9);
    attention_case(4, 4, 16, 10);
}

/* --------------------------------------------------------------- logprob */

typedef struct {
    double *h, *W, *dlogp, *logp, *lse, *lsum, *logits;
    const int32_t *t;
    int64_t R, row; /* row >= 0: evaluate only that row's term */
    int C, V;
} lp_ctx;

static void ref_logprob_row(lp_ctx *c, int64_t r) {
    double m = -INFINITY, s = 0, ls = 0;
    for (int v = 0; v < c->V; v++) {
        double l = 0;
        for (int x = 0; x < c->C; x++) l += c->h[r * c->C + x] * c->W[(int64_t)v * c->C + x];
        c->logits[v] = l;
        m = fmax(m, l);
        ls += l;
    }
    for (int v = 0; v < c->V; v++) s += exp(c->logits[v] - m);
    c->lse[r] = m + log(s);
    c->logp[r] = c->logits[c->t[r]] - c->lse[r];
    c->lsum[r] = ls;
}
static double lp_obj(void *p) {
    lp_ctx *c = p;
    double f = 0;
    for (int64_t r = 0; r < c->R; r++) {
        if (c->row >= 0 && r != c->row) continue;
        if (c->dlogp[r] == 0 && c->row < 0) continue; /* contributes nothing */
        ref_logprob_row(c, r);
        f += c->dlogp[r] * c->logp[r];
    }
    return f;
}

static void test_logprob(void **state) {
    (void)state;
    const int64_t R = 300; /* two row chunks */
    const int C = 8, V = 5000; /* two vocabulary chunks, ragged */
    tu_rng rng = {11};
    float *h = randn(&rng, (size_t)R * C, 1.0f), *W = randn(&rng, (size_t)V * C, 1.0f);
    int32_t *t = malloc(R * sizeof(int32_t));
    assert_non_null(t);
    for (int64_t r = 0; r < R; r++) t[r] = (int32_t)(tu_rng_uniform(&rng) * V) % V;
    t[0] = 0, t[1] = 4095, t[2] = 4096, t[3] = V - 1; /* chunk edges */
    /* dlogp with zero runs: leading, short interior gap (kept in a piece),
     * long gap (splits pieces), an isolated row, trailing */
    float *dlogp = randn(&rng, R, 1.0f);
    for (int64_t r = 0; r < R; r++)
        if (r < 10 || (r >= 50 && r < 56) || (r >= 100 && r < 161) ||
            (r >= 190 && r < 211 && r != 200) || r >= 290)
            dlogp[r] = 0.0f;
    size_t nsf = anc_logprob_scratch_floats(R, V);
    assert_true(nsf < (size_t)R * V);
    assert_true(anc_logprob_scratch_floats(1 << 20, 1 << 17) == anc_logprob_scratch_floats(R, V));
    float *scratch = malloc(nsf * sizeof(float));
    assert_non_null(scratch);
    float *logp = falloc(R), *lse = falloc(R), *lsum = falloc(R);
    anc_logprob_forward(NULL, logp, lse, lsum, h, W, t, R, C, V, scratch);
    lp_ctx c = {to_double(h, (size_t)R * C), to_double(W, (size_t)V * C), to_double(dlogp, R),
                dalloc(R), dalloc(R), dalloc(R), dalloc(V), t, R, -1, C, V};
    for (int64_t r = 0; r < R; r++) ref_logprob_row(&c, r);
    double fe = check_fwd("logprob logp", logp, c.logp, R, FWD_TOL, 1.0);
    fe = fmax(fe, check_fwd("logprob lse", lse, c.lse, R, FWD_TOL, 1.0));
    fe = fmax(fe, check_fwd("logprob logit_sum", lsum, c.lsum, R, FWD_TOL, 1.0));
    float *logp2 = falloc(R), *lse2 = falloc(R);
    anc_logprob_forward(NULL, logp2, lse2, NULL, h, W, t, R, C, V, scratch); /* NULL logit_sum */
    assert_memory_equal(logp2, logp, R * sizeof(float));

    float *dh = falloc((size_t)R * C), *dW = falloc((size_t)V * C);
    anc_logprob_backward(NULL, dh, dW, dlogp, h, W, t, lse, R, C, V, scratch);
    double ge = 0, dh_scale = max_abs_f(dh, (size_t)R * C), dW_scale = max_abs_f(dW, (size_t)V * C);
    for (int64_t r = 0; r < R; r++) {
        if (dlogp[r] == 0) { /* masked rows: untouched */
            for (int x = 0; x < C; x++) assert_true(dh[r * C + x] == 0.0f);
            continue;
        }
        if (r % 7 != 3 && r != 200 && r != 289) continue; /* a sample of rows */
        c.row = r;
        ge = fmax(ge, fd_check_scaled("logprob dh", lp_obj, &c, c.h + r * C, C, dh + r * C, 2,
                                      &rng, dh_scale));
    }
    c.row = -1;
    /* dW rows of targets (one-hot term) and random rows */
    for (int i = 0; i < 4; i++) {
        int64_t vrow = i < 2 ? t[20 + i] : t[2 + i];
        ge = fmax(ge, fd_check_scaled("logprob dW", lp_obj, &c, c.W + vrow * C, C, dW + vrow * C,
                                      2, &rng, dW_scale));
    }
    ge = fmax(ge, fd_check("logprob dW", lp_obj, &c, c.W, (size_t)V * C, dW, 8, &rng));
    /* += semantics, and dW == NULL leaves dh the same */
    float *dh2 = falloc((size_t)R * C), *dW2 = falloc((size_t)V * C);
    memcpy(dh2, dh, (size_t)R * C * sizeof(float));
    memcpy(dW2, dW, (size_t)V * C * sizeof(float));
    anc_logprob_backward(NULL, dh2, dW2, dlogp, h, W, t, lse, R, C, V, scratch);
    check_doubled("logprob dh", dh, dh2, (size_t)R * C);
    check_doubled("logprob dW", dW, dW2, (size_t)V * C);
    memset(dh2, 0, (size_t)R * C * sizeof(float));
    anc_logprob_backward(NULL, dh2, NULL, dlogp, h, W, t, lse, R, C, V, scratch);
    assert_memory_equal(dh2, dh, (size_t)R * C * sizeof(float));
    print_message("logprob R=%lld V=%d: fwd rel err %.2g, grad rel err %.2g, scratch %zu floats\n",
                  (long long)R, V, fe, ge, nsf);
    free(h), free(W), free(t), free(dlogp), free(scratch), free(logp), free(lse), free(lsum);
    free(logp2), free(lse2), free(dh), free(dW), free(dh2), free(dW2);
    free(c.h), free(c.W), free(c.dlogp), free(c.logp), free(c.lse), free(c.lsum), free(c.logits);
}

/* Small single-chunk case with peaked logits (large-magnitude h): the
 * online log-sum-exp must stay finite and exact. */
static void test_logprob_small_peaked(void **state) {
    (void)state;
    const int64_t R = 3;
    const int C = 4, V = 7;
    tu_rng rng = {12};
    float *h = randn(&rng, R * C, 30.0f), *W = randn(&rng, V * C, 1.0f);
    int32_t t[3] = {0, 3, 6};
    float scratch[64], logp[3], lse[3], lsum[3];
    assert_true(anc_logprob_scratch_floats(R, V) <= 64);
    anc_logprob_forward(NULL, logp, lse, lsum, h, W, t, R, C, V, scratch);
    lp_ctx c = {to_double(h, R * C), to_double(W, V * C), dalloc(R), dalloc(R), dalloc(R),
                dalloc(R), dalloc(V), t, R, -1, C, V};
    for (int64_t r = 0; r < R; r++) ref_logprob_row(&c, r);
    check_fwd("peaked logp", logp, c.logp, R, FWD_TOL, 1.0);
    check_fwd("peaked lse", lse, c.lse, R, FWD_TOL, 1.0);
    check_fwd("peaked logit_sum", lsum, c.lsum, R, FWD_TOL, 1.0);
    free(h), free(W);
    free(c.h), free(c.W), free(c.dlogp), free(c.logp), free(c.lse), free(c.lsum), free(c.logits);
}

/* ------------------------------------------- large (threaded) sweeps */

/* The elementwise kernels fork OpenMP threads only above
 * ANC_OMP_MIN_WORK elements. Above it, results must be bit-identical to
 * the serial path, obtained here by feeding the same data one row (or one
 * small block) per call. */
static void test_large_sweeps_match_serial(void **state) {
    (void)state;
    tu_rng rng = {13};
    const int64_t N = ANC_OMP_MIN_WORK / 512 + 3; /* rows of 512: just above */
    const int C = 512;
    const size_t n = (size_t)N * C;
    float *x = randn(&rng, n, 1.0f), *y = randn(&rng, n, 1.0f), *g = randn(&rng, n, 1.0f);
    float *w = randn(&rng, C, 1.0f), *a = falloc(n), *b = falloc(n), *c = falloc(n);
    float *r1 = falloc(N), *r2 = falloc(N), *w1 = falloc(C), *w2 = falloc(C);
    size_t bytes = n * sizeof(float);

    /* rmsnorm forward and backward */
    anc_rmsnorm_forward(a, r1, x, w, N, C, 1e-5f);
    for (int64_t r = 0; r < N; r++)
        anc_rmsnorm_forward(b + r * C, r2 + r, x + r * C, w, 1, C, 1e-5f);
    assert_memory_equal(a, b, bytes);
    assert_memory_equal(r1, r2, N * sizeof(float));
    memset(a, 0, bytes), memset(b, 0, bytes);
    anc_rmsnorm_backward(a, w1, g, x, w, r1, N, C);
    for (int64_t r = 0; r < N; r++)
        anc_rmsnorm_backward(b + r * C, w2, g + r * C, x + r * C, w, r1 + r, 1, C);
    assert_memory_equal(a, b, bytes);
    assert_memory_equal(w1, w2, C * sizeof(float));

    /* swiglu */
    anc_swiglu_forward(a, x, y, (int64_t)n);
    for (size_t i = 0; i < n; i += 1000)
        anc_swiglu_forward(b + i, x + i, y + i, (int64_t)(n - i < 1000 ? n - i : 1000));
    assert_memory_equal(a, b, bytes);
    anc_swiglu_backward(a, c, g, x, y, (int64_t)n);
    float *d = falloc(n);
    for (size_t i = 0; i < n; i += 1000)
        anc_swiglu_backward(b + i, d + i, g + i, x + i, y + i,
                            (int64_t)(n - i < 1000 ? n - i : 1000));
    assert_memory_equal(a, b, bytes);
    assert_memory_equal(c, d, bytes);

    /* linear: bias pre-fill (I = 1 keeps the product cheap) and dbias */
    anc_linear_forward(NULL, a, x, w, y, N, 1, C);
    for (int64_t r = 0; r < N; r++) anc_linear_forward(NULL, b + r * C, x + r, w, y, 1, 1, C);
    assert_memory_equal(a, b, bytes);
    memset(w1, 0, C * sizeof(float)), memset(w2, 0, C * sizeof(float));
    anc_linear_backward(NULL, NULL, NULL, w1, g, x, w, N, 1, C);
    for (int64_t r = 0; r < N; r++) anc_linear_backward(NULL, NULL, NULL, w2, g + r * C, x, w, 1, 1, C);
    assert_memory_equal(w1, w2, C * sizeof(float));

    /* rope: N tokens x 8 heads x 64 */
    const int nh = 8, D = 64, half = 32;
    int32_t *pos = malloc(N * sizeof(int32_t));
    assert_non_null(pos);
    for (int64_t i = 0; i < N; i++) pos[i] = (int32_t)(i % 3000);
    float inv[32], *cs = falloc((size_t)N * half), *sn = falloc((size_t)N * half);
    float *cs2 = falloc((size_t)N * half), *sn2 = falloc((size_t)N * half);
    anc_rope_inv_freq(inv, D, 10000.0f, NULL);
    anc_rope_table(cs, sn, pos, inv, N, D);
    for (int64_t i = 0; i < N; i++)
        anc_rope_table(cs2 + i * half, sn2 + i * half, pos + i, inv, 1, D);
    assert_memory_equal(cs, cs2, (size_t)N * half * sizeof(float));
    assert_memory_equal(sn, sn2, (size_t)N * half * sizeof(float));
    const int64_t T = N; /* T·nh·D = N·C elements: above the threshold */
    memcpy(a, x, bytes), memcpy(b, x, bytes);
    anc_rope_forward(a, cs, sn, T, nh, D);
    for (int64_t t = 0; t < T; t++)
        anc_rope_forward(b + t * nh * D, cs + t * half, sn + t * half, 1, nh, D);
    assert_memory_equal(a, b, (size_t)T * nh * D * sizeof(float));
    anc_rope_backward(a, cs, sn, T, nh, D);
    for (int64_t t = 0; t < T; t++)
        anc_rope_backward(b + t * nh * D, cs + t * half, sn + t * half, 1, nh, D);
    assert_memory_equal(a, b, (size_t)T * nh * D * sizeof(float));

    free(x), free(y), free(g), free(w), free(a), free(b), free(c), free(d);
    free(r1), free(r2), free(w1), free(w2), free(pos), free(cs), free(sn), free(cs2), free(sn2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope_inv_freq), cmocka_unit_test(test_rope),
        cmocka_unit_test(test_swiglu),        cmocka_unit_test(test_fast_exp),
        cmocka_unit_test(test_attention),     cmocka_unit_test(test_logprob),
        cmocka_unit_test(test_logprob_small_peaked),
        cmocka_unit_test(test_large_sweeps_match_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
