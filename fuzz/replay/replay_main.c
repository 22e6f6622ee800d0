/* Corpus replay driver: the same fuzz target, linked without libFuzzer, run
 * once over every file of the corpus folders (or files) named on the command
 * line. `make test` runs it in the release and the sanitizer builds, so each
 * seed and each crash once found stays a regression test. A target that
 * crashes or trips a sanitizer fails the CTest test; an input that cannot be
 * read fails it too (an empty corpus is an error: it would prove nothing). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole file at `path` into a malloc'd buffer (caller frees);
 * returns NULL with errno set on failure. */
static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) { free(buf); buf = NULL; break; }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    *len = n;
    return buf;
}

static int run_file(const char *path, long *count) {
    size_t len = 0;
    uint8_t *data = read_all(path, &len);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* libFuzzer hands targets a buffer of exactly `len` bytes; so do we. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) { free(data); return 1; }
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, long *count) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path, count);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot open folder %s: %s\n", path, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (!more) { rc = 1; break; }
            names = more;
        }
        size_t need = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(need);
        if (!names[n]) { rc = 1; break; }
        snprintf(names[n], need, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_names);  /* stable order for logs */
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            struct stat fs;
            if (stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode)) rc = run_file(names[i], count);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    long count = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) != 0) return 1;
    if (count == 0) {
        fprintf(stderr, "replay: no inputs found in the corpus\n");
        return 1;
    }
    printf("replayed %ld inputs\n", count);
    return 0;
}
