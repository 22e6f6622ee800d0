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

/* Two-level paired bootstrap of a mean difference (the demo's verdicts):
 * a and b are seeds x prompts matrices (row-major: a[s * prompts + p] is
 * run s's score on prompt p) of two systems, each row one run (seed) on the
 * same prompts. *diff is the mean of a - b over every cell. Each of
 * `resamples` resamples draws `prompts` prompt columns, then (when seeds >
 * 1) `seeds` seed rows, with replacement from anc_rng seeded with `seed`,
 * the same draws for a and b (paired by prompt and by seed index), and
 * records the mean of a - b over the drawn cells; *lo, *hi are the (alpha/2,
 * 1 - alpha/2) percentiles of those means as above. With seeds == 1 it is
 * anc_bootstrap_mean_ci of the per-prompt differences (the same draws;
 * equal up to the order of summation, exactly for integer scores). Resampling
 * the seeds too makes the interval cover run-to-run variation (data order,
 * sampling), not only the choice of prompts; it is conservative (with
 * independent cells it counts their noise at both levels: about 1.6x the
 * prompt-only width for 3 seeds, tests/test_ab.c). ANC_ERR_INVALID for zero
 * sizes, resamples or alpha outside (0, 1), ANC_ERR_NOMEM. */
anc_status anc_bootstrap_diff_ci(const double *a, const double *b, size_t seeds, size_t prompts, size_t resamples,
                                 uint64_t seed, double alpha, double *diff, double *lo, double *hi, anc_error *err);

/* Quantile q in [0, 1] of sorted[0..n) (n > 0, ascending) by linear
 * interpolation at position q * (n - 1). */
double anc_quantile_sorted(const double *sorted, size_t n, double q);

#endif
