/* Running anchor's own subcommands as child processes (the demo runner,
 * demo/run.h): argument vectors built with printf formats, posix_spawn with
 * the output sent to a log file, exit statuses turned into errors. Part of
 * the anchor_demo library, not of libanchor; the CLI's main() calls
 * anc_spawn_follow_parent. */
#ifndef ANCHOR_DEMO_SPAWN_H
#define ANCHOR_DEMO_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* A NULL-terminated argument vector; v[0] is replaced by anc_spawn. */
typedef struct anc_argv {
    char **v;
    size_t n, cap;
    int oom; /* an allocation failed: anc_spawn reports ANC_ERR_NOMEM */
} anc_argv;

/* Appends one printf-formatted argument (on failure sets a->oom). */
void anc_argv_add(anc_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends each of the NULL-terminated plain strings. */
void anc_argv_words(anc_argv *a, ...) __attribute__((sentinel));
/* Appends flag, then its printf-formatted value. */
void anc_argv_opt(anc_argv *a, const char *flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Frees the strings and the vector; *a is zeroed. */
void anc_argv_free(anc_argv *a);

/* Starts exe with a->v (v[0] becomes exe) in directory dir (NULL: the
 * current one), stdin from /dev/null, stdout and stderr written to log_path
 * (truncated; relative to the caller's directory). one_thread
 * sets OPENBLAS_NUM_THREADS=1 (several children sharing the cores). Returns 0
 * with *pid, or -1 with err. The caller waits for the child. */
int anc_spawn(const char *exe, anc_argv *a, const char *dir, const char *log_path, int one_thread, pid_t *pid,
              anc_error *err);

/* For main(): when this process was started by anc_spawn, arranges to get
 * SIGTERM when that parent dies (so a killed `anchor demo` leaves no
 * orphan writing into its run directory) and removes the marker from the
 * environment (grandchildren do not inherit it). Returns -1 when the parent
 * is already gone (then exit), else 0. */
int anc_spawn_follow_parent(void);

/* 0 when a waitpid status is a clean exit; else -1 with err naming what,
 * the exit code or signal, and the log to read. */
int anc_spawn_status(int status, const char *what, const char *log, anc_error *err);

/* The absolute path of this executable (malloc'd), or NULL (no /proc). */
char *anc_self_exe(void);

/* s in single quotes for /bin/sh (malloc'd), or NULL when out of memory. */
char *anc_shell_quote(const char *s);

/* dir joined with a printf-formatted name (malloc'd), or NULL. */
char *anc_pathf(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
