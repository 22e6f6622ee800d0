/* The retry loop around one transport attempt: exponential backoff with
 * jitter, Retry-After, cancellable sleeps, and the final error text. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/rng.h"
#include "llm/llm_internal.h"

double anc_llm_backoff_delay(const anc_llm_options *o, unsigned retry, double u01) {
    double d = o->backoff_base_s;
    for (unsigned i = 1; i < retry && d < o->backoff_cap_s; i++) d *= 2.0;
    if (d > o->backoff_cap_s) d = o->backoff_cap_s;
    if (u01 < 0) u01 = 0;
    if (u01 >= 1) u01 = 0.999999;
    return d * (0.5 + 0.5 * u01); /* "equal jitter": never less than half the step */
}

double anc_llm_parse_retry_after(const char *value, time_t now) {
    if (!value) return -1;
    while (*value == ' ' || *value == '\t') value++;
    if (!*value) return -1;
    if (*value >= '0' && *value <= '9') {
        /* delta-seconds; fractions accepted (some test servers and proxies
         * send them). */
        char *end = NULL;
        errno = 0;
        double d = strtod(value, &end);
        while (end && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
        if (errno != 0 || !end || *end != '\0' || !isfinite(d) || d < 0) return -1;
        return d;
    }
    time_t when = curl_getdate(value, NULL);
    if (when == (time_t)-1) return -1;
    double d = difftime(when, now);
    return d > 0 ? d : 0;
}

static int cancelled(const llm_worker *w) {
    if (!w || !w->cancel) return 0;
    pthread_mutex_lock(w->cancel->mu);
    int c = *w->cancel->flag;
    pthread_mutex_unlock(w->cancel->mu);
    return c;
}

static void sleep_for(const anc_llm *llm, const llm_worker *w, double seconds) {
    if (seconds <= 0) return;
    if (llm->opt.sleep_fn) {
        llm->opt.sleep_fn(llm->opt.sleep_ctx, seconds);
        return;
    }
    if (w && w->cancel) {
        /* Wait on the batch's condition variable so a cancel wakes us. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double whole = floor(seconds);
        ts.tv_sec += (time_t)whole;
        ts.tv_nsec += (long)((seconds - whole) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(w->cancel->mu);
        while (!*w->cancel->flag) {
            if (pthread_cond_timedwait(w->cancel->cv, w->cancel->mu, &ts) == ETIMEDOUT) break;
        }
        pthread_mutex_unlock(w->cancel->mu);
        return;
    }
    struct timespec req;
    req.tv_sec = (time_t)seconds;
    req.tv_nsec = (long)((seconds - (double)req.tv_sec) * 1e9);
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {
    }
}

/* One attempt with the backend's transport. */
static llm_try try_once(const anc_llm *llm, llm_worker *w, const json_t *request, const char *body, size_t len,
                        anc_llm_reply *reply, double *retry_after, anc_error *err) {
    *retry_after = -1;
    switch (llm->kind) {
    case ANC_LLM_HTTP: return anc_llm_http_try(llm, w, body, len, reply, retry_after, err);
    case ANC_LLM_EXEC: return anc_llm_exec_try(llm, body, len, reply, err);
    case ANC_LLM_LOCAL: {
        json_t *params = json_copy((json_t *)request); /* shallow: shares the messages */
        if (!params) {
            anc_error_set(err, ANC_ERR_NOMEM, "local model %s: out of memory", llm->dir);
            return LLM_TRY_FATAL;
        }
        json_object_del(params, "messages");
        char *text = NULL;
        anc_error lerr;
        anc_error_clear(&lerr);
        anc_status st = llm->opt.local_fn(llm->opt.local_ctx, json_object_get(request, "messages"), params, &text,
                                          &lerr);
        json_decref(params);
        if (st != ANC_OK) {
            free(text);
            anc_error_set(err, st, "local model %s: %s", llm->dir,
                          lerr.message[0] ? lerr.message : "generation failed (no message)");
            return LLM_TRY_FATAL; /* a local model fails the same way again */
        }
        if (!text) {
            anc_error_set(err, ANC_ERR_INTERNAL, "local model %s: generator returned no text", llm->dir);
            return LLM_TRY_FATAL;
        }
        st = anc_llm_reply_from_text(text, strlen(text), llm->model, "local", reply, err);
        free(text);
        if (st != ANC_OK) {
            anc_error_prefix(err, "local model %s", llm->dir);
            return LLM_TRY_FATAL;
        }
        return LLM_TRY_OK;
    }
    }
    anc_error_set(err, ANC_ERR_INTERNAL, "llm: unknown backend kind %d", (int)llm->kind);
    return LLM_TRY_FATAL;
}

/* Appends a suffix to err's message, bounded. */
static void append(anc_error *err, const char *suffix) {
    size_t n = strlen(err->message), m = strlen(suffix);
    if (n + m >= sizeof err->message) {
        /* keep the suffix: it says how many attempts were made */
        if (m >= sizeof err->message) return;
        n = sizeof err->message - 1 - m;
    }
    memcpy(err->message + n, suffix, m + 1);
}

anc_status anc_llm_send(const anc_llm *llm, llm_worker *w, const json_t *request, const char *body, size_t len,
                    anc_llm_reply *reply, anc_error *err) {
    memset(reply, 0, sizeof *reply);
    reply->prompt_tokens = reply->completion_tokens = reply->total_tokens = -1;
    /* The jitter stream depends on the seed and the request only, so delays
     * do not depend on thread scheduling. */
    anc_rng rng;
    anc_rng_seed(&rng, llm->opt.jitter_seed ^ anc_hash_bytes(ANC_HASH_INIT, body, len));
    anc_error last;
    anc_error_clear(&last);
    for (unsigned attempt = 1;; attempt++) {
        double retry_after = -1;
        anc_error_clear(&last);
        llm_try t = try_once(llm, w, request, body, len, reply, &retry_after, &last);
        if (t == LLM_TRY_OK) {
            reply->attempts = attempt;
            return ANC_OK;
        }
        anc_llm_reply_free(reply);
        if (last.code == ANC_OK) anc_error_set(&last, ANC_ERR_INTERNAL, "attempt failed without a message");
        char suffix[96];
        if (t == LLM_TRY_FATAL || attempt > llm->opt.max_retries) {
            if (t == LLM_TRY_FATAL)
                snprintf(suffix, sizeof suffix, " (not retried; attempt %u)", attempt);
            else
                snprintf(suffix, sizeof suffix, " (gave up after %u attempt%s)", attempt, attempt == 1 ? "" : "s");
            append(&last, suffix);
            anc_llm_redact(llm, last.message, sizeof last.message);
            anc_error_set(err, last.code, "%s", last.message);
            reply->attempts = attempt;
            return last.code;
        }
        if (cancelled(w)) {
            snprintf(suffix, sizeof suffix, " (batch cancelled after attempt %u)", attempt);
            append(&last, suffix);
            anc_llm_redact(llm, last.message, sizeof last.message);
            anc_error_set(err, last.code, "%s", last.message);
            reply->attempts = attempt;
            return last.code;
        }
        double delay;
        if (retry_after >= 0)
            delay = retry_after < llm->opt.retry_after_cap_s ? retry_after : llm->opt.retry_after_cap_s;
        else
            delay = anc_llm_backoff_delay(&llm->opt, attempt, anc_rng_uniform(&rng));
        sleep_for(llm, w, delay);
    }
}
