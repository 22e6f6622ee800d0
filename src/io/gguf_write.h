/* GGUF v3 writer, laid out as llama.cpp's gguf-py GGUFWriter writes it:
 * header, the KV pairs in the order they were added, the tensor infos in
 * the order tensors were added, padding to the alignment, then each
 * tensor's data at the next aligned offset (offsets consecutive, each
 * tensor padded with zeros to the alignment, the last one too), so
 * llama.cpp's loader (which requires exactly those offsets) reads it.
 *
 * Tensor data comes from fp32 rows that the writer converts while writing
 * (F32, F16, BF16, Q8_0: io/gguf_quant.h), optionally gathering the rows
 * in another order; nothing of a tensor's size is held besides its source.
 * The file is written atomically (a temporary beside it, fsync, rename). */
#ifndef ANCHOR_IO_GGUF_WRITE_H
#define ANCHOR_IO_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/gguf.h"

typedef struct anc_gguf_writer anc_gguf_writer;

/* One tensor: ne[0] is the innermost dimension (a row), rows = ne[1] x
 * ne[2] x ne[3]. data holds rows x ne[0] floats; output row r is data row
 * row_map[r] (row_map NULL: row r). data and row_map are borrowed until
 * anc_gguf_write returns; the name is copied. */
typedef struct anc_gguf_tensor_src {
    const char *name;        /* 1..63 bytes */
    uint32_t n_dims;         /* 1..4 */
    int64_t ne[ANC_GGUF_MAX_DIMS];
    uint32_t type;           /* ANC_GGML_F32, _F16, _BF16 or _Q8_0 (ne[0] a multiple of 32) */
    const float *data;
    const int64_t *row_map;  /* NULL or rows entries, each < rows */
} anc_gguf_tensor_src;

/* A new empty writer; alignment 0 means 32 (anything else must be a power
 * of two and is recorded as general.alignment). Free with
 * anc_gguf_writer_free. */
anc_status anc_gguf_writer_create(anc_gguf_writer **out, uint32_t alignment, anc_error *err);
/* Releases w and its copies (NULL is a no-op); sources are the caller's. */
void anc_gguf_writer_free(anc_gguf_writer *w);

/* Add one KV pair each (keys non-empty and unique, ANC_ERR_INVALID
 * otherwise; strings are copied). _strings takes n strings s[i] of lens[i]
 * bytes (lens NULL: NUL-terminated). */
anc_status anc_gguf_add_u32(anc_gguf_writer *w, const char *key, uint32_t v, anc_error *err);
anc_status anc_gguf_add_i32(anc_gguf_writer *w, const char *key, int32_t v, anc_error *err);
anc_status anc_gguf_add_f32(anc_gguf_writer *w, const char *key, float v, anc_error *err);
anc_status anc_gguf_add_bool(anc_gguf_writer *w, const char *key, int v, anc_error *err);
anc_status anc_gguf_add_string(anc_gguf_writer *w, const char *key, const char *s, size_t len, anc_error *err);
anc_status anc_gguf_add_strings(anc_gguf_writer *w, const char *key, const char *const *s, const size_t *lens, size_t n,
                                anc_error *err);
anc_status anc_gguf_add_f32s(anc_gguf_writer *w, const char *key, const float *v, size_t n, anc_error *err);
anc_status anc_gguf_add_i32s(anc_gguf_writer *w, const char *key, const int32_t *v, size_t n, anc_error *err);

/* Adds a tensor (checked: name, dimensions, type, block multiple, unique
 * name; ANC_ERR_INVALID naming it otherwise). */
anc_status anc_gguf_add_tensor(anc_gguf_writer *w, const anc_gguf_tensor_src *t, anc_error *err);

/* Called after each tensor's data is written. */
typedef void (*anc_gguf_progress_fn)(void *ctx, size_t done, size_t total);

/* Writes everything added to path atomically. progress may be NULL.
 * *bytes (may be NULL) receives the file size. ANC_ERR_IO naming the path. */
anc_status anc_gguf_write(anc_gguf_writer *w, const char *path, anc_gguf_progress_fn progress, void *ctx, uint64_t *bytes,
                          anc_error *err);

#endif
