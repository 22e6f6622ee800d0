/* Batches: N worker threads, each with its own transport state (curl easy
 * handle with a kept-alive connection, or its own child processes), take
 * request indices from a shared counter and push finished results onto a
 * queue; the calling thread pops them and runs the caller's callback, so
 * callbacks are serialised and run where the caller lives (no locking
 * needed to commit to the store before a reply is used). Worker threads
 * were chosen over curl's multi interface because the same pool also
 * drives exec: and local: backends, and a blocking retry sleep in one
 * worker does not hold the others up.
 *
 * Back-pressure: requests being sent plus replies not yet through the
 * callback never exceed the concurrency. The callback commits each reply to
 * the run store (an fsync), so without this a fast backend would run ahead
 * of the commits and a kill -9 would lose every answered-but-uncommitted
 * reply; with it, a kill loses at most `concurrency` replies. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

typedef struct completion {
    struct completion *next;
    size_t index;
    anc_status st;
    anc_llm_reply reply;
    anc_error error;
} completion;

typedef struct batch {
    const anc_llm *llm;
    json_t *const *requests;
    char **bodies;
    size_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv_done;   /* a completion was queued or a worker ended */
    pthread_cond_t cv_cancel; /* monotonic; wakes sleepers on cancel */
    pthread_cond_t cv_room;   /* a reply went through the callback, or cancel */
    size_t concurrency;
    size_t sending;           /* requests being sent */
    size_t undelivered;       /* replies queued or in the callback */
    llm_cancel cancel_info;
    int cancel;
    size_t next;              /* next request to start */
    size_t alive;             /* workers still running */
    completion *head, *tail;
    anc_status fatal;         /* a worker could not go on (no memory) */
    llm_claim_fn claim;       /* may be NULL: send everything */
    void *claim_ctx;
} batch;

