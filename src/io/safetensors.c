/* safetensors reader (mmap, validating) and writer (atomic). See safetensors.h.
 *
 * Reader: the header JSON is parsed with jansson and kept alive for the life
 * of the anc_safetensors, so tensor names and metadata values point into it.
 * Every number taken from the file is validated against the file size with
 * overflow-checked arithmetic before any pointer is formed from it. */
#define _GNU_SOURCE
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileutil.h"

/* Largest accepted header (same limit as the reference implementation). */
#define ST_MAX_HEADER ((uint64_t)100000000u)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ST_HOST_LE 1
#else
#define ST_HOST_LE 0
#endif
/* Longest tensor name quoted in an error message. */
#define NAME_FMT "'%.200s'"

struct anc_safetensors {
    char *label;
    void *map; /* mmap'd region (anc_st_open) or NULL (anc_st_parse) */
    size_t map_len;
    json_t *header;           /* owns tensor names and metadata strings */
    json_t *meta;             /* borrowed from header; may be NULL */
    anc_st_tensor *tensors;   /* sorted by data offset */
    anc_st_tensor **by_name;  /* sorted by name, for anc_st_find */
    size_t n;
};

static const char *errno_str(int e, char *buf, size_t len) {
    /* GNU strerror_r: returns a pointer to the message (maybe not buf). */
    return strerror_r(e, buf, len);
}

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* safetensors dtypes that are valid in the format but not handled by anchor. */
static int is_other_st_dtype(const char *s) {
    static const char *const other[] = {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                        "F4",  "F6_E2M3", "F6_E3M2", "C64"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (strcmp(s, other[i]) == 0) return 1;
    return 0;
}

/* Formats a shape as "[2, 3]" into buf (truncating safely). */
static const char *fmt_shape(char *buf, size_t len, const int64_t *shape, int ndim) {
    size_t pos = 0;
    int w = snprintf(buf, len, "[");
    if (w > 0) pos = (size_t)w;
    for (int i = 0; i < ndim && pos < len; i++) {
        w = snprintf(buf + pos, len - pos, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (w < 0) break;
        pos += (size_t)w;
    }
    if (pos < len) snprintf(buf + pos, len - pos, "]");
    return buf;
}

static int mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* Reads a non-negative JSON integer. Returns 0 or -1. */
static int get_nonneg(const json_t *j, uint64_t *out) {
    if (!json_is_integer(j)) return -1;
    json_int_t v = json_integer_value(j);
    if (v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Validates one tensor entry and fills t (except data pointers, set later). */
static anc_status parse_tensor(anc_st_tensor *t, const char *name, const json_t *entry,
                               uint64_t data_size, const char *label, anc_error *err) {
    char sbuf[256];
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!json_is_object(entry))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": entry is a JSON %s, expected an object",
                             label, name, json_type_name(entry));

    const json_t *jd = json_object_get(entry, "dtype");
    if (!jd)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": missing \"dtype\"", label, name);
    if (!json_is_string(jd))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": \"dtype\" is a JSON %s, expected a string",
                             label, name, json_type_name(jd));
    const char *ds = json_string_value(jd);
    t->dtype = anc_dtype_from_name(ds);
    if (t->dtype == ANC_DT_INVALID) {
        if (is_other_st_dtype(ds))
            return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tensor " NAME_FMT ": dtype '%s' is not supported by anchor",
                                 label, name, ds);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": unknown dtype '%.40s'", label, name, ds);
    }

    const json_t *js = json_object_get(entry, "shape");
    if (!js)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": missing \"shape\"", label, name);
    if (!json_is_array(js))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": \"shape\" is a JSON %s, expected an array",
                             label, name, json_type_name(js));
    size_t nd = json_array_size(js);
    if (nd > ANC_ST_MAX_DIMS)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": shape has %zu dimensions, at most %d allowed",
                             label, name, nd, ANC_ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t n_elems = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        const json_t *jv = json_array_get(js, i);
        uint64_t dim;
        if (get_nonneg(jv, &dim) != 0) {
            if (json_is_integer(jv))
                return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": shape[%zu] is %" PRId64 ", expected a non-negative integer",
                                     label, name, i, (int64_t)json_integer_value(jv));
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": shape[%zu] is a JSON %s, expected a non-negative integer",
                                 label, name, i, json_type_name(jv));
        }
        t->shape[i] = (int64_t)dim;
        if (!overflow && mul_u64(n_elems, dim, &n_elems) != 0) overflow = 1;
    }
    /* A zero dimension makes the product 0 even if an earlier partial product overflowed. */
    for (size_t i = 0; i < nd; i++)
        if (t->shape[i] == 0) {
            overflow = 0;
            n_elems = 0;
        }
    uint64_t need;
    if (overflow || mul_u64(n_elems, anc_dtype_size(t->dtype), &need) != 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": shape %s of %s overflows 64-bit byte counts",
                             label, name, fmt_shape(sbuf, sizeof sbuf, t->shape, t->ndim), ds);
    t->n_elems = n_elems;

    const json_t *jo = json_object_get(entry, "data_offsets");
    if (!jo)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": missing \"data_offsets\"", label, name);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": \"data_offsets\" must be an array [begin, end]",
                             label, name);
    uint64_t b, e;
    if (get_nonneg(json_array_get(jo, 0), &b) != 0 || get_nonneg(json_array_get(jo, 1), &e) != 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": \"data_offsets\" must hold two non-negative integers",
                             label, name);
    if (b > e)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64 "] are reversed (begin > end)",
                             label, name, b, e);
    if (e > data_size)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64 "] exceed the data section of %" PRIu64 " bytes (file truncated?)",
                             label, name, b, e, data_size);
    if (e - b != need)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes but shape %s of %s needs %" PRIu64 " bytes",
                             label, name, b, e, e - b, fmt_shape(sbuf, sizeof sbuf, t->shape, t->ndim), ds, need);
    t->nbytes = need;
    t->file_offset = b; /* relative for now; made absolute by the caller */
    return ANC_OK;
}

