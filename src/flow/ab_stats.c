/* ab: the summary of the outcomes (flow/ab.h): counts, win rate, Wilson and
 * paired-bootstrap intervals, position consistency, mean lengths and
 * scores. */
#include <stdlib.h>

#include "eval/loglik.h"
#include "eval/stats.h"
#include "flow/ab_internal.h"

anc_status ab_summarize(const anc_ab_opts *o, const ab_set *s, anc_ab_result *res, anc_error *err) {
    size_t counts[4] = {0}, consistent = 0, n = 0;
    double len_a = 0, len_b = 0, mean_sa = 0, mean_sb = 0;
    double *scores = calloc(s->n + 1, sizeof *scores);
    if (!scores) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        const ab_item *it = &s->items[i];
        counts[it->outcome]++;
        if (it->outcome == AB_FAILED) continue;
        scores[n++] = it->outcome == AB_WIN ? 1.0 : it->outcome == AB_TIE ? 0.5 : 0.0;
        consistent += (size_t)it->consistent;
        len_a += (double)anc_utf8_chars(it->ya);
        len_b += (double)anc_utf8_chars(it->yb);
        mean_sa += it->sa;
        mean_sb += it->sb;
    }
    res->n = n;
    res->wins = counts[AB_WIN];
    res->ties = counts[AB_TIE];
    res->losses = counts[AB_LOSS];
    res->failed = counts[AB_FAILED];
    res->unmatched = s->unmatched;
    anc_status st = ANC_OK;
    if (n) {
        double k = (double)counts[AB_WIN] + 0.5 * (double)counts[AB_TIE];
        res->win_rate = k / (double)n;
        st = anc_wilson_interval(k, n, ANC_Z95, &res->wilson_lo, &res->wilson_hi, err);
        if (!st)
            st = anc_bootstrap_mean_ci(scores, n, (size_t)o->resamples, (uint64_t)o->bootstrap_seed, 0.05,
                                       &res->bootstrap_lo, &res->bootstrap_hi, err);
        res->mean_chars_a = len_a / (double)n;
        res->mean_chars_b = len_b / (double)n;
        res->mean_score_a = mean_sa / (double)n;
        res->mean_score_b = mean_sb / (double)n;
        res->consistency = (double)consistent / (double)n;
    }
    free(scores);
    return st;
}
