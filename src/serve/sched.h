/* The server's scheduler: one decoding thread owns the model and a KV cache
 * of `parallel` slots and decodes the sequences of every client together,
 * admitting new sequences into free slots between decode steps (continuous
 * batching) and freeing a slot the moment its sequence ends. It is the
 * engine of anc_generate (model/generate.c) turned inside out: the same
 * anc_decode_step and anc_sample, the same per-sequence random stream
 * (seed ^ K * (stream + 1)), the same stop ids and stop callback, the same
 * token budget (max_tokens, less where the slot's context ends), so a
 * sequence decodes as `anchor generate` decodes it, whatever else is in the
 * batch (up to floating-point rounding of the batched products).
 *
 * A job is one client request: n sequences (the choices; several prompts of
 * /v1/completions too) with their sampling settings. The job owns copies of
 * everything the decoding thread reads, so a client that goes away
 * (anc_sched_release before the job finished) cannot pull memory from under
 * a running step: the job is cancelled, its slots are freed at the next
 * step, and it is freed when neither side holds it.
 *
 * Thread safety: every function may be called from any thread;
 * anc_sched_wait blocks the caller only. */
#ifndef ANCHOR_SERVE_SCHED_H
#define ANCHOR_SERVE_SCHED_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "core/error.h"
#include "model/decode.h"
#include "model/model.h"

typedef struct anc_sched anc_sched;

/* One sequence of a job. prompt/n_prompt/stream/budget are set by the
 * caller before anc_sched_submit (prompt is owned by the job: malloc'd,
 * freed with it); ids/n/done/finish/capped are written by the decoding
 * thread. Read them only through anc_sched_wait's snapshot rules: n and
 * done under the scheduler's lock (anc_sched_wait returns them), ids[0..n)
 * at any time after (entries are written once, before n covers them). */
typedef struct anc_sched_seq {
    int32_t *prompt;
    int n_prompt;
    uint64_t stream;          /* random stream id, as anc_gen_request.stream */
    int budget;               /* tokens it may add (>= 1; the caller caps it at the context) */
    int capped;               /* set by the caller: the budget was cut by the context */
    int32_t *ids;             /* [budget], allocated by anc_sched_submit */
    int n;
    int done;
    int stopped;              /* 1: a stop id or the stop callback ended it (finish "stop") */
} anc_sched_seq;

/* Returns 1 when sequence ids[0..n) of a job should stop (a stop string
 * appeared). Called on the decoding thread. */
typedef int (*anc_sched_stop_fn)(void *ctx, void *job_user, const int32_t *ids, int n);

typedef struct anc_sched_job {
    anc_sampling sampling;
    uint64_t seed;
    int n_seqs;
    anc_sched_seq *seqs;      /* [n_seqs], owned by the job */
    void *user;               /* passed to the stop callback; freed with user_free (may be NULL) */
    void (*user_free)(void *user);
    int wake_on_token;        /* 1: anc_sched_wait returns at every token (streams); 0: only when a sequence ends */
    /* internal (the scheduler's lock) */
    pthread_cond_t cond;      /* this job's waiters */
    int refs, admitted, finished, cancelled;
    uint64_t version;
    anc_status status;
    char error[256];
    struct anc_sched_job *next;
} anc_sched_job;

typedef struct anc_sched_config {
    const anc_model *model;   /* borrowed; not changed */
    int parallel;             /* KV slots = sequences decoded together (>= 1) */
    int context;              /* tokens per slot: prompt + reply (>= 2) */
    const int32_t *stop_ids;  /* copied */
    int n_stop_ids;
    anc_sched_stop_fn stop;   /* may be NULL */
    void *stop_ctx;
} anc_sched_config;

/* Allocates the KV cache (parallel x context; ANC_ERR_NOMEM when it would
 * take more than 80% of physical memory) and starts the decoding thread. */
anc_status anc_sched_start(anc_sched **out, const anc_sched_config *cfg, anc_error *err);

/* A new job of n_seqs sequences (zeroed; the caller fills sampling, seed,
 * user and each sequence's prompt, n_prompt, stream and budget). NULL when
 * out of memory. Free it with anc_sched_release, submitted or not. */
anc_sched_job *anc_sched_job_new(int n_seqs);

/* Queues j (sequences admitted in order as slots free up). Errors:
 * ANC_ERR_INVALID for an empty prompt, a budget < 1 or a prompt + budget
 * longer than the context; ANC_ERR_NOMEM; ANC_ERR_INVALID when the
 * scheduler is stopping. On error j is not queued (still the caller's). */
anc_status anc_sched_submit(anc_sched *s, anc_sched_job *j, anc_error *err);

/* Blocks until j changed since *version (a sequence or the job finished;
 * with j->wake_on_token also a token appended) or timeout_ms passed (< 0: no limit), then sets
 * *version, n[i] and done[i] for each sequence (either may be NULL) and
 * returns 1 when the whole job has finished. */
int anc_sched_wait(anc_sched *s, anc_sched_job *j, uint64_t *version, int *n, int *done, int timeout_ms);

/* Drops the caller's hold on j: an unfinished job is cancelled (its slots
 * free at the next step); j is freed once the decoding thread is done with
 * it. j may be NULL. */
void anc_sched_release(anc_sched *s, anc_sched_job *j);

/* Figures for /health, read under the lock. */
typedef struct anc_sched_stats {
    int active;               /* sequences in slots */
    size_t queued;            /* sequences waiting for a slot */
    uint64_t tokens;          /* tokens generated since start */
    uint64_t steps;           /* decode steps since start */
} anc_sched_stats;
void anc_sched_get_stats(anc_sched *s, anc_sched_stats *st);

/* Stops the decoding thread and frees the scheduler with the jobs only it
 * still held (NULL is a no-op). Call it after every caller released its
 * jobs (the HTTP layer drains first); a job still queued or running then
 * belongs to nobody else. */
void anc_sched_stop(anc_sched *s);

#endif
