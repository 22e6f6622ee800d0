/* The packed micro-batch every pass of the engine takes (model/model.h),
 * in a header of its own so data/ can build batches without the model. */
#ifndef ANCHOR_MODEL_BATCH_H
#define ANCHOR_MODEL_BATCH_H

#include <stdint.h>

/* A packed micro-batch: n_seqs sequences concatenated into n_tokens ids.
 * seq_offsets[n_seqs+1] delimits them (0 first, n_tokens last, increasing,
 * no empty sequence). score_mask[t] = 1 marks token t as scored: its
 * log-probability given the earlier tokens of its sequence counts. It must be
 * 0 at the first token of each sequence. All arrays are borrowed. */
typedef struct anc_batch {
    int64_t n_tokens;
    const int32_t *tokens;
    int n_seqs;
    const int64_t *seq_offsets;
    const uint8_t *score_mask;
} anc_batch;

#endif
