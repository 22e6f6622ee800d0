/* GGUF reader (gguf.h). A cursor walks the buffer; every read checks the
 * bytes left first, and every count is bounded by the bytes the smallest
 * element of its kind needs before anything is allocated from it. Keys and
 * tensor names are checked for duplicates through sorted indexes. */
#define _GNU_SOURCE
#include "io/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileutil.h"

struct anc_gguf {
    char *label;
    const unsigned char *buf;
    size_t len;
    void *map; /* anc_gguf_open's mapping, else NULL */
    size_t map_len;
    uint32_t version, alignment;
    uint64_t data_offset;
    anc_gguf_kv *kv;
    size_t n_kv;
    size_t *kv_sorted; /* kv indexes by key */
    anc_gguf_tensor *tensors;
    size_t n_tensors;
    size_t *t_sorted; /* tensor indexes by name */
};

typedef struct cursor {
    const unsigned char *b;
    uint64_t len, pos;
    const char *label;
    anc_error *err;
} cursor;

/* Longest key or name quoted in a message. */
#define QUOTE_MAX 120

static anc_status fail_at(const cursor *c, uint64_t off, const char *what) {
    return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": %s", c->label, off, what);
}

static uint64_t left(const cursor *c) { return c->len - c->pos; }

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static anc_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (left(c) < 4) {
        char m[200];
        snprintf(m, sizeof m, "file ends inside %s (4 bytes expected, %" PRIu64 " left)", what, left(c));
        return fail_at(c, c->pos, m);
    }
    *v = le32(c->b + c->pos);
    c->pos += 4;
    return ANC_OK;
}

static anc_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (left(c) < 8) {
        char m[200];
        snprintf(m, sizeof m, "file ends inside %s (8 bytes expected, %" PRIu64 " left)", what, left(c));
        return fail_at(c, c->pos, m);
    }
    *v = le64(c->b + c->pos);
    c->pos += 8;
    return ANC_OK;
}

static anc_status rd_str(cursor *c, anc_gguf_str *s, const char *what) {
    uint64_t at = c->pos, n;
    anc_status st = rd_u64(c, &n, what);
    if (st) return st;
    if (n > left(c))
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": %s has length %" PRIu64 " but only %" PRIu64
                             " bytes are left in the file", c->label, at, what, n, left(c));
    s->s = (const char *)c->b + c->pos;
    s->len = n;
    c->pos += n;
    return ANC_OK;
}

/* Bytes of one scalar of type t (0 for strings, arrays and unknown types). */
static uint32_t scalar_size(uint32_t t) {
    static const uint8_t sz[ANC_GGUF_TYPE_END] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < ANC_GGUF_TYPE_END ? sz[t] : 0;
}

const char *anc_gguf_type_name(uint32_t t) {
    static const char *const names[ANC_GGUF_TYPE_END] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                         "bool", "str", "arr", "u64", "i64", "f64"};
    return t < ANC_GGUF_TYPE_END ? names[t] : "?";
}

/* Reads n values of type t (a scalar type or STRING) at the cursor. */
static anc_status rd_values(cursor *c, uint32_t t, uint64_t n, const anc_gguf_str *key) {
    if (t == ANC_GGUF_STRING) {
        if (n > left(c) / 8)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s': %" PRIu64
                                 " strings cannot fit in the %" PRIu64 " bytes left (8 bytes of length each)",
                                 c->label, c->pos, (int)(key->len < QUOTE_MAX ? key->len : QUOTE_MAX), key->s, n, left(c));
        for (uint64_t i = 0; i < n; i++) {
            anc_gguf_str s;
            if (rd_str(c, &s, "a string value"))
                return anc_error_prefix(c->err, "key '%.*s', element %" PRIu64, (int)(key->len < QUOTE_MAX ? key->len : QUOTE_MAX),
                                        key->s, i);
        }
        return ANC_OK;
    }
    uint32_t sz = scalar_size(t);
    if (sz == 0)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s' has value type %u (expected 0..12, no nested arrays)",
                             c->label, c->pos, (int)(key->len < QUOTE_MAX ? key->len : QUOTE_MAX), key->s, t);
    if (n > left(c) / sz)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s': %" PRIu64 " values of type %s do not fit in the %" PRIu64
                             " bytes left", c->label, c->pos, (int)(key->len < QUOTE_MAX ? key->len : QUOTE_MAX), key->s, n,
                             anc_gguf_type_name(t), left(c));
    if (t == ANC_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (c->b[c->pos + i] > 1)
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s': boolean value %u (expected 0 or 1)",
                                     c->label, c->pos + i, (int)(key->len < QUOTE_MAX ? key->len : QUOTE_MAX), key->s,
                                     c->b[c->pos + i]);
    c->pos += n * sz;
    return ANC_OK;
}

