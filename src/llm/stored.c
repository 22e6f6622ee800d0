/* Store-backed batches; the contract is in stored.h. */
#define _GNU_SOURCE
#include "llm/stored.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
} stored_ctx;

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

anc_status anc_llm_run_stored(anc_llm *llm, anc_store *store, const anc_llm_request *reqs, size_t n,
                              size_t concurrency, anc_llm_batch_fn cb, void *ctx, anc_llm_stored_stats *stats,
                              anc_error *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!llm || !store || (!reqs && n) || !cb) return anc_error_set(err, ANC_ERR_INVALID, "stored batch: bad arguments");
    if (n == 0) return ANC_OK;
    stored_ctx s = {.store = store, .cb = cb, .ctx = ctx, .stats = stats};
    s.requests = calloc(n, sizeof *s.requests);
    s.keys = calloc(n, sizeof *s.keys);
    s.send_idx = calloc(n, sizeof *s.send_idx);
    s.dup_next = calloc(n, sizeof *s.dup_next);
    size_t *order = calloc(n, sizeof *order);
    json_t **send_req = calloc(n, sizeof *send_req);
    anc_status st = ANC_OK;
    if (!s.requests || !s.keys || !s.send_idx || !s.dup_next || !order || !send_req) {
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
    int *is_rep = calloc(n, sizeof *is_rep);
    if (!is_rep) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "stored batch: out of memory");
        goto out;
    }
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
            s.send_idx[nsend] = i;
            send_req[nsend++] = s.requests[i];
            continue;
        }
        anc_llm_reply r;
        memset(&r, 0, sizeof r);
        r.text = text;
        r.raw = raw;
        r.cached = 1;
        llm_reply_fill_meta(&r);
        if (stats) stats->cached++;
        deliver(&s, i, ANC_OK, &r, NULL, 1);
        anc_llm_reply_free(&r);
    }
    free(is_rep);
    if (st != ANC_OK || s.stop || nsend == 0) {
        if (st == ANC_OK && s.stop)
            st = anc_error_set(err, ANC_ERR_INTERNAL, "stored batch cancelled by the caller");
        goto out;
    }
    /* Record everything about to be sent as pending, in one commit. */
    if ((st = anc_store_begin(store, err)) != ANC_OK) goto out;
    for (size_t k = 0; k < nsend && st == ANC_OK; k++)
        st = anc_store_put_pending(store, s.keys[s.send_idx[k]], send_req[k], err);
    if (st != ANC_OK) {
        anc_store_rollback(store);
        goto out;
    }
    if ((st = anc_store_commit(store, err)) != ANC_OK) {
        anc_store_rollback(store);
        goto out;
    }
    if (stats) stats->sent = nsend;
    st = llm_run_requests(llm, send_req, nsend, concurrency, on_done, &s, err);
    if (s.store_failed != ANC_OK) {
        st = s.store_failed;
        anc_error_set(err, st, "%s", s.store_err.message);
    }
out:
    if (s.requests)
        for (size_t i = 0; i < n; i++) json_decref(s.requests[i]);
    free(s.requests);
    free(s.keys);
    free(s.send_idx);
    free(s.dup_next);
    free(order);
    free(send_req);
    return st;
}
