/* Training data for the trainer: pairs (prompt, chosen, rejected), or
 * unpaired labelled rows (prompt, completion, label) stored as pairs whose
 * second sequence is TRL's KL row (the prompt with the completion of the
 * previous row of its chunk), and the cached reference log-probs. */
#ifndef ANCHOR_TRAIN_TRAIN_DATA_H
#define ANCHOR_TRAIN_TRAIN_DATA_H

#include <stdint.h>

#include "core/comm.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/pairs.h"
#include "model/model.h"

typedef struct anc_train_data {
    anc_pairset ps;
    uint8_t *label;      /* [n] for unpaired data, else NULL */
    int unpaired;
} anc_train_data;

/* Loads path in any format of data/dataset.h (tok and tmpl may be NULL for
 * pre-tokenised rows). Unpaired rows (o->unpaired) get TRL's KL rows; chunk
 * is TRL's per_device_train_batch_size, which decides them. Ids must lie in
 * [0, vocab). stats (may be NULL) receives the row counts. */
anc_status anc_train_data_load(anc_train_data *d, const char *path, int64_t chunk, int vocab, anc_tokenizer *tok,
                               const anc_template *tmpl, const anc_dataset_opts *o, anc_dataset_stats *stats,
                               anc_error *err);
void anc_train_data_free(anc_train_data *d);

/* Hash of the tokenised data (for cache keys). */
uint64_t anc_train_data_hash(const anc_train_data *d);

/* Reference log-probs of every pair under ref: read from
 * dir/ref_logps-<hash>.safetensors when present (hash of ref weights and
 * data), else computed and written there. chosen[n], rejected[n]. With
 * comm (NULL: one process) rank 0 reads or writes the cache; when it must
 * be computed each rank scores its share of the pairs (anc_comm_share) and
 * every rank ends with all n values; progress counts this rank's share. */
anc_status anc_ref_logps_cached(const anc_model *ref, const anc_train_data *d, const char *dir, const char *tag,
                                int64_t max_tokens, anc_comm *comm, float *chosen, float *rejected, int *was_cached,
                                anc_progress_fn progress, void *ctx, anc_error *err);

#endif
