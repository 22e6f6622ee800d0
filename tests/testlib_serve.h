/* Starting `anchor serve` as a child process in the serve tests. */
#ifndef ANCHOR_TESTLIB_SERVE_H
#define ANCHOR_TESTLIB_SERVE_H

#include <stddef.h>
#include <sys/types.h>

/* Runs `sh -c cmd` in a child (cmd execs `anchor serve --port 0 ...` with
 * its stderr sent to err_path) and waits up to 60 s (sanitizer builds load
 * slowly) for the "listening on http://127.0.0.1:PORT" line; sets *port and
 * returns the child's pid. When the child exits first or never prints the
 * line, the child is reaped (killed if needed) and the running cmocka test
 * fails with the log. */
pid_t tu_serve_spawn(const char *cmd, const char *err_path, int *port);

/* A reply of tu_http: status (0 when none came), the body (malloc'd,
 * NUL-terminated, never NULL) and libcurl's result. */
typedef struct tu_resp {
    long status;
    char *body;
    size_t len;
    int curl_rc;
} tu_resp;

/* One request to 127.0.0.1:port (body NULL: GET; chunked: the body without
 * Content-Length; key: sent as "Authorization: Bearer KEY", or "raw:HEADER"
 * sent as it is). Fails the test when libcurl cannot start. */
tu_resp tu_http_ex(int port, const char *path, const char *body, const char *key, int chunked);
tu_resp tu_http(int port, const char *path, const char *body);

#endif
