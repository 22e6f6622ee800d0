/* The fault-injecting HTTP/1.1 test server; see testlib_httpd.h. One
 * accept thread, one thread per connection (keep-alive loops). Every wait
 * polls in short slices and checks the stop flag, so th_stop can join all
 * threads promptly. Writes use MSG_NOSIGNAL: a client that gave up cannot
 * raise SIGPIPE in the test. */
#define _GNU_SOURCE
#include "testlib_httpd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_HEADER 65536
#define MAX_BODY (4u << 20)
#define SLICE_MS 20

typedef struct rule {
    size_t nth;        /* > 0: request number rule */
    char *content;     /* content rule */
    unsigned left;     /* remaining uses of a content rule */
    th_action action;
} rule;

typedef struct entry {
    char *content, *auth, *body;
    th_action action;
} entry;

typedef struct conn {
    struct conn *next;
    pthread_t tid;
    int fd;
    th_server *srv;
} conn;

struct th_server {
    int lfd, port;
    char url[64];
    pthread_t accept_tid;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* in-flight changes */
    int stop;
    conn *conns;
    rule *rules;
    size_t nrules, caprules;
    entry *log;
    size_t nlog, caplog;
    th_action dflt;
    char *retry_after;
    unsigned hang_ms, barrier_n, barrier_ms;
    size_t in_flight, max_in_flight;
};

static int stopping(th_server *s) {
    pthread_mutex_lock(&s->mu);
    int st = s->stop;
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sleeps ms in slices; returns early when stopping or when the client
 * closes the connection. */
static void nap_while_connected(th_server *s, int fd, unsigned ms) {
    while (ms > 0 && !stopping(s)) {
        unsigned d = ms < SLICE_MS ? ms : SLICE_MS;
        struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
        if (poll(&pf, 1, (int)d) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
        ms -= d;
    }
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    char *o = strdup(s);
    assert_non_null(o);
    return o;
}

char *th_echo(const char *content) {
    size_t n = strlen(content);
    char *o = malloc(n + 7);
    assert_non_null(o);
    memcpy(o, "echo: ", 6);
    for (size_t i = 0; i < n; i++) o[6 + i] = (char)toupper((unsigned char)content[i]);
    o[6 + n] = '\0';
    return o;
}

/* ------------------------------------------------------- request reading */

typedef struct req {
    char *head;      /* header block, NUL-terminated */
    char *body;
    size_t body_len;
} req;

/* Reads one request from fd using buf (carry-over kept). Returns 1 with *r
 * filled, 0 on EOF/stop/error. */
static int read_request(th_server *s, int fd, char *buf, size_t *have, req *r) {
    memset(r, 0, sizeof *r);
    for (;;) {
        char *end = NULL;
        if (*have >= 4) end = memmem(buf, *have, "\r\n\r\n", 4);
        if (end) {
            size_t hlen = (size_t)(end - buf) + 4;
            size_t clen = 0;
            r->head = malloc(hlen + 1);
            assert_non_null(r->head);
            memcpy(r->head, buf, hlen);
            r->head[hlen] = '\0';
            for (char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
                if (strncasecmp(line + 2, "content-length:", 15) == 0) clen = strtoul(line + 17, NULL, 10);
            }
            if (clen > MAX_BODY) return 0;
            memmove(buf, buf + hlen, *have - hlen);
            *have -= hlen;
            r->body = malloc(clen + 1);
            assert_non_null(r->body);
            size_t got = 0;
            size_t take = *have < clen ? *have : clen;
            memcpy(r->body, buf, take);
            got = take;
            memmove(buf, buf + take, *have - take);
            *have -= take;
            while (got < clen) {
                struct pollfd pf = {.fd = fd, .events = POLLIN};
                if (stopping(s)) return 0;
                int pr = poll(&pf, 1, SLICE_MS);
                if (pr <= 0) continue;
                ssize_t n = recv(fd, r->body + got, clen - got, 0);
                if (n <= 0) return 0;
                got += (size_t)n;
            }
            r->body[clen] = '\0';
            r->body_len = clen;
            return 1;
        }
        if (*have >= MAX_HEADER) return 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (stopping(s)) return 0;
        int pr = poll(&pf, 1, SLICE_MS);
        if (pr <= 0) continue;
        ssize_t n = recv(fd, buf + *have, MAX_HEADER - *have, 0);
        if (n <= 0) return 0;
        *have += (size_t)n;
    }
}

static void req_free(req *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Value of header `name` in head (malloc'd) or NULL. */
static char *header_value(const char *head, const char *name) {
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, nl) == 0 && line[2 + nl] == ':') {
            const char *v = line + 3 + nl;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            char *o = malloc(n + 1);
            assert_non_null(o);
            memcpy(o, v, n);
            o[n] = '\0';
            return o;
        }
    }
    return NULL;
}

/* Last user message of a chat request body (malloc'd) or NULL. */
static char *last_user(const char *body, size_t len, char **model) {
    *model = NULL;
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!j) return NULL;
    const char *m = json_string_value(json_object_get(j, "model"));
    if (m) *model = xstrdup(m);
    const json_t *msgs = json_object_get(j, "messages");
    char *out = NULL;
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        const json_t *x = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(x, "role"));
        const char *c = json_string_value(json_object_get(x, "content"));
        if (role && c && strcmp(role, "user") == 0) {
            out = xstrdup(c);
            break;
        }
    }
    json_decref(j);
    return out;
}