static int str_cmp(const anc_gguf_str *a, const anc_gguf_str *b) {
    uint64_t m = a->len < b->len ? a->len : b->len;
    int r = m ? memcmp(a->s, b->s, (size_t)m) : 0;
    if (r) return r;
    return (a->len > b->len) - (a->len < b->len);
}

/* Sorting without qsort_r: each entry carries its index and its string. */
typedef struct {
    size_t idx;
    anc_gguf_str key;
} sort_ent;

static int ent_cmp(const void *pa, const void *pb) {
    const sort_ent *a = pa, *b = pb;
    int r = str_cmp(&a->key, &b->key);
    return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

/* Sorts keys[0..n) into *out (indexes); *dup receives the later index of a
 * duplicate pair, or SIZE_MAX. */
static anc_status sort_index(const anc_gguf_str *keys, size_t stride, size_t n, size_t **out, size_t *dup) {
    sort_ent *e = malloc((n ? n : 1) * sizeof *e);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!e || !idx) {
        free(e);
        free(idx);
        return ANC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        e[i].idx = i;
        e[i].key = *(const anc_gguf_str *)((const char *)keys + i * stride);
    }
    qsort(e, n, sizeof *e, ent_cmp);
    *dup = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        idx[i] = e[i].idx;
        if (i && !str_cmp(&e[i].key, &e[i - 1].key) && *dup == SIZE_MAX) *dup = e[i].idx;
    }
    free(e);
    *out = idx;
    return ANC_OK;
}

static anc_status parse_kvs(anc_gguf *g, cursor *c, uint64_t n_kv) {
    /* smallest KV: 8-byte key length, 1 key byte, 4-byte type, 1 value byte */
    if (n_kv > left(c) / 14)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte 16: %" PRIu64 " key-value pairs cannot fit in the %" PRIu64
                             " bytes left (each needs at least 14)", c->label, n_kv, left(c));
    g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    if (!g->kv) return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory for %" PRIu64 " keys", c->label, n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        anc_gguf_kv *kv = &g->kv[i];
        kv->offset = c->pos;
        anc_status st = rd_str(c, &kv->key, "a key");
        if (st) return anc_error_prefix(c->err, "key-value pair %" PRIu64, i);
        if (kv->key.len == 0) return fail_at(c, kv->offset, "empty key");
        if ((st = rd_u32(c, &kv->type, "a value type"))) return st;
        kv->elem_type = kv->type;
        kv->n = 1;
        if (kv->type == ANC_GGUF_ARRAY) {
            if ((st = rd_u32(c, &kv->elem_type, "an array element type"))) return st;
            if ((st = rd_u64(c, &kv->n, "an array length"))) return st;
        }
        kv->value = c->b + c->pos;
        uint64_t start = c->pos;
        if ((st = rd_values(c, kv->elem_type, kv->n, &kv->key))) return st;
        kv->value_bytes = c->pos - start;
    }
    g->n_kv = (size_t)n_kv;
    size_t dup;
    if (sort_index(&g->kv[0].key, sizeof(anc_gguf_kv), g->n_kv, &g->kv_sorted, &dup))
        return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory", c->label);
    if (dup != SIZE_MAX) {
        const anc_gguf_kv *kv = &g->kv[dup];
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s' appears twice", c->label, kv->offset,
                             (int)(kv->key.len < QUOTE_MAX ? kv->key.len : QUOTE_MAX), kv->key.s);
    }
    g->alignment = ANC_GGUF_DEFAULT_ALIGNMENT;
    const anc_gguf_kv *al = anc_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != ANC_GGUF_U32)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": general.alignment must be of type u32, not %s",
                                 c->label, al->offset, anc_gguf_type_name(al->type));
        g->alignment = le32(al->value);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": general.alignment %u is not a power of two",
                                 c->label, al->offset, g->alignment);
    }
    return ANC_OK;
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }

