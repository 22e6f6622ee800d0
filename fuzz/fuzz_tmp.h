/* Helpers shared by the fuzz targets whose library entry point takes a
 * path: a private mkdtemp folder per input, a file written into it, and a
 * recursive removal afterwards, so a target never writes outside a temp
 * folder it removes. Header-only (static functions), so the CMake glob
 * fuzz/fuzz_*.c links nothing extra.
 */
#ifndef ANCHOR_FUZZ_TMP_H
#define ANCHOR_FUZZ_TMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new empty folder (malloc'd path) under $TMPDIR or /tmp; NULL on failure. */
static inline char *fz_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t n = strlen(base) + 32;
    char *t = malloc(n);
    if (!t) return NULL;
    snprintf(t, n, "%s/anc_fuzz_XXXXXX", base);
    if (!mkdtemp(t)) {
        free(t);
        return NULL;
    }
    return t;
}

/* dir/name, malloc'd; NULL when out of memory. */
static inline char *fz_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Writes size bytes of data to path. Returns 0 on success. */
static inline int fz_write(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = size && fwrite(data, 1, size, f) != size;
    if (fclose(f) != 0) bad = 1;
    return bad ? -1 : 0;
}

/* Removes path and, when it is a folder, everything below it (symlinks are
 * removed, never followed). */
static inline void fz_rmtree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char *child = fz_path(path, e->d_name);
                if (child) fz_rmtree(child);
                free(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

#endif
