/* Tokenised preference pairs and their packing into micro-batches.
 * A pair is (prompt ids, chosen ids, rejected ids); response ids exclude the
 * prompt. Both sides of a pair always go into the same micro-batch, as two
 * sequences prompt+chosen and prompt+rejected whose response tokens are
 * scored. anc_pair, anc_pairset, anc_pairset_free and anc_pair_tokens are
 * public (anchor/dataset.h). */
#ifndef ANCHOR_DATA_PAIRS_H
#define ANCHOR_DATA_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "anchor/dataset.h"
#include "core/error.h"
#include "data/jsonl.h"
#include "model/batch.h"

/* Reads pre-tokenised rows (prompt_ids, chosen_ids, rejected_ids) from rows.
 * Ids must lie in [0, vocab). The prompt must be non-empty (the first
 * response token needs a preceding token) and so must both responses.
 * Text rows are reported as needing a tokenizer. */
anc_status anc_pairs_from_rows(anc_pairset *out, const anc_rows *rows, int vocab, const char *label,
                               anc_error *err);

/* A packed micro-batch of whole pairs: pair first+i has its prompt+chosen
 * in sequence seq_chosen[i] and its prompt+rejected in seq_rejected[i].
 * When the two responses are identical (SFT rows, KTO rows whose KL
 * completion is their own) the sequence is packed once and both indices
 * name it, so it is computed once. */
typedef struct anc_packed {
    int32_t *tokens;
    int64_t *seq_offsets;
    uint8_t *score_mask;
    int64_t n_tokens, cap_tokens;
    int n_seqs, cap_seqs;
    size_t first_pair, n_pairs;
    int *seq_chosen, *seq_rejected;  /* [n_pairs] sequence of each side */
    size_t cap_pairs;
    int score_prompt;              /* set by the caller: also score prompt tokens 1..P-1 of each chosen sequence (ORPO's NLL) */
    anc_batch batch;               /* views of the arrays above */
} anc_packed;

/* Packs pairs first, first+1, ... into out until adding the next pair would
 * exceed max_tokens (at least one pair is always taken; max_tokens <= 0 means
 * one pair per batch). Returns the number of pairs taken in out->n_pairs. */
anc_status anc_pack_pairs(anc_packed *out, const anc_pairset *ps, size_t first, int64_t max_tokens,
                          anc_error *err);
void anc_packed_free(anc_packed *p);

/* Tokens a pair occupies when packed. */
int64_t anc_pair_tokens(const anc_pair *p);

#endif
