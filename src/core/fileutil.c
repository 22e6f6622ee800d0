#include "core/fileutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

anc_status anc_read_file(const char *path, size_t max_bytes, char **out, size_t *len, anc_error *err) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return anc_error_set(err, ANC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > max_bytes) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: file of %lld bytes is larger than the %zu allowed here",
                             path, (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return anc_error_set(err, ANC_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return ANC_OK;
}

anc_status anc_write_file_atomic(const char *path, const void *data, size_t len, anc_error *err) {
    /* a temporary name of its own (mkstemp): two processes writing the same
     * output (runs sharing a store) never rename each other's file away */
    size_t n = strlen(path) + 12;
    char *tmp = malloc(n);
    if (!tmp) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0 || fchmod(fd, 0644) != 0) {
        anc_error_set(err, ANC_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return ANC_ERR_IO;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            anc_error_set(err, ANC_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return ANC_ERR_IO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        anc_error_set(err, ANC_ERR_IO, "%s: fsync/close failed: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return ANC_ERR_IO;
    }
    if (rename(tmp, path) != 0) {
        anc_error_set(err, ANC_ERR_IO, "%s: rename from %s failed: %s", path, tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return ANC_ERR_IO;
    }
    free(tmp);
    return ANC_OK;
}

anc_status anc_mkdirs(const char *path, anc_error *err) {
    size_t n = strlen(path);
    char *buf = malloc(n + 1);
    if (!buf) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                anc_error_set(err, ANC_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
                free(buf);
                return ANC_ERR_IO;
            }
            buf[i] = c;
        }
    }
    free(buf);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return anc_error_set(err, ANC_ERR_IO, "%s: exists and is not a directory", path);
    return ANC_OK;
}

int anc_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

int anc_path_is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *anc_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

anc_status anc_copy_file(const char *src, const char *dst, anc_error *err) {
    char *buf = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(src, (size_t)1 << 31, &buf, &len, err);
    if (st) return st;
    st = anc_write_file_atomic(dst, buf, len, err);
    free(buf);
    return st;
}

anc_status anc_file_map(const char *path, void **map, size_t *len, anc_error *err) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return anc_error_set(err, ANC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return anc_error_set(err, ANC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return anc_error_set(err, ANC_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return anc_error_set(err, ANC_ERR_IO, "%s: file size %" PRId64 " cannot be mapped", path, (int64_t)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    void *m = NULL;
    if (n > 0) {
        m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return anc_error_set(err, ANC_ERR_IO, "%s: cannot map %zu bytes: %s", path, n, strerror(e));
        }
    }
    close(fd); /* the mapping stays valid */
    *map = m;
    *len = n;
    return ANC_OK;
}

void anc_file_unmap(void *map, size_t len) {
    if (map) munmap(map, len);
}
