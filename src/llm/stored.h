/* Batches through the run store: the way pipeline steps should call a
 * reviser or judge. For each request:
 *
 *   1. its key is anc_store_request_key(anc_llm_id(llm), req->salt, request);
 *   2. a reply already committed under the key is delivered from the store
 *      (reply->cached = 1) and nothing is sent;
 *   3. otherwise, right before it is sent, the request is claimed in the
 *      store (anc_store_claim: pending, with a lease for this handle that a
 *      thread renews while the batch runs); identical requests of the batch
 *      are sent once; the reply is committed with anc_store_put_reply BEFORE
 *      the callback sees it; a final failure is recorded with
 *      anc_store_put_failure and reported;
 *   4. a request whose lease another live handle holds (a second process on
 *      the same store) is not sent: the batch waits for that handle's reply
 *      or failure and delivers it from the store, or claims the request when
 *      the holder's lease ends (its process died, or stopped renewing).
 *
 * So a crash loses at most the requests in flight, a rerun sends only what
 * has no committed reply (failed requests are sent again), and concurrent
 * runs on one store split the work: no request is sent while another
 * handle's live lease covers it. */
#ifndef ANCHOR_LLM_STORED_H
#define ANCHOR_LLM_STORED_H

#include "llm/llm.h"
#include "store/store.h"

typedef struct anc_llm_stored_stats {
    size_t cached;      /* delivered from the store */
    size_t sent;        /* distinct requests sent to the backend */
    size_t duplicates;  /* requests answered by an identical request of the same batch */
    size_t succeeded;   /* sent and committed */
    size_t failed;      /* recorded as failed (here or by another handle) */
    size_t elsewhere;   /* answered by another handle sharing the store while this batch waited */
} anc_llm_stored_stats;

/* Runs reqs[0..n) as described above with up to `concurrency` requests in
 * flight. cb is called once per request index, on the caller's thread, after
 * the store holds the outcome (for failures: st and error as from
 * anc_llm_run_batch; a reply that could not be committed is delivered as a
 * failure with the store's error and cancels the batch, because an
 * uncommitted reply must not be used). stats may be NULL. Returns ANC_OK when
 * every request was delivered; errors as anc_llm_run_batch, plus store
 * errors. */
anc_status anc_llm_run_stored(anc_llm *llm, anc_store *store, const anc_llm_request *reqs, size_t n,
                              size_t concurrency, anc_llm_batch_fn cb, void *ctx, anc_llm_stored_stats *stats,
                              anc_error *err);

#endif
