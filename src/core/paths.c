#define _XOPEN_SOURCE 700
#include "core/paths.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Folds ".", ".." and "//" of an absolute path in place. */
static void fold_lexically(char *p) {
    char *out = p;
    const char *s = p;
    while (*s) {
        while (*s == '/') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != '/') e++;
        size_t n = (size_t)(e - s);
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (out > p && out[-1] != '/') out--;
            if (out > p) out--;
        } else {
            *out++ = '/';
            memmove(out, s, n);
            out += n;
        }
        s = e;
    }
    if (out == p) *out++ = '/';
    *out = '\0';
}

char *anc_path_canonical(const char *path, anc_error *err) {
    char *abs = NULL;
    if (path[0] == '/') {
        abs = strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) {
            anc_error_set(err, ANC_ERR_IO, "cannot read the current directory: %s", strerror(errno));
            return NULL;
        }
        size_t n = strlen(cwd) + strlen(path) + 2;
        if ((abs = malloc(n))) snprintf(abs, n, "%s/%s", cwd, path);
        free(cwd);
    }
    if (!abs) {
        anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    fold_lexically(abs);
    /* Resolve the longest prefix that exists, then append the rest. */
    size_t len = strlen(abs), cut = len;
    for (;;) {
        char saved = abs[cut];
        abs[cut] = '\0';
        char *real = cut ? realpath(abs, NULL) : realpath("/", NULL);
        abs[cut] = saved;
        if (real) {
            const char *rest = abs + cut;
            size_t n = strlen(real) + strlen(rest) + 2;
            char *res = malloc(n);
            if (res) snprintf(res, n, "%s%s", strcmp(real, "/") ? real : "", rest);
            free(real);
            free(abs);
            if (!res) {
                anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
                return NULL;
            }
            if (!res[0]) {
                free(res);
                return strdup("/");
            }
            return res;
        }
        if (cut == 0) break;
        do cut--; while (cut > 0 && abs[cut] != '/');
    }
    anc_error_set(err, ANC_ERR_IO, "%s: cannot resolve: %s", path, strerror(errno));
    free(abs);
    return NULL;
}

/* 1 when inner lies strictly below outer (both canonical). */
static int is_below(const char *inner, const char *outer) {
    size_t n = strlen(outer);
    if (n == 1) return inner[1] != '\0'; /* outer is "/" */
    return strncmp(inner, outer, n) == 0 && inner[n] == '/';
}

anc_status anc_path_relation(const char *a, const char *b, anc_path_rel *rel, anc_error *err) {
    *rel = ANC_PATH_APART;
    char *ca = anc_path_canonical(a, err);
    if (!ca) return err ? err->code : ANC_ERR_IO;
    char *cb = anc_path_canonical(b, err);
    if (!cb) {
        free(ca);
        return err ? err->code : ANC_ERR_IO;
    }
    if (!strcmp(ca, cb)) *rel = ANC_PATH_SAME;
    else if (is_below(ca, cb)) *rel = ANC_PATH_A_IN_B;
    else if (is_below(cb, ca)) *rel = ANC_PATH_B_IN_A;
    free(ca);
    free(cb);
    return ANC_OK;
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 || errno == ENOENT ? 0 : -1;
}

anc_status anc_rmtree(const char *path, anc_error *err) {
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT) return ANC_OK;
        return anc_error_set(err, ANC_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (unlink(path) != 0) return anc_error_set(err, ANC_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
        return ANC_OK;
    }
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return anc_error_set(err, ANC_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return ANC_OK;
}

anc_status anc_path_refuse_overlap(const char *cmd, const char *out_opt, const char *out, const char *const *inputs,
                                   const char *const *in_opts, int n, anc_error *err) {
    static const char *const said[] = {"", "is", "lies inside", "contains"};
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) continue;
        anc_path_rel rel;
        anc_status st = anc_path_relation(out, inputs[i], &rel, err);
        if (st) return st;
        if (rel != ANC_PATH_APART)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: %s %s %s the %s folder %s, which the run would overwrite; choose another %s",
                                 cmd, out_opt, out, said[rel], in_opts[i], inputs[i], out_opt);
    }
    return ANC_OK;
}
