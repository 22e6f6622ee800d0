/* Running anchor's own subcommands as child processes (used by `anchor
 * demo`): argument vectors built with printf formats, posix_spawn with the
 * output sent to a log file, exit statuses turned into errors. */
#ifndef ANCHOR_CLI_SPAWN_H
#define ANCHOR_CLI_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* A NULL-terminated argument vector; v[0] is replaced by cli_spawn. */
typedef struct cli_argv {
    char **v;
    size_t n, cap;
    int oom; /* an allocation failed: cli_spawn reports ANC_ERR_NOMEM */
} cli_argv;

/* Appends one printf-formatted argument (on failure sets a->oom). */
void cli_argv_add(cli_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends each of the NULL-terminated plain strings. */
void cli_argv_words(cli_argv *a, ...) __attribute__((sentinel));
/* Appends flag, then its printf-formatted value. */
void cli_argv_opt(cli_argv *a, const char *flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Frees the strings and the vector; *a is zeroed. */
void cli_argv_free(cli_argv *a);

/* Starts exe with a->v (v[0] becomes exe) in directory dir (NULL: the
 * current one), stdin from /dev/null, stdout and stderr written to log_path
 * (truncated; relative to the caller's directory). one_thread
 * sets OPENBLAS_NUM_THREADS=1 (several children sharing the cores). Returns 0
 * with *pid, or -1 with err. The caller waits for the child. */
int cli_spawn(const char *exe, cli_argv *a, const char *dir, const char *log_path, int one_thread, pid_t *pid,
              anc_error *err);

/* For main(): when this process was started by cli_spawn, arranges to get
 * SIGTERM when that parent dies (so a killed `anchor demo` leaves no
 * orphan writing into its run directory) and removes the marker from the
 * environment (grandchildren do not inherit it). Returns -1 when the parent
 * is already gone (then exit), else 0. */
int cli_follow_parent(void);

/* 0 when a waitpid status is a clean exit; else -1 with err naming what,
 * the exit code or signal, and the log to read. */
int cli_child_status(int status, const char *what, const char *log, anc_error *err);

/* The absolute path of this executable (malloc'd), or NULL (no /proc). */
char *cli_self_exe(void);

/* s in single quotes for /bin/sh (malloc'd), or NULL when out of memory. */
char *cli_shell_quote(const char *s);

/* dir joined with a printf-formatted name (malloc'd), or NULL. */
char *cli_pathf(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