/* ------------------------------------------------------------ replies */

static char *reply_json(const char *content, const char *model, size_t seq) {
    char *echo = th_echo(content ? content : "");
    char id[32];
    snprintf(id, sizeof id, "chatcmpl-%zu", seq);
    json_t *j = json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i, s:i, s:i}}", "id", id, "object",
                          "chat.completion", "model", model ? model : "test-model", "choices", "index", 0, "message",
                          "role", "assistant", "content", echo, "finish_reason", "stop", "usage", "prompt_tokens",
                          (int)(content ? strlen(content) : 0), "completion_tokens", (int)strlen(echo),
                          "total_tokens", (int)((content ? strlen(content) : 0) + strlen(echo)));
    assert_non_null(j);
    char *out = json_dumps(j, JSON_COMPACT);
    assert_non_null(out);
    json_decref(j);
    free(echo);
    return out;
}

static int respond(int fd, int status, const char *reason, const char *extra_hdr, const char *body,
                   size_t send_body, int close_after) {
    char head[512];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s%s\r\n", status,
                     reason, blen, extra_hdr ? extra_hdr : "", close_after ? "Connection: close\r\n" : "");
    if (send_all(fd, head, (size_t)n) != 0) return -1;
    return send_all(fd, body, send_body < blen ? send_body : blen);
}

static th_action pick_action(th_server *s, size_t seq, const char *content) {
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].nth == seq) return s->rules[i].action;
    for (size_t i = 0; i < s->nrules; i++) {
        rule *r = &s->rules[i];
        if (r->content && content && r->left > 0 && strcmp(r->content, content) == 0) {
            r->left--;
            return r->action;
        }
    }
    return s->dflt;
}

