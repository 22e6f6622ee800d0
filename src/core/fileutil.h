/* Small file helpers shared by the loaders and writers. */
#ifndef ANCHOR_CORE_FILEUTIL_H
#define ANCHOR_CORE_FILEUTIL_H

#include <stddef.h>

#include "core/error.h"

/* Reads the whole file at path into a malloc'd NUL-terminated buffer
 * (*out, caller frees) of *len bytes. Files larger than max_bytes are an
 * error (guards against reading a huge file by mistake). */
anc_status anc_read_file(const char *path, size_t max_bytes, char **out, size_t *len, anc_error *err);

/* Writes len bytes to path atomically: a new temporary file beside it
 * (path.tmp.XXXXXX, mode 0644), fsync, rename over path. Two writers of one
 * path never share the temporary; the last rename wins. */
anc_status anc_write_file_atomic(const char *path, const void *data, size_t len, anc_error *err);

/* Creates directory path and missing parents (mode 0755). Existing is fine. */
anc_status anc_mkdirs(const char *path, anc_error *err);

/* 1 when path exists (any type), else 0. */
int anc_path_exists(const char *path);
/* 1 when path is a regular file (after symlinks), else 0. */
int anc_path_is_file(const char *path);

/* malloc'd "dir/name" (never NULL unless out of memory). */
char *anc_path_join(const char *dir, const char *name);

/* Maps the regular file at path read-only (MAP_PRIVATE): *map and *len
 * (an empty file: *map NULL, *len 0). The mapping outlives the descriptor;
 * release it with anc_file_unmap. Errors (ANC_ERR_IO): cannot open, not a
 * regular file, too large for the address space, mmap failed. */
anc_status anc_file_map(const char *path, void **map, size_t *len, anc_error *err);

/* Releases a mapping of anc_file_map (NULL is a no-op). */
void anc_file_unmap(void *map, size_t len);

/* Copies file src to dst atomically. */
anc_status anc_copy_file(const char *src, const char *dst, anc_error *err);

#endif
