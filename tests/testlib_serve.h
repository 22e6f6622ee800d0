/* Starting `anchor serve` as a child process in the serve tests. */
#ifndef ANCHOR_TESTLIB_SERVE_H
#define ANCHOR_TESTLIB_SERVE_H

#include <sys/types.h>

/* Runs `sh -c cmd` in a child (cmd execs `anchor serve --port 0 ...` with
 * its stderr sent to err_path) and waits up to 60 s (sanitizer builds load
 * slowly) for the "listening on http://127.0.0.1:PORT" line; sets *port and
 * returns the child's pid. When the child exits first or never prints the
 * line, the child is reaped (killed if needed) and the running cmocka test
 * fails with the log. */
pid_t tu_serve_spawn(const char *cmd, const char *err_path, int *port);

#endif
