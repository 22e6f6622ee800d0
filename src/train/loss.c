/* Preference objectives (see loss.h): TRL's per-pair formulas in double
 * with analytic gradients with respect to the summed policy log-probs.
 *
 * Notation: xw, xl = policy log-probs (summed) of chosen / rejected;
 * rw, rl = reference; dw = xw - rw, dl = xl - rl; z = beta * (dw - dl).
 * Every per-pair loss l_i enters the batch loss as l_i / n (TRL's .mean()),
 * NLL terms enter once (TRL adds a batch scalar). */
#include "train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN2 0.69314718055994530942

/* ---- numerically stable scalar helpers ----------------------------------- */

/* log(1 + e^x) without overflow. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
/* log sigma(z) = -softplus(-z). */
static double logsig(double z) { return -softplus(-z); }
/* sigma(z), without overflow for either sign. */
static double sig(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}
/* d sigma(z) / dz = sigma(z) sigma(-z). */
static double dsig(double z) { return sig(z) * sig(-z); }
/* log(1 - e^x) for x < 0 (branch at -ln 2 to avoid cancellation). */
static double log1mexp(double x) { return x < -LN2 ? log1p(-exp(x)) : log(-expm1(x)); }

/* Label-smoothed logistic loss on z: -(1-eps) log sigma(z) - eps log sigma(-z);
 * *d receives its derivative in z. */
static double ls_logistic(double z, double eps, double *d) {
    *d = -(1.0 - eps) * sig(-z) + eps * sig(z);
    return -(1.0 - eps) * logsig(z) - eps * logsig(-z);
}

/* ---- names and properties ------------------------------------------------ */

static const char *const k_names[ANC_LOSS__COUNT] = {
    [ANC_LOSS_SIGMOID] = "sigmoid",
    [ANC_LOSS_APO_ZERO] = "apo_zero",
    [ANC_LOSS_APO_DOWN] = "apo_down",
    [ANC_LOSS_IPO] = "ipo",
    [ANC_LOSS_HINGE] = "hinge",
    [ANC_LOSS_ROBUST] = "robust",
    [ANC_LOSS_EXO_PAIR] = "exo_pair",
    [ANC_LOSS_NCA_PAIR] = "nca_pair",
    [ANC_LOSS_BCO_PAIR] = "bco_pair",
    [ANC_LOSS_SPPO_HARD] = "sppo_hard",
    [ANC_LOSS_AOT] = "aot",
    [ANC_LOSS_AOT_PAIR] = "aot_pair",
    [ANC_LOSS_DISCOPOP] = "discopop",
    [ANC_LOSS_SIGMOID_NORM] = "sigmoid_norm",
    [ANC_LOSS_SFT] = "sft",
    [ANC_LOSS_SIMPO] = "simpo",
    [ANC_LOSS_CPO] = "cpo",
    [ANC_LOSS_ORPO] = "orpo",
    [ANC_LOSS_KTO] = "kto",
    [ANC_LOSS_APO_ZERO_UNPAIRED] = "apo_zero_unpaired",
};

int anc_loss_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "dpo") == 0) return ANC_LOSS_SIGMOID;
    if (strcmp(name, "aot_unpaired") == 0) return ANC_LOSS_AOT_PAIR;
    for (int i = 0; i < ANC_LOSS__COUNT; i++)
        if (strcmp(name, k_names[i]) == 0) return i;
    return -1;
}

const char *anc_loss_name(anc_loss_type t) {
    return ((unsigned)t < ANC_LOSS__COUNT) ? k_names[t] : NULL;
}

int anc_loss_needs_ref(anc_loss_type t) {
    switch (t) {
    case ANC_LOSS_SFT:
    case ANC_LOSS_SIMPO:
    case ANC_LOSS_CPO:
    case ANC_LOSS_ORPO: return 0;
    default: return (unsigned)t < ANC_LOSS__COUNT;
    }
}

int anc_loss_is_unpaired(anc_loss_type t) { return t == ANC_LOSS_KTO || t == ANC_LOSS_APO_ZERO_UNPAIRED; }

int anc_loss_is_batch_coupled(anc_loss_type t) {
    switch (t) {
    case ANC_LOSS_AOT:
    case ANC_LOSS_AOT_PAIR:
    case ANC_LOSS_BCO_PAIR:
    case ANC_LOSS_KTO:
    case ANC_LOSS_SFT:
    case ANC_LOSS_CPO:
    case ANC_LOSS_SIMPO:
    case ANC_LOSS_ORPO: return 1;
    default: return 0;
    }
}