static int cmp_offset(const void *pa, const void *pb) {
    const anc_st_tensor *a = pa, *b = pb;
    if (a->file_offset != b->file_offset) return a->file_offset < b->file_offset ? -1 : 1;
    if (a->nbytes != b->nbytes) return a->nbytes < b->nbytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int cmp_name_ptr(const void *pa, const void *pb) {
    const anc_st_tensor *const *a = pa, *const *b = pb;
    return strcmp((*a)->name, (*b)->name);
}

static anc_status parse_header(anc_safetensors *st, const unsigned char *buf, size_t len,
                               const char *label, anc_error *err) {
    if (len == 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: file is empty (expected an 8-byte header length)", label);
    if (len < 8)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: file is %zu bytes, shorter than the 8-byte header length", label, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > (uint64_t)len - 8)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: header length %" PRIu64 " at byte 0 is past the end of the %zu-byte file",
                             label, hlen, len);
    if (hlen > ST_MAX_HEADER)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: header length %" PRIu64 " at byte 0 exceeds the limit of %" PRIu64 " bytes",
                             label, hlen, ST_MAX_HEADER);
    uint64_t data_start = 8 + hlen;
    uint64_t data_size = (uint64_t)len - data_start;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: header is not valid JSON: %s (header line %d, column %d; file byte %" PRIu64 ")",
                             label, jerr.text, jerr.line, jerr.column,
                             (uint64_t)8 + (jerr.position > 0 ? (uint64_t)jerr.position : 0));
    st->header = root;
    if (!json_is_object(root))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: header at byte 8 is a JSON %s, expected an object",
                             label, json_type_name(root));

    size_t n_entries = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    if (meta) {
        if (!json_is_object(meta))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: \"__metadata__\" is a JSON %s, expected an object of strings",
                                 label, json_type_name(meta));
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v))
                return anc_error_set(err, ANC_ERR_FORMAT, "%s: \"__metadata__\" key '%.200s' is a JSON %s, expected a string",
                                     label, k, json_type_name(v));
        }
        st->meta = meta;
        n_entries--;
    }

    if (n_entries) {
        st->tensors = calloc(n_entries, sizeof *st->tensors);
        st->by_name = calloc(n_entries, sizeof *st->by_name);
        if (!st->tensors || !st->by_name)
            return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory for %zu tensors", label, n_entries);
    }
    const char *key;
    json_t *val;
    size_t n = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        if (n >= n_entries) /* cannot happen; guards the array */
            return anc_error_set(err, ANC_ERR_INTERNAL, "%s: header object changed size", label);
        anc_status s = parse_tensor(&st->tensors[n], key, val, data_size, label, err);
        if (s != ANC_OK) return s;
        n++;
    }
    st->n = n;

    if (n > 1) qsort(st->tensors, n, sizeof *st->tensors, cmp_offset);
    /* Overlap check over non-empty regions (sorted by begin). */
    const anc_st_tensor *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        anc_st_tensor *t = &st->tensors[i];
        if (t->nbytes == 0) continue;
        if (prev && t->file_offset < prev->file_offset + prev->nbytes)
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s: tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor " NAME_FMT " at [%" PRIu64 ", %" PRIu64 "]",
                                 label, t->name, t->file_offset, t->file_offset + t->nbytes, prev->name,
                                 prev->file_offset, prev->file_offset + prev->nbytes);
        prev = t;
    }
    for (size_t i = 0; i < n; i++) {
        anc_st_tensor *t = &st->tensors[i];
        t->data = buf + data_start + t->file_offset; /* in bounds: end <= data_size */
        t->file_offset += data_start;
        st->by_name[i] = t;
    }
    if (n > 1) qsort(st->by_name, n, sizeof *st->by_name, cmp_name_ptr);
    return ANC_OK;
}

