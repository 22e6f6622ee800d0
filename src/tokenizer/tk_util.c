/* Containers and UTF-8 helpers of the tokenizer module: growable buffers,
 * string and integer hash maps, UTF-8 validation/decoding, Rust-compatible
 * lossy conversion and the Unicode character classes HF relies on. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tk_internal.h"

static anc_status oom(anc_error *err) {
    return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
}

/* ---- buffers ------------------------------------------------------------ */

anc_status anc_tk_buf_reserve(anc_tk_buf *b, size_t extra, anc_error *err) {
    if (extra > SIZE_MAX / 2 - b->len - 1 || anc_sbuf_reserve(b, extra)) return oom(err);
    return ANC_OK;
}

anc_status anc_tk_buf_append(anc_tk_buf *b, const void *s, size_t n, anc_error *err) {
    if (n > SIZE_MAX / 2 - b->len - 1 || anc_sbuf_append(b, s, n)) return oom(err);
    return ANC_OK;
}

void anc_tk_buf_free(anc_tk_buf *b) { anc_sbuf_free(b); }

/* ---- string map ---------------------------------------------------------- */

uint32_t anc_tk_hash(const char *s, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    for (size_t k = 0; i < len; i++, k++) w |= (uint64_t)(unsigned char)s[i] << (8 * k);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 32;
    return (uint32_t)h;
}

long anc_tk_strmap_find(const anc_tk_strmap *m, const char *s, size_t len) {
    if (!m->cap) return -1;
    uint32_t h = anc_tk_hash(s, len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t slot = m->slots[i];
        if (!slot) return -1;
        const anc_tk_strent *e = &m->ents[slot - 1];
        if (e->hash == h && e->len == len && memcmp(m->keys.data + e->off, s, len) == 0) return (long)(slot - 1);
    }
}

static anc_status strmap_rehash(anc_tk_strmap *m, size_t ncap, anc_error *err) {
    uint32_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return oom(err);
    size_t mask = ncap - 1;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = m->ents[k].hash & mask;
        while (ns[i]) i = (i + 1) & mask;
        ns[i] = (uint32_t)(k + 1);
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return ANC_OK;
}

anc_status anc_tk_strmap_put(anc_tk_strmap *m, const char *s, size_t len, int32_t value, int *existed,
                             size_t *index, anc_error *err) {
    if (existed) *existed = 0;
    if (len > UINT32_MAX || m->n >= UINT32_MAX - 1) return oom(err);
    long f = anc_tk_strmap_find(m, s, len);
    if (f >= 0) {
        if (existed) *existed = 1;
        if (index) *index = (size_t)f;
        return ANC_OK;
    }
    anc_status st;
    if ((m->n + 1) * 2 > m->cap) {
        st = strmap_rehash(m, m->cap ? m->cap * 2 : 64, err);
        if (st) return st;
    }
    if (m->n == m->ents_cap) {
        size_t nc = m->ents_cap ? m->ents_cap * 2 : 32;
        anc_tk_strent *ne = realloc(m->ents, nc * sizeof *ne);
        if (!ne) return oom(err);
        m->ents = ne;
        m->ents_cap = nc;
    }
    size_t off = m->keys.len;
    st = anc_tk_buf_append(&m->keys, s, len, err);
    if (st) return st;
    m->keys.len++; /* keep a NUL after every key */
    anc_tk_strent *e = &m->ents[m->n];
    e->off = off;
    e->len = (uint32_t)len;
    e->hash = anc_tk_hash(s, len);
    e->value = value;
    size_t mask = m->cap - 1;
    size_t i = e->hash & mask;
    while (m->slots[i]) i = (i + 1) & mask;
    m->slots[i] = (uint32_t)(m->n + 1);
    if (index) *index = m->n;
    m->n++;
    return ANC_OK;
}

const char *anc_tk_strmap_key(const anc_tk_strmap *m, size_t i) {
    return m->keys.data + m->ents[i].off;
}

void anc_tk_strmap_free(anc_tk_strmap *m) {
    free(m->slots);
    free(m->ents);
    anc_tk_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ---- u64 map ---------------------------------------------------------------- */

static size_t u64_slot(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDull;
    key ^= key >> 33;
    return (size_t)key & mask;
}

int anc_tk_u64map_get(const anc_tk_u64map *m, uint64_t key, uint64_t *val) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1;
    for (size_t i = u64_slot(key, mask);; i = (i + 1) & mask) {
        uint64_t k = m->kv[2 * i];
        if (k == key) {
            *val = m->kv[2 * i + 1];
            return 1;
        }
        if (k == UINT64_MAX) return 0;
    }
}

static anc_status u64_grow(anc_tk_u64map *m, anc_error *err) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *nkv = malloc(ncap * 2 * sizeof *nkv);
    if (!nkv) return oom(err);
    for (size_t i = 0; i < ncap; i++) nkv[2 * i] = UINT64_MAX;
    size_t mask = ncap - 1;
    for (size_t k = 0; k < m->cap; k++) {
        if (m->kv[2 * k] == UINT64_MAX) continue;
        size_t i = u64_slot(m->kv[2 * k], mask);
        while (nkv[2 * i] != UINT64_MAX) i = (i + 1) & mask;
        nkv[2 * i] = m->kv[2 * k];
        nkv[2 * i + 1] = m->kv[2 * k + 1];
    }
    free(m->kv);
    m->kv = nkv;
    m->cap = ncap;
    return ANC_OK;
}

