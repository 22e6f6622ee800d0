/* tu_serve_spawn (testlib_serve.h). */
#include "testlib_serve.h"

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
