/* Text generation over token ids: several requests decoded together with a
 * KV cache (continuous batching: a finished sequence's slot takes the next
 * request at once). Each request has its own random stream derived from the
 * seed and its index, so the batch size changes results only through
 * floating-point rounding (the GEMM of k rows sums in another order than
 * k GEMVs), which can flip a sampled near-tie in a long completion. */
#ifndef ANCHOR_MODEL_GENERATE_H
#define ANCHOR_MODEL_GENERATE_H

#include <stdint.h>

#include "core/progress.h"
#include "model/decode.h"

typedef enum { ANC_FINISH_LENGTH = 0, ANC_FINISH_STOP = 1 } anc_finish_reason;

typedef struct anc_gen_request {
    const int32_t *prompt;   /* borrowed, n_prompt >= 1 ids */
    int n_prompt;
    uint64_t stream;         /* random stream id (e.g. row * samples + sample) */
} anc_gen_request;

typedef struct anc_gen_result {
    int32_t *ids;            /* generated ids (malloc'd; stop token excluded) */
    int n;
    anc_finish_reason finish;
    int capped;              /* 1: the model's context (max_position_embeddings) ended it, not max_new_tokens */
} anc_gen_result;

/* Returns 1 when generation of request `req` should stop after ids[0..n)
 * (e.g. a stop string appeared in the decoded text). */
typedef int (*anc_stop_fn)(void *ctx, int req, const int32_t *ids, int n);

/* Called once per request as soon as out[req] is final (ids still owned by
 * out), e.g. to write it out so a killed run keeps what it finished. */
typedef void (*anc_gen_done_fn)(void *ctx, int req, const anc_gen_result *r);

typedef struct anc_gen_config {
    int max_new_tokens;
    anc_sampling sampling;
    const int32_t *stop_ids;   /* token ids that end a sequence (e.g. EOS); not included in the output */
    int n_stop_ids;
    uint64_t seed;
    int parallel;              /* sequences decoded together (>= 1) */
    anc_stop_fn stop;          /* may be NULL */
    void *stop_ctx;
    anc_gen_done_fn done;      /* may be NULL */
    void *done_ctx;
} anc_gen_config;

/* Generates for reqs[0..n) into out[0..n) (caller frees out[i].ids with
 * anc_gen_results_free). A sequence never runs past the model's
 * max_position_embeddings: it ends there with finish LENGTH and capped set
 * (a prompt that already fills the context gets no tokens). The KV cache
 * (parallel x the longest sequence) is checked against the machine's
 * memory before it is allocated. progress (may be NULL) is called after
 * every decoding step with finished requests and generated tokens. */
anc_status anc_generate(const anc_model *m, const anc_gen_request *reqs, int n, const anc_gen_config *cfg,
                        anc_gen_result *out, anc_progress_fn progress, void *ctx, anc_error *err);
void anc_gen_results_free(anc_gen_result *out, int n);

/* Bytes of a KV cache for slots sequences of max_len tokens of cfg's model
 * (keys and values, fp32), computed without overflow (saturates at
 * SIZE_MAX). */
size_t anc_kv_bytes_for(const anc_config *cfg, int64_t slots, int64_t max_len);

#endif
