/* Chat backends behind one interface. A backend is made from a spec string:
 *
 *   http://HOST:PORT/v1, https://.../v1   OpenAI-compatible server: POST
 *                                         {base}/chat/completions (a spec that
 *                                         already ends in /chat/completions is
 *                                         used as is); "openai" is short for
 *                                         https://api.openai.com/v1
 *   exec:COMMAND                          run `/bin/sh -c COMMAND` once per
 *                                         request, the request JSON on stdin;
 *                                         stdout is an OpenAI chat-completion
 *                                         JSON (choices[0].message.content) or
 *                                         plain text
 *   local:DIR                             a model run by anchor itself through
 *                                         options.local_fn (the generator
 *                                         module supplies it)
 *
 * Requests are OpenAI chat requests: {"model", "messages", sampling
 * parameters, extra parameters}. The API key (HTTP only) is read from the
 * environment variable options.api_key_env when the backend is created, sent
 * as "Authorization: Bearer ...", and never stored, logged or put in an
 * error message (error texts are scrubbed of it even if a server echoes it).
 *
 * Failures are retried with exponential backoff and jitter: network errors
 * (refused, reset, timeouts, truncated bodies), replies that are not a valid
 * chat completion, HTTP 408, 409, 429 and 5xx, and exec commands that fail.
 * Retry-After (seconds or an HTTP-date) on 429/503 replaces the backoff
 * delay. Other 4xx are not retried; the error names the URL, the status and
 * an excerpt of the body.
 *
 * Concurrency: anc_llm_run_batch keeps up to N requests in flight with N
 * worker threads, each with its own curl easy handle (kept-alive connection)
 * or child process; results are handed to the caller's callback on the
 * calling thread, one at a time, in completion order, so the caller can
 * commit each reply to the run store before using it (anc_llm_run_stored
 * does exactly that). A backend object is immutable after creation and may
 * be shared by threads.
 *
 * llm/stored.h adds anc_llm_run_stored: the same batch through the run
 * store (cached replies are not sent again; every reply is committed before
 * the callback sees it).
 *
 * libcurl must be initialised once per process before threads use it:
 * anc_llm_global_init does it (pthread_once); the CLI calls it at start and
 * anc_llm_create calls it too. */
#ifndef ANCHOR_LLM_LLM_H
#define ANCHOR_LLM_LLM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum anc_llm_kind { ANC_LLM_HTTP = 1, ANC_LLM_EXEC, ANC_LLM_LOCAL } anc_llm_kind;

typedef struct anc_llm anc_llm;

/* A local model: answers messages (borrowed JSON array of {"role","content"})
 * under params (borrowed JSON object: the request minus "messages", e.g.
 * temperature, max_tokens, seed). Sets *text (malloc'd, the backend frees it)
 * and returns ANC_OK, or returns an error with err filled. Called from one
 * worker thread at a time (local backends run requests one after another). */
typedef anc_status (*anc_llm_local_fn)(void *ctx, const json_t *messages, const json_t *params, char **text,
                                       anc_error *err);

/* Sleeps for `seconds` (>= 0). Tests replace the real sleep to observe the
 * retry delays without waiting. Called from worker threads. */
typedef void (*anc_llm_sleep_fn)(void *ctx, double seconds);

typedef struct anc_llm_options {
    const char *model;            /* sent as "model"; NULL/"" = not sent */
    const char *api_key_env;      /* env var holding the key; NULL = OPENAI_API_KEY; "" = send no key */
    double temperature;           /* < 0 = not sent */
    double top_p;                 /* < 0 = not sent */
    long max_tokens;              /* <= 0 = not sent */
    int64_t seed;                 /* < 0 = not sent */
    const json_t *extra_params;   /* object merged into every request (copied); may be NULL */
    double connect_timeout_s;     /* TCP/TLS connect timeout (default 10) */
    double timeout_s;             /* whole request (HTTP) or command run (exec) limit (default 600) */
    double read_timeout_s;        /* HTTP: give up when no byte arrives for this long; 0 = off (default) */
    unsigned max_retries;         /* retries after the first attempt (default 5) */
    double backoff_base_s;        /* first backoff delay (default 1) */
    double backoff_cap_s;         /* backoff ceiling (default 60) */
    double retry_after_cap_s;     /* longest Retry-After honoured (default 300) */
    uint64_t jitter_seed;         /* seeds the backoff jitter (per request: seed ^ hash of the request) */
    size_t max_reply_bytes;       /* larger replies / outputs are errors (default 64 MiB) */
    anc_llm_sleep_fn sleep_fn;    /* NULL = real sleep (interrupted when a batch is cancelled) */
    void *sleep_ctx;
    anc_llm_local_fn local_fn;    /* required for local:DIR */
    void *local_ctx;
} anc_llm_options;

