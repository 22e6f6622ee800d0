/* LoRA adapters: configuration, slab layout with PEFT's names, PEFT's
 * initialisation, and the forward/backward of one adapted projection.
 * See lora.h for the contract; PEFT files and merging are in lora_peft.c. */
#include "model/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static const char *const module_names[ANC_LORA_NMOD] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                        "gate_proj", "up_proj", "down_proj"};
static const char *const module_parent[ANC_LORA_NMOD] = {"self_attn", "self_attn", "self_attn", "self_attn",
                                                         "mlp", "mlp", "mlp"};

const char *anc_lora_module_name(anc_lora_module mod) {
    return (unsigned)mod < ANC_LORA_NMOD ? module_names[mod] : "?";
}

void anc_lora_config_default(anc_lora_config *c) {
    c->r = 16;
    c->alpha = 32;
    c->dropout = 0.05;
    c->use_rslora = 0;
    c->targets = ANC_LORA_DEFAULT_TARGETS;
}

anc_status anc_lora_parse_targets(const char *const *names, int n, unsigned *mask, anc_error *err) {
    unsigned m = 0;
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        while (*s) {
            size_t len = strcspn(s, ",");
            const char *w = s;
            size_t wl = len;
            while (wl && (*w == ' ' || *w == '\t')) { w++; wl--; }
            while (wl && (w[wl - 1] == ' ' || w[wl - 1] == '\t')) wl--;
            if (wl) {
                int found = -1;
                if (wl == 10 && !strncmp(w, "all-linear", 10)) m |= ANC_LORA_ALL_LINEAR, found = 1;
                for (int k = 0; k < ANC_LORA_NMOD && found < 0; k++)
                    if (strlen(module_names[k]) == wl && !strncmp(w, module_names[k], wl)) {
                        m |= 1u << k;
                        found = 1;
                    }
                if (found < 0)
                    return anc_error_set(err, ANC_ERR_INVALID,
                                         "lora target module '%.*s' is not one anchor adapts; use all-linear or some of "
                                         "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj",
                                         (int)(wl > 64 ? 64 : wl), w);
            }
            s += len;
            if (*s == ',') s++;
        }
    }
    if (!m) return anc_error_set(err, ANC_ERR_INVALID, "lora target modules: none given");
    *mask = m;
    return ANC_OK;
}

/* in / out features of projection mod in a model of config c. */
static void module_shape(const anc_config *c, anc_lora_module mod, int *in, int *out) {
    const int C = c->hidden_size, F = c->intermediate_size;
    const int QD = c->num_heads * c->head_dim, KD = c->num_kv_heads * c->head_dim;
    switch (mod) {
    case ANC_LORA_Q: *in = C; *out = QD; break;
    case ANC_LORA_K:
    case ANC_LORA_V: *in = C; *out = KD; break;
    case ANC_LORA_O: *in = QD; *out = C; break;
    case ANC_LORA_GATE:
    case ANC_LORA_UP: *in = C; *out = F; break;
    default: *in = F; *out = C; break;
    }
}

/* Points the pair views of `at` into slab by the layout of l->specs. */
static void bind_views(const anc_lora *l, anc_lora_pair *at, float *slab) {
    size_t s = 0;
    for (int layer = 0; layer < l->n_layers; layer++)
        for (int k = 0; k < ANC_LORA_NMOD; k++) {
            anc_lora_pair *p = &at[(size_t)layer * ANC_LORA_NMOD + k];
            const anc_lora_pair *src = &l->at[(size_t)layer * ANC_LORA_NMOD + k];
            p->in = src->in;
            p->out = src->out;
            if (!(l->cfg.targets & (1u << k))) {
                p->A = p->B = NULL;
                continue;
            }
            p->A = slab + l->specs[s++].offset;
            p->B = slab + l->specs[s++].offset;
        }
}

anc_status anc_lora_config_check(const anc_lora_config *lc, anc_error *err) {
    if (lc->r < 1 || lc->r > 65536) return anc_error_set(err, ANC_ERR_INVALID, "lora: r must lie in 1..65536, not %d", lc->r);
    if (!(lc->alpha > 0) || !isfinite(lc->alpha))
        return anc_error_set(err, ANC_ERR_INVALID, "lora: lora-alpha must be a finite number > 0");
    if (!(lc->dropout >= 0 && lc->dropout < 1))
        return anc_error_set(err, ANC_ERR_INVALID, "lora: lora-dropout must lie in [0, 1), not %g", lc->dropout);
    if (!lc->targets || (lc->targets & ~ANC_LORA_ALL_LINEAR))
        return anc_error_set(err, ANC_ERR_INVALID, "lora: no target modules");
    return ANC_OK;
}

