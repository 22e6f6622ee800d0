/* tu_serve_spawn and the libcurl requests of testlib_serve.h. */
#include "testlib_serve.h"

#include <curl/curl.h>

#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The port of the last "listening on" line of path, or 0. */
static int listening_port(const char *path) {
    static const char mark[] = "listening on http://127.0.0.1:";
    int port = 0;
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, mark);
        if (p) port = atoi(p + sizeof mark - 1);
    }
    if (f) fclose(f);
    return port;
}

pid_t tu_serve_spawn(const char *cmd, const char *err_path, int *port) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    *port = 0;
    for (int i = 0; i < 6000 && !*port; i++) {
        *port = listening_port(err_path);
        int status;
        if (!*port && waitpid(pid, &status, WNOHANG) == pid) {
            char *e = tu_read_file(err_path, NULL);
            fail_msg("anchor serve exited at start: %s", e ? e : "(no log)");
        }
        if (!*port) usleep(10000);
    }
    if (!*port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("anchor serve did not print its URL within 60 s");
    }
    return pid;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    tu_resp *r = ud;
    char *b = realloc(r->body, r->len + sz * n + 1);
    if (!b) return 0;
    memcpy(b + r->len, p, sz * n);
    r->body = b;
    r->len += sz * n;
    b[r->len] = '\0';
    return sz * n;
}

typedef struct upload {
    const char *data;
    size_t len, pos;
} upload;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud) {
    upload *u = ud;
    size_t k = u->len - u->pos < sz * n ? u->len - u->pos : sz * n;
    memcpy(buf, u->data + u->pos, k);
    u->pos += k;
    return k;
}

tu_resp tu_http_ex(int port, const char *path, const char *body, const char *key, int chunked) {
    tu_resp r = {0};
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[256], auth[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (key) { /* "raw:HEADER" sends HEADER as it is */
        if (!strncmp(key, "raw:", 4)) snprintf(auth, sizeof auth, "%s", key + 4);
        else snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    upload u = {body, body ? strlen(body) : 0, 0};
    if (chunked) {
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r.curl_rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body) r.body = calloc(1, 1);
    return r;
}

tu_resp tu_http(int port, const char *path, const char *body) { return tu_http_ex(port, path, body, NULL, 0); }