void anc_loss_params_default(anc_loss_params *p) {
    p->beta = 0.1;
    p->label_smoothing = 0.0;
    p->simpo_gamma = 0.5;
    p->cpo_alpha = 1.0;
    p->discopop_tau = 0.05;
    p->desirable_weight = 1.0;
    p->undesirable_weight = 1.0;
}

/* ---- input checks --------------------------------------------------------- */

enum {
    NEED_REJ = 1 << 0,    /* rejected_logp */
    NEED_REF = 1 << 1,    /* ref_chosen_logp (+ ref_rejected_logp when paired) */
    NEED_CLEN = 1 << 2,   /* chosen_len */
    NEED_RLEN = 1 << 3,   /* rejected_len */
    NEED_PROMPT = 1 << 4, /* prompt_logp, prompt_len */
    NEED_LABEL = 1 << 5,
    NEED_KL = 1 << 6, /* kl_logp, ref_kl_logp */
};

/* Which inputs objective t reads under parameters p. */
static unsigned needs_of(anc_loss_type t, const anc_loss_params *p) {
    unsigned f = anc_loss_needs_ref(t) ? NEED_REF : 0;
    if (!anc_loss_is_unpaired(t)) f |= NEED_REJ;
    switch (t) {
    case ANC_LOSS_IPO:
    case ANC_LOSS_SIGMOID_NORM: f |= NEED_CLEN | NEED_RLEN; break;
    case ANC_LOSS_SFT: f |= NEED_CLEN; break;
    case ANC_LOSS_CPO: f |= p->cpo_alpha != 0.0 ? NEED_CLEN : 0; break;
    case ANC_LOSS_SIMPO: f |= NEED_CLEN | NEED_RLEN; break;
    case ANC_LOSS_ORPO: f |= NEED_CLEN | NEED_RLEN | NEED_PROMPT; break;
    case ANC_LOSS_KTO: f |= NEED_LABEL | NEED_KL; break;
    case ANC_LOSS_APO_ZERO_UNPAIRED: f |= NEED_LABEL; break;
    default: break;
    }
    return f;
}

