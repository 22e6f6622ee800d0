/* exec:COMMAND transport: runs `/bin/sh -c COMMAND` once per request with
 * the request JSON on stdin, collects stdout (the reply) and stderr (for the
 * error), and enforces the total timeout by killing the command's process
 * group.
 *
 * Details that matter in a threaded library: every descriptor is created
 * close-on-exec, so children started by other threads do not inherit them;
 * the child is started with posix_spawn in its own process group with
 * SIGPIPE at its default action; stdin is a socket written with
 * MSG_NOSIGNAL, so a command that exits without reading its input cannot
 * raise SIGPIPE in the caller. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "llm/llm_internal.h"

extern char **environ;

#define STDERR_KEEP 2048
#define EXCERPT_MAX 400

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Reads what is available from *fd into b; closes *fd at EOF. Returns 0 on
 * out of memory. */
static int drain(int *fd, anc_sbuf *b) {
    char chunk[16384];
    for (;;) {
        ssize_t r = read(*fd, chunk, sizeof chunk);
        if (r > 0) {
            /* a cut at b->max keeps what fits and sets b->truncated */
            if (anc_sbuf_append(b, chunk, (size_t)r) == ANC_ERR_NOMEM) return 0;
            if (b->truncated) return 1;
            continue;
        }
        if (r == 0) close_fd(fd);
        else if (errno == EINTR) continue;
        else if (errno != EAGAIN && errno != EWOULDBLOCK) close_fd(fd);
        return 1;
    }
}

/* A short version of the command for messages. */
static void cmd_label(const char *cmd, char *out, size_t cap) {
    size_t n = strlen(cmd);
    if (n + 1 <= cap) {
        memcpy(out, cmd, n + 1);
        return;
    }
    size_t take = cap - 4;
    memcpy(out, cmd, take);
    memcpy(out + take, "...", 4);
}

/* Turns the collected stdout into a reply. */
static llm_try parse_output(const anc_llm *llm, const char *label, anc_sbuf *o, anc_llm_reply *reply,
                            anc_error *err) {
    size_t from = 0, to = o->len;
    while (from < to && (o->data[from] == ' ' || o->data[from] == '\n' || o->data[from] == '\r' ||
                         o->data[from] == '\t'))
        from++;
    while (to > from && (o->data[to - 1] == '\n' || o->data[to - 1] == '\r' || o->data[to - 1] == ' ' ||
                         o->data[to - 1] == '\t'))
        to--;
    if (from == to) {
        anc_error_set(err, ANC_ERR_FORMAT, "exec `%s`: the command printed nothing on stdout", label);
        return LLM_TRY_RETRY;
    }
    if (o->data[from] == '{') {
        /* A JSON object with "choices" or "error" is a chat completion;
         * any other output is the reply text itself. */
        json_t *j = json_loadb(o->data + from, to - from, 0, NULL);
        int chat = json_is_object(j) && (json_object_get(j, "choices") || json_object_get(j, "error"));
        json_decref(j);
        if (chat) {
            anc_error perr;
            anc_error_clear(&perr);
            if (anc_llm_parse_chat_reply(o->data + from, to - from, reply, &perr) == ANC_OK) return LLM_TRY_OK;
            anc_error_set(err, perr.code, "exec `%s`: %s", label, perr.message);
            return LLM_TRY_RETRY;
        }
    }
    /* Plain text: stdout without surrounding blank space (an `echo`'s
     * newline is not part of the reply). */
    if (anc_llm_reply_from_text(o->data + from, to - from, llm->model, "exec", reply, err) != ANC_OK) {
        anc_error_prefix(err, "exec `%s`", label);
        return LLM_TRY_RETRY;
    }
    return LLM_TRY_OK;
}

