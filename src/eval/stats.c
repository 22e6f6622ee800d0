#include "eval/stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

anc_status anc_wilson_interval(double k, size_t n, double z, double *lo, double *hi, anc_error *err) {
    *lo = *hi = 0;
    if (n == 0) return anc_error_set(err, ANC_ERR_INVALID, "Wilson interval: expected n > 0");
    double nn = (double)n;
    if (!(k >= 0 && k <= nn)) return anc_error_set(err, ANC_ERR_INVALID, "Wilson interval: expected 0 <= k <= n, got k = %g, n = %zu", k, n);
    if (!(z > 0)) return anc_error_set(err, ANC_ERR_INVALID, "Wilson interval: expected z > 0, got %g", z);
    double p = k / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / denom;
    double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
    return ANC_OK;
}

double anc_quantile_sorted(const double *sorted, size_t n, double q) {
    if (n == 1 || q <= 0) return sorted[0];
    if (q >= 1) return sorted[n - 1];
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    double frac = pos - (double)i;
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

anc_status anc_bootstrap_mean_ci(const double *scores, size_t n, size_t resamples, uint64_t seed, double alpha,
                                 double *lo, double *hi, anc_error *err) {
    *lo = *hi = 0;
    if (n == 0 || resamples == 0 || !(alpha > 0 && alpha < 1))
        return anc_error_set(err, ANC_ERR_INVALID, "bootstrap: expected n > 0, resamples > 0 and 0 < alpha < 1");
    double *means = malloc(resamples * sizeof *means);
    if (!means) return anc_error_set(err, ANC_ERR_NOMEM, "bootstrap: out of memory for %zu resamples", resamples);
    anc_rng r;
    anc_rng_seed(&r, seed);
    for (size_t b = 0; b < resamples; b++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += scores[anc_rng_below(&r, n)];
        means[b] = s / (double)n;
    }
    qsort(means, resamples, sizeof *means, cmp_double);
    *lo = anc_quantile_sorted(means, resamples, alpha / 2);
    *hi = anc_quantile_sorted(means, resamples, 1 - alpha / 2);
    free(means);
    return ANC_OK;
}

anc_status anc_bootstrap_diff_ci(const double *a, const double *b, size_t seeds, size_t prompts, size_t resamples,
                                 uint64_t seed, double alpha, double *diff, double *lo, double *hi, anc_error *err) {
    *diff = *lo = *hi = 0;
    if (seeds == 0 || prompts == 0 || resamples == 0 || !(alpha > 0 && alpha < 1) || seeds > SIZE_MAX / prompts)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "bootstrap: expected seeds > 0, prompts > 0, resamples > 0 and 0 < alpha < 1");
    size_t n = seeds * prompts;
    double *d = malloc(n * sizeof *d), *means = malloc(resamples * sizeof *means);
    size_t *w = malloc(prompts * sizeof *w);
    if (!d || !means || !w) {
        free(d), free(means), free(w);
        return anc_error_set(err, ANC_ERR_NOMEM, "bootstrap: out of memory for %zu x %zu scores", seeds, prompts);
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) total += d[i] = a[i] - b[i];
    *diff = total / (double)n;
    anc_rng r;
    anc_rng_seed(&r, seed);
    for (size_t k = 0; k < resamples; k++) {
        /* prompt multiplicities of this resample, then the drawn seed rows */
        memset(w, 0, prompts * sizeof *w);
        for (size_t i = 0; i < prompts; i++) w[anc_rng_below(&r, prompts)]++;
        double sum = 0;
        for (size_t t = 0; t < seeds; t++) {
            const double *row = d + (seeds > 1 ? anc_rng_below(&r, seeds) : 0) * prompts;
            for (size_t p = 0; p < prompts; p++) sum += (double)w[p] * row[p];
        }
        means[k] = sum / (double)n;
    }
    qsort(means, resamples, sizeof *means, cmp_double);
    *lo = anc_quantile_sorted(means, resamples, alpha / 2);
    *hi = anc_quantile_sorted(means, resamples, 1 - alpha / 2);
    free(d);
    free(means);
    free(w);
    return ANC_OK;
}
