/* libmicrohttpd under the server (http.h): binding, bodies with a cap,
 * bearer keys, replies whole or streamed, and the draining shutdown. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "serve/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/strbuf.h"
#include "serve/openai.h"

struct anc_http {
    struct MHD_Daemon *d;
    anc_http_config cfg;
    char *key;                 /* the API key (wiped on stop); NULL: none */
    size_t key_len;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    size_t in_flight;
    uint64_t refused;          /* error replies made here (401, 413, 503, ...) */
    int draining;
};

typedef struct req_ctx {
    anc_sbuf body;
    int too_large;
    int answered;              /* a reply was queued before the body */
} req_ctx;

int anc_http_secret_equal(const char *a, size_t la, const char *b, size_t lb) {
    size_t n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0, y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

static int draining(anc_http *h) {
    pthread_mutex_lock(&h->mu);
    int d = h->draining;
    pthread_mutex_unlock(&h->mu);
    return d;
}

/* A streamed body: the handler's producer and its release. */
typedef struct stream_box {
    anc_http_stream_fn fn;
    void *ctx;
    void (*free)(void *ctx);
} stream_box;

static ssize_t box_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_box *b = cls;
    ssize_t n = b->fn(b->ctx, buf, max);
    return n > 0 ? n : n == -1 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void box_free(void *cls) {
    stream_box *b = cls;
    if (b->free) b->free(b->ctx);
    free(b);
}

/* Queues rep on c (rep's body is taken over; a stream becomes a chunked
 * body). Returns MHD_YES or MHD_NO. */
static enum MHD_Result send_reply(anc_http *h, struct MHD_Connection *c, anc_http_reply *rep) {
    struct MHD_Response *r = NULL;
    stream_box *box = NULL;
    if (rep->stream) {
        box = malloc(sizeof *box);
        if (box) {
            box->fn = rep->stream;
            box->ctx = rep->stream_ctx;
            box->free = rep->stream_free;
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, box_read, box, box_free);
            if (!r) free(box);
            else rep->stream_free = NULL; /* box_free calls it */
        }
    } else {
        r = MHD_create_response_from_buffer(rep->len, rep->body ? rep->body : (void *)"", rep->body ? MHD_RESPMEM_MUST_FREE
                                                                                                   : MHD_RESPMEM_PERSISTENT);
        if (r) rep->body = NULL;
    }
    if (!r) {
        free(rep->body);
        rep->body = NULL;
        if (rep->stream_free) rep->stream_free(rep->stream_ctx);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type ? rep->content_type : "application/json");
    if (rep->stream) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (rep->retry_after > 0) {
        char v[32];
        snprintf(v, sizeof v, "%d", rep->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (rep->status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (draining(h)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rep->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* An OpenAI error reply built here (status, type, code, message). */
static enum MHD_Result send_error(anc_http *h, struct MHD_Connection *c, int status, const char *type, const char *code,
                                  const char *message) {
    anc_oai_error e;
    anc_oai_fail(&e, status, type, NULL, code, "%s", message);
    anc_http_reply rep = {0};
    rep.status = status;
    rep.body = anc_oai_error_json(&e);
    rep.len = rep.body ? strlen(rep.body) : 0;
    if (status == 503) rep.retry_after = 1;
    pthread_mutex_lock(&h->mu);
    h->refused++;
    pthread_mutex_unlock(&h->mu);
    return send_reply(h, c, &rep);
}

uint64_t anc_http_refused(anc_http *h) {
    pthread_mutex_lock(&h->mu);
    uint64_t n = h->refused;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* 0 when the request may go on, else the reply was queued. */
static int check_headers(anc_http *h, struct MHD_Connection *c, enum MHD_Result *ret) {
    if (h->key) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) { /* auth schemes are case-insensitive (RFC 9110) */
            *ret = send_error(h, c, 401, "invalid_request_error", NULL,
                              "You didn't provide an API key. You need to provide your API key in an Authorization header "
                              "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
            return 1;
        }
        const char *given = auth + 7;
        while (*given == ' ') given++;
        if (!anc_http_secret_equal(given, strlen(given), h->key, h->key_len)) {
            /* the key given is not echoed */
            *ret = send_error(h, c, 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
            return 1;
        }
    }
    if (draining(h)) {
        *ret = send_error(h, c, 503, "server_error", "server_shutting_down",
                          "The server is shutting down and takes no new requests.");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > h->cfg.max_body) {
            char msg[160];
            snprintf(msg, sizeof msg, "The request body is %llu bytes; this server takes at most %zu.", n, h->cfg.max_body);
            *ret = send_error(h, c, 413, "invalid_request_error", "request_too_large", msg);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    anc_http *h = cls;
    req_ctx *rc = *con_cls;
    if (!rc) {
        rc = calloc(1, sizeof *rc);
        if (!rc) return MHD_NO;
        rc->body.max = h->cfg.max_body;
        *con_cls = rc;
        pthread_mutex_lock(&h->mu);
        h->in_flight++;
        pthread_mutex_unlock(&h->mu);
        enum MHD_Result ret = MHD_YES;
        if (check_headers(h, c, &ret)) rc->answered = 1;
        return ret;
    }
    if (*upload_size) {
        if (!rc->answered && !rc->too_large && anc_sbuf_append(&rc->body, upload_data, *upload_size) != ANC_OK)
            rc->too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rc->answered) return MHD_YES;
    rc->answered = 1;
    if (rc->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "The request body is larger than this server takes (%zu bytes).", h->cfg.max_body);
        return send_error(h, c, rc->body.oom ? 500 : 413, rc->body.oom ? "server_error" : "invalid_request_error",
                          rc->body.oom ? NULL : "request_too_large", rc->body.oom ? "out of memory" : msg);
    }
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    anc_http_request req = {method, url, anc_sbuf_str(&rc->body), rc->body.len, ci ? (int)ci->connect_fd : -1};
    anc_http_reply rep = {0};
    h->cfg.handler(h->cfg.ctx, &req, &rep);
    if (!rep.status) rep.status = 500;
    return send_reply(h, c, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    anc_http *h = cls;
    req_ctx *rc = *con_cls;
    if (!rc) return;
    anc_sbuf_free(&rc->body);
    free(rc);
    *con_cls = NULL;
    pthread_mutex_lock(&h->mu);
    h->in_flight--;
    if (h->in_flight == 0) pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
}

static int is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return 1;
        return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

static void wipe_free(char *s, size_t n) {
    if (!s) return;
    volatile char *p = s;
    for (size_t i = 0; i < n; i++) p[i] = 0;
    free(s);
}

static void http_free(anc_http *h) {
    wipe_free(h->key, h->key_len);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->idle);
    free(h);
}

anc_status anc_http_start(anc_http **out, const anc_http_config *cfg, anc_error *err) {
    *out = NULL;
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    if (cfg->port < 0 || cfg->port > 65535)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: port %d is not in 0..65535", cfg->port);
    if (!cfg->handler || cfg->max_connections < 1)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: expected a handler and max_connections >= 1");
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", cfg->port);
    int gai = getaddrinfo(host, port_s, &hints, &ai);
    if (gai != 0 || !ai)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: --host %s: %s", host, gai ? gai_strerror(gai) : "no address");
    int has_key = cfg->api_key && *cfg->api_key;
    if (!is_loopback(ai->ai_addr) && !has_key) {
        freeaddrinfo(ai);
        return anc_error_set(err, ANC_ERR_INVALID,
                             "serve: --host %s is not a loopback address; binding it needs an API key (--api-key-env VAR "
                             "naming a set environment variable), which every request must then send", host);
    }
    anc_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    h->cfg = *cfg;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->idle, NULL);
    if (has_key) {
        h->key_len = strlen(cfg->api_key);
        h->key = malloc(h->key_len + 1);
        if (!h->key) {
            freeaddrinfo(ai);
            http_free(h);
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        }
        memcpy(h->key, cfg->api_key, h->key_len + 1);
    }
    h->cfg.api_key = NULL; /* only the copy above */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* set before the first connection thread exists: a handler may reach
     * the server's handle (anc_http_refused) while this call returns */
    *out = h;
    h->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_access, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)300, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        int e = errno;
        *out = NULL;
        http_free(h);
        return anc_error_set(err, ANC_ERR_IO, "serve: cannot listen on %s port %d: %s", host, cfg->port,
                             e ? strerror(e) : "libmicrohttpd refused the settings");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : cfg->port;
    return ANC_OK;
}

int anc_http_port(const anc_http *h) { return h->port; }

size_t anc_http_in_flight(anc_http *h) {
    pthread_mutex_lock(&h->mu);
    size_t n = h->in_flight;
    pthread_mutex_unlock(&h->mu);
    return n;
}

int anc_http_client_gone(const anc_http_request *req) {
    if (!req || req->fd < 0) return 0;
    struct pollfd p = {req->fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void anc_http_quiesce(anc_http *h) {
    pthread_mutex_lock(&h->mu);
    int was = h->draining;
    h->draining = 1;
    pthread_mutex_unlock(&h->mu);
    if (was) return;
    MHD_socket fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

int anc_http_wait_idle(anc_http *h, int timeout_ms) {
    struct timespec until;
    anc_deadline_after_ms(&until, timeout_ms);
    pthread_mutex_lock(&h->mu);
    while (h->in_flight > 0 && timeout_ms != 0) {
        if (timeout_ms < 0) pthread_cond_wait(&h->idle, &h->mu);
        else if (pthread_cond_timedwait(&h->idle, &h->mu, &until) == ETIMEDOUT) break;
    }
    int idle = h->in_flight == 0;
    pthread_mutex_unlock(&h->mu);
    return idle;
}

void anc_http_stop(anc_http *h) {
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    http_free(h);
}
