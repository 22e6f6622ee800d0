#include "eval/stats.h"

#include <math.h>
#include <stdlib.h>

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
