/* GGUF v3 writer (gguf_write.h). KV pairs are serialised as they are added
 * (into one growable buffer); tensors are recorded and their data converted
 * row by row into a staging buffer while the file is written. */
#define _GNU_SOURCE
#include "io/gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strbuf.h"

typedef struct wtensor {
    anc_gguf_tensor_src src;
    char name[ANC_GGUF_NAME_MAX];
    uint64_t rows, nbytes, offset;
} wtensor;

struct anc_gguf_writer {
    uint32_t alignment;
    anc_sbuf kv;      /* serialised KV pairs */
    uint64_t n_kv;
    char **keys;      /* for the uniqueness check */
    size_t n_keys, cap_keys;
    wtensor *t;
    size_t n_t, cap_t;
};

#define STAGE_BYTES ((size_t)4 << 20)

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)((v >> (8 * i)) & 0xffu);
}

static anc_status append_le(anc_sbuf *b, uint64_t v, int n) {
    unsigned char tmp[8];
    put_le(tmp, v, n);
    return anc_sbuf_append(b, (const char *)tmp, (size_t)n);
}

static anc_status append_str(anc_sbuf *b, const char *s, size_t len) {
    anc_status st = append_le(b, (uint64_t)len, 8);
    return st ? st : anc_sbuf_append(b, s, len);
}

anc_status anc_gguf_writer_create(anc_gguf_writer **out, uint32_t alignment, anc_error *err) {
    *out = NULL;
    if (alignment == 0) alignment = ANC_GGUF_DEFAULT_ALIGNMENT;
    if (alignment & (alignment - 1))
        return anc_error_set(err, ANC_ERR_INVALID, "GGUF alignment %u is not a power of two", alignment);
    anc_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    w->alignment = alignment;
    *out = w;
    if (alignment != ANC_GGUF_DEFAULT_ALIGNMENT) {
        anc_status st = anc_gguf_add_u32(w, "general.alignment", alignment, err);
        if (st) {
            anc_gguf_writer_free(w);
            *out = NULL;
            return st;
        }
    }
    return ANC_OK;
}

void anc_gguf_writer_free(anc_gguf_writer *w) {
    if (!w) return;
    anc_sbuf_free(&w->kv);
    for (size_t i = 0; i < w->n_keys; i++) free(w->keys[i]);
    free(w->keys);
    free(w->t);
    free(w);
}

/* Starts a KV pair: checks and records the key, writes it and the type. */
static anc_status kv_begin(anc_gguf_writer *w, const char *key, uint32_t type, anc_error *err) {
    if (!key || !*key) return anc_error_set(err, ANC_ERR_INVALID, "GGUF: empty key");
    for (size_t i = 0; i < w->n_keys; i++)
        if (!strcmp(w->keys[i], key)) return anc_error_set(err, ANC_ERR_INVALID, "GGUF: key '%s' added twice", key);
    if (w->n_keys == w->cap_keys) {
        size_t cap = w->cap_keys ? w->cap_keys * 2 : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        w->keys = k;
        w->cap_keys = cap;
    }
    if (!(w->keys[w->n_keys] = strdup(key))) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    w->n_keys++;
    w->n_kv++;
    append_str(&w->kv, key, strlen(key));
    return append_le(&w->kv, type, 4) ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory for GGUF metadata") : ANC_OK;
}

static anc_status kv_end(anc_gguf_writer *w, anc_error *err) {
    return w->kv.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory for GGUF metadata") : ANC_OK;
}

anc_status anc_gguf_add_u32(anc_gguf_writer *w, const char *key, uint32_t v, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_U32, err);
    if (st) return st;
    append_le(&w->kv, v, 4);
    return kv_end(w, err);
}

anc_status anc_gguf_add_i32(anc_gguf_writer *w, const char *key, int32_t v, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_I32, err);
    if (st) return st;
    append_le(&w->kv, (uint32_t)v, 4);
    return kv_end(w, err);
}

anc_status anc_gguf_add_f32(anc_gguf_writer *w, const char *key, float v, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_F32, err);
    if (st) return st;
    uint32_t u;
    memcpy(&u, &v, 4);
    append_le(&w->kv, u, 4);
    return kv_end(w, err);
}

anc_status anc_gguf_add_bool(anc_gguf_writer *w, const char *key, int v, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_BOOL, err);
    if (st) return st;
    append_le(&w->kv, v ? 1 : 0, 1);
    return kv_end(w, err);
}

anc_status anc_gguf_add_string(anc_gguf_writer *w, const char *key, const char *s, size_t len, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_STRING, err);
    if (st) return st;
    append_str(&w->kv, s ? s : "", s ? len : 0);
    return kv_end(w, err);
}

