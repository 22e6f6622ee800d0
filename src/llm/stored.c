/* Store-backed batches; the contract is in stored.h. */
#define _GNU_SOURCE
#include "llm/stored.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/llm_internal.h"

typedef struct stored_ctx {
    anc_store *store;
    json_t **requests;       /* per request index */
    char (*keys)[ANC_STORE_KEY_HEX];
    size_t *send_idx;        /* batch position -> request index of the representative */
    size_t *dup_next;        /* request index -> next index with the same key (SIZE_MAX ends) */
    anc_llm_batch_fn cb;
    void *ctx;
    anc_llm_stored_stats *stats;
    int stop;                /* the caller's callback asked to stop */
    anc_status store_failed; /* ANC_OK unless a commit failed */
    anc_error store_err;
    /* Claims, made by worker threads: guarded by mu. */
    pthread_mutex_t mu;
    int retry_failed;        /* this wave may claim requests that failed before */
    size_t *busy, n_busy;    /* request indices another live handle is sending */
    size_t *elsewhere, n_elsewhere; /* found done or given up by another handle */
    anc_status claim_failed;
    anc_error claim_err;
} stored_ctx;

/* A lease outlives its last renewal by LEASE_TTL_S; renewals come every
 * LEASE_RENEW_S while a batch runs, so only a stopped (or frozen) holder
 * loses its requests to another run. */
#define LEASE_TTL_S 60.0
#define LEASE_RENEW_S 15.0

static int key_cmp_ctx_sort(const void *a, const void *b, void *keys) {
    const char (*k)[ANC_STORE_KEY_HEX] = keys;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = memcmp(k[x], k[y], ANC_STORE_KEY_HEX - 1);
    return c ? c : (x < y ? -1 : x > y);
}

/* Delivers one outcome to the caller for index i and every duplicate of it. */
static void deliver(stored_ctx *s, size_t i, anc_status st, anc_llm_reply *reply, const anc_error *error,
                    int from_store) {
    /* Duplicates first: they get copies, made before the representative's
     * callback may move fields out of reply. */
    for (size_t j = s->dup_next[i];; j = s->dup_next[j]) {
        if (j == SIZE_MAX) j = i; /* the representative last */
        if (j != i) {
            if (s->stats) {
                if (from_store) s->stats->cached++;
                else s->stats->duplicates++;
            }
            if (st == ANC_OK) {
                /* Each delivery gets its own reply the callback may take apart. */
                anc_llm_reply copy = *reply;
                copy.text = strdup(reply->text ? reply->text : "");
                copy.finish_reason = reply->finish_reason ? strdup(reply->finish_reason) : NULL;
                copy.raw = reply->raw ? json_deep_copy(reply->raw) : NULL;
                if (!copy.text) {
                    anc_error oom;
                    anc_error_set(&oom, ANC_ERR_NOMEM, "request %zu: out of memory copying a shared reply", j);
                    if (s->cb(s->ctx, j, ANC_ERR_NOMEM, NULL, &oom)) s->stop = 1;
                    anc_llm_reply_free(&copy);
                    continue;
                }
                if (s->cb(s->ctx, j, ANC_OK, &copy, NULL)) s->stop = 1;
                anc_llm_reply_free(&copy);
                continue;
            }
        }
        if (s->cb(s->ctx, j, st, st == ANC_OK ? reply : NULL, st == ANC_OK ? NULL : error)) s->stop = 1;
        if (j == i) break;
    }
}

static int on_done(void *ctx, size_t pos, anc_status st, anc_llm_reply *reply, const anc_error *error,
                   unsigned attempts) {
    stored_ctx *s = ctx;
    size_t i = s->send_idx[pos];
    anc_error serr;
    anc_error_clear(&serr);
    if (st == ANC_OK) {
        anc_status ps = anc_store_put_reply(s->store, s->keys[i], s->requests[i], reply->text, reply->raw,
                                            reply->attempts, &serr);
        if (ps != ANC_OK) {
            /* Not committed, so not usable: report it as a failure and stop. */
            anc_error_prefix(&serr, "reply received but not committed");
            if (s->store_failed == ANC_OK) {
                s->store_failed = ps;
                s->store_err = serr;
            }
            deliver(s, i, ps, NULL, &serr, 0);
            return 1;
        }
        if (s->stats) s->stats->succeeded++;
        deliver(s, i, ANC_OK, reply, NULL, 0);
    } else {
        anc_status ps = anc_store_put_failure(s->store, s->keys[i], s->requests[i], error->message,
                                              attempts ? attempts : 1, &serr);
        if (s->stats) s->stats->failed++;
        if (ps != ANC_OK && s->store_failed == ANC_OK) {
            s->store_failed = ps;
            s->store_err = serr;
        }
        deliver(s, i, st, NULL, error, 0);
        if (ps != ANC_OK) return 1;
    }
    return s->stop;
}

/* llm_claim_fn: claims request send_idx[pos] in the store; what cannot be
 * sent now is recorded for the caller's thread. */