static void *worker_main(void *arg) {
    batch *b = arg;
    llm_worker w = {.curl = NULL, .cancel = &b->cancel_info};
    for (;;) {
        completion *c = calloc(1, sizeof *c);
        pthread_mutex_lock(&b->mu);
        if (!c) {
            b->fatal = ANC_ERR_NOMEM;
            b->cancel = 1;
            pthread_cond_broadcast(&b->cv_cancel);
            pthread_cond_broadcast(&b->cv_room);
        }
        while (c && !b->cancel && b->next < b->n && b->sending + b->undelivered >= b->concurrency)
            pthread_cond_wait(&b->cv_room, &b->mu);
        if (!c || b->cancel || b->next >= b->n) {
            pthread_mutex_unlock(&b->mu);
            free(c);
            break;
        }
        size_t i = b->next++;
        b->sending++;
        pthread_mutex_unlock(&b->mu);
        if (b->claim && b->claim(b->claim_ctx, i) != 0) {
            /* Not ours to send (the claim recorded why): give its slot back. */
            free(c);
            pthread_mutex_lock(&b->mu);
            b->sending--;
            pthread_cond_broadcast(&b->cv_room);
            pthread_cond_signal(&b->cv_done);
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        c->index = i;
        anc_error_clear(&c->error);
        c->st = anc_llm_send(b->llm, &w, b->requests[i], b->bodies[i], strlen(b->bodies[i]), &c->reply, &c->error);
        pthread_mutex_lock(&b->mu);
        if (b->tail) b->tail->next = c;
        else b->head = c;
        b->tail = c;
        b->sending--;
        b->undelivered++;
        pthread_cond_signal(&b->cv_done);
        pthread_mutex_unlock(&b->mu);
    }
    anc_llm_worker_cleanup(&w);
    pthread_mutex_lock(&b->mu);
    b->alive--;
    pthread_cond_signal(&b->cv_done);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

anc_status anc_llm_run_requests(const anc_llm *llm, json_t *const *requests, size_t n, size_t concurrency,
                            llm_batch_fn cb, void *ctx, anc_error *err) {
    return anc_llm_run_requests_claimed(llm, requests, n, concurrency, NULL, NULL, cb, ctx, err);
}

anc_status anc_llm_run_requests_claimed(const anc_llm *llm, json_t *const *requests, size_t n, size_t concurrency,
                                    llm_claim_fn claim, void *claim_ctx, llm_batch_fn cb, void *ctx,
                                    anc_error *err) {
    if (!llm || (!requests && n) || !cb) return anc_error_set(err, ANC_ERR_INVALID, "batch: bad arguments");
    if (n == 0) return ANC_OK;
    if (concurrency == 0) concurrency = 1;
    if (llm->kind == ANC_LLM_LOCAL) concurrency = 1;
    if (concurrency > n) concurrency = n;
    if (concurrency > 1024) concurrency = 1024;

    batch b;
    memset(&b, 0, sizeof b);
    b.llm = llm;
    b.requests = requests;
    b.n = n;
    b.claim = claim;
    b.claim_ctx = claim_ctx;
    b.bodies = calloc(n, sizeof *b.bodies);
    pthread_t *th = calloc(concurrency, sizeof *th);
    if (!b.bodies || !th) {
        free(b.bodies);
        free(th);
        return anc_error_set(err, ANC_ERR_NOMEM, "batch of %zu requests: out of memory", n);
    }
    anc_status st = ANC_OK;
    /* Serialise every body here, on one thread: workers then only read. */
    for (size_t i = 0; i < n; i++) {
        if (!json_is_object(requests[i]) || !(b.bodies[i] = json_dumps(requests[i], JSON_COMPACT))) {
            st = anc_error_set(err, ANC_ERR_INVALID, "batch: request %zu is not a serialisable JSON object", i);
            goto out_bodies;
        }
    }
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv_done, NULL);
    pthread_cond_init(&b.cv_room, NULL);
    b.concurrency = concurrency;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b.cv_cancel, &ca);
    pthread_condattr_destroy(&ca);
    b.cancel_info = (llm_cancel){.mu = &b.mu, .cv = &b.cv_cancel, .flag = &b.cancel};

    size_t started = 0;
    pthread_mutex_lock(&b.mu);
    for (size_t t = 0; t < concurrency; t++) {
        if (pthread_create(&th[started], NULL, worker_main, &b) != 0) break;
        started++;
        b.alive++;
    }
    pthread_mutex_unlock(&b.mu);
    if (started == 0) {
        st = anc_error_set(err, ANC_ERR_INTERNAL, "batch: cannot start a worker thread: %s", strerror(errno));
        goto out_sync;
    }
    int user_cancelled = 0;
    for (;;) {
        pthread_mutex_lock(&b.mu);
        while (!b.head && b.alive > 0) pthread_cond_wait(&b.cv_done, &b.mu);
        completion *c = b.head;
        if (c) {
            b.head = c->next;
            if (!b.head) b.tail = NULL;
        }
        pthread_mutex_unlock(&b.mu);
        if (!c) break; /* queue empty and every worker gone */
        int stop = cb(ctx, c->index, c->st, c->st == ANC_OK ? &c->reply : NULL, c->st == ANC_OK ? NULL : &c->error,
                      c->reply.attempts);
        anc_llm_reply_free(&c->reply);
        free(c);
        pthread_mutex_lock(&b.mu);
        b.undelivered--;
        if (stop && !user_cancelled) {
            user_cancelled = 1;
            b.cancel = 1;
            pthread_cond_broadcast(&b.cv_cancel);
        }
        pthread_cond_broadcast(&b.cv_room);
        pthread_mutex_unlock(&b.mu);
    }
    for (size_t t = 0; t < started; t++) pthread_join(th[t], NULL);
    if (b.fatal != ANC_OK)
        st = anc_error_set(err, b.fatal, "batch: a worker ran out of memory after %zu of %zu requests", b.next, n);
    else if (user_cancelled)
        st = anc_error_set(err, ANC_ERR_INTERNAL, "batch cancelled by the caller after %zu of %zu requests started",
                           b.next, n);
out_sync:
    pthread_cond_destroy(&b.cv_cancel);
    pthread_cond_destroy(&b.cv_room);
    pthread_cond_destroy(&b.cv_done);
    pthread_mutex_destroy(&b.mu);
out_bodies:
    for (size_t i = 0; i < n; i++) free(b.bodies[i]);
    free(b.bodies);
    free(th);
    return st;
}

typedef struct user_cb {
    anc_llm_batch_fn fn;
    void *ctx;
} user_cb;

static int to_user(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error,
                   unsigned attempts) {
    (void)attempts;
    user_cb *u = ctx;
    return u->fn(u->ctx, index, st, reply, error);
}

anc_status anc_llm_run_batch(anc_llm *llm, const anc_llm_request *reqs, size_t n, size_t concurrency,
                             anc_llm_batch_fn cb, void *ctx, anc_error *err) {
    if (!llm || (!reqs && n) || !cb) return anc_error_set(err, ANC_ERR_INVALID, "batch: bad arguments");
    if (n == 0) return ANC_OK;
    json_t **requests = calloc(n, sizeof *requests);
    if (!requests) return anc_error_set(err, ANC_ERR_NOMEM, "batch of %zu requests: out of memory", n);
    anc_status st = ANC_OK;
    for (size_t i = 0; i < n && st == ANC_OK; i++) {
        st = anc_llm_build_request(llm, &reqs[i], &requests[i], err);
        if (st != ANC_OK) anc_error_prefix(err, "batch request %zu", i);
    }
    user_cb u = {cb, ctx};
    if (st == ANC_OK) st = anc_llm_run_requests(llm, requests, n, concurrency, to_user, &u, err);
    for (size_t i = 0; i < n; i++) json_decref(requests[i]);
    free(requests);
    return st;
}