static anc_status array_begin(anc_gguf_writer *w, const char *key, uint32_t elem, size_t n, anc_error *err) {
    anc_status st = kv_begin(w, key, ANC_GGUF_ARRAY, err);
    if (st) return st;
    append_le(&w->kv, elem, 4);
    append_le(&w->kv, (uint64_t)n, 8);
    return kv_end(w, err);
}

anc_status anc_gguf_add_strings(anc_gguf_writer *w, const char *key, const char *const *s, const size_t *lens, size_t n,
                                anc_error *err) {
    anc_status st = array_begin(w, key, ANC_GGUF_STRING, n, err);
    if (st) return st;
    for (size_t i = 0; !st && i < n; i++) st = append_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i]));
    return st ? kv_end(w, err) : ANC_OK;
}

anc_status anc_gguf_add_f32s(anc_gguf_writer *w, const char *key, const float *v, size_t n, anc_error *err) {
    anc_status st = array_begin(w, key, ANC_GGUF_F32, n, err);
    if (st) return st;
    for (size_t i = 0; !st && i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        st = append_le(&w->kv, u, 4);
    }
    return st ? kv_end(w, err) : ANC_OK;
}

anc_status anc_gguf_add_i32s(anc_gguf_writer *w, const char *key, const int32_t *v, size_t n, anc_error *err) {
    anc_status st = array_begin(w, key, ANC_GGUF_I32, n, err);
    if (st) return st;
    for (size_t i = 0; !st && i < n; i++) st = append_le(&w->kv, (uint32_t)v[i], 4);
    return st ? kv_end(w, err) : ANC_OK;
}

anc_status anc_gguf_add_tensor(anc_gguf_writer *w, const anc_gguf_tensor_src *t, anc_error *err) {
    size_t nl = t->name ? strlen(t->name) : 0;
    if (nl == 0 || nl >= ANC_GGUF_NAME_MAX)
        return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor name '%.80s' must have 1..%d bytes", t->name ? t->name : "",
                             ANC_GGUF_NAME_MAX - 1);
    if (t->n_dims < 1 || t->n_dims > ANC_GGUF_MAX_DIMS)
        return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s' has %u dimensions (1..4)", t->name, t->n_dims);
    if (t->type != ANC_GGML_F32 && t->type != ANC_GGML_F16 && t->type != ANC_GGML_BF16 && t->type != ANC_GGML_Q8_0)
        return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s': anchor writes F32, F16, BF16 or Q8_0, not %s", t->name,
                             anc_ggml_type_name(t->type));
    uint64_t n = 1;
    for (uint32_t d = 0; d < ANC_GGUF_MAX_DIMS; d++) {
        int64_t v = d < t->n_dims ? t->ne[d] : 1;
        if (v < 0 || __builtin_mul_overflow(n, (uint64_t)v, &n) || n > ((uint64_t)1 << 48))
            return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s' has a bad shape", t->name);
    }
    if (t->type == ANC_GGML_Q8_0 && t->ne[0] % ANC_Q8_0_BLOCK)
        return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s': Q8_0 needs rows that are a multiple of 32 (ne[0] = %" PRId64 ")",
                             t->name, t->ne[0]);
    if (n && !t->data) return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s' has no data", t->name);
    for (uint64_t i = 0; i < n; i++) /* a NaN or infinity has no Q8_0 form; in any type it is a broken model */
        if (!isfinite(t->data[i]))
            return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s' holds a non-finite value (%g) at element %" PRIu64,
                                 t->name, (double)t->data[i], i);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, t->name)) return anc_error_set(err, ANC_ERR_INVALID, "GGUF: tensor '%s' added twice", t->name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        w->t = nt;
        w->cap_t = cap;
    }
    wtensor *e = &w->t[w->n_t++];
    memset(e, 0, sizeof *e);
    e->src = *t;
    for (uint32_t d = t->n_dims; d < ANC_GGUF_MAX_DIMS; d++) e->src.ne[d] = 1;
    memcpy(e->name, t->name, nl + 1);
    e->src.name = e->name;
    e->rows = t->ne[0] ? n / (uint64_t)t->ne[0] : 0;
    e->nbytes = anc_ggml_row_bytes(t->type, (uint64_t)t->ne[0]) * e->rows;
    return ANC_OK;
}

/* ---- writing ---- */

typedef struct out_file {
    int fd;
    unsigned char *stage;
    size_t used;
    uint64_t written;
    int failed; /* errno of the first failure */
} out_file;

static void flush(out_file *f) {
    size_t off = 0;
    while (!f->failed && off < f->used) {
        ssize_t w = write(f->fd, f->stage + off, f->used - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) f->failed = w < 0 ? errno : EIO;
        else off += (size_t)w;
    }
    f->used = 0;
}

