/* libanchor public API: text generation over token ids. Several requests are
 * decoded together with a KV cache (continuous batching: a finished
 * sequence's slot takes the next request at once). Each request has its own
 * random stream derived from the seed and its stream id, so the batch size
 * changes results only through floating-point rounding (k rows multiplied
 * together sum in another order than k one at a time), which can flip a
 * sampled near-tie in a long completion. Token ids in, token ids out: encode
 * prompts and decode results with anchor/tokenizer.h. */
#ifndef ANCHOR_PUBLIC_GENERATE_H
#define ANCHOR_PUBLIC_GENERATE_H

#include "anchor/common.h"
#include "anchor/model.h"

ANC_EXTERN_C_BEGIN

/* Sampling settings, as transformers' generate: temperature 0 = greedy
 * (argmax, lowest id on ties); top_k 0 = off; top_p 1 = off. */
typedef struct anc_sampling {
    float temperature;
    int top_k;
    float top_p;
} anc_sampling;

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

/* Generation settings. Zeroed, apart from max_new_tokens (>= 1), it means
 * greedy decoding, no stop ids, seed 0, one sequence at a time. */
typedef struct anc_gen_config {
    int max_new_tokens;
    anc_sampling sampling;
    const int32_t *stop_ids;   /* token ids that end a sequence (e.g. EOS); not included in the output */
    int n_stop_ids;
    uint64_t seed;
    int parallel;              /* sequences decoded together (< 1 counts as 1) */
    anc_stop_fn stop;          /* may be NULL */
    void *stop_ctx;
    anc_gen_done_fn done;      /* may be NULL */
    void *done_ctx;
} anc_gen_config;

/* Generates a continuation of each of reqs[0..n) with m into out[0..n)
 * (written on success; release the ids with anc_gen_results_free). A
 * sequence ends at a stop id, when cfg->stop says so, after max_new_tokens,
 * or at the model's max_position_embeddings (finish LENGTH and capped set;
 * a prompt that already fills the context gets no tokens). The KV cache
 * (parallel x the longest sequence) is checked against the machine's memory
 * before it is allocated. progress (may be NULL) is called after every
 * decoding step with finished requests, n and generated tokens. m is not
 * changed; n <= 0 does nothing. Errors: ANC_ERR_INVALID (max_new_tokens < 1,
 * an empty prompt, an id outside the vocabulary), ANC_ERR_NOMEM (including a
 * KV cache larger than the machine's memory); out then holds nothing to
 * free. */
ANC_API anc_status anc_generate(const anc_model *m, const anc_gen_request *reqs, int n, const anc_gen_config *cfg,
                                anc_gen_result *out, anc_progress_fn progress, void *ctx, anc_error *err);

/* Frees the ids of out[0..n) and zeroes them (out may be NULL). */
ANC_API void anc_gen_results_free(anc_gen_result *out, int n);

ANC_EXTERN_C_END

#endif
