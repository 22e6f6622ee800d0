/* safetensors reader (mmap, validating) and writer (atomic).
 *
 * Format: 8-byte little-endian u64 header length N, N bytes of JSON
 * {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [b, e]}},
 * then the data section; offsets are relative to byte 8 + N. Every length and
 * offset read from the file is checked against the file size before use. */
#ifndef ANCHOR_IO_SAFETENSORS_H
#define ANCHOR_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/error.h"

#define ANC_ST_MAX_DIMS 8

typedef struct anc_st_tensor {
    const char *name;            /* owned by the anc_safetensors */
    anc_dtype dtype;
    int ndim;
    int64_t shape[ANC_ST_MAX_DIMS];
    uint64_t n_elems;
    const void *data;            /* points into the mapping; may be unaligned */
    uint64_t nbytes;
    uint64_t file_offset;        /* absolute byte offset of data in the file */
} anc_st_tensor;

typedef struct anc_safetensors anc_safetensors;

/* Maps and validates the file at path. On success *out owns the mapping;
 * release with anc_st_close. Errors name the path and the byte offset or
 * tensor at fault. */
anc_status anc_st_open(anc_safetensors **out, const char *path, anc_error *err);

/* Validates an in-memory buffer (not copied: buf must outlive *out).
 * label names the source in error messages. Used by the fuzz target. */
anc_status anc_st_parse(anc_safetensors **out, const void *buf, size_t len,
                        const char *label, anc_error *err);

/* Releases everything (NULL is a no-op). */
void anc_st_close(anc_safetensors *st);

size_t anc_st_count(const anc_safetensors *st);
/* i-th tensor in file order of data offsets; NULL when i is out of range. */
const anc_st_tensor *anc_st_get(const anc_safetensors *st, size_t i);
/* Tensor by exact name, or NULL. */
const anc_st_tensor *anc_st_find(const anc_safetensors *st, const char *name);
/* Value of a __metadata__ key, or NULL. Owned by st. */
const char *anc_st_metadata(const anc_safetensors *st, const char *key);
/* The path or label st was opened with. */
const char *anc_st_label(const anc_safetensors *st);

/* Copies tensor t into dst as fp32 (t->dtype F32, F16, BF16 or F64), checking
 * that n_elems equals t->n_elems. */
anc_status anc_st_read_f32(const anc_st_tensor *t, float *dst, uint64_t n_elems, anc_error *err);

/* Copies tensor t into dst as bf16 (round to nearest even from F32, F16
 * or F64; BF16 is copied), checking that n_elems equals t->n_elems.
 * Converts in bounded chunks: no temporary of the tensor's size. */
anc_status anc_st_read_bf16(const anc_st_tensor *t, uint16_t *dst, uint64_t n_elems, anc_error *err);

/* Lets the kernel drop the mapped pages of t's data (st opened by
 * anc_st_open; a no-op for anc_st_parse buffers): after a tensor has been
 * copied out, so loading a model does not also keep the files resident.
 * The data stays readable (pages are read from the file again). */
void anc_st_drop_pages(const anc_safetensors *st, const anc_st_tensor *t);

/* One tensor to write. When dtype is F32, F16 or BF16, data points to fp32
 * values converted on write; otherwise data holds raw little-endian values of
 * that dtype. */
typedef struct anc_st_write_item {
    const char *name;
    anc_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} anc_st_write_item;

/* Writes items to path atomically (path.tmp, fsync, rename). meta is NULL or
 * a NULL-terminated list of key, value, key, value, ... for __metadata__.
 * The header is padded with spaces to a multiple of 8 bytes. */
anc_status anc_st_write(const char *path, const anc_st_write_item *items, size_t n,
                        const char *const *meta, anc_error *err);

#endif
