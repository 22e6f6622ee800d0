/* Bradley-Terry fit by minorization-maximization (ab_bt.h). */
#include "flow/ab_bt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BT_MAX_SWEEPS 100000
#define BT_TOL 1e-9

double anc_bt_rating(double strength) { return strength > 0 ? ANC_BT_BASE + ANC_BT_SCALE * log10(strength) : NAN; }

int anc_bt_ml_exists(size_t n, const double *wins) {
    /* reach[i][j]: i beats j through a chain of positive credits */
    unsigned char *reach = calloc(n * n + 1, 1), *conn = calloc(n * n + 1, 1);
    if (!reach || !conn) {
        free(reach);
        free(conn);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            reach[i * n + j] = i != j && wins[i * n + j] > 0;
            conn[i * n + j] = i != j && (wins[i * n + j] > 0 || wins[j * n + i] > 0);
        }
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                if (reach[i * n + k] && reach[k * n + j]) reach[i * n + j] = 1;
                if (conn[i * n + k] && conn[k * n + j]) conn[i * n + j] = 1;
            }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        for (size_t j = 0; j < n && ok; j++)
            if (i != j && conn[i * n + j] && !reach[i * n + j]) ok = 0;
    free(reach);
    free(conn);
    return ok;
}

anc_status anc_bt_fit(size_t n, const double *wins, double prior, double *strength, int *iters, anc_error *err) {
    if (iters) *iters = 0;
    if (!(prior >= 0)) return anc_error_set(err, ANC_ERR_INVALID, "Bradley-Terry: prior must be >= 0");
    double *w = malloc((n * n + 1) * sizeof *w), *tot = calloc(n + 1, sizeof *tot), *next = calloc(n + 1, sizeof *next);
    if (!w || !tot || !next) {
        free(w);
        free(tot);
        free(next);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    anc_status st = ANC_OK;
    for (size_t i = 0; i < n && !st; i++)
        for (size_t j = 0; j < n; j++) {
            double x = i == j ? 0 : wins[i * n + j];
            if (!(x >= 0) || !isfinite(x)) st = anc_error_set(err, ANC_ERR_INVALID, "Bradley-Terry: bad count %g", x);
            w[i * n + j] = x;
        }
    for (size_t i = 0; i < n && !st; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j && (w[i * n + j] > 0 || w[j * n + i] > 0) && prior > 0 && i < j) {
                w[i * n + j] += prior / 2;
                w[j * n + i] += prior / 2;
            }
    for (size_t i = 0; i < n; i++) {
        strength[i] = 0;
        for (size_t j = 0; j < n; j++) tot[i] += w[i * n + j] + w[j * n + i];
        if (tot[i] > 0) strength[i] = 1;
    }
    int sweep = 0, converged = 0;
    while (!st && !converged && sweep < BT_MAX_SWEEPS) {
        sweep++;
        double logsum = 0, moved = 0;
        size_t rated = 0;
        for (size_t i = 0; i < n; i++) {
            next[i] = 0;
            if (tot[i] <= 0) continue;
            double wi = 0, den = 0;
            for (size_t j = 0; j < n; j++) {
                double nij = w[i * n + j] + w[j * n + i];
                if (j == i || nij <= 0) continue;
                wi += w[i * n + j];
                den += nij / (strength[i] + strength[j]);
            }
            next[i] = wi > 0 ? wi / den : 1e-300;
            logsum += log(next[i]);
            rated++;
        }
        double g = rated ? exp(logsum / (double)rated) : 1;
        for (size_t i = 0; i < n; i++) {
            if (tot[i] <= 0) continue;
            double p = next[i] / g;
            if (p < 1e-300) p = 1e-300;
            double d = fabs(log(p) - log(strength[i]));
            if (d > moved) moved = d;
            strength[i] = p;
        }
        converged = moved <= BT_TOL;
    }
    if (!st && !converged)
        st = anc_error_set(err, ANC_ERR_INVALID, "Bradley-Terry: no convergence in %d sweeps (no maximum likelihood?)",
                           BT_MAX_SWEEPS);
    if (iters) *iters = sweep;
    free(w);
    free(tot);
    free(next);
    return st;
}