static anc_status parse_tensor_info(cursor *c, anc_gguf_tensor *t, uint64_t i) {
    t->info_offset = c->pos;
    anc_gguf_str name;
    anc_status st = rd_str(c, &name, "a tensor name");
    if (st) return anc_error_prefix(c->err, "tensor %" PRIu64, i);
    if (name.len == 0 || name.len >= ANC_GGUF_NAME_MAX || memchr(name.s, '\0', (size_t)name.len)) {
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor %" PRIu64 " has a name of %" PRIu64
                             " bytes (expected 1..%d bytes without NUL)", c->label, t->info_offset, i, name.len,
                             ANC_GGUF_NAME_MAX - 1);
    }
    memcpy(t->name, name.s, (size_t)name.len);
    t->name[name.len] = '\0';
    uint64_t at = c->pos;
    if ((st = rd_u32(c, &t->n_dims, "a tensor's dimension count"))) return st;
    if (t->n_dims > ANC_GGUF_MAX_DIMS)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' has %u dimensions (at most %d)",
                             c->label, at, t->name, t->n_dims, ANC_GGUF_MAX_DIMS);
    uint64_t n = 1;
    int overflow = 0, zero = 0;
    for (int d = 0; d < ANC_GGUF_MAX_DIMS; d++) {
        uint64_t v = 1;
        at = c->pos;
        if ((unsigned)d < t->n_dims && (st = rd_u64(c, &v, "a tensor dimension"))) return st;
        if (v > (uint64_t)INT64_MAX)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' dimension %d is negative (%" PRId64 ")",
                                 c->label, at, t->name, d, (int64_t)v);
        t->ne[d] = (int64_t)v;
        zero |= v == 0;
        if (!mul_ok(n, v, &n)) overflow = 1;
    }
    if (zero) n = 0, overflow = 0;
    at = c->pos;
    if ((st = rd_u32(c, &t->type, "a tensor type"))) return st;
    uint32_t block, bytes;
    if (!anc_ggml_type_layout(t->type, &block, &bytes))
        return anc_error_set(c->err, t->type < 64 ? ANC_ERR_UNSUPPORTED : ANC_ERR_FORMAT,
                             "%s: byte %" PRIu64 ": tensor '%s' has ggml type %u, which anchor does not know", c->label, at,
                             t->name, t->type);
    if (overflow || n > (uint64_t)INT64_MAX)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' has more elements than 2^63", c->label,
                             t->info_offset, t->name);
    if ((uint64_t)t->ne[0] % block)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' of type %s has rows of %" PRId64
                             " elements, not a multiple of its block of %u", c->label, t->info_offset, t->name,
                             anc_ggml_type_name(t->type), t->ne[0], block);
    t->n_elems = n;
    if (!mul_ok(n / block, bytes, &t->nbytes))
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' is larger than 2^64 bytes", c->label,
                             t->info_offset, t->name);
    return rd_u64(c, &t->offset, "a tensor offset");
}

static int off_cmp(const void *pa, const void *pb) {
    const anc_gguf_tensor *a = *(anc_gguf_tensor *const *)pa, *b = *(anc_gguf_tensor *const *)pb;
    return (a->offset > b->offset) - (a->offset < b->offset);
}