anc_status anc_lora_create(anc_lora **out, const anc_config *mc, const anc_lora_config *lc, anc_error *err) {
    *out = NULL;
    anc_status st = anc_lora_config_check(lc, err);
    if (st) return st;
    anc_lora *l = calloc(1, sizeof *l);
    if (!l) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    l->cfg = *lc;
    l->n_layers = mc->num_layers;
    l->scale = (float)(lc->use_rslora ? lc->alpha / sqrt((double)lc->r) : lc->alpha / (double)lc->r);
    int n_targets = 0;
    for (int k = 0; k < ANC_LORA_NMOD; k++) n_targets += (lc->targets >> k) & 1;
    size_t cap = (size_t)mc->num_layers * (size_t)n_targets * 2;
    l->specs = calloc(cap ? cap : 1, sizeof *l->specs);
    l->at = calloc((size_t)mc->num_layers * ANC_LORA_NMOD, sizeof *l->at);
    if (!l->specs || !l->at) {
        anc_lora_free(l);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    size_t total = 0;
    for (int layer = 0; layer < mc->num_layers; layer++)
        for (int k = 0; k < ANC_LORA_NMOD; k++) {
            anc_lora_pair *p = &l->at[(size_t)layer * ANC_LORA_NMOD + k];
            module_shape(mc, (anc_lora_module)k, &p->in, &p->out);
            if (!(lc->targets & (1u << k))) continue;
            for (int ab = 0; ab < 2; ab++) {
                anc_param_spec *s = &l->specs[l->n_specs++];
                snprintf(s->name, sizeof s->name, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", layer,
                         module_parent[k], module_names[k], ab ? 'B' : 'A');
                s->ndim = 2;
                s->shape[0] = ab ? p->out : lc->r;
                s->shape[1] = ab ? lc->r : p->in;
                s->n_elems = (size_t)s->shape[0] * (size_t)s->shape[1];
                s->offset = total;
                total += s->n_elems;
            }
        }
    l->n_params = total;
    l->params = calloc(total ? total : 1, sizeof(float));
    if (!l->params) {
        anc_lora_free(l);
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate %zu adapter parameters", total);
    }
    bind_views(l, l->at, l->params);
    *out = l;
    return ANC_OK;
}

void anc_lora_free(anc_lora *l) {
    if (!l) return;
    free(l->params);
    free(l->grads);
    free(l->specs);
    free(l->at);
    free(l->gat);
    free(l);
}

void anc_lora_init(anc_lora *l, uint64_t seed) {
    anc_rng r;
    anc_rng_seed(&r, seed ^ 0x4C6F5241ull);  /* "LoRA": its own stream */
    for (size_t i = 0; i < (size_t)l->n_layers * ANC_LORA_NMOD; i++) {
        anc_lora_pair *p = &l->at[i];
        if (!p->A) continue;
        /* kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + a^2) fan_in)) = 1/sqrt(fan_in) */
        double bound = 1.0 / sqrt((double)p->in);
        size_t n = (size_t)l->cfg.r * (size_t)p->in;
        for (size_t j = 0; j < n; j++) p->A[j] = (float)((2.0 * anc_rng_uniform(&r) - 1.0) * bound);
        memset(p->B, 0, sizeof(float) * (size_t)p->out * (size_t)l->cfg.r);
    }
}

anc_status anc_lora_alloc_grads(anc_lora *l, anc_error *err) {
    if (l->grads) return ANC_OK;
    l->grads = calloc(l->n_params ? l->n_params : 1, sizeof(float));
    l->gat = calloc((size_t)l->n_layers * ANC_LORA_NMOD, sizeof *l->gat);
    if (!l->grads || !l->gat) {
        free(l->grads);
        free(l->gat);
        l->grads = NULL;
        l->gat = NULL;
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate adapter gradients");
    }
    bind_views(l, l->gat, l->grads);
    return ANC_OK;
}

size_t anc_lora_scratch_floats(const anc_lora *l, int64_t n, int max_in) {
    size_t s = 2 * (size_t)n * (size_t)l->cfg.r;
    if (l->cfg.dropout > 0) s += (size_t)n * (size_t)max_in;
    return s;
}

/* ---- dropout: a counter-based mask, so backward regenerates it ---- */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int dropping(const anc_lora *l) { return l->training && l->cfg.dropout > 0; }

static uint64_t mask_key(const anc_lora *l, int layer, anc_lora_module mod) {
    return mix64(l->dropout_seed ^ mix64(l->dropout_pass + 0x9E3779B97F4A7C15ull * (uint64_t)(layer * ANC_LORA_NMOD + mod + 1)));
}

/* One block of a mask: bits[] = mix64(base), mix64(base + 1), ... as
 * 16-bit draws (four per hash, in memory order), then dst[i] = bits[i] >=
 * cut ? src[i] * keep_scale : 0. Written as plain loops twice: the
 * AVX-512 copy is vectorised by the compiler (vpmullq for the hash). */
#define DROPOUT_BLOCK 1024
#define DROPOUT_BODY                                                                   \
    uint64_t h[DROPOUT_BLOCK / 4];                                                     \
    uint16_t bits[DROPOUT_BLOCK];                                                      \
    size_t nh = (n + 3) / 4;                                                           \
    for (size_t j = 0; j < nh; j++) h[j] = mix64(base + j);                            \
    memcpy(bits, h, nh * sizeof(uint64_t));                                            \
    for (size_t i = 0; i < n; i++) dst[i] = bits[i] >= cut ? src[i] * keep_scale : 0.0f;

static void dropout_block(float *dst, const float *src, size_t n, uint64_t base, uint32_t cut, float keep_scale) {
    DROPOUT_BODY
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))) static void dropout_block_avx512(
    float *dst, const float *src, size_t n, uint64_t base, uint32_t cut, float keep_scale) {
    DROPOUT_BODY
}
#undef DROPOUT_BODY

