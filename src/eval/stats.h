/* Statistics of paired comparisons (anchor ab) and of accuracies (anchor
 * eval): the Wilson score interval of a proportion and the paired bootstrap
 * of a per-prompt mean.
 *
 * Wilson score interval (Wilson 1927) for k successes out of n at normal
 * quantile z (1.959963984540054 for 95%):
 *     p = k / n
 *     centre = (p + z^2 / (2n)) / (1 + z^2 / n)
 *     half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))
 *     [lo, hi] = [centre - half, centre + half], clamped to [0, 1]
 * k may be fractional: anchor ab uses k = wins + 0.5 * ties (a tie counts as
 * half a win), so the interval is the Wilson interval of the win rate
 * (wins + ties/2) / n treated as a binomial proportion over n prompts.
 *
 * Paired bootstrap (percentile method): prompts are resampled with
 * replacement (n draws from anc_rng seeded with `seed`) `resamples` times;
 * each resample's mean of the per-prompt scores is recorded; the interval
 * is the (alpha/2, 1 - alpha/2) quantiles of those means, each taken by
 * linear interpolation between order statistics at position q * (B - 1)
 * (numpy's default "linear" percentile). Same inputs and seed, same
 * interval. Because both systems' outputs for a prompt stay together (the
 * per-prompt score already compares them), the resampling is paired. */
#ifndef ANCHOR_EVAL_STATS_H
#define ANCHOR_EVAL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* z of a two-sided 95% normal interval. */
#define ANC_Z95 1.959963984540054

/* Wilson score interval of k (0 <= k <= n, may be fractional) out of n > 0
 * at quantile z > 0 into *lo, *hi. ANC_ERR_INVALID for n == 0, k outside
 * [0, n] or z <= 0 (then *lo = *hi = 0). */
anc_status anc_wilson_interval(double k, size_t n, double z, double *lo, double *hi, anc_error *err);

/* Paired percentile bootstrap of the mean of scores[0..n) (n > 0) with
 * `resamples` >= 1 resamples and confidence 1 - alpha (0 < alpha < 1), as
 * described above. ANC_ERR_INVALID for bad arguments, ANC_ERR_NOMEM. */
anc_status anc_bootstrap_mean_ci(const double *scores, size_t n, size_t resamples, uint64_t seed, double alpha,
                                 double *lo, double *hi, anc_error *err);

/* Quantile q in [0, 1] of sorted[0..n) (n > 0, ascending) by linear
 * interpolation at position q * (n - 1). */
double anc_quantile_sorted(const double *sorted, size_t n, double q);

#endif
