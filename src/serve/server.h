/* anchor serve's server: an OpenAI-compatible HTTP API over one model.
 *
 *   POST /v1/chat/completions   messages rendered with the model's chat
 *                               template; stream, stop, max_tokens,
 *                               temperature, top_p, top_k, seed, n
 *   POST /v1/completions        a prompt string (BOS added as for standard
 *                               rows), strings, or token ids
 *   GET  /v1/models, /v1/models/NAME, /health
 *
 * Every request's sequences join one continuous batch (serve/sched.h), so
 * clients are decoded together; a temperature-0 reply equals what
 * `anchor generate --temperature 0` writes for the same prompt (a request
 * with seed S and n choices samples as `anchor generate --seed S
 * --samples-per-prompt n` does for one prompt row). Replies carry usage
 * (prompt tokens once per prompt, completion tokens over all choices).
 * Limits: body size (413), prompt tokens (400 context_length_exceeded),
 * max_tokens (400), requests decoding at once (429 with Retry-After).
 * Errors are OpenAI error objects. See serve/http.h for binding, keys and
 * the draining shutdown. */
#ifndef ANCHOR_SERVE_SERVER_H
#define ANCHOR_SERVE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "jinja/template.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct anc_server anc_server;

typedef struct anc_server_config {
    const char *host;           /* NULL: 127.0.0.1 */
    int port;                   /* 0: a free one */
    const char *api_key;        /* NULL/"": none (loopback only); copied, never logged */
    const char *model_name;     /* the id of /v1/models; requests naming another model get 404 */
    int parallel;               /* sequences decoded together (KV slots) */
    int context;                /* tokens per sequence (prompt + reply), at most the model's */
    size_t max_body;            /* request body bytes */
    long max_prompt_tokens;     /* < context */
    long max_tokens;            /* largest max_tokens a request may ask; also the default */
    long max_concurrent;        /* generation requests at once (queued or decoding) */
    int max_connections;        /* open connections */
    uint64_t seed;              /* requests without a seed sample with seed ^ their serial number */
} anc_server_config;

/* Starts the decoding thread and the HTTP server; every thread they start
 * blocks all signals, so a process's signal handler runs on the caller's
 * threads (the CLI's SIGTERM flag is raised on the thread that polls it).
 * m, tok and tmpl (NULL:
 * no chat template, chat requests get 400) are borrowed until
 * anc_server_free; stop ids end replies (copied). Errors: the KV cache does
 * not fit, the address cannot be bound or needs a key (serve/http.h). */
anc_status anc_server_start(anc_server **out, const anc_model *m, anc_tokenizer *tok, const anc_template *tmpl,
                            const int32_t *stop_ids, int n_stop, const anc_server_config *cfg, anc_error *err);

/* The port bound. */
int anc_server_port(const anc_server *s);

typedef struct anc_server_stats {
    size_t in_flight;           /* generation requests not finished */
    uint64_t served;            /* generation requests answered (200) */
    uint64_t refused;           /* requests answered with an error status */
    uint64_t tokens;            /* tokens generated */
} anc_server_stats;
void anc_server_get_stats(anc_server *s, anc_server_stats *st);

/* Stops taking new connections (and answers new requests with 503); what
 * is in flight goes on. */
void anc_server_quiesce(anc_server *s);

/* Waits up to timeout_ms (< 0: no limit) for every request to finish;
 * returns 1 when none is left. */
int anc_server_wait_idle(anc_server *s, int timeout_ms);

/* Closes the connections, stops the decoding thread, frees s (NULL is a
 * no-op). Call anc_server_quiesce and anc_server_wait_idle first to let
 * requests finish. */
void anc_server_free(anc_server *s);

#endif