/* Handles one request; returns 1 to keep the connection, 0 to close it. */
static int handle(th_server *s, int fd, req *r) {
    if (strncmp(r->head, "POST /v1/chat/completions ", 26) != 0) {
        respond(fd, 404, "Not Found", NULL, "{\"error\":{\"message\":\"no such path\"}}", SIZE_MAX, 0);
        return 1;
    }
    char *model = NULL;
    char *content = last_user(r->body, r->body_len, &model);
    char *auth = header_value(r->head, "Authorization");
    pthread_mutex_lock(&s->mu);
    if (s->nlog == s->caplog) {
        s->caplog = s->caplog ? 2 * s->caplog : 64;
        s->log = realloc(s->log, s->caplog * sizeof *s->log);
        assert_non_null(s->log);
    }
    size_t seq = s->nlog + 1;
    th_action a = pick_action(s, seq, content);
    s->log[s->nlog++] = (entry){.content = xstrdup(content), .auth = xstrdup(auth), .body = xstrdup(r->body),
                                .action = a};
    s->in_flight++;
    if (s->in_flight > s->max_in_flight) s->max_in_flight = s->in_flight;
    pthread_cond_broadcast(&s->cv);
    char ra[160] = "";
    if (s->retry_after) snprintf(ra, sizeof ra, "Retry-After: %s\r\n", s->retry_after);
    unsigned hang = s->hang_ms;
    pthread_mutex_unlock(&s->mu);

    int keep = 1;
    char *ok = reply_json(content, model, seq);
    switch (a) {
    case TH_OK: keep = respond(fd, 200, "OK", NULL, ok, SIZE_MAX, 0) == 0; break;
    case TH_429:
        keep = respond(fd, 429, "Too Many Requests", ra, "{\"error\":{\"message\":\"rate limited\"}}", SIZE_MAX, 0) == 0;
        break;
    case TH_500:
        keep = respond(fd, 500, "Internal Server Error", NULL, "{\"error\":{\"message\":\"boom\"}}", SIZE_MAX, 0) == 0;
        break;
    case TH_503:
        keep = respond(fd, 503, "Service Unavailable", ra, "{\"error\":{\"message\":\"overloaded\"}}", SIZE_MAX, 0) == 0;
        break;
    case TH_HANG:
        nap_while_connected(s, fd, hang);
        respond(fd, 200, "OK", NULL, ok, SIZE_MAX, 1);
        keep = 0;
        break;
    case TH_TRUNCATED:
        respond(fd, 200, "OK", NULL, ok, strlen(ok) / 2, 1);
        keep = 0;
        break;
    case TH_RESET: {
        /* Mid-response: status line, headers and part of the body, then RST. */
        char head[256];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(ok));
        send_all(fd, head, (size_t)n);
        send_all(fd, ok, strlen(ok) / 3);
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        keep = 0;
        break;
    }
    case TH_DRIP: {
        char head[256];
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         strlen(ok));
        keep = send_all(fd, head, (size_t)n) == 0;
        for (size_t i = 0, len = strlen(ok); keep && i < len; i += 16) {
            keep = send_all(fd, ok + i, len - i < 16 ? len - i : 16) == 0;
            sleep_ms(2);
        }
        break;
    }
    case TH_INVALID_JSON: keep = respond(fd, 200, "OK", NULL, "this is not JSON {\"choices\":", SIZE_MAX, 0) == 0; break;
    case TH_NO_CHOICES: keep = respond(fd, 200, "OK", NULL, "{\"object\":\"list\",\"data\":[]}", SIZE_MAX, 0) == 0; break;
    case TH_400: {
        json_t *e = json_pack("{s:{s:s, s:s}}", "error", "message", "bad request: unknown parameter", "echo_headers",
                              r->head);
        char *b = json_dumps(e, JSON_COMPACT);
        keep = respond(fd, 400, "Bad Request", NULL, b, SIZE_MAX, 0) == 0;
        free(b);
        json_decref(e);
        break;
    }
    case TH_BARRIER: {
        pthread_mutex_lock(&s->mu);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += s->barrier_ms / 1000;
        dl.tv_nsec += (long)(s->barrier_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
        while (s->max_in_flight < s->barrier_n && !s->stop) /* latches open once reached */
            if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
        pthread_mutex_unlock(&s->mu);
        keep = respond(fd, 200, "OK", NULL, ok, SIZE_MAX, 0) == 0;
        break;
    }
    }
    free(ok);
    free(content);
    free(model);
    free(auth);
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return keep;
}

static void *conn_main(void *arg) {
    conn *c = arg;
    char *buf = malloc(MAX_HEADER);
    assert_non_null(buf);
    size_t have = 0;
    req r;
    while (read_request(c->srv, c->fd, buf, &have, &r)) {
        int keep = handle(c->srv, c->fd, &r);
        req_free(&r);
        if (!keep) break;
    }
    req_free(&r);
    free(buf);
    close(c->fd);
    c->fd = -1;
    return NULL;
}