anc_status anc_tk_u64map_set(anc_tk_u64map *m, uint64_t key, uint64_t val, anc_error *err) {
    if (key == UINT64_MAX) return anc_error_set(err, ANC_ERR_INTERNAL, "tokenizer: reserved map key");
    if ((m->n + 1) * 2 > m->cap) {
        anc_status st = u64_grow(m, err);
        if (st) return st;
    }
    size_t mask = m->cap - 1;
    size_t i = u64_slot(key, mask);
    while (m->kv[2 * i] != UINT64_MAX && m->kv[2 * i] != key) i = (i + 1) & mask;
    if (m->kv[2 * i] == UINT64_MAX) m->n++;
    m->kv[2 * i] = key;
    m->kv[2 * i + 1] = val;
    return ANC_OK;
}

void anc_tk_u64map_free(anc_tk_u64map *m) {
    free(m->kv);
    memset(m, 0, sizeof *m);
}

/* ---- UTF-8 -------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when invalid; for
 * an invalid sequence *bad is the length of its maximal invalid subpart. */
static size_t utf8_valid_at(const unsigned char *s, size_t len, size_t i, size_t *bad) {
    unsigned c = s[i];
    *bad = 1;
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    for (size_t k = 1; k < n; k++) {
        if (i + k >= len) return 0;
        unsigned d = s[i + k];
        if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return 0;
        *bad = k + 1;
    }
    return n;
}

int anc_tk_utf8_valid(const char *s, size_t len, size_t *bad_at) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, bad;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_valid_at(u, len, i, &bad);
        if (!n) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += n;
    }
    return 1;
}

uint32_t anc_tk_utf8_next(const char *s, size_t len, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    size_t left = len - *i;
    uint32_t c = u[0];
    if (c < 0x80 || left < 2) {
        *i += 1;
        return c;
    }
    if (c < 0xE0) {
        *i += 2;
        return ((c & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (c < 0xF0 || left < 4) {
        if (left < 3) {
            *i += left;
            return 0xFFFD;
        }
        *i += 3;
        return ((c & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *i += 4;
    return ((c & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

size_t anc_tk_utf8_seq_len(unsigned char c) {
    if (c >= 0xF0 && c <= 0xF4) return 4;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    return 1;
}

size_t anc_tk_utf8_put(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

anc_status anc_tk_append_lossy(anc_tk_buf *out, const unsigned char *bytes, size_t n, anc_error *err) {
    static const char repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    size_t i = 0, run = 0;
    anc_status st;
    if (n == 0) return anc_tk_buf_append(out, "", 0, err);
    while (i < n) {
        size_t bad, k = bytes[i] < 0x80 ? 1 : utf8_valid_at(bytes, n, i, &bad);
        if (k) {
            i += k;
            continue;
        }
        st = anc_tk_buf_append(out, bytes + run, i - run, err);
        if (!st) st = anc_tk_buf_append(out, repl, 3, err);
        if (st) return st;
        i += bad;
        run = i;
    }
    return anc_tk_buf_append(out, bytes + run, n - run, err);
}

/* ---- character classes ---------------------------------------------------------- */

int anc_tk_is_whitespace(uint32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int anc_tk_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int anc_tk_is_punctuation(uint32_t c) {
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                         (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

int anc_tk_is_word(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (c == 0x200C || c == 0x200D) return 1;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC;
}

/* ---- ids and pieces --------------------------------------------------------------- */

anc_status anc_tk_ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id, anc_error *err) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int32_t *ni = realloc(*ids, nc * sizeof *ni);
        if (!ni) return oom(err);
        *ids = ni;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return ANC_OK;
}

anc_status anc_tk_pieces_push(anc_tk_pieces *p, const char *s, size_t len, int32_t id, int at_origin,
                              anc_error *err) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        anc_tk_piece *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv) return oom(err);
        p->v = nv;
        p->cap = nc;
    }
    size_t off = p->text.len;
    anc_status st = anc_tk_buf_append(&p->text, s, len, err);
    if (st) return st;
    anc_tk_piece *pc = &p->v[p->n++];
    pc->off = off;
    pc->len = len;
    pc->id = id;
    pc->at_origin = (uint8_t)(at_origin != 0);
    return ANC_OK;
}

void anc_tk_pieces_reset(anc_tk_pieces *p) {
    p->n = 0;
    p->text.len = 0;
}

void anc_tk_pieces_free(anc_tk_pieces *p) {
    anc_tk_buf_free(&p->text);
    free(p->v);
    memset(p, 0, sizeof *p);
}

anc_status anc_tk_spans_push(anc_tk_spans *s, size_t start, size_t end, int flag, anc_error *err) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        anc_tk_span *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return oom(err);
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n].start = start;
    s->v[s->n].end = end;
    s->v[s->n].flag = flag;
    s->n++;
    return ANC_OK;
}

void anc_tk_spans_free(anc_tk_spans *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}