/* One request of a batch. Everything is borrowed for the duration of the call. */
typedef struct anc_llm_request {
    const json_t *messages;       /* array of {"role","content"} (required) */
    const json_t *params;         /* per-request parameters merged last (may be NULL), e.g. {"seed": 2} */
    const char *salt;             /* run-store key salt, not sent (may be NULL); see anc_store_request_key */
} anc_llm_request;

/* A reply. Every pointer is owned by the reply; anc_llm_reply_free releases
 * them. A callback may move a field out by setting it to NULL. */
typedef struct anc_llm_reply {
    char *text;                   /* choices[0].message.content (never NULL in a successful reply) */
    char *finish_reason;          /* "stop", "length", ... or NULL when not given */
    int64_t prompt_tokens;        /* usage; -1 when not given */
    int64_t completion_tokens;
    int64_t total_tokens;
    json_t *raw;                  /* the whole reply JSON (synthesised for plain-text and local replies) */
    unsigned attempts;            /* tries this call made (1 = first try) */
    int cached;                   /* 1 when it came from the run store, not the backend */
} anc_llm_reply;

/* Initialises libcurl once per process (pthread_once; later calls return the
 * first result). Call it before starting threads; anc_llm_create calls it. */
anc_status anc_llm_global_init(anc_error *err);

/* Fills o with the defaults documented in anc_llm_options. */
void anc_llm_options_init(anc_llm_options *o);

/* Creates a backend from spec and opt (NULL = defaults); *out is set only on
 * success, release it with anc_llm_free. Errors: ANC_ERR_INVALID for a bad
 * spec or option (an unknown scheme, an empty exec command, local:DIR without
 * local_fn, "stream": true in extra params), ANC_ERR_NOMEM. A missing API
 * key is not an error (local servers need none). */
anc_status anc_llm_create(anc_llm **out, const char *spec, const anc_llm_options *opt, anc_error *err);

/* Releases the backend (NULL is a no-op); wipes the API key from memory. */
void anc_llm_free(anc_llm *llm);

anc_llm_kind anc_llm_get_kind(const anc_llm *llm);

/* The backend's identity for run-store keys and messages (owned by llm):
 * "http:<endpoint URL without user:password>", "exec:<command>" or
 * "local:<dir>". Never holds the API key. */
const char *anc_llm_id(const anc_llm *llm);

/* 1 when the backend holds an API key (HTTP only). */
int anc_llm_has_api_key(const anc_llm *llm);

/* Builds the request JSON that would be sent for req: {"model",
 * "messages", temperature, top_p, max_tokens, seed}, then extra_params, then
 * req->params (later keys win). *out is a new reference (caller decrefs).
 * ANC_ERR_INVALID when messages is not a non-empty array of objects with
 * string "role" and string "content". */
anc_status anc_llm_build_request(const anc_llm *llm, const anc_llm_request *req, json_t **out, anc_error *err);

/* Sends one request (with retries) and fills *reply (zeroed first; release
 * with anc_llm_reply_free). On failure *reply is left empty and err says what
 * failed, where, and after how many attempts. */
anc_status anc_llm_complete(anc_llm *llm, const anc_llm_request *req, anc_llm_reply *reply, anc_error *err);

/* Receives each finished request of a batch on the caller's thread: on
 * success st == ANC_OK and reply is filled; otherwise reply is NULL and
 * error says why. reply belongs to the batch (freed after the callback
 * returns) unless the callback moves fields out. Return 0 to go on, non-zero
 * to cancel the batch: no new request starts, requests in flight finish and
 * are still delivered. */
typedef int (*anc_llm_batch_fn)(void *ctx, size_t index, anc_status st, anc_llm_reply *reply,
                                const anc_error *error);

/* Runs reqs[0..n) with up to `concurrency` in flight (0 counts as 1; local
 * backends run one at a time) and reports each through cb. Returns ANC_OK
 * when every request was delivered (individual failures go to cb), or an
 * error when the batch could not run (bad request, no memory, threads) or
 * the callback cancelled it (ANC_ERR_INTERNAL "cancelled"). */
anc_status anc_llm_run_batch(anc_llm *llm, const anc_llm_request *reqs, size_t n, size_t concurrency,
                             anc_llm_batch_fn cb, void *ctx, anc_error *err);

/* Parses an OpenAI chat-completion reply body (len bytes, need not be
 * NUL-terminated) into *reply (zeroed first). The content may be a string or
 * an array of {"type":"text","text":...} parts. A body with an "error"
 * object, no choices, or a null content (refusal, tool call) is
 * ANC_ERR_FORMAT naming what was missing; nothing is read beyond len. */
anc_status anc_llm_parse_chat_reply(const char *body, size_t len, anc_llm_reply *reply, anc_error *err);

/* Releases the fields of r and zeroes it (NULL is a no-op). */
void anc_llm_reply_free(anc_llm_reply *r);

/* A JSON array [{"role": "user", "content": text}] (new reference), or NULL
 * when out of memory or text is not valid UTF-8. */
json_t *anc_llm_user_message(const char *text);

#endif
