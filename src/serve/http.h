/* The server's HTTP layer on libmicrohttpd (one thread per connection, so a
 * handler may block until its reply is decoded and a streamed body may wait
 * for the next tokens). It owns what is HTTP and not OpenAI: binding
 * (127.0.0.1 by default; any other address only with an API key), request
 * bodies collected with a size cap (413), the bearer-key check on every
 * request (401, constant-time comparison; the key is never logged or echoed),
 * and the shutdown that lets requests in flight finish (quiesce: the
 * listening socket closes, requests arriving on open connections get 503;
 * wait until none is in flight; stop). Errors it produces itself are OpenAI
 * error objects (serve/openai.h). Routing and the endpoints are the
 * handler's (serve/server.c). */
#ifndef ANCHOR_SERVE_HTTP_H
#define ANCHOR_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

typedef struct anc_http anc_http;

typedef struct anc_http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *url;           /* path without the query */
    const char *body;          /* NUL-terminated (body_len bytes before the NUL) */
    size_t body_len;
    int fd;                    /* the connection's socket (-1: unknown), for anc_http_client_gone */
} anc_http_request;

/* 1 when the client of req hung up (closed its side of the connection, or
 * the connection failed), so a handler that waits can give up; 0 while it
 * is there or when that cannot be told. Never blocks. */
int anc_http_client_gone(const anc_http_request *req);

/* Produces the next bytes of a streamed body into buf[0..max): returns the
 * count (> 0), -1 at the end of the body or -2 to abort the connection. May
 * block (the connection's own thread). */
typedef ssize_t (*anc_http_stream_fn)(void *ctx, char *buf, size_t max);

/* What a handler answers: a whole body (malloc'd, taken over) or a stream. */
typedef struct anc_http_reply {
    int status;
    char *body;                 /* malloc'd; NULL: empty */
    size_t len;
    const char *content_type;   /* static; NULL: application/json */
    int retry_after;            /* > 0: a Retry-After header (seconds) */
    anc_http_stream_fn stream;  /* non-NULL: a chunked body produced by stream(stream_ctx) */
    void *stream_ctx;
    void (*stream_free)(void *ctx); /* called once the streamed reply is over (sent, or the client left) */
} anc_http_reply;

/* Answers one request (called on the connection's thread; rep is zeroed). */
typedef void (*anc_http_handler)(void *ctx, const anc_http_request *req, anc_http_reply *rep);

typedef struct anc_http_config {
    const char *host;           /* numeric address or name; NULL: 127.0.0.1 */
    int port;                   /* 0: a free port (anc_http_port tells which) */
    const char *api_key;        /* NULL or "": no key (then only loopback addresses); copied */
    size_t max_body;            /* request bodies larger than this get 413 */
    int max_connections;        /* open connections at most (>= 1) */
    anc_http_handler handler;
    void *ctx;
} anc_http_config;

/* Binds and starts serving. Errors: ANC_ERR_INVALID for an address that
 * does not resolve or a non-loopback address without an API key, ANC_ERR_IO
 * when the address cannot be bound (in use, no permission). */
anc_status anc_http_start(anc_http **out, const anc_http_config *cfg, anc_error *err);

/* The port actually bound. */
int anc_http_port(const anc_http *h);

/* Error replies the HTTP layer made itself (bad or missing key, body too
 * large, draining), since the start. */
uint64_t anc_http_refused(anc_http *h);

/* Requests being handled or replied to right now. */
size_t anc_http_in_flight(anc_http *h);

/* Stops accepting connections (the listening socket is closed) and answers
 * requests that still arrive on open connections with 503; requests in
 * flight go on. Idempotent. */
void anc_http_quiesce(anc_http *h);

/* Waits until no request is in flight or timeout_ms passed (< 0: no
 * limit); returns 1 when none is. */
int anc_http_wait_idle(anc_http *h, int timeout_ms);

/* Closes every connection, joins the threads and frees h (NULL is a
 * no-op). */
void anc_http_stop(anc_http *h);

/* 1 when a and b (lengths la, lb) are equal, in time that depends on the
 * lengths only. */
int anc_http_secret_equal(const char *a, size_t la, const char *b, size_t lb);

#endif