static anc_status check_finite(const float *x, size_t n, const char *unit, const char *what, anc_loss_type t,
                               anc_error *err) {
    if (!x) return anc_error_set(err, ANC_ERR_INVALID, "loss %s: %s is missing", anc_loss_name(t), what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return anc_error_set(err, ANC_ERR_NUMERIC, "loss %s: %s %zu: %s is %g (not finite)", anc_loss_name(t),
                                 unit, i, what, (double)x[i]);
    return ANC_OK;
}

static anc_status check_len(const int32_t *len, size_t n, int32_t min, const char *unit, const char *what,
                            anc_loss_type t, anc_error *err) {
    if (!len) return anc_error_set(err, ANC_ERR_INVALID, "loss %s: %s is missing", anc_loss_name(t), what);
    for (size_t i = 0; i < n; i++)
        if (len[i] < min)
            return anc_error_set(err, ANC_ERR_INVALID, "loss %s: %s %zu: %s is %d (expected >= %d)",
                                 anc_loss_name(t), unit, i, what, (int)len[i], (int)min);
    return ANC_OK;
}

/* Checks parameters and the presence, finiteness and lengths of every input
 * objective t reads. */
static anc_status check_inputs(anc_loss_type t, const anc_loss_params *p, const anc_loss_state *state,
                               const anc_loss_batch *b, double scale, anc_error *err) {
    const char *nm = anc_loss_name(t);
    if (!(isfinite(p->beta) && p->beta > 0))
        return anc_error_set(err, ANC_ERR_INVALID, "loss %s: beta must be > 0 (got %g)", nm, p->beta);
    double eps = p->label_smoothing;
    if (!(isfinite(eps) && eps >= 0 && eps < 1))
        return anc_error_set(err, ANC_ERR_INVALID, "loss %s: label_smoothing must be in [0, 1) (got %g)", nm, eps);
    if (t == ANC_LOSS_ROBUST && eps == 0.5)
        return anc_error_set(err, ANC_ERR_INVALID, "loss robust: label_smoothing 0.5 divides by zero");
    if (t == ANC_LOSS_DISCOPOP && !(isfinite(p->discopop_tau) && p->discopop_tau > 0))
        return anc_error_set(err, ANC_ERR_INVALID, "loss discopop: discopop_tau must be > 0 (got %g)",
                             p->discopop_tau);
    if (!isfinite(p->simpo_gamma) || !isfinite(p->cpo_alpha) || !isfinite(p->desirable_weight) ||
        !isfinite(p->undesirable_weight) || !isfinite(scale))
        return anc_error_set(err, ANC_ERR_INVALID, "loss %s: non-finite parameter or scale", nm);
    if (t == ANC_LOSS_BCO_PAIR && !state)
        return anc_error_set(err, ANC_ERR_INVALID, "loss bco_pair: needs a running-mean state");
    if (b->n == 0) return anc_error_set(err, ANC_ERR_INVALID, "loss %s: empty batch", nm);

    size_t n = b->n;
    unsigned f = needs_of(t, p);
    const char *u = anc_loss_is_unpaired(t) ? "row" : "pair";
    anc_status st;
    if ((st = check_finite(b->chosen_logp, n, u, "chosen_logp", t, err))) return st;
    if ((f & NEED_REJ) && (st = check_finite(b->rejected_logp, n, u, "rejected_logp", t, err))) return st;
    int use_ref = (f & NEED_REF) || (t == ANC_LOSS_SFT && b->ref_chosen_logp && b->ref_rejected_logp);
    if (use_ref) {
        if ((st = check_finite(b->ref_chosen_logp, n, u, "ref_chosen_logp", t, err))) return st;
        if ((f & NEED_REJ) && (st = check_finite(b->ref_rejected_logp, n, u, "ref_rejected_logp", t, err)))
            return st;
    }
    if ((f & NEED_CLEN) && (st = check_len(b->chosen_len, n, 1, u, "chosen_len", t, err))) return st;
    if ((f & NEED_RLEN) && (st = check_len(b->rejected_len, n, 1, u, "rejected_len", t, err))) return st;
    if (f & NEED_PROMPT) {
        if ((st = check_finite(b->prompt_logp, n, u, "prompt_logp", t, err))) return st;
        if ((st = check_len(b->prompt_len, n, 0, u, "prompt_len", t, err))) return st;
    }
    if ((f & NEED_LABEL) && !b->label)
        return anc_error_set(err, ANC_ERR_INVALID, "loss %s: label is missing", nm);
    if (f & NEED_KL) {
        if ((st = check_finite(b->kl_logp, n, u, "kl_logp", t, err))) return st;
        if ((st = check_finite(b->ref_kl_logp, n, u, "ref_kl_logp", t, err))) return st;
    }
    if (t == ANC_LOSS_ORPO) {
        /* log(1 - p) needs an average log-prob < 0 */
        for (size_t i = 0; i < n; i++) {
            double aw = (double)b->chosen_logp[i] / b->chosen_len[i];
            double al = (double)b->rejected_logp[i] / b->rejected_len[i];
            if (!(aw < 0 && al < 0))
                return anc_error_set(err, ANC_ERR_NUMERIC,
                                     "loss orpo: pair %zu: average log-prob must be < 0 (chosen %g, rejected %g)", i,
                                     aw, al);
        }
    }
    return ANC_OK;
}

/* ---- per-pair losses of the DPO family ----------------------------------- */

/* Loss of one pair for the objectives that are a function of that pair alone,
 * given its (possibly length-averaged) log-ratios x = dw and y = dl; *gx and
 * *gy receive the partial derivatives. eps: effective label smoothing; mu:
 * bco_pair's running reward mean (a constant). */
static double pair_loss(anc_loss_type t, const anc_loss_params *p, double eps, double mu, double x, double y,
                        double *gx, double *gy) {
    const double be = p->beta, z = be * (x - y);
    double l = 0, d = 0; /* d: derivative in z, when the loss is a function of z */
    switch (t) {
    case ANC_LOSS_SIGMOID: l = ls_logistic(z, eps, &d); break;
    case ANC_LOSS_SIGMOID_NORM: l = ls_logistic(z, 0.0, &d); break;
    case ANC_LOSS_ROBUST:
        l = (-(1 - eps) * logsig(z) + eps * logsig(-z)) / (1 - 2 * eps);
        d = (-(1 - eps) * sig(-z) - eps * sig(z)) / (1 - 2 * eps);
        break;
    case ANC_LOSS_EXO_PAIR:
        /* KL(softmax over {w, l} || [1-eps, eps]); its z-derivative
         * simplifies to s(1-s) (z - log((1-eps)/eps)). */
        l = sig(z) * (logsig(z) - log1p(-eps)) + sig(-z) * (logsig(-z) - log(eps));
        d = dsig(z) * (z - log1p(-eps) + log(eps));
        break;
    case ANC_LOSS_HINGE: /* relu(1 - z); torch's relu has derivative 0 at 0 */
        l = 1 - z > 0 ? 1 - z : 0;
        d = 1 - z > 0 ? -1 : 0;
        break;
    case ANC_LOSS_DISCOPOP: {
        /* -logsig(z) (1 - m) + e^-z m with m = sigma(z/tau); e^-z m is formed
         * in log space, so it stays finite where TRL's float32 gives inf * 0 */
        const double tau = p->discopop_tau, m = sig(z / tau), lg = -logsig(z);
        const double em = exp(-z + logsig(z / tau));
        l = lg * (1 - m) + em;
        d = -sig(-z) * (1 - m) - lg * dsig(z / tau) / tau + em * (sig(-z / tau) / tau - 1);
        break;
    }
    case ANC_LOSS_IPO: {
        const double r = x - y - 1 / (2 * be);
        *gx = 2 * r;
        *gy = -2 * r;
        return r * r;
    }
    case ANC_LOSS_NCA_PAIR: {
        const double cw = be * x, cl = be * y;
        *gx = be * (-sig(-cw) + 0.5 * sig(cw));
        *gy = be * 0.5 * sig(cl);
        return -logsig(cw) - 0.5 * logsig(-cw) - 0.5 * logsig(-cl);
    }
    case ANC_LOSS_BCO_PAIR: {
        const double u = be * x - mu, v = be * y - mu;
        *gx = -be * sig(-u);
        *gy = be * sig(v);
        return -logsig(u) - logsig(-v);
    }
    case ANC_LOSS_SPPO_HARD: {
        const double a = x - 0.5 / be, c = y + 0.5 / be;
        *gx = 2 * a;
        *gy = 2 * c;
        return a * a + c * c;
    }
    case ANC_LOSS_APO_ZERO:
        *gx = -be * dsig(be * x);
        *gy = be * dsig(be * y);
        return 1 - sig(be * x) + sig(be * y);
    case ANC_LOSS_APO_DOWN:
        *gx = be * dsig(be * x) - be * dsig(z);
        *gy = be * dsig(z);
        return sig(be * x) + 1 - sig(z);
    default: break;
    }
    *gx = be * d;
    *gy = -be * d;
    return l;
}

/* Index sort helper for aot / aot_pair: ascending by value, ties by index. */
typedef struct {
    double v;
    size_t i;
} kv;

static int kv_cmp(const void *a, const void *b) {
    const kv *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Working set shared by the objective implementations. gc/gr: d(batch loss,
 * unscaled)/d chosen_logp, rejected_logp, accumulated in double. */
typedef struct {
    anc_loss_type t;
    const anc_loss_params *p;
    const anc_loss_batch *b;
    size_t n;
    double *gc, *gr;
    kv *sa, *sb; /* 2n sort buffers (aot) */
    double eps;  /* effective label smoothing */
    double mu;   /* bco_pair: running mean after this batch */
    size_t bad;  /* first pair/row with a non-finite loss term; n when none */
} work;

/* Records pair i as the first with a non-finite loss term l. */
static void note(work *w, size_t i, double l) {
    if (!isfinite(l) && i < w->bad) w->bad = i;
}

/* x[i] widened to double. */
static double f(const float *x, size_t i) { return (double)x[i]; }

/* Adds one pair's share to the paired metrics: rc_rr = {chosen reward,
 * rejected reward} (NULL: zero rewards), lc/lr its log-prob metrics. */
static void pair_metric(anc_loss_out *o, size_t n, const double *rc_rr, double lc, double lr) {
    if (rc_rr) {
        o->rewards_chosen += rc_rr[0] / (double)n;
        o->rewards_rejected += rc_rr[1] / (double)n;
        o->rewards_margins += (rc_rr[0] - rc_rr[1]) / (double)n;
        o->rewards_accuracies += (rc_rr[0] > rc_rr[1]) / (double)n;
    }
    o->logps_chosen += lc / (double)n;
    o->logps_rejected += lr / (double)n;
}

/* DPO-family objectives (reference-based, paired). Returns the batch loss. */
static double dpo_family(work *w, anc_loss_out *o) {
    const anc_loss_batch *b = w->b;
    const size_t n = w->n;
    const double be = w->p->beta;
    const int avg_metrics = w->t == ANC_LOSS_IPO; /* TRL 0.28 averages ipo's log-probs up front */
    const int avg_loss = avg_metrics || w->t == ANC_LOSS_SIGMOID_NORM;
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        double x = f(b->chosen_logp, i) - f(b->ref_chosen_logp, i);
        double y = f(b->rejected_logp, i) - f(b->ref_rejected_logp, i);
        double lw = avg_loss ? b->chosen_len[i] : 1, ll = avg_loss ? b->rejected_len[i] : 1;
        double gx = 0, gy = 0;
        if (w->t != ANC_LOSS_AOT && w->t != ANC_LOSS_AOT_PAIR) {
            double l = pair_loss(w->t, w->p, w->eps, w->mu, x / lw, y / ll, &gx, &gy);
            note(w, i, l);
            loss += l / (double)n;
            w->gc[i] += gx / lw / (double)n;
            w->gr[i] += gy / ll / (double)n;
        }
        double mw = avg_metrics ? lw : 1, ml = avg_metrics ? ll : 1;
        double r[2] = {be * (x / mw), be * (y / ml)};
        pair_metric(o, n, r, f(b->chosen_logp, i) / mw, f(b->rejected_logp, i) / ml);
    }
    if (w->t == ANC_LOSS_AOT || w->t == ANC_LOSS_AOT_PAIR) {
        /* aot: sort policy log-ratios (xw - xl) and reference log-ratios
         * separately; aot_pair: sort dw and dl separately. The k-th sorted
         * difference's gradient goes to the elements sorted into slot k. */
        const int paired = w->t == ANC_LOSS_AOT;
        for (size_t i = 0; i < n; i++) {
            double xw = f(b->chosen_logp, i), xl = f(b->rejected_logp, i);
            double rw = f(b->ref_chosen_logp, i), rl = f(b->ref_rejected_logp, i);
            w->sa[i] = (kv){paired ? xw - xl : xw - rw, i};
            w->sb[i] = (kv){paired ? rw - rl : xl - rl, i};
        }
        qsort(w->sa, n, sizeof(kv), kv_cmp);
        qsort(w->sb, n, sizeof(kv), kv_cmp);
        for (size_t k = 0; k < n; k++) {
            double d, l = ls_logistic(be * (w->sa[k].v - w->sb[k].v), w->eps, &d);
            size_t iw = w->sa[k].i, il = paired ? iw : w->sb[k].i;
            note(w, iw, l);
            loss += l / (double)n;
            w->gc[iw] += be * d / (double)n;
            w->gr[il] -= be * d / (double)n;
        }
    }
    return loss;
}

/* Token-mean NLL of the chosen responses over the whole batch (TRL's
 * cross-entropy over all chosen completion tokens), with prompt tokens too
 * when with_prompt (ORPO). Adds weight * d nll / d chosen_logp to gc and
 * returns nll; *d_prompt receives d nll / d prompt_logp (per pair). */
static double chosen_nll(work *w, double weight, int with_prompt, double *d_prompt) {
    const anc_loss_batch *b = w->b;
    double sum = 0, tokens = 0;
    for (size_t i = 0; i < w->n; i++) {
        sum += f(b->chosen_logp, i);
        tokens += b->chosen_len[i];
        if (with_prompt) {
            sum += f(b->prompt_logp, i);
            tokens += b->prompt_len[i];
        }
    }
    for (size_t i = 0; i < w->n; i++) w->gc[i] += -weight / tokens;
    if (d_prompt) *d_prompt = -weight / tokens;
    return -sum / tokens;
}

/* sft, cpo, simpo, orpo. Returns the batch loss. */
static double ref_free(work *w, anc_loss_out *o) {
    const anc_loss_batch *b = w->b;
    const size_t n = w->n;
    const double be = w->p->beta;
    double loss = 0;
    if (w->t == ANC_LOSS_SFT) {
        o->nll = chosen_nll(w, 1.0, 0, NULL);
        int ref = b->ref_chosen_logp && b->ref_rejected_logp;
        for (size_t i = 0; i < n; i++) {
            double r[2] = {0, 0};
            if (ref) {
                r[0] = be * (f(b->chosen_logp, i) - f(b->ref_chosen_logp, i));
                r[1] = be * (f(b->rejected_logp, i) - f(b->ref_rejected_logp, i));
            }
            pair_metric(o, n, ref ? r : NULL, f(b->chosen_logp, i), f(b->rejected_logp, i));
        }
        return o->nll;
    }
    const int avg = w->t != ANC_LOSS_CPO;
    for (size_t i = 0; i < n; i++) {
        double lw = avg ? b->chosen_len[i] : 1, ll = avg ? b->rejected_len[i] : 1;
        double x = f(b->chosen_logp, i) / lw, y = f(b->rejected_logp, i) / ll;
        double l, gx, gy;
        if (w->t == ANC_LOSS_ORPO) {
            double lo = (x - y) - (log1mexp(x) - log1mexp(y)), ratio = logsig(lo);
            l = -be * ratio;
            gx = -be * sig(-lo) * (-1.0 / expm1(x)); /* d lo/dx = 1/(1 - e^x) */
            gy = -be * sig(-lo) * (1.0 / expm1(y));  /* d lo/dy = -1/(1 - e^y) */
            o->log_odds_ratio += ratio / (double)n;
            o->log_odds_chosen += lo / (double)n;
        } else {
            /* cpo: beta * (xw - xl); simpo: beta * (avg_w - avg_l) - gamma */
            double z = be * (x - y) - (w->t == ANC_LOSS_SIMPO ? w->p->simpo_gamma : 0.0), d;
            l = ls_logistic(z, w->eps, &d);
            gx = be * d;
            gy = -be * d;
        }
        note(w, i, l);
        loss += l / (double)n;
        w->gc[i] += gx / lw / (double)n;
        w->gr[i] += gy / ll / (double)n;
        double r[2] = {be * x, be * y};
        pair_metric(o, n, r, x, y);
    }
    if (w->t == ANC_LOSS_ORPO) {
        o->nll = chosen_nll(w, 1.0, 1, &o->d_prompt_logp);
        loss += o->nll;
    } else if (w->p->cpo_alpha != 0.0) {
        o->nll = chosen_nll(w, w->p->cpo_alpha, 0, NULL);
        loss += w->p->cpo_alpha * o->nll;
    }
    return loss;
}

/* kto, apo_zero_unpaired: rows with labels. Returns the batch loss (mean of
 * the weighted per-row losses over all n rows, TRL's nanmean of the
 * concatenated desirable and undesirable losses). */
static double unpaired(work *w, anc_loss_out *o) {
    const anc_loss_batch *b = w->b;
    const size_t n = w->n;
    const double be = w->p->beta, wd = w->p->desirable_weight, wu = w->p->undesirable_weight;
    double kl = 0;
    if (w->t == ANC_LOSS_KTO) {
        for (size_t i = 0; i < n; i++) kl += (f(b->kl_logp, i) - f(b->ref_kl_logp, i)) / (double)n;
        kl = kl > 0 ? kl : 0; /* clamp(min=0), detached */
    }
    o->kl = kl;
    double loss = 0, rc = 0, rr = 0, lc = 0, lr = 0;
    int64_t nc = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        double x = f(b->chosen_logp, i), dx = x - f(b->ref_chosen_logp, i), l, g;
        if (b->label[i]) {
            double z = be * (dx - kl);
            l = wd * (1 - sig(z));
            g = -wd * be * dsig(z);
            rc += be * dx;
            lc += x;
            nc++;
        } else if (w->t == ANC_LOSS_KTO) {
            double z = be * (kl - dx);
            l = wu * (1 - sig(z));
            g = wu * be * dsig(z);
        } else {
            l = wu * sig(be * dx);
            g = wu * be * dsig(be * dx);
        }
        if (!b->label[i]) {
            rr += be * dx;
            lr += x;
            nr++;
        }
        note(w, i, l);
        loss += l / (double)n;
        w->gc[i] += g / (double)n;
    }
    o->count_chosen = nc;
    o->count_rejected = nr;
    if (nc) {
        o->rewards_chosen = rc / (double)nc;
        o->logps_chosen = lc / (double)nc;
    }
    if (nr) {
        o->rewards_rejected = rr / (double)nr;
        o->logps_rejected = lr / (double)nr;
    }
    if (nc && nr) o->rewards_margins = o->rewards_chosen - o->rewards_rejected;
    return loss;
}