/* Places every tensor in the data section: aligned, inside, no overlap. */
static anc_status check_data(anc_gguf *g, cursor *c) {
    uint64_t al = g->alignment, pos = c->pos;
    uint64_t pad = (al - pos % al) % al;
    if (g->n_tensors == 0) {
        g->data_offset = pos + pad <= c->len ? pos + pad : c->len;
        return ANC_OK;
    }
    if (pad > left(c))
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": the file ends before the data section (padding to %" PRIu64
                             " bytes)", c->label, pos, al);
    g->data_offset = pos + pad;
    uint64_t data_len = c->len - g->data_offset;
    anc_gguf_tensor **by_off = malloc(g->n_tensors * sizeof *by_off);
    if (!by_off) return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory", c->label);
    anc_status st = ANC_OK;
    for (size_t i = 0; i < g->n_tensors && !st; i++) {
        anc_gguf_tensor *t = &g->tensors[i];
        by_off[i] = t;
        if (t->offset % al)
            st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' has data offset %" PRIu64
                               ", not a multiple of the alignment %" PRIu64, c->label, t->info_offset, t->name, t->offset, al);
        else if (t->offset > data_len || t->nbytes > data_len - t->offset)
            st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' (%" PRIu64 " bytes at data offset %" PRIu64
                               ") ends past the end of the file (the data section holds %" PRIu64 " bytes)", c->label,
                               t->info_offset, t->name, t->nbytes, t->offset, data_len);
        else
            t->data = c->b + g->data_offset + t->offset;
    }
    if (!st) {
        qsort(by_off, g->n_tensors, sizeof *by_off, off_cmp);
        /* against the furthest end so far: an empty tensor in between
         * cannot hide an overlap of its neighbours */
        const anc_gguf_tensor *far = NULL;
        for (size_t i = 0; i < g->n_tensors && !st; i++) {
            const anc_gguf_tensor *b = by_off[i];
            if (!b->nbytes) continue;
            if (far && far->offset + far->nbytes > b->offset)
                st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' overlaps tensor '%s' in the data section",
                                   c->label, b->info_offset, b->name, far->name);
            if (!far || b->offset + b->nbytes > far->offset + far->nbytes) far = b;
        }
    }
    free(by_off);
    return st;
}

static anc_status parse_all(anc_gguf *g, cursor *c) {
    if (c->len < 4 || memcmp(c->b, "GGUF", 4) != 0) return fail_at(c, 0, "not a GGUF file (expected the magic \"GGUF\")");
    c->pos = 4;
    anc_status st = rd_u32(c, &g->version, "the version");
    if (st) return st;
    if (g->version != 2 && g->version != 3) {
        char m[160];
        snprintf(m, sizeof m, "GGUF version %u is not supported (expected 2 or 3)", g->version);
        return fail_at(c, 4, m);
    }
    uint64_t n_tensors, n_kv;
    if ((st = rd_u64(c, &n_tensors, "the tensor count")) || (st = rd_u64(c, &n_kv, "the key-value count"))) return st;
    if ((st = parse_kvs(g, c, n_kv))) return st;
    /* smallest tensor info: name length + 1 byte, n_dims, type, offset */
    if (n_tensors > left(c) / 25)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte 8: %" PRIu64 " tensors cannot fit in the %" PRIu64
                             " bytes left (each info needs at least 25)", c->label, n_tensors, left(c));
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors) return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory", c->label);
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = parse_tensor_info(c, &g->tensors[i], i))) return st;
    g->n_tensors = (size_t)n_tensors;
    anc_gguf_str *names = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *names);
    if (!names) return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory", c->label);
    for (size_t i = 0; i < g->n_tensors; i++) names[i] = (anc_gguf_str){g->tensors[i].name, strlen(g->tensors[i].name)};
    size_t dup;
    st = sort_index(names, sizeof *names, g->n_tensors, &g->t_sorted, &dup);
    free(names);
    if (st) return anc_error_set(c->err, ANC_ERR_NOMEM, "%s: out of memory", c->label);
    if (dup != SIZE_MAX)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor name '%s' appears twice", c->label,
                             g->tensors[dup].info_offset, g->tensors[dup].name);
    return check_data(g, c);
}

