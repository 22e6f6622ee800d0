/* A small multithreaded HTTP/1.1 server on 127.0.0.1 (ephemeral port) for
 * the LLM client tests. It serves POST /v1/chat/completions with a
 * programmable fault per request: by global request number, by the request's
 * last user message, or a default. Every complete request is logged (order,
 * last user content, action taken, Authorization header, body) and counted,
 * and the largest number of requests in flight at once is recorded.
 *
 * A normal reply is an OpenAI chat completion whose content is
 * "echo: " + the last user message in upper case (th_echo computes it).
 * th_stop joins every thread and frees everything (clean under ASan). All
 * functions fail the running cmocka test on setup errors. */
#ifndef ANCHOR_TESTLIB_HTTPD_H
#define ANCHOR_TESTLIB_HTTPD_H

#include <stddef.h>

typedef enum th_action {
    TH_OK = 0,       /* 200 with a chat completion */
    TH_429,          /* 429 with Retry-After (th_set_retry_after; default "1") */
    TH_500,          /* 500 with an error JSON */
    TH_503,          /* 503 with Retry-After */
    TH_HANG,         /* sleeps th_set_hang_ms (default 2000 ms) before a normal reply, then closes */
    TH_TRUNCATED,    /* 200, Content-Length of the whole body, half of it sent, connection closed */
    TH_RESET,        /* status, headers and a third of the body, then the connection is reset (RST) */
    TH_DRIP,         /* a normal reply trickled a few bytes at a time */
    TH_INVALID_JSON, /* 200 with a body that is not JSON */
    TH_400,          /* 400 whose body echoes the request headers (API key included) */
    TH_BARRIER,      /* holds replies until n requests have been in flight together once (th_set_barrier), or its timeout */
    TH_NO_CHOICES    /* 200 with valid JSON that is not a chat completion */
} th_action;

typedef struct th_server th_server;

/* Starts a server on 127.0.0.1:0 (every request answered TH_OK until scripted). */
th_server *th_start(void);
/* Stops the server: closes the listener, ends and joins every thread, frees all. */
void th_stop(th_server *s);

int th_port(const th_server *s);
/* "http://127.0.0.1:PORT/v1" (owned by s). */
const char *th_url(const th_server *s);

/* The action for requests that no script entry matches. */
void th_set_default(th_server *s, th_action a);
/* The action for the nth request received (1-based, all contents together). */
void th_on_request(th_server *s, size_t nth, th_action a);
/* The action for the first `times` requests whose last user message equals content. */
void th_on_content(th_server *s, const char *content, th_action a, unsigned times);
/* Retry-After value for 429/503 (NULL: no header). Copied. */
void th_set_retry_after(th_server *s, const char *value);
void th_set_hang_ms(th_server *s, unsigned ms);
/* TH_BARRIER waits for n requests in flight, at most timeout_ms. */
void th_set_barrier(th_server *s, unsigned n, unsigned timeout_ms);

/* Complete requests received so far. */
size_t th_requests(th_server *s);
/* Requests whose last user message equals content. */
size_t th_requests_for(th_server *s, const char *content);
/* Most requests in flight at once (request read, reply not yet finished). */
size_t th_max_in_flight(th_server *s);

/* The request log, in arrival order (i < th_requests). Strings are owned by
 * the server and valid until th_stop; NULL when absent. */
const char *th_log_content(th_server *s, size_t i);
th_action th_log_action(th_server *s, size_t i);
const char *th_log_auth(th_server *s, size_t i);
const char *th_log_body(th_server *s, size_t i);

/* The content of a normal reply to a last user message (malloc'd). */
char *th_echo(const char *content);

#endif
