#define _GNU_SOURCE /* vasprintf, posix_spawn_file_actions_addchdir_np (glibc 2.29+) */
#include "demo/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileutil.h"

extern char **environ;

#define PARENT_ENV "ANCHOR_PARENT_PID"

int anc_spawn_follow_parent(void) {
    const char *p = getenv(PARENT_ENV);
    if (!p) return 0;
    long want = strtol(p, NULL, 10);
    unsetenv(PARENT_ENV);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return 0; /* best effort */
    return getppid() == (pid_t)want ? 0 : -1;           /* the parent died before prctl */
}

/* Appends s (taken over; NULL marks out of memory). */
static void push(anc_argv *a, char *s) {
    if (!s) a->oom = 1;
    if (a->oom) {
        free(s);
        return;
    }
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            free(s);
            return;
        }
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static char *vfmt(const char *fmt, va_list ap) {
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void anc_argv_add(anc_argv *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    push(a, vfmt(fmt, ap));
    va_end(ap);
}

void anc_argv_words(anc_argv *a, ...) {
    va_list ap;
    va_start(ap, a);
    for (const char *w; (w = va_arg(ap, const char *));) push(a, strdup(w));
    va_end(ap);
}

void anc_argv_opt(anc_argv *a, const char *flag, const char *fmt, ...) {
    push(a, strdup(flag));
    va_list ap;
    va_start(ap, fmt);
    push(a, vfmt(fmt, ap));
    va_end(ap);
}

void anc_argv_free(anc_argv *a) {
    for (size_t i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

int anc_spawn(const char *exe, anc_argv *a, const char *dir, const char *log_path, int one_thread, pid_t *pid,
              anc_error *err) {
    if (a->oom || a->n == 0) return (void)anc_error_set(err, ANC_ERR_NOMEM, "out of memory"), -1;
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char **env = malloc((n_env + 3) * sizeof *env);
    char *exe_copy = strdup(exe);
    if (!env || !exe_copy) {
        free(env);
        free(exe_copy);
        return (void)anc_error_set(err, ANC_ERR_NOMEM, "out of memory"), -1;
    }
    size_t k = 0;
    static const char one[] = "OPENBLAS_NUM_THREADS=1";
    char parent[48];
    snprintf(parent, sizeof parent, "%s=%ld", PARENT_ENV, (long)getpid());
    for (size_t i = 0; i < n_env; i++)
        if ((!one_thread || strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0) &&
            strncmp(environ[i], PARENT_ENV "=", sizeof PARENT_ENV) != 0)
            env[k++] = environ[i];
    if (one_thread) env[k++] = (char *)one;
    env[k++] = parent;
    env[k] = NULL;
    free(a->v[0]);
    a->v[0] = exe_copy;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir);
    int rc = posix_spawn(pid, exe, &fa, NULL, a->v, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc) return (void)anc_error_set(err, ANC_ERR_IO, "cannot start %s: %s", exe, strerror(rc)), -1;
    return 0;
}

int anc_spawn_status(int status, const char *what, const char *log, anc_error *err) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status))
        anc_error_set(err, ANC_ERR_IO, "%s was killed by signal %d; its output is in %s", what, WTERMSIG(status), log);
    else
        anc_error_set(err, ANC_ERR_IO, "%s failed (exit %d); its output is in %s", what, WEXITSTATUS(status), log);
    return -1;
}

char *anc_self_exe(void) {
    for (size_t cap = 256; cap <= ((size_t)1 << 20); cap *= 2) {
        char *b = malloc(cap);
        ssize_t n = b ? readlink("/proc/self/exe", b, cap) : -1;
        if (n < 0) {
            free(b);
            return NULL;
        }
        if ((size_t)n < cap) {
            b[n] = 0;
            return b;
        }
        free(b);
    }
    return NULL;
}

char *anc_shell_quote(const char *s) {
    size_t n = 3;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 4 : 1;
    char *q = malloc(n), *o = q;
    if (!q) return NULL;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') memcpy(o, "'\\''", 4), o += 4; /* close, escaped quote, reopen */
        else *o++ = *p;
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

char *anc_pathf(const char *dir, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *name = NULL;
    if (vasprintf(&name, fmt, ap) < 0) name = NULL;
    va_end(ap);
    char *p = name ? anc_path_join(dir, name) : NULL;
    free(name);
    return p;
}