/* Room for n bytes in the staging buffer (n <= STAGE_BYTES). */
static unsigned char *room(out_file *f, size_t n) {
    if (f->used + n > STAGE_BYTES) flush(f);
    unsigned char *p = f->stage + f->used;
    f->used += n;
    f->written += n;
    return p;
}

static void put(out_file *f, const void *p, size_t n) {
    const unsigned char *s = p;
    while (n) {
        size_t k = n < STAGE_BYTES ? n : STAGE_BYTES;
        memcpy(room(f, k), s, k);
        s += k;
        n -= k;
    }
}

static void pad(out_file *f, uint32_t alignment) {
    static const unsigned char zeros[256];
    uint64_t p = (alignment - f->written % alignment) % alignment;
    while (p) {
        size_t k = p < sizeof zeros ? (size_t)p : sizeof zeros;
        put(f, zeros, k);
        p -= k;
    }
}

static void put_tensor_data(out_file *f, const wtensor *t) {
    const uint64_t ne0 = (uint64_t)t->src.ne[0];
    /* elements converted at a time: a multiple of 32 that fits the stage */
    const uint64_t chunk = ((STAGE_BYTES / 4) / 32) * 32;
    for (uint64_t r = 0; r < t->rows && !f->failed; r++) {
        uint64_t sr = t->src.row_map ? (uint64_t)t->src.row_map[r] : r;
        const float *row = t->src.data + sr * ne0;
        for (uint64_t c = 0; c < ne0; c += chunk) {
            uint64_t m = ne0 - c < chunk ? ne0 - c : chunk;
            size_t nb = (size_t)anc_ggml_row_bytes(t->src.type, m);
            anc_ggml_from_f32(t->src.type, row + c, room(f, nb), (size_t)m);
        }
    }
}

static void put_infos(out_file *f, anc_gguf_writer *w) {
    unsigned char h[24];
    memcpy(h, "GGUF", 4);
    put_le(h + 4, 3, 4);
    put_le(h + 8, (uint64_t)w->n_t, 8);
    put_le(h + 16, w->n_kv, 8);
    put(f, h, sizeof h);
    put(f, w->kv.data ? w->kv.data : "", w->kv.len);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        unsigned char b[8 + ANC_GGUF_NAME_MAX + 4 + 8 * ANC_GGUF_MAX_DIMS + 4 + 8];
        size_t nl = strlen(t->name), k = 0;
        put_le(b, nl, 8);
        memcpy(b + 8, t->name, nl);
        k = 8 + nl;
        put_le(b + k, t->src.n_dims, 4);
        k += 4;
        for (uint32_t d = 0; d < t->src.n_dims; d++, k += 8) put_le(b + k, (uint64_t)t->src.ne[d], 8);
        put_le(b + k, t->src.type, 4);
        k += 4;
        t->offset = off;
        put_le(b + k, off, 8);
        k += 8;
        put(f, b, k);
        off += t->nbytes + (w->alignment - t->nbytes % w->alignment) % w->alignment;
    }
    pad(f, w->alignment);
}

anc_status anc_gguf_write(anc_gguf_writer *w, const char *path, anc_gguf_progress_fn progress, void *ctx, uint64_t *bytes,
                          anc_error *err) {
    if (w->kv.oom) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory for the metadata", path);
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    out_file f = {-1, malloc(STAGE_BYTES), 0, 0, 0};
    if (!tmp || !f.stage) {
        free(tmp);
        free(f.stage);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    f.fd = mkstemp(tmp);
    if (f.fd < 0) {
        anc_status st = anc_error_set(err, ANC_ERR_IO, "%s: cannot create a temporary beside it: %s", path, strerror(errno));
        free(tmp);
        free(f.stage);
        return st;
    }
    (void)fchmod(f.fd, 0644);
    put_infos(&f, w);
    for (size_t i = 0; i < w->n_t && !f.failed; i++) {
        put_tensor_data(&f, &w->t[i]);
        pad(&f, w->alignment);
        if (progress) progress(ctx, i + 1, w->n_t);
    }
    flush(&f);
    const char *what = "write";
    if (!f.failed && fsync(f.fd) != 0) f.failed = errno, what = "fsync";
    if (close(f.fd) != 0 && !f.failed) f.failed = errno, what = "close";
    if (!f.failed && rename(tmp, path) != 0) f.failed = errno, what = "rename";
    anc_status st = ANC_OK;
    if (f.failed) {
        st = anc_error_set(err, ANC_ERR_IO, "%s: cannot %s %s: %s", path, what, tmp, strerror(f.failed));
        unlink(tmp);
    } else {
        /* make the rename durable */
        char *slash = strrchr(tmp, '/');
        if (slash) *slash = '\0';
        int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        if (bytes) *bytes = f.written;
    }
    free(tmp);
    free(f.stage);
    return st;
}