static anc_safetensors *st_new(const char *label) {
    anc_safetensors *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    size_t l = strlen(label);
    st->label = malloc(l + 1);
    if (!st->label) {
        free(st);
        return NULL;
    }
    memcpy(st->label, label, l + 1);
    return st;
}

anc_status anc_st_parse(anc_safetensors **out, const void *buf, size_t len, const char *label,
                        anc_error *err) {
    if (!label) label = "<buffer>";
    if (!out) return anc_error_set(err, ANC_ERR_INVALID, "%s: anc_st_parse: out is NULL", label);
    *out = NULL;
    if (!buf && len) return anc_error_set(err, ANC_ERR_INVALID, "%s: anc_st_parse: buffer is NULL", label);
    anc_safetensors *st = st_new(label);
    if (!st) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", label);
    anc_status s = parse_header(st, buf, len, st->label, err);
    if (s != ANC_OK) {
        anc_st_close(st);
        return s;
    }
    *out = st;
    return ANC_OK;
}

anc_status anc_st_open(anc_safetensors **out, const char *path, anc_error *err) {
    if (!out) return anc_error_set(err, ANC_ERR_INVALID, "anc_st_open: out is NULL");
    *out = NULL;
    if (!path) return anc_error_set(err, ANC_ERR_INVALID, "anc_st_open: path is NULL");
    void *map = NULL;
    size_t len = 0;
    anc_status ms = anc_file_map(path, &map, &len, err);
    if (ms) return ms;

    anc_safetensors *st = st_new(path);
    if (!st) {
        anc_file_unmap(map, len);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    }
    st->map = map;
    st->map_len = len;
    anc_status s = parse_header(st, map, len, st->label, err);
    if (s != ANC_OK) {
        anc_st_close(st);
        return s;
    }
    *out = st;
    return ANC_OK;
}

void anc_st_close(anc_safetensors *st) {
    if (!st) return;
    anc_file_unmap(st->map, st->map_len);
    if (st->header) json_decref(st->header);
    free(st->tensors);
    free(st->by_name);
    free(st->label);
    free(st);
}

size_t anc_st_count(const anc_safetensors *st) { return st ? st->n : 0; }

const anc_st_tensor *anc_st_get(const anc_safetensors *st, size_t i) {
    if (!st || i >= st->n) return NULL;
    return &st->tensors[i];
}

const anc_st_tensor *anc_st_find(const anc_safetensors *st, const char *name) {
    if (!st || !name || st->n == 0) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->by_name[mid]->name);
        if (c == 0) return st->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *anc_st_metadata(const anc_safetensors *st, const char *key) {
    if (!st || !key || !st->meta) return NULL;
    return json_string_value(json_object_get(st->meta, key)); /* NULL when absent */
}

const char *anc_st_label(const anc_safetensors *st) { return st ? st->label : NULL; }

