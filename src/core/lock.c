/* Folder locks; the contract is in lock.h. */
#define _GNU_SOURCE
#include "core/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct anc_lock {
    int fd;
};

/* The holder's line, e.g. "pid 123 on host h since 2026-12-06T15:00:00Z (anchor train)". */
static void describe_self(char *buf, size_t cap) {
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char comm[256] = "";
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (f) {
        size_t n = fread(comm, 1, sizeof comm - 1, f);
        fclose(f);
        comm[n] = '\0';
        for (size_t i = 0; i + 1 < n; i++)
            if (comm[i] == '\0') comm[i] = ' ';
    }
    snprintf(buf, cap, "pid %ld on host %s since %s (%s)", (long)getpid(), host, when, comm[0] ? comm : "anchor");
}

anc_status anc_lock_acquire(const char *path, const char *what, anc_lock **out, anc_error *err) {
    if (!path || !out) return anc_error_set(err, ANC_ERR_INVALID, "lock: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return anc_error_set(err, ANC_ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[600] = "";
        if (e == EWOULDBLOCK) {
            ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
        }
        close(fd);
        if (e != EWOULDBLOCK) return anc_error_set(err, ANC_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        return anc_error_set(err, ANC_ERR_INVALID, "%s is in use by %s; wait for it to finish, or use another one",
                             what ? what : path, holder[0] ? holder : "another process");
    }
    char line[600];
    describe_self(line, sizeof line);
    size_t len = strlen(line);
    line[len++] = '\n';
    /* Who holds it is information only: a failed write does not undo the lock. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, len, 0) < 0) {
    }
    anc_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return anc_error_set(err, ANC_ERR_NOMEM, "lock %s: out of memory", path);
    }
    l->fd = fd;
    *out = l;
    return ANC_OK;
}

void anc_lock_release(anc_lock *l) {
    if (!l) return;
    flock(l->fd, LOCK_UN);
    close(l->fd);
    free(l);
}