/* dst[i] = keep(i) ? src[i] / (1 - p) : 0 over n elements (dst may be src).
 * Element i keeps when the 16-bit draw i of the stream mix64(key),
 * mix64(key + 1), ... (four per hash, little-endian order) is at least
 * round(p * 65536): the effective rate is within 2^-17 of p; the scale is
 * PEFT's 1 / (1 - p). */
static void dropout_apply(float *dst, const float *src, size_t n, uint64_t key, double p) {
    const uint32_t cut = (uint32_t)(p * 65536.0 + 0.5);
    const float keep_scale = (float)(1.0 / (1.0 - p));
    const int wide = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512vl");
    for (size_t i0 = 0; i0 < n; i0 += DROPOUT_BLOCK) {
        size_t nb = n - i0 < DROPOUT_BLOCK ? n - i0 : DROPOUT_BLOCK;
        if (wide) dropout_block_avx512(dst + i0, src + i0, nb, key + i0 / 4, cut, keep_scale);
        else dropout_block(dst + i0, src + i0, nb, key + i0 / 4, cut, keep_scale);
    }
}

void anc_lora_forward(anc_mm *mm, const anc_lora *l, int layer, anc_lora_module mod, float *out, const float *inp,
                      int64_t N, float *scratch) {
    const anc_lora_pair *p = anc_lora_get(l, layer, mod);
    if (!p->A || N <= 0) return;
    const int r = l->cfg.r;
    float *u = scratch;
    const float *x = inp;
    if (dropping(l)) {
        float *xd = scratch + 2 * (size_t)N * r;
        dropout_apply(xd, inp, (size_t)N * p->in, mask_key(l, layer, mod), l->cfg.dropout);
        x = xd;
    }
    /* u[N, r] = x · A^T;  out[N, out] += scale · u · B^T */
    anc_mm_gemm(mm, 0, 1, N, r, p->in, 1.0f, x, p->in, p->A, p->in, 0.0f, u, r);
    anc_mm_gemm(mm, 0, 1, N, p->out, r, l->scale, u, r, p->B, r, 1.0f, out, p->out);
}

void anc_lora_backward(anc_mm *mm, const anc_lora *l, int layer, anc_lora_module mod, float *dinp, const float *dout,
                       const float *inp, int64_t N, float *scratch) {
    const anc_lora_pair *p = anc_lora_get(l, layer, mod);
    if (!p->A || N <= 0) return;
    const int r = l->cfg.r;
    const anc_lora_pair *g = l->gat ? &l->gat[(size_t)layer * ANC_LORA_NMOD + mod] : NULL;
    float *u = scratch, *du = scratch + (size_t)N * r;
    const int drop = dropping(l);
    float *xd = drop ? scratch + 2 * (size_t)N * r : NULL;
    const uint64_t key = drop ? mask_key(l, layer, mod) : 0;
    const float *x = inp;
    if (drop) {
        dropout_apply(xd, inp, (size_t)N * p->in, key, l->cfg.dropout);
        x = xd;
    }
    /* recompute u = x · A^T */
    anc_mm_gemm(mm, 0, 1, N, r, p->in, 1.0f, x, p->in, p->A, p->in, 0.0f, u, r);
    /* dB[out, r] += scale · dout^T · u */
    if (g) anc_mm_gemm(mm, 1, 0, p->out, r, N, l->scale, dout, p->out, u, r, 1.0f, g->B, r);
    /* du[N, r] = scale · dout · B */
    anc_mm_gemm(mm, 0, 0, N, r, p->out, l->scale, dout, p->out, p->B, r, 0.0f, du, r);
    /* dA[r, in] += du^T · x */
    if (g) anc_mm_gemm(mm, 1, 0, r, p->in, N, 1.0f, du, r, x, p->in, 1.0f, g->A, p->in);
    if (!dinp) return;
    if (!drop) {
        /* dinp[N, in] += du · A */
        anc_mm_gemm(mm, 0, 0, N, p->in, r, 1.0f, du, r, p->A, p->in, 1.0f, dinp, p->in);
        return;
    }
    /* through the same mask: dinp += dropout(du · A), reusing xd */
    anc_mm_gemm(mm, 0, 0, N, p->in, r, 1.0f, du, r, p->A, p->in, 0.0f, xd, p->in);
    const size_t n = (size_t)N * p->in;
    dropout_apply(xd, xd, n, key, l->cfg.dropout);
    for (size_t i = 0; i < n; i++) dinp[i] += xd[i];
}