static int claim_one(void *ctx, size_t pos) {
    stored_ctx *s = ctx;
    size_t i = s->send_idx[pos];
    anc_claim c = ANC_CLAIM_OK;
    anc_error e;
    anc_error_clear(&e);
    anc_status st = anc_store_claim(s->store, s->keys[i], s->requests[i], LEASE_TTL_S, s->retry_failed, &c, NULL, &e);
    if (st == ANC_OK && c == ANC_CLAIM_OK) {
        pthread_mutex_lock(&s->mu);
        if (s->stats) s->stats->sent++;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    if (st != ANC_OK) {
        if (s->claim_failed == ANC_OK) {
            s->claim_failed = st;
            s->claim_err = e;
        }
    } else if (c == ANC_CLAIM_BUSY) {
        s->busy[s->n_busy++] = i;
    } else {
        s->elsewhere[s->n_elsewhere++] = i;
    }
    pthread_mutex_unlock(&s->mu);
    return 1;
}

/* Delivers a reply read from the store (text and raw are taken over). */
static void deliver_committed(stored_ctx *s, size_t i, char *text, json_t *raw) {
    anc_llm_reply r;
    memset(&r, 0, sizeof r);
    r.text = text;
    r.raw = raw;
    r.cached = 1;
    anc_llm_reply_fill_meta(&r);
    deliver(s, i, ANC_OK, &r, NULL, 1);
    anc_llm_reply_free(&r);
}

/* Delivers request i as another handle left it in the store: its committed
 * reply, or the failure it recorded. *again = 1 when neither is there (the
 * other handle's lease is gone and the request must be claimed anew). */
static anc_status deliver_elsewhere(stored_ctx *s, size_t i, int *again, anc_error *err) {
    *again = 0;
    char *text = NULL;
    json_t *raw = NULL;
    int found = 0;
    anc_status st = anc_store_get_reply(s->store, s->keys[i], &text, &raw, &found, err);
    if (st != ANC_OK) return st;
    if (found) {
        if (s->stats) s->stats->elsewhere++;
        deliver_committed(s, i, text, raw);
        return ANC_OK;
    }
    anc_req_status rs = ANC_REQ_NONE;
    char *why = NULL;
    if ((st = anc_store_request_status(s->store, s->keys[i], &rs, NULL, &why, err)) != ANC_OK) return st;
    if (rs == ANC_REQ_FAILED) {
        anc_error fe;
        anc_error_set(&fe, ANC_ERR_IO, "another run sharing the store gave up on this request: %s",
                      why ? why : "unknown error");
        if (s->stats) s->stats->failed++;
        deliver(s, i, ANC_ERR_IO, NULL, &fe, 1);
    } else {
        *again = 1;
    }
    free(why);
    return ANC_OK;
}

/* Lease renewal while the batch runs: one thread, woken to stop. */
typedef struct renewer {
    anc_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} renewer;

static void *renew_main(void *arg) {
    renewer *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)LEASE_RENEW_S;
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0) {
        }
        if (r->stop) break;
        pthread_mutex_unlock(&r->mu);
        anc_error e;
        anc_store_renew_leases(r->store, LEASE_TTL_S, NULL, &e); /* a missed renewal only shortens the lease */
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void sleep_s(double sec) {
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Sends the representatives in send_idx[0..nsend) wave after wave: each
 * wave claims and sends what it can; what another live handle holds is
 * waited for and delivered from the store, or claimed when that handle's
 * lease ends. */
static anc_status run_waves(anc_llm *llm, stored_ctx *s, json_t **send_req, size_t nsend, size_t concurrency,
                            anc_error *err) {
    anc_status st = ANC_OK;
    s->retry_failed = 1;
    double poll = 0.05;
    while (nsend > 0 && st == ANC_OK && !s->stop) {
        s->n_busy = s->n_elsewhere = 0;
        for (size_t k = 0; k < nsend; k++) send_req[k] = s->requests[s->send_idx[k]];
        st = anc_llm_run_requests_claimed(llm, send_req, nsend, concurrency, claim_one, s, on_done, s, err);
        if (st == ANC_OK && s->claim_failed != ANC_OK) {
            *err = s->claim_err;
            st = s->claim_failed;
        }
        s->retry_failed = 0;
        /* What the wave left: done or given up elsewhere, or held by another. */
        size_t next = 0;
        for (size_t k = 0; k < s->n_elsewhere && st == ANC_OK && !s->stop; k++) {
            int again = 0;
            st = deliver_elsewhere(s, s->elsewhere[k], &again, err);
            if (again) s->send_idx[next++] = s->elsewhere[k];
        }
        size_t n_wait = s->n_busy;
        size_t *wait = s->busy;
        while (st == ANC_OK && !s->stop && next == 0 && n_wait > 0) {
            sleep_s(poll);
            if (poll < 1.0) poll *= 2;
            size_t keep = 0;
            for (size_t k = 0; k < n_wait && st == ANC_OK && !s->stop; k++) {
                size_t i = wait[k];
                anc_claim c = ANC_CLAIM_OK;
                st = anc_store_claim(s->store, s->keys[i], s->requests[i], LEASE_TTL_S, 0, &c, NULL, err);
                if (st != ANC_OK) break;
                if (c == ANC_CLAIM_BUSY) {
                    wait[keep++] = i;
                } else if (c == ANC_CLAIM_OK) {
                    s->send_idx[next++] = i; /* its holder is gone: ours now */
                } else {
                    int again = 0;
                    st = deliver_elsewhere(s, i, &again, err);
                    if (again) s->send_idx[next++] = i;
                }
            }
            n_wait = keep;
        }
        /* Requests still held elsewhere join the next wave, which meets them
         * busy again and keeps waiting. */
        for (size_t k = 0; k < n_wait; k++) s->send_idx[next++] = wait[k];
        nsend = next;
    }
    return st;
}

anc_status anc_llm_run_stored(anc_llm *llm, anc_store *store, const anc_llm_request *reqs, size_t n,
                              size_t concurrency, anc_llm_batch_fn cb, void *ctx, anc_llm_stored_stats *stats,
                              anc_error *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!llm || !store || (!reqs && n) || !cb) return anc_error_set(err, ANC_ERR_INVALID, "stored batch: bad arguments");
    if (n == 0) return ANC_OK;
    stored_ctx s = {.store = store, .cb = cb, .ctx = ctx, .stats = stats};
    pthread_mutex_init(&s.mu, NULL);
    s.requests = calloc(n, sizeof *s.requests);
    s.keys = calloc(n, sizeof *s.keys);
    s.send_idx = calloc(n, sizeof *s.send_idx);
    s.dup_next = calloc(n, sizeof *s.dup_next);
    s.busy = calloc(n, sizeof *s.busy);
    s.elsewhere = calloc(n, sizeof *s.elsewhere);
    size_t *order = calloc(n, sizeof *order);
    json_t **send_req = calloc(n, sizeof *send_req);
    int *is_rep = calloc(n, sizeof *is_rep);
    anc_status st = ANC_OK;
    if (!s.requests || !s.keys || !s.send_idx || !s.dup_next || !s.busy || !s.elsewhere || !order || !send_req ||
        !is_rep) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "stored batch of %zu requests: out of memory", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        s.dup_next[i] = SIZE_MAX;
        order[i] = i;
        if ((st = anc_llm_build_request(llm, &reqs[i], &s.requests[i], err)) != ANC_OK ||
            (st = anc_store_request_key(anc_llm_id(llm), reqs[i].salt, s.requests[i], s.keys[i], err)) != ANC_OK) {
            anc_error_prefix(err, "stored batch request %zu", i);
            goto out;
        }
    }
    /* Group identical requests: sort indices by key, chain each group
     * behind its first index. */
    qsort_r(order, n, sizeof *order, key_cmp_ctx_sort, s.keys);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && memcmp(s.keys[order[a]], s.keys[order[b]], ANC_STORE_KEY_HEX - 1) == 0) b++;
        for (size_t k = a; k + 1 < b; k++) s.dup_next[order[k]] = order[k + 1];
        is_rep[order[a]] = 1;
        a = b;
    }
    /* Serve what the store already has; collect the rest in index order. */
    size_t nsend = 0;
    for (size_t i = 0; i < n && !s.stop; i++) {
        if (!is_rep[i]) continue;
        char *text = NULL;
        json_t *raw = NULL;
        int found = 0;
        if ((st = anc_store_get_reply(store, s.keys[i], &text, &raw, &found, err)) != ANC_OK) break;
        if (!found) {
            s.send_idx[nsend++] = i;
            continue;
        }
        if (stats) stats->cached++;
        deliver_committed(&s, i, text, raw);
    }
    if (st == ANC_OK && !s.stop && nsend > 0) {
        renewer rn = {.store = store};
        pthread_mutex_init(&rn.mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rn.cv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_t th;
        int have_thread = pthread_create(&th, NULL, renew_main, &rn) == 0;
        st = run_waves(llm, &s, send_req, nsend, concurrency, err);
        if (have_thread) {
            pthread_mutex_lock(&rn.mu);
            rn.stop = 1;
            pthread_cond_signal(&rn.cv);
            pthread_mutex_unlock(&rn.mu);
            pthread_join(th, NULL);
        }
        pthread_cond_destroy(&rn.cv);
        pthread_mutex_destroy(&rn.mu);
    }
    if (s.store_failed != ANC_OK) {
        st = s.store_failed;
        anc_error_set(err, st, "%s", s.store_err.message);
    } else if (st == ANC_OK && s.stop) {
        st = anc_error_set(err, ANC_ERR_INTERNAL, "stored batch cancelled by the caller");
    }
out:
    if (s.requests)
        for (size_t i = 0; i < n; i++) json_decref(s.requests[i]);
    free(s.requests);
    free(s.keys);
    free(s.send_idx);
    free(s.dup_next);
    free(s.busy);
    free(s.elsewhere);
    free(order);
    free(send_req);
    free(is_rep);
    pthread_mutex_destroy(&s.mu);
    return st;
}
