#include "train/score.h"

#include <stdlib.h>

anc_status anc_score_pairs(const anc_model *m, anc_acts *a, const anc_pairset *ps, int64_t max_tokens,
                           float *chosen_logp, float *rejected_logp, anc_progress_fn progress, void *ctx,
                           anc_error *err) {
    anc_packed pk = {0};
    float *seq = NULL;
    size_t seq_cap = 0;
    int64_t tokens = 0;
    anc_status st = ANC_OK;
    anc_acts *own = NULL;
    if (!a && ps->n > 0 && !(a = own = anc_acts_create_forward_only()))
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->n;) {
        if ((st = anc_pack_pairs(&pk, ps, i, max_tokens, err))) break;
        if ((size_t)pk.n_seqs > seq_cap) {
            free(seq);
            seq_cap = (size_t)pk.n_seqs;
            seq = malloc(sizeof(float) * seq_cap);
            if (!seq) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); break; }
        }
        if ((st = anc_model_forward(m, a, &pk.batch, NULL, seq, NULL, err))) {
            anc_error_prefix(err, "pair at line %zu", ps->pairs[i].line);
            break;
        }
        for (size_t k = 0; k < pk.n_pairs; k++) {
            chosen_logp[i + k] = seq[pk.seq_chosen[k]];
            rejected_logp[i + k] = seq[pk.seq_rejected[k]];
        }
        tokens += pk.n_tokens;
        i += pk.n_pairs;
        if (progress) progress(ctx, i, ps->n, tokens);
    }
    free(seq);
    anc_packed_free(&pk);
    anc_acts_free(own);
    return st;
}