anc_status anc_gguf_parse(anc_gguf **out, const void *buf, size_t len, const char *label, anc_error *err) {
    *out = NULL;
    anc_gguf *g = calloc(1, sizeof *g);
    if (!g) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    g->label = strdup(label ? label : "gguf");
    if (!g->label) {
        free(g);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    g->buf = buf;
    g->len = len;
    cursor c = {buf, len, 0, g->label, err};
    anc_status st = parse_all(g, &c);
    if (st) {
        anc_gguf_close(g);
        return st;
    }
    *out = g;
    return ANC_OK;
}

anc_status anc_gguf_open(anc_gguf **out, const char *path, anc_error *err) {
    *out = NULL;
    void *map = NULL;
    size_t len = 0;
    anc_status ms = anc_file_map(path, &map, &len, err);
    if (ms) return ms;
    anc_status st = anc_gguf_parse(out, map, len, path, err);
    if (st) {
        anc_file_unmap(map, len);
        return st;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return ANC_OK;
}

void anc_gguf_close(anc_gguf *g) {
    if (!g) return;
    anc_file_unmap(g->map, g->map_len);
    free(g->kv);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    free(g->label);
    free(g);
}

uint32_t anc_gguf_version(const anc_gguf *g) { return g->version; }
uint32_t anc_gguf_alignment(const anc_gguf *g) { return g->alignment; }
uint64_t anc_gguf_data_offset(const anc_gguf *g) { return g->data_offset; }
const char *anc_gguf_label(const anc_gguf *g) { return g->label; }
size_t anc_gguf_kv_count(const anc_gguf *g) { return g->n_kv; }
const anc_gguf_kv *anc_gguf_kv_at(const anc_gguf *g, size_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }
size_t anc_gguf_tensor_count(const anc_gguf *g) { return g->n_tensors; }
const anc_gguf_tensor *anc_gguf_tensor_at(const anc_gguf *g, size_t i) { return i < g->n_tensors ? &g->tensors[i] : NULL; }

/* Binary search of a sorted index; entry i's string lies str_off bytes into
 * base + i * stride. */
static long bsearch_idx(const size_t *idx, size_t n, const anc_gguf_str *want, const void *base, size_t stride,
                        size_t str_off) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const anc_gguf_str *s = (const anc_gguf_str *)((const char *)base + idx[mid] * stride + str_off);
        int r = str_cmp(s, want);
        if (r == 0) return (long)idx[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const anc_gguf_kv *anc_gguf_find(const anc_gguf *g, const char *key) {
    if (!g || !key || !g->kv_sorted) return NULL;
    anc_gguf_str want = {key, strlen(key)};
    long i = bsearch_idx(g->kv_sorted, g->n_kv, &want, g->kv, sizeof *g->kv, offsetof(anc_gguf_kv, key));
    return i < 0 ? NULL : &g->kv[i];
}

const anc_gguf_tensor *anc_gguf_find_tensor(const anc_gguf *g, const char *name) {
    if (!g || !name || !g->t_sorted) return NULL;
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const anc_gguf_tensor *t = &g->tensors[g->t_sorted[mid]];
        int r = strcmp(t->name, name);
        if (r == 0) return t;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static anc_status kv_type_error(const anc_gguf *g, const anc_gguf_kv *kv, const char *want, anc_error *err) {
    return anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s' is %s%s, expected %s", g->label, kv->offset,
                         (int)(kv->key.len < QUOTE_MAX ? kv->key.len : QUOTE_MAX), kv->key.s,
                         kv->type == ANC_GGUF_ARRAY ? "an array of " : "of type ", anc_gguf_type_name(kv->elem_type), want);
}

/* Element value of a numeric type t at p: integers exact in *i (and *d). */
static int num_at(uint32_t t, const unsigned char *p, int64_t *i, double *d, int *is_int) {
    uint64_t u;
    float f;
    *is_int = 1;
    switch (t) {
    case ANC_GGUF_U8: case ANC_GGUF_BOOL: *i = p[0]; break;
    case ANC_GGUF_I8: *i = (int8_t)p[0]; break;
    case ANC_GGUF_U16: *i = (uint16_t)(p[0] | (p[1] << 8)); break;
    case ANC_GGUF_I16: *i = (int16_t)(uint16_t)(p[0] | (p[1] << 8)); break;
    case ANC_GGUF_U32: *i = le32(p); break;
    case ANC_GGUF_I32: *i = (int32_t)le32(p); break;
    case ANC_GGUF_U64:
        u = le64(p);
        if (u > (uint64_t)INT64_MAX) return -1;
        *i = (int64_t)u;
        break;
    case ANC_GGUF_I64: *i = (int64_t)le64(p); break;
    case ANC_GGUF_F32:
        u = le32(p);
        memcpy(&f, &(uint32_t){(uint32_t)u}, 4);
        *d = f;
        *is_int = 0;
        return 0;
    case ANC_GGUF_F64:
        u = le64(p);
        memcpy(d, &u, 8);
        *is_int = 0;
        return 0;
    default: return -2;
    }
    *d = (double)*i;
    return 0;
}

anc_status anc_gguf_kv_int(const anc_gguf *g, const anc_gguf_kv *kv, int64_t *out, anc_error *err) {
    int64_t i = 0;
    double d;
    int is_int;
    if (kv->type == ANC_GGUF_ARRAY || num_at(kv->type, kv->value, &i, &d, &is_int) == -2 || !is_int)
        return kv_type_error(g, kv, "an integer", err);
    if (num_at(kv->type, kv->value, &i, &d, &is_int) < 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": key '%.*s' is larger than 2^63", g->label, kv->offset,
                             (int)(kv->key.len < QUOTE_MAX ? kv->key.len : QUOTE_MAX), kv->key.s);
    *out = i;
    return ANC_OK;
}

anc_status anc_gguf_kv_float(const anc_gguf *g, const anc_gguf_kv *kv, double *out, anc_error *err) {
    int64_t i;
    int is_int;
    if (kv->type == ANC_GGUF_ARRAY || kv->type == ANC_GGUF_BOOL || num_at(kv->type, kv->value, &i, out, &is_int) != 0)
        return kv_type_error(g, kv, "a number", err);
    return ANC_OK;
}

anc_status anc_gguf_kv_bool(const anc_gguf *g, const anc_gguf_kv *kv, int *out, anc_error *err) {
    if (kv->type != ANC_GGUF_BOOL) return kv_type_error(g, kv, "a bool", err);
    *out = kv->value[0] != 0;
    return ANC_OK;
}

anc_status anc_gguf_kv_string(const anc_gguf *g, const anc_gguf_kv *kv, anc_gguf_str *out, anc_error *err) {
    if (kv->type != ANC_GGUF_STRING) return kv_type_error(g, kv, "a string", err);
    out->len = le64(kv->value);
    out->s = (const char *)kv->value + 8;
    return ANC_OK;
}

anc_status anc_gguf_kv_strings(const anc_gguf *g, const anc_gguf_kv *kv, anc_gguf_str **out, anc_error *err) {
    *out = NULL;
    if (kv->type != ANC_GGUF_ARRAY || kv->elem_type != ANC_GGUF_STRING) return kv_type_error(g, kv, "an array of str", err);
    anc_gguf_str *s = malloc((kv->n ? (size_t)kv->n : 1) * sizeof *s);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory for %" PRIu64 " strings", g->label, kv->n);
    const unsigned char *p = kv->value; /* validated by the parser */
    for (uint64_t i = 0; i < kv->n; i++) {
        s[i].len = le64(p);
        s[i].s = (const char *)p + 8;
        p += 8 + s[i].len;
    }
    *out = s;
    return ANC_OK;
}

anc_status anc_gguf_kv_array_num(const anc_gguf *g, const anc_gguf_kv *kv, uint64_t i, double *out, anc_error *err) {
    uint32_t sz = scalar_size(kv->elem_type);
    int64_t iv;
    int is_int;
    if (kv->type != ANC_GGUF_ARRAY || sz == 0) return kv_type_error(g, kv, "a numeric array", err);
    if (i >= kv->n)
        return anc_error_set(err, ANC_ERR_INVALID, "%s: key '%.*s': element %" PRIu64 " of %" PRIu64, g->label,
                             (int)(kv->key.len < QUOTE_MAX ? kv->key.len : QUOTE_MAX), kv->key.s, i, kv->n);
    if (num_at(kv->elem_type, kv->value + i * sz, &iv, out, &is_int) != 0) *out = (double)le64(kv->value + i * sz);
    return ANC_OK;
}

anc_status anc_gguf_tensor_read_f32(const anc_gguf *g, const anc_gguf_tensor *t, float *dst, uint64_t n, anc_error *err) {
    if (n != t->n_elems)
        return anc_error_set(err, ANC_ERR_INVALID, "%s: tensor '%s' holds %" PRIu64 " elements, %" PRIu64 " were asked for",
                             g->label, t->name, t->n_elems, n);
    if (n > SIZE_MAX / sizeof(float)) return anc_error_set(err, ANC_ERR_NOMEM, "%s: tensor '%s' is too large", g->label, t->name);
    if (n == 0) return ANC_OK;
    if (anc_ggml_to_f32(t->type, t->data, dst, (size_t)n) != 0)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tensor '%s' is of type %s (anchor reads F32, F16, BF16, F64 and Q8_0)",
                             g->label, t->name, anc_ggml_type_name(t->type));
    return ANC_OK;
}
