/* GGUF reader (llama.cpp's model file, versions 2 and 3): mmap or an
 * in-memory buffer, validated before anything points into it.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 KV
 * count; the KV pairs (key = u64 length + bytes, u32 value type, value;
 * an array is u32 element type + u64 count + elements; a string is u64
 * length + bytes); the tensor infos (name, u32 n_dims <= 4, n_dims x i64
 * ne, ne[0] the innermost dimension, u32 ggml type, u64 offset into the
 * data section); padding to general.alignment (u32, a power of two, 32 by
 * default); the data section, each tensor at an aligned offset.
 *
 * Validation, each failure ANC_ERR_FORMAT naming the label, the byte
 * offset and what was expected (ANC_ERR_UNSUPPORTED for a ggml type anchor
 * cannot size): the magic and version; every count, string length and
 * array length against the bytes left (so no allocation is sized by an
 * unchecked number); value and element types (no nested arrays), booleans
 * 0 or 1, keys non-empty and unique, general.alignment; tensor names
 * non-empty, shorter than 64 bytes (ggml's GGML_MAX_NAME) and unique,
 * dimensions >= 0 with the element count and byte size representable,
 * ne[0] a multiple of the type's block, offsets aligned, the data of every
 * tensor inside the file, no two tensors overlapping. */
#ifndef ANCHOR_IO_GGUF_H
#define ANCHOR_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/gguf_quant.h"

/* GGUF value types. */
enum {
    ANC_GGUF_U8 = 0,
    ANC_GGUF_I8 = 1,
    ANC_GGUF_U16 = 2,
    ANC_GGUF_I16 = 3,
    ANC_GGUF_U32 = 4,
    ANC_GGUF_I32 = 5,
    ANC_GGUF_F32 = 6,
    ANC_GGUF_BOOL = 7,
    ANC_GGUF_STRING = 8,
    ANC_GGUF_ARRAY = 9,
    ANC_GGUF_U64 = 10,
    ANC_GGUF_I64 = 11,
    ANC_GGUF_F64 = 12,
    ANC_GGUF_TYPE_END = 13
};

#define ANC_GGUF_DEFAULT_ALIGNMENT 32u
#define ANC_GGUF_MAX_DIMS 4
#define ANC_GGUF_NAME_MAX 64 /* names are shorter than this (ggml's GGML_MAX_NAME) */

/* A string inside the file: not NUL-terminated, may hold any bytes. */
typedef struct anc_gguf_str {
    const char *s;
    uint64_t len;
} anc_gguf_str;

typedef struct anc_gguf_kv {
    anc_gguf_str key;
    uint32_t type;              /* value type; ANC_GGUF_ARRAY for an array */
    uint32_t elem_type;         /* element type of an array (= type for a scalar) */
    uint64_t n;                 /* elements (1 for a scalar) */
    const unsigned char *value; /* the value's bytes (an array's first element; a string's length prefix) */
    uint64_t value_bytes;
    uint64_t offset;            /* file offset of the key */
} anc_gguf_kv;

typedef struct anc_gguf_tensor {
    char name[ANC_GGUF_NAME_MAX]; /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[ANC_GGUF_MAX_DIMS]; /* ne[0] innermost; unused dimensions are 1 */
    uint32_t type;                 /* ggml type */
    uint64_t n_elems;
    uint64_t offset;               /* in the data section */
    uint64_t nbytes;
    const void *data;              /* into the mapping or buffer */
    uint64_t info_offset;          /* file offset of its info record */
} anc_gguf_tensor;

typedef struct anc_gguf anc_gguf;

/* Maps and validates the file at path. *out owns the mapping (release with
 * anc_gguf_close); on failure *out is NULL and err says why (ANC_ERR_IO for
 * open/stat/mmap). */
anc_status anc_gguf_open(anc_gguf **out, const char *path, anc_error *err);
/* Validates buf[0..len) (not copied: it must outlive *out); label names it
 * in errors. The fuzz target's entry. */
anc_status anc_gguf_parse(anc_gguf **out, const void *buf, size_t len, const char *label, anc_error *err);
/* Releases g (NULL is a no-op). */
void anc_gguf_close(anc_gguf *g);

/* Accessors of a parsed file (g non-NULL; never fail). Everything returned
 * is owned by g and lives until anc_gguf_close. */
/* The file's version (2 or 3) and its alignment (general.alignment or 32). */
uint32_t anc_gguf_version(const anc_gguf *g);
uint32_t anc_gguf_alignment(const anc_gguf *g);
/* File offset of the data section. */
uint64_t anc_gguf_data_offset(const anc_gguf *g);
/* The path or label g was opened with (for messages). */
const char *anc_gguf_label(const anc_gguf *g);

/* Number of KV pairs; the i-th in file order, or NULL when i is out of range. */
size_t anc_gguf_kv_count(const anc_gguf *g);
const anc_gguf_kv *anc_gguf_kv_at(const anc_gguf *g, size_t i);
/* The KV whose key is the NUL-terminated key, or NULL (binary search). */
const anc_gguf_kv *anc_gguf_find(const anc_gguf *g, const char *key);

/* Number of tensors; the i-th in file order (NULL out of range); the one
 * named name (NULL when absent). */
size_t anc_gguf_tensor_count(const anc_gguf *g);
const anc_gguf_tensor *anc_gguf_tensor_at(const anc_gguf *g, size_t i);
const anc_gguf_tensor *anc_gguf_find_tensor(const anc_gguf *g, const char *name);

/* Typed reads of a scalar KV (kv from g). Each returns ANC_ERR_FORMAT naming
 * the key, its offset and the type found when kv has another type:
 * _int: any integer type or bool (a u64 above INT64_MAX is refused);
 * _float: F32 or F64 (integers too, converted); _bool: BOOL;
 * _string: STRING (s points into the file). */
anc_status anc_gguf_kv_int(const anc_gguf *g, const anc_gguf_kv *kv, int64_t *out, anc_error *err);
anc_status anc_gguf_kv_float(const anc_gguf *g, const anc_gguf_kv *kv, double *out, anc_error *err);
anc_status anc_gguf_kv_bool(const anc_gguf *g, const anc_gguf_kv *kv, int *out, anc_error *err);
anc_status anc_gguf_kv_string(const anc_gguf *g, const anc_gguf_kv *kv, anc_gguf_str *out, anc_error *err);

/* The strings of an array-of-strings KV as a malloc'd array *out of kv->n
 * entries pointing into the file (caller frees the array). ANC_ERR_FORMAT
 * when kv is not such an array. */
anc_status anc_gguf_kv_strings(const anc_gguf *g, const anc_gguf_kv *kv, anc_gguf_str **out, anc_error *err);
/* Element i (< kv->n) of a numeric array (any integer, bool, F32 or F64
 * elements) as a double. ANC_ERR_FORMAT when kv is no numeric array. */
anc_status anc_gguf_kv_array_num(const anc_gguf *g, const anc_gguf_kv *kv, uint64_t i, double *out, anc_error *err);

/* Name of value type t ("u32", "str", "arr"). */
const char *anc_gguf_type_name(uint32_t t);

/* Copies tensor t of g into dst[n] as fp32 (types F32, F16, BF16, F64,
 * Q8_0); n must equal t->n_elems. ANC_ERR_UNSUPPORTED for another type. */
anc_status anc_gguf_tensor_read_f32(const anc_gguf *g, const anc_gguf_tensor *t, float *dst, uint64_t n,
                                    anc_error *err);

#endif