/* The checks every read does: t given, n_elems its count, a float dtype,
 * dst given when there is anything to copy. what: "fp32" or "bf16". */
static anc_status check_read(const anc_st_tensor *t, const void *dst, uint64_t n_elems, const char *what, anc_error *err) {
    if (!t) return anc_error_set(err, ANC_ERR_INVALID, "reading a tensor as %s: tensor is NULL", what);
    if (n_elems != t->n_elems)
        return anc_error_set(err, ANC_ERR_INVALID, "tensor " NAME_FMT ": caller expects %" PRIu64 " elements but the tensor has %" PRIu64,
                             t->name, n_elems, t->n_elems);
    if (t->dtype != ANC_DT_F32 && t->dtype != ANC_DT_F16 && t->dtype != ANC_DT_BF16 && t->dtype != ANC_DT_F64)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "tensor " NAME_FMT ": dtype %s cannot be read as %s",
                             t->name, anc_dtype_name(t->dtype), what);
    if (n_elems == 0) return ANC_OK;
    if (!dst) return anc_error_set(err, ANC_ERR_INVALID, "tensor " NAME_FMT ": destination is NULL", t->name);
    if (n_elems > SIZE_MAX / sizeof(double))
        return anc_error_set(err, ANC_ERR_NOMEM, "tensor " NAME_FMT ": too large for this platform", t->name);
    return ANC_OK;
}

anc_status anc_st_read_f32(const anc_st_tensor *t, float *dst, uint64_t n_elems, anc_error *err) {
    anc_status st = check_read(t, dst, n_elems, "fp32", err);
    if (st || n_elems == 0) return st;
    if (anc_convert_to_f32(dst, t->data, t->dtype, (size_t)n_elems) != 0)
        return anc_error_set(err, ANC_ERR_INTERNAL, "tensor " NAME_FMT ": conversion failed", t->name);
    return ANC_OK;
}

anc_status anc_st_read_bf16(const anc_st_tensor *t, uint16_t *dst, uint64_t n_elems, anc_error *err) {
    anc_status st = check_read(t, dst, n_elems, "bf16", err);
    if (st || n_elems == 0) return st;
    if (t->dtype == ANC_DT_BF16 && ST_HOST_LE) {
        memcpy(dst, t->data, (size_t)n_elems * 2);
        return ANC_OK;
    }
    /* Through fp32 in bounded chunks: never a full-size temporary. */
    enum { CHUNK = 1 << 16 };
    float *buf = malloc(sizeof(float) * CHUNK);
    if (!buf) return anc_error_set(err, ANC_ERR_NOMEM, "tensor " NAME_FMT ": out of memory", t->name);
    const unsigned char *src = t->data;
    size_t esz = anc_dtype_size(t->dtype);
    for (uint64_t i = 0; i < n_elems; i += CHUNK) {
        size_t n = n_elems - i < CHUNK ? (size_t)(n_elems - i) : CHUNK;
        if (anc_convert_to_f32(buf, src + i * esz, t->dtype, n) != 0) {
            free(buf);
            return anc_error_set(err, ANC_ERR_INTERNAL, "tensor " NAME_FMT ": conversion failed", t->name);
        }
        for (size_t k = 0; k < n; k++) dst[i + k] = anc_f32_to_bf16(buf[k]);
    }
    free(buf);
    return ANC_OK;
}