static void *accept_main(void *arg) {
    th_server *s = arg;
    while (!stopping(s)) {
        struct pollfd pf = {.fd = s->lfd, .events = POLLIN};
        if (poll(&pf, 1, SLICE_MS) <= 0) continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        conn *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->fd = fd;
        c->srv = s;
        if (pthread_create(&c->tid, NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

th_server *th_start(void) {
    th_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->retry_after = xstrdup("1");
    s->hang_ms = 2000;
    s->barrier_n = 2;
    s->barrier_ms = 5000;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0) fail_msg("httpd: bind 127.0.0.1:0: %s", strerror(errno));
    if (listen(s->lfd, 128) != 0) fail_msg("httpd: listen: %s", strerror(errno));
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/v1", s->port);
    if (pthread_create(&s->accept_tid, NULL, accept_main, s) != 0) fail_msg("httpd: cannot start a thread");
    return s;
}

void th_stop(th_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->accept_tid, NULL);
    close(s->lfd);
    for (conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        pthread_join(c->tid, NULL);
        free(c);
    }
    for (size_t i = 0; i < s->nrules; i++) free(s->rules[i].content);
    free(s->rules);
    for (size_t i = 0; i < s->nlog; i++) {
        free(s->log[i].content);
        free(s->log[i].auth);
        free(s->log[i].body);
    }
    free(s->log);
    free(s->retry_after);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int th_port(const th_server *s) { return s->port; }
const char *th_url(const th_server *s) { return s->url; }

static void add_rule(th_server *s, rule r) {
    pthread_mutex_lock(&s->mu);
    if (s->nrules == s->caprules) {
        s->caprules = s->caprules ? 2 * s->caprules : 16;
        s->rules = realloc(s->rules, s->caprules * sizeof *s->rules);
        assert_non_null(s->rules);
    }
    s->rules[s->nrules++] = r;
    pthread_mutex_unlock(&s->mu);
}

void th_set_default(th_server *s, th_action a) {
    pthread_mutex_lock(&s->mu);
    s->dflt = a;
    pthread_mutex_unlock(&s->mu);
}

void th_on_request(th_server *s, size_t nth, th_action a) { add_rule(s, (rule){.nth = nth, .action = a}); }

void th_on_content(th_server *s, const char *content, th_action a, unsigned times) {
    add_rule(s, (rule){.content = xstrdup(content), .left = times, .action = a});
}

void th_set_retry_after(th_server *s, const char *value) {
    pthread_mutex_lock(&s->mu);
    free(s->retry_after);
    s->retry_after = xstrdup(value);
    pthread_mutex_unlock(&s->mu);
}

void th_set_hang_ms(th_server *s, unsigned ms) {
    pthread_mutex_lock(&s->mu);
    s->hang_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

void th_set_barrier(th_server *s, unsigned n, unsigned timeout_ms) {
    pthread_mutex_lock(&s->mu);
    s->barrier_n = n;
    s->barrier_ms = timeout_ms;
    pthread_mutex_unlock(&s->mu);
}

size_t th_requests(th_server *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->nlog;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t th_requests_for(th_server *s, const char *content) {
    pthread_mutex_lock(&s->mu);
    size_t n = 0;
    for (size_t i = 0; i < s->nlog; i++)
        if (s->log[i].content && strcmp(s->log[i].content, content) == 0) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t th_max_in_flight(th_server *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->max_in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static entry *log_at(th_server *s, size_t i) {
    pthread_mutex_lock(&s->mu);
    entry *e = i < s->nlog ? &s->log[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!e) fail_msg("httpd: log entry %zu does not exist (%zu requests)", i, th_requests(s));
    return e;
}

const char *th_log_content(th_server *s, size_t i) { return log_at(s, i)->content; }
th_action th_log_action(th_server *s, size_t i) { return log_at(s, i)->action; }
const char *th_log_auth(th_server *s, size_t i) { return log_at(s, i)->auth; }
const char *th_log_body(th_server *s, size_t i) { return log_at(s, i)->body; }
