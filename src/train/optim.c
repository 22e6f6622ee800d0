#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

anc_status anc_optim_init(anc_optim *o, const anc_optim_config *cfg, const anc_param_spec *specs, size_t n_specs,
                          size_t n, anc_error *err) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->decay_mask = malloc(n ? n : 1);
    if (!o->decay_mask) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for the optimiser");
    memset(o->decay_mask, 1, n);
    for (size_t i = 0; i < n_specs; i++)
        if (specs[i].ndim == 1) memset(o->decay_mask + specs[i].offset, 0, specs[i].n_elems);
    if (cfg->type == ANC_OPT_ADAMW) {
        o->m = calloc(n ? n : 1, sizeof(float));
        o->v = calloc(n ? n : 1, sizeof(float));
        if (!o->m || !o->v) {
            anc_optim_free(o);
            return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate AdamW moments for %zu parameters", n);
        }
    }
    return ANC_OK;
}

void anc_optim_free(anc_optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o->decay_mask);
    o->m = o->v = NULL;
    o->decay_mask = NULL;
}

void anc_optim_step(anc_optim *o, float *p, const float *g, double lr) {
    const anc_optim_config *c = &o->cfg;
    o->step++;
    const size_t n = o->n;
    if (c->type == ANC_OPT_SGD) {
        const float flr = (float)lr, wd = (float)c->weight_decay;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i];
            if (wd != 0 && o->decay_mask[i]) gi += wd * p[i];
            p[i] -= flr * gi;
        }
        return;
    }
    /* torch.optim.AdamW (non-fused, single tensor): p *= 1 - lr*wd; m, v
     * updated; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
    const double bc1 = 1.0 - pow(c->beta1, (double)o->step), bc2 = 1.0 - pow(c->beta2, (double)o->step);
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - lr * c->weight_decay);
    for (size_t i = 0; i < n; i++) {
        if (c->weight_decay != 0 && o->decay_mask[i]) p[i] *= decay;
        float gi = g[i];
        o->m[i] = b1 * o->m[i] + (1 - b1) * gi;
        o->v[i] = b2 * o->v[i] + (1 - b2) * gi * gi;
        float denom = sqrtf(o->v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * o->m[i] / denom;
    }
}

double anc_grad_norm(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

double anc_clip_grad_norm(float *g, size_t n, double max_norm) {
    double norm = anc_grad_norm(g, n);
    if (max_norm > 0 && isfinite(norm)) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
            for (size_t i = 0; i < n; i++) g[i] *= c;
        }
    }
    return norm;
}

double anc_schedule_lr(anc_sched_type t, double base, int64_t step, int64_t warmup, int64_t total) {
    if (warmup > 0 && step < warmup) return base * (double)step / (double)warmup;
    switch (t) {
    case ANC_SCHED_CONSTANT: return base;
    case ANC_SCHED_LINEAR: {
        double rem = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
        return base * (rem > 0 ? rem : 0);
    }
    case ANC_SCHED_COSINE: {
        double progress = (double)(step - warmup) / (double)(total - warmup > 1 ? total - warmup : 1);
        double f = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress));
        return base * (f > 0 ? f : 0);
    }
    }
    return base;
}

int anc_sched_from_name(const char *s) {
    if (!strcmp(s, "constant") || !strcmp(s, "constant_with_warmup")) return ANC_SCHED_CONSTANT;
    if (!strcmp(s, "linear")) return ANC_SCHED_LINEAR;
    if (!strcmp(s, "cosine")) return ANC_SCHED_COSINE;
    return -1;
}

int anc_opt_from_name(const char *s) {
    if (!strcmp(s, "adamw") || !strcmp(s, "adamw_torch") || !strcmp(s, "adamw_torch_fused")) return ANC_OPT_ADAMW;
    if (!strcmp(s, "sgd")) return ANC_OPT_SGD;
    return -1;
}
