/* Internals shared by the llm module's files (not a public header). */
#ifndef ANCHOR_LLM_INTERNAL_H
#define ANCHOR_LLM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "llm/llm.h"

struct anc_llm {
    anc_llm_kind kind;
    char *id;            /* "http:<display url>", "exec:<command>", "local:<dir>" */
    char *endpoint;      /* HTTP: the URL requests go to (may hold user:password) */
    char *display_url;   /* HTTP: endpoint without user:password, for messages */
    char *command;       /* exec */
    char *dir;           /* local */
    char *api_key;       /* HTTP: the key (NULL when none); wiped at free */
    char *auth_header;   /* "Authorization: Bearer <key>"; wiped at free */
    char *model;         /* NULL when not sent */
    json_t *extra;       /* copy of opt.extra_params (NULL when none) */
    anc_llm_options opt; /* copy; string and JSON pointers replaced by the owned copies above */
};

/* Lets a worker's backoff sleep end early when its batch is cancelled. */
typedef struct llm_cancel {
    pthread_mutex_t *mu;
    pthread_cond_t *cv; /* created with CLOCK_MONOTONIC */
    const int *flag;    /* read under mu */
} llm_cancel;

/* Per-thread transport state. */
typedef struct llm_worker {
    void *curl;                /* CURL easy handle, created on first use */
    const llm_cancel *cancel;  /* NULL outside batches */
} llm_worker;

/* Outcome of one attempt. */
typedef enum llm_try { LLM_TRY_OK = 0, LLM_TRY_RETRY, LLM_TRY_FATAL } llm_try;

/* One HTTP attempt. *retry_after is set to the delay a 429/503 asked for
 * (seconds), or -1. */
llm_try anc_llm_http_try(const anc_llm *llm, llm_worker *w, const char *body, size_t len, anc_llm_reply *reply,
                     double *retry_after, anc_error *err);
/* One exec attempt: runs the command with body on stdin. */
llm_try anc_llm_exec_try(const anc_llm *llm, const char *body, size_t len, anc_llm_reply *reply, anc_error *err);

/* Sends request (body = its compact serialisation) with retries, per
 * llm->opt. Fills *reply on success; on failure *reply is empty except
 * reply->attempts (the number of tries made). */
anc_status anc_llm_send(const anc_llm *llm, llm_worker *w, const json_t *request, const char *body, size_t len,
                    anc_llm_reply *reply, anc_error *err);

/* Releases the worker's transport state. */
void anc_llm_worker_cleanup(llm_worker *w);

/* anc_llm_batch_fn plus the number of tries made (also for failures). */
typedef int (*llm_batch_fn)(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error,
                            unsigned attempts);

/* Runs prebuilt request JSONs (borrowed) as a batch; see anc_llm_run_batch. */
anc_status anc_llm_run_requests(const anc_llm *llm, json_t *const *requests, size_t n, size_t concurrency,
                            llm_batch_fn cb, void *ctx, anc_error *err);

/* Asked by a worker thread (not the caller's; concurrently with other
 * workers) right before request index is sent: 0 sends it; non-zero skips it
 * with no callback (the claim function keeps its own record of why). */
typedef int (*llm_claim_fn)(void *ctx, size_t index);

/* anc_llm_run_requests where each request is first offered to claim. */
anc_status anc_llm_run_requests_claimed(const anc_llm *llm, json_t *const *requests, size_t n, size_t concurrency,
                                    llm_claim_fn claim, void *claim_ctx, llm_batch_fn cb, void *ctx,
                                    anc_error *err);

/* Backoff delay before retry number `retry` (1 = first retry):
 * min(cap, base * 2^(retry-1)) scaled by a jitter factor in [0.5, 1). */
double anc_llm_backoff_delay(const anc_llm_options *o, unsigned retry, double u01);

/* Parses a Retry-After value: delta seconds (fractions accepted) or an
 * HTTP-date (relative to now). Returns the delay (>= 0) or -1 when invalid. */
double anc_llm_parse_retry_after(const char *value, time_t now);

/* Replaces every occurrence of the API key in msg (NUL-terminated, capacity
 * cap) by "[REDACTED]", truncating at cap. No-op without a key. */
void anc_llm_redact(const anc_llm *llm, char *msg, size_t cap);

/* Replaces every occurrence of the API key in the heap buffer *data (len
 * bytes, NUL-terminated after) by "[REDACTED]", so a server that echoes the
 * Authorization header cannot put the key into a stored reply. May replace
 * *data. Returns 0, or -1 when out of memory (the buffer is then unchanged). */
int anc_llm_scrub_key(const anc_llm *llm, char **data, size_t *len);

/* Writes a printable excerpt of data[0..len) (at most max bytes, control
 * characters as spaces, "..." when cut, never splitting a UTF-8 sequence)
 * into out (capacity cap, NUL-terminated), with the API key scrubbed. */
void anc_llm_excerpt(const anc_llm *llm, const char *data, size_t len, size_t max, char *out, size_t cap);

/* Fills reply from plain text (len bytes): text copied, raw synthesised as a
 * chat completion tagged "anchor_source": source. ANC_ERR_FORMAT when text is
 * not valid UTF-8. */
anc_status anc_llm_reply_from_text(const char *text, size_t len, const char *model, const char *source,
                               anc_llm_reply *reply, anc_error *err);

/* Sets r's finish_reason and usage from r->raw (an OpenAI chat completion;
 * anything else leaves them unknown). Returns -1 when out of memory. */
int anc_llm_reply_fill_meta(anc_llm_reply *r);

/* Seconds on the monotonic clock. */
double anc_llm_now(void);

#endif
