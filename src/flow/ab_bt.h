/* Bradley-Terry ratings for the leaderboard of anchor ab (--system).
 *
 * n systems; wins[i * n + j] is the credit of i against j (wins plus half
 * the ties; fractional counts allowed). The model P(i beats j) =
 * p_i / (p_i + p_j) is fitted by maximum likelihood with the
 * minorization-maximization iteration of Hunter (2004):
 *     p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j),  W_i = sum_j wins[i][j],
 *     n_ij = wins[i][j] + wins[j][i],
 * renormalised after each sweep so that the geometric mean of the rated
 * strengths is 1, until no log-strength moves by more than 1e-9.
 *
 * prior > 0 adds prior/2 to both wins[i][j] and wins[j][i] of every
 * compared pair (prior virtual ties), which keeps the estimate finite when
 * the maximum likelihood does not exist (a system that never lost or never
 * won). anc_bt_ml_exists says whether it does: every pair of systems in a
 * connected group of comparisons reaches the other through a chain of
 * (partial) wins (Zermelo 1929; Hunter 2004, assumption 1). */
#ifndef ANCHOR_FLOW_AB_BT_H
#define ANCHOR_FLOW_AB_BT_H

#include <stddef.h>

#include "core/error.h"

/* rating = 1000 + 400 log10(strength / geometric mean of the strengths). */
#define ANC_BT_SCALE 400.0
#define ANC_BT_BASE 1000.0

/* 1 when the maximum likelihood of wins exists (see above), else 0. */
int anc_bt_ml_exists(size_t n, const double *wins);

/* Fits the strengths of wins (n * n, row i against column j) into
 * strength[0..n): geometric mean 1 over the systems with comparisons; a
 * system without comparisons gets 0 (no rating). *iters (may be NULL): MM
 * sweeps done. ANC_ERR_INVALID for negative counts or prior < 0,
 * ANC_ERR_NOMEM; with prior == 0 and no maximum likelihood the iteration
 * stops after its limit of sweeps (100000) and returns ANC_ERR_INVALID. */
anc_status anc_bt_fit(size_t n, const double *wins, double prior, double *strength, int *iters, anc_error *err);

/* The rating of a strength > 0 (see above); NAN for 0. */
double anc_bt_rating(double strength);

#endif