llm_try anc_llm_exec_try(const anc_llm *llm, const char *body, size_t len, anc_llm_reply *reply, anc_error *err) {
    char label[160];
    cmd_label(llm->command, label, sizeof label);
    int in_sv[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    anc_sbuf o = {.max = llm->opt.max_reply_bytes}, e = {.max = STDERR_KEEP};
    llm_try res = LLM_TRY_RETRY;
    pid_t pid = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sv) != 0 || pipe2(out_p, O_CLOEXEC) != 0 ||
        pipe2(err_p, O_CLOEXEC) != 0) {
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: cannot create pipes: %s", label, strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in_sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"/bin/sh", "-c", llm->command, NULL};
    int sp = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close_fd(&in_sv[1]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    if (sp != 0) {
        pid = -1;
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: cannot start /bin/sh: %s", label, strerror(sp));
        res = LLM_TRY_FATAL;
        goto done;
    }
    fcntl(in_sv[0], F_SETFL, fcntl(in_sv[0], F_GETFL) | O_NONBLOCK);
    fcntl(out_p[0], F_SETFL, fcntl(out_p[0], F_GETFL) | O_NONBLOCK);
    fcntl(err_p[0], F_SETFL, fcntl(err_p[0], F_GETFL) | O_NONBLOCK);

    double deadline = anc_llm_now() + llm->opt.timeout_s;
    size_t sent = 0;
    int timed_out = 0, oom = 0, poll_failed = 0;
    if (len == 0) close_fd(&in_sv[0]);
    while (out_p[0] >= 0 || err_p[0] >= 0) {
        struct pollfd pf[3];
        int np = 0, i_in = -1, i_out = -1, i_err = -1;
        if (in_sv[0] >= 0) pf[i_in = np++] = (struct pollfd){.fd = in_sv[0], .events = POLLOUT};
        if (out_p[0] >= 0) pf[i_out = np++] = (struct pollfd){.fd = out_p[0], .events = POLLIN};
        if (err_p[0] >= 0) pf[i_err = np++] = (struct pollfd){.fd = err_p[0], .events = POLLIN};
        double left = deadline - anc_llm_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int wait_ms = left > 1000 ? 1000 : (int)(left * 1000) + 1;
        int pr = poll(pf, (nfds_t)np, wait_ms);
        if (pr < 0) {
            if (errno == EINTR) continue;
            anc_error_set(err, ANC_ERR_IO, "exec `%s`: poll failed: %s", label, strerror(errno));
            poll_failed = 1;
            break;
        }
        if (i_in >= 0 && pf[i_in].revents) {
            ssize_t w = send(in_sv[0], body + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) sent = len; /* reader gone */
            if (sent >= len) close_fd(&in_sv[0]);
        }
        if (i_out >= 0 && pf[i_out].revents && !drain(&out_p[0], &o)) oom = 1;
        if (i_err >= 0 && pf[i_err].revents && !drain(&err_p[0], &e)) oom = 1;
        if (oom || o.truncated) break;
    }
    close_fd(&in_sv[0]);
    int killed = 0;
    if (timed_out || oom || o.truncated || out_p[0] >= 0 || err_p[0] >= 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        killed = 1;
    }
    /* The command closed its outputs; wait for it to exit (bounded by the
     * deadline: a command that closes stdout and keeps running is killed). */
    int wstatus = 0;
    for (;;) {
        pid_t r = waitpid(pid, &wstatus, killed ? 0 : WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            wstatus = -1;
            break;
        }
        if (anc_llm_now() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = timed_out = 1;
            continue;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    pid = -1;
    char ex[EXCERPT_MAX + 8];
    anc_llm_excerpt(llm, e.data, e.len, EXCERPT_MAX, ex, sizeof ex);
    if (oom) {
        anc_error_set(err, ANC_ERR_NOMEM, "exec `%s`: out of memory reading its output", label);
        res = LLM_TRY_FATAL;
    } else if (o.truncated) {
        anc_error_set(err, ANC_ERR_FORMAT, "exec `%s`: output larger than the %zu-byte limit", label, o.max);
        res = LLM_TRY_FATAL;
    } else if (timed_out) {
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: timed out after %.3g s and was killed; stderr: %s", label,
                      llm->opt.timeout_s, ex);
        res = LLM_TRY_RETRY;
    } else if (poll_failed) {
        res = LLM_TRY_RETRY; /* poll failure, already described */
    } else if (wstatus == -1) {
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: cannot wait for the command: %s", label, strerror(errno));
        res = LLM_TRY_RETRY;
    } else if (WIFSIGNALED(wstatus)) {
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: killed by signal %d; stderr: %s", label, WTERMSIG(wstatus), ex);
        res = LLM_TRY_RETRY;
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
        anc_error_set(err, ANC_ERR_IO, "exec `%s`: exited with code %d; stderr: %s", label, WEXITSTATUS(wstatus),
                      ex);
        res = LLM_TRY_RETRY;
    } else {
        res = parse_output(llm, label, &o, reply, err);
    }
done:
    close_fd(&in_sv[0]);
    close_fd(&in_sv[1]);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    free(o.data);
    free(e.data);
    return res;
}
