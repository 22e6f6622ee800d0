/* ab leaderboard: Bradley-Terry ratings (ab_bt.h) of the systems from the
 * comparisons' outcomes, percentile-bootstrap 95% intervals over prompts,
 * and each system's counts and win rates against every other. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/stats.h"
#include "flow/ab_bt.h"
#include "flow/ab_internal.h"

/* Adds the outcomes of comparisons [from, to) to wins (ns * ns). */
static void add_outcomes(const ab_lb *lb, size_t from, size_t to, double *wins) {
    size_t n = lb->ns;
    for (size_t k = from; k < to; k++) {
        size_t a = lb->cmp_sys[k][0], b = lb->cmp_sys[k][1];
        switch (lb->cmp.items[k].outcome) {
        case AB_WIN: wins[a * n + b] += 1; break;
        case AB_LOSS: wins[b * n + a] += 1; break;
        case AB_TIE:
            wins[a * n + b] += 0.5;
            wins[b * n + a] += 0.5;
            break;
        default: break;
        }
    }
}

/* Ratings of wins: maximum likelihood, or with one virtual tie per compared
 * pair when it does not exist (or when *prior is already 1). NAN: unrated. */
static anc_status rate(size_t n, const double *wins, double *prior, double *strength, double *rating,
                       anc_error *err) {
    if (*prior == 0 && !anc_bt_ml_exists(n, wins)) *prior = 1;
    anc_status st = anc_bt_fit(n, wins, *prior, strength, NULL, err);
    for (size_t i = 0; i < n && !st; i++) rating[i] = anc_bt_rating(strength[i]);
    return st;
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The percentile bootstrap: prompts (groups of comparisons with an
 * outcome) drawn with replacement; a resample whose maximum likelihood
 * does not exist gets the virtual ties. */
static anc_status bootstrap(const anc_ab_opts *o, const ab_lb *lb, const size_t *gstart, const size_t *gend, size_t ng, double *lo,
                            double *hi, anc_error *err) {
    size_t n = lb->ns, R = (size_t)o->resamples;
    double *samples = malloc((R * n + 1) * sizeof *samples), *wins = malloc((n * n + 1) * sizeof *wins);
    double *strength = malloc((n + 1) * sizeof *strength), *rating = malloc((n + 1) * sizeof *rating);
    double *col = malloc((R + 1) * sizeof *col);
    anc_status st = samples && wins && strength && rating && col ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_rng rng;
    anc_rng_seed(&rng, (uint64_t)o->bootstrap_seed);
    for (size_t r = 0; r < R && !st; r++) {
        memset(wins, 0, n * n * sizeof *wins);
        for (size_t d = 0; d < ng; d++) {
            size_t g = (size_t)anc_rng_below(&rng, ng);
            add_outcomes(lb, gstart[g], gend[g], wins);
        }
        double prior = 0;
        st = rate(n, wins, &prior, strength, rating, err);
        for (size_t i = 0; i < n && !st; i++) samples[r * n + i] = rating[i];
    }
    for (size_t i = 0; i < n && !st; i++) {
        size_t m = 0;
        for (size_t r = 0; r < R; r++)
            if (!isnan(samples[r * n + i])) col[m++] = samples[r * n + i];
        lo[i] = hi[i] = NAN;
        if (!m) continue;
        qsort(col, m, sizeof *col, by_double);
        lo[i] = anc_quantile_sorted(col, m, 0.025);
        hi[i] = anc_quantile_sorted(col, m, 0.975);
    }
    free(samples);
    free(wins);
    free(strength);
    free(rating);
    free(col);
    return st;
}

static int by_rating(const void *a, const void *b) {
    const anc_ab_system *x = a, *y = b;
    if (x->rated != y->rated) return x->rated ? -1 : 1;
    if (x->rated && x->rating != y->rating) return x->rating > y->rating ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Counts of each system from wins and the comparisons. */
static anc_status fill_systems(const ab_lb *lb, const double *wins, const double *rating, const double *lo,
                               const double *hi, anc_ab_result *res, anc_error *err) {
    size_t n = lb->ns;
    res->systems = calloc(n, sizeof *res->systems);
    if (!res->systems) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    res->n_systems = n;
    for (size_t i = 0; i < n; i++) {
        anc_ab_system *s = &res->systems[i];
        s->index = i;
        s->name = strdup(lb->names[i]);
        s->win_rate = calloc(n, sizeof *s->win_rate);
        s->versus = calloc(n, sizeof *s->versus);
        if (!s->name || !s->win_rate || !s->versus) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        s->rated = !isnan(rating[i]);
        s->rating = rating[i];
        s->ci_lo = lo[i];
        s->ci_hi = hi[i];
    }
    for (size_t k = 0; k < lb->cmp.n; k++) {
        int oc = lb->cmp.items[k].outcome;
        if (oc == AB_FAILED) continue;
        size_t a = lb->cmp_sys[k][0], b = lb->cmp_sys[k][1];
        anc_ab_system *sa = &res->systems[a], *sb = &res->systems[b];
        sa->comparisons++;
        sb->comparisons++;
        sa->versus[b]++;
        sb->versus[a]++;
        sa->wins += oc == AB_WIN;
        sb->wins += oc == AB_LOSS;
        sa->losses += oc == AB_LOSS;
        sb->losses += oc == AB_WIN;
        sa->ties += oc == AB_TIE;
        sb->ties += oc == AB_TIE;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            size_t v = res->systems[i].versus[j];
            res->systems[i].win_rate[j] = v ? wins[i * n + j] / (double)v : NAN;
        }
    qsort(res->systems, n, sizeof *res->systems, by_rating);
    return ANC_OK;
}

anc_status ab_lb_rate(const anc_ab_opts *o, const ab_lb *lb, anc_ab_result *res, anc_error *err) {
    size_t n = lb->ns;
    double *wins = calloc(n * n + 1, sizeof *wins), *strength = calloc(n + 1, sizeof *strength);
    double *rating = calloc(n + 1, sizeof *rating), *lo = calloc(n + 1, sizeof *lo), *hi = calloc(n + 1, sizeof *hi);
    size_t *gstart = calloc(lb->cmp.n + 1, sizeof *gstart), *gend = calloc(lb->cmp.n + 1, sizeof *gend), ng = 0;
    anc_status st = wins && strength && rating && lo && hi && gstart && gend ? ANC_OK
                                                                     : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    /* groups: the comparisons of one prompt with at least one outcome, kept
     * contiguous (ab_lb.c makes them in prompt order) */
    for (size_t k = 0; k < lb->cmp.n && !st;) {
        size_t e = k, ok = 0;
        while (e < lb->cmp.n && lb->cmp_prompt[e] == lb->cmp_prompt[k]) ok += lb->cmp.items[e++].outcome != AB_FAILED;
        res->failed += (e - k) - ok;
        res->comparisons += ok;
        if (ok) {
            gstart[ng] = k;
            gend[ng++] = e;
        }
        k = e;
    }
    res->prompts = ng;
    double prior = 0;
    if (!st) {
        add_outcomes(lb, 0, lb->cmp.n, wins);
        st = rate(n, wins, &prior, strength, rating, err);
        res->regularized = prior > 0;
    }
    if (!st && ng) st = bootstrap(o, lb, gstart, gend, ng, lo, hi, err);
    else
        for (size_t i = 0; i < n; i++) lo[i] = hi[i] = NAN;
    if (!st) st = fill_systems(lb, wins, rating, lo, hi, res, err);
    res->n = res->comparisons;
    free(gend);
    free(wins);
    free(strength);
    free(rating);
    free(lo);
    free(hi);
    free(gstart);
    return st;
}