void anc_st_drop_pages(const anc_safetensors *st, const anc_st_tensor *t) {
    if (!st || !st->map || !t || t->nbytes == 0) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t lo = (uintptr_t)t->data, hi = lo + (uintptr_t)t->nbytes;
    uintptr_t base = (uintptr_t)st->map, end = base + st->map_len;
    if (lo < base || hi > end) return;
    /* whole pages inside the tensor only: its neighbours stay mapped in */
    lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    hi &= ~((uintptr_t)page - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---------------------------------------------------------------- writer */

static int is_float_dtype(anc_dtype dt) { return dt == ANC_DT_F32 || dt == ANC_DT_F16 || dt == ANC_DT_BF16; }

/* Writes all of buf; returns 0 or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += (size_t)w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes one item's data; converts fp32 input for F16/BF16 (and F32 on
 * big-endian hosts) in bounded chunks. Returns 0 or -1 with errno set. */
static int write_item_data(int fd, const anc_st_write_item *it, uint64_t n_elems, uint64_t nbytes) {
    if (nbytes == 0) return 0;
    if (!is_float_dtype(it->dtype) || (it->dtype == ANC_DT_F32 && ST_HOST_LE))
        return write_all(fd, it->data, (size_t)nbytes);
    enum { CHUNK = 16384 };
    unsigned char buf[CHUNK * 4];
    const float *src = it->data;
    size_t esz = anc_dtype_size(it->dtype);
    for (uint64_t i = 0; i < n_elems; i += CHUNK) {
        size_t m = (size_t)((n_elems - i) < CHUNK ? (n_elems - i) : CHUNK);
        anc_convert_from_f32(buf, src + i, it->dtype, m);
        if (write_all(fd, buf, m * esz) != 0) return -1;
    }
    return 0;
}

/* Validates items and builds the header object. On success *out_sizes[i] is
 * item i's byte count. */
static anc_status build_header(json_t **out, uint64_t *sizes, const char *path,
                               const anc_st_write_item *items, size_t n,
                               const char *const *meta, anc_error *err) {
    json_t *root = json_object();
    if (!root) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    *out = root;
    if (meta) {
        json_t *jm = json_object();
        if (!jm || json_object_set_new(root, "__metadata__", jm) != 0)
            return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; meta[i]; i += 2) {
            if (!meta[i + 1])
                return anc_error_set(err, ANC_ERR_INVALID, "%s: metadata key '%.200s' has no value", path, meta[i]);
            if (json_object_get(jm, meta[i]))
                return anc_error_set(err, ANC_ERR_INVALID, "%s: duplicate metadata key '%.200s'", path, meta[i]);
            json_t *v = json_string(meta[i + 1]);
            if (!v || json_object_set_new(jm, meta[i], v) != 0)
                return anc_error_set(err, ANC_ERR_INVALID, "%s: metadata key '%.200s' or its value is not valid UTF-8",
                                     path, meta[i]);
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const anc_st_write_item *it = &items[i];
        char sbuf[256];
        if (!it->name) return anc_error_set(err, ANC_ERR_INVALID, "%s: item %zu has no name", path, i);
        if (strcmp(it->name, "__metadata__") == 0)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: item %zu: the name \"__metadata__\" is reserved", path, i);
        size_t esz = anc_dtype_size(it->dtype);
        if (esz == 0)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": invalid dtype %d", path, it->name, (int)it->dtype);
        if (it->ndim < 0 || it->ndim > ANC_ST_MAX_DIMS)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": ndim %d is outside 0..%d", path, it->name,
                                 it->ndim, ANC_ST_MAX_DIMS);
        if (it->ndim > 0 && !it->shape)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": shape is NULL", path, it->name);
        uint64_t ne = 1;
        int overflow = 0;
        for (int d = 0; d < it->ndim; d++) {
            if (it->shape[d] < 0)
                return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": shape %s has a negative dimension", path,
                                     it->name, fmt_shape(sbuf, sizeof sbuf, it->shape, it->ndim));
            if (mul_u64(ne, (uint64_t)it->shape[d], &ne) != 0) overflow = 1;
        }
        for (int d = 0; d < it->ndim; d++)
            if (it->shape[d] == 0) ne = 0, overflow = 0;
        uint64_t nb;
        if (overflow || mul_u64(ne, esz, &nb) != 0 || nb > (uint64_t)INT64_MAX - off || nb > SIZE_MAX)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": shape %s is too large", path, it->name,
                                 fmt_shape(sbuf, sizeof sbuf, it->shape, it->ndim));
        if (nb > 0 && !it->data)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor " NAME_FMT ": data is NULL", path, it->name);
        if (json_object_get(root, it->name))
            return anc_error_set(err, ANC_ERR_INVALID, "%s: duplicate tensor name " NAME_FMT, path, it->name);
        json_t *ent = json_object();
        json_t *shape = json_array();
        json_t *offs = json_array();
        int bad = !ent || json_object_set_new(ent, "dtype", json_string(anc_dtype_name(it->dtype))) != 0;
        bad |= !ent || json_object_set_new(ent, "shape", shape) != 0; /* steals shape */
        bad |= !ent || json_object_set_new(ent, "data_offsets", offs) != 0;
        for (int d = 0; !bad && d < it->ndim; d++)
            bad |= json_array_append_new(shape, json_integer((json_int_t)it->shape[d])) != 0;
        if (!bad) bad |= json_array_append_new(offs, json_integer((json_int_t)off)) != 0;
        if (!bad) bad |= json_array_append_new(offs, json_integer((json_int_t)(off + nb))) != 0;
        if (bad) {
            if (ent) json_decref(ent);
            else {
                json_decref(shape);
                json_decref(offs);
            }
            return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
        }
        if (json_object_set_new(root, it->name, ent) != 0)
            return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor name " NAME_FMT " is not valid UTF-8", path, it->name);
        sizes[i] = nb;
        off += nb;
    }
    return ANC_OK;
}