/* ---- entry point ---------------------------------------------------------- */

anc_status anc_loss_compute(anc_loss_type t, const anc_loss_params *p, anc_loss_state *state,
                            const anc_loss_batch *b, double scale, anc_loss_out *out, float *d_chosen,
                            float *d_rejected, anc_error *err) {
    if ((unsigned)t >= ANC_LOSS__COUNT)
        return anc_error_set(err, ANC_ERR_INVALID, "unknown loss type %d", (int)t);
    if (!p || !b || !out)
        return anc_error_set(err, ANC_ERR_INVALID, "loss %s: missing params, batch or output", anc_loss_name(t));
    anc_status st = check_inputs(t, p, state, b, scale, err);
    if (st) return st;

    const size_t n = b->n;
    if (n > SIZE_MAX / (2 * sizeof(kv)))
        return anc_error_set(err, ANC_ERR_NOMEM, "loss %s: batch too large", anc_loss_name(t));
    work w = {.t = t, .p = p, .b = b, .n = n, .eps = p->label_smoothing, .bad = n};
    w.gc = calloc(2 * n, sizeof(double));
    w.sa = (t == ANC_LOSS_AOT || t == ANC_LOSS_AOT_PAIR) ? malloc(2 * n * sizeof(kv)) : NULL;
    if (!w.gc || ((t == ANC_LOSS_AOT || t == ANC_LOSS_AOT_PAIR) && !w.sa)) {
        free(w.gc);
        free(w.sa);
        return anc_error_set(err, ANC_ERR_NOMEM, "loss %s: out of memory for %zu pairs", anc_loss_name(t), n);
    }
    w.gr = w.gc + n;
    w.sb = w.sa ? w.sa + n : NULL;
    if (t == ANC_LOSS_EXO_PAIR && w.eps == 0.0) w.eps = 1e-3; /* TRL 0.28's substitute */

    int64_t bco_count = 0;
    if (t == ANC_LOSS_BCO_PAIR) {
        /* RunningMoments.update with one sample: the batch mean reward */
        double m = 0;
        for (size_t i = 0; i < n; i++)
            m += p->beta * ((f(b->chosen_logp, i) - f(b->ref_chosen_logp, i)) +
                            (f(b->rejected_logp, i) - f(b->ref_rejected_logp, i)));
        m /= 2.0 * (double)n;
        bco_count = state->bco_count + 1;
        w.mu = state->bco_running_mean + (m - state->bco_running_mean) / (double)bco_count;
    }

    memset(out, 0, sizeof *out);
    out->count_chosen = out->count_rejected = (int64_t)n;
    double loss;
    if (anc_loss_is_unpaired(t))
        loss = unpaired(&w, out);
    else if (anc_loss_needs_ref(t))
        loss = dpo_family(&w, out);
    else
        loss = ref_free(&w, out);

    /* Every term is finite in double for finite inputs; what can still
     * overflow is the float gradient (|input| near FLT_MAX): report it. */
    const char *unit = anc_loss_is_unpaired(t) ? "row" : "pair";
    if (w.bad < n) {
        st = anc_error_set(err, ANC_ERR_NUMERIC, "loss %s: %s %zu: loss is not finite", anc_loss_name(t), unit,
                           w.bad);
        goto done;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        if (!isfinite(w.gc[i] * scale) || fabs(w.gc[i] * scale) > 3.4e38) {
            size_t k = i < n ? i : i - n;
            st = anc_error_set(err, ANC_ERR_NUMERIC, "loss %s: %s %zu: gradient of the %s log-prob is not finite",
                               anc_loss_name(t), unit, k, i < n ? "chosen" : "rejected");
            goto done;
        }
    }
    if (!isfinite(loss * scale)) {
        st = anc_error_set(err, ANC_ERR_NUMERIC, "loss %s: batch loss is not finite", anc_loss_name(t));
        goto done;
    }
    out->loss = loss * scale;
    out->d_prompt_logp *= scale;
    for (size_t i = 0; i < n; i++) {
        if (d_chosen) d_chosen[i] = (float)(w.gc[i] * scale);
        if (d_rejected) d_rejected[i] = (float)(w.gr[i] * scale);
    }
    if (t == ANC_LOSS_BCO_PAIR) {
        state->bco_running_mean = w.mu;
        state->bco_count = bco_count;
    }
done:
    free(w.gc);
    free(w.sa);
    return st;
}