/* Best effort: makes the rename durable by syncing the parent directory. */
static void fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = malloc(2);
        if (dir) memcpy(dir, ".", 2);
    } else {
        size_t l = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(l + 1);
        if (dir) {
            memcpy(dir, path, l);
            dir[l] = '\0';
        }
    }
    if (!dir) return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
}

anc_status anc_st_write(const char *path, const anc_st_write_item *items, size_t n,
                        const char *const *meta, anc_error *err) {
    char eb[128];
    if (!path) return anc_error_set(err, ANC_ERR_INVALID, "anc_st_write: path is NULL");
    if (n > 0 && !items) return anc_error_set(err, ANC_ERR_INVALID, "%s: items is NULL", path);
    if (n > SIZE_MAX / sizeof(uint64_t)) return anc_error_set(err, ANC_ERR_NOMEM, "%s: too many items", path);
    uint64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    if (!sizes) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    json_t *root = NULL;
    char *hdr = NULL, *tmp = NULL;
    int fd = -1;
    anc_status s = build_header(&root, sizes, path, items, n, meta, err);
    if (s != ANC_OK) goto done;

    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) {
        s = anc_error_set(err, ANC_ERR_NOMEM, "%s: cannot serialize the header", path);
        goto done;
    }
    size_t hl = strlen(hdr);
    size_t padded = hl + (8 - (8 + hl) % 8) % 8;
    if ((uint64_t)padded > ST_MAX_HEADER) {
        s = anc_error_set(err, ANC_ERR_INVALID, "%s: header of %zu bytes exceeds the limit of %" PRIu64, path, padded,
                          ST_MAX_HEADER);
        goto done;
    }
    char *ph = realloc(hdr, padded + 8);
    if (!ph) {
        s = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    hdr = ph;
    memmove(hdr + 8, hdr, hl);
    memset(hdr + 8 + hl, ' ', padded - hl);
    for (int i = 0; i < 8; i++) hdr[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xffu);

    size_t pl = strlen(path);
    tmp = malloc(pl + 5);
    if (!tmp) {
        s = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        s = anc_error_set(err, ANC_ERR_IO, "%s: cannot create %s: %s", path, tmp, errno_str(e, eb, sizeof eb));
        free(tmp);
        tmp = NULL; /* nothing to remove */
        goto done;
    }
    const char *what = "write";
    int bad = write_all(fd, hdr, padded + 8) != 0;
    for (size_t i = 0; !bad && i < n; i++) {
        size_t esz = anc_dtype_size(items[i].dtype);
        bad = write_item_data(fd, &items[i], sizes[i] / esz, sizes[i]) != 0;
    }
    if (!bad && fsync(fd) != 0) bad = 1, what = "fsync";
    if (!bad) {
        int c = close(fd);
        fd = -1;
        if (c != 0) bad = 1, what = "close";
    }
    if (!bad && rename(tmp, path) != 0) bad = 1, what = "rename";
    if (bad) {
        int e = errno;
        s = anc_error_set(err, ANC_ERR_IO, "%s: cannot %s %s: %s", path, what, tmp, errno_str(e, eb, sizeof eb));
        goto done;
    }
    free(tmp);
    tmp = NULL; /* renamed: nothing to remove */
    fsync_parent_dir(path);
    s = ANC_OK;

done:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(hdr);
    json_decref(root);
    free(sizes);
    return s;
}
