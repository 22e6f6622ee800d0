/* The BPE model: a word becomes one symbol per character (with
 * continuing_subword_prefix / end_of_word_suffix, byte fallback and unk
 * fusing as in HF), then the lowest-ranked adjacent pair is merged until no
 * pair has a merge (ties: leftmost first). Pairs wait in a 4-ary heap keyed
 * by (rank, position) and the symbols form a linked list, so a word of n
 * symbols costs O(n log n). Results for words under 256 bytes are kept in a
 * bounded cache (cleared when full). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

#define CACHE_MAX_WORD 256
#define CACHE_MAX_ENTRIES 65536
#define CACHE_MAX_IDS (1u << 22)

typedef struct {
    int32_t id;         /* -1 once merged into its left neighbour */
    int32_t prev, next; /* -1: none */
    uint32_t rank;      /* rank of the queued merge of (this, next), or NO_MERGE */
    int32_t new_id;     /* its merged id */
} bpe_sym;

#define NO_MERGE UINT32_MAX

static anc_status oom(anc_error *err) {
    return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory in BPE");
}

static anc_status add_sym(anc_tokenizer *tok, size_t *n, int32_t id, anc_error *err) {
    if (*n == tok->bpe_syms_cap) {
        size_t nc = tok->bpe_syms_cap ? tok->bpe_syms_cap * 2 : 256;
        if (nc > (size_t)INT32_MAX) return oom(err);
        bpe_sym *ns = realloc(tok->bpe_syms, nc * sizeof *ns);
        if (!ns) return oom(err);
        tok->bpe_syms = ns;
        tok->bpe_syms_cap = nc;
    }
    bpe_sym *s = (bpe_sym *)tok->bpe_syms + *n;
    s->id = id;
    s->prev = (int32_t)*n - 1;
    s->next = (int32_t)*n + 1;
    s->rank = NO_MERGE;
    (*n)++;
    return ANC_OK;
}

/* ---- 4-ary min-heap of queued merges, keyed rank << 32 | position ---- */
static anc_status heap_push(anc_tokenizer *tok, size_t *n, uint64_t v, int append_only, anc_error *err) {
    if (*n == tok->bpe_heap_cap) {
        size_t nc = tok->bpe_heap_cap ? tok->bpe_heap_cap * 2 : 256;
        uint64_t *nh = realloc(tok->bpe_heap, nc * sizeof *nh);
        if (!nh) return oom(err);
        tok->bpe_heap = nh;
        tok->bpe_heap_cap = nc;
    }
    uint64_t *h = tok->bpe_heap;
    size_t i = (*n)++;
    while (!append_only && i > 0) {
        size_t p = (i - 1) / 4;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
    return ANC_OK;
}

/* Moves v down from slot i of the heap h[0..m). */
static void sift_down(uint64_t *h, size_t m, size_t i, uint64_t v) {
    for (;;) {
        size_t c = 4 * i + 1, e = c + 4 < m ? c + 4 : m;
        if (c >= m) break;
        size_t best = c;
        for (size_t k = c + 1; k < e; k++)
            if (h[k] < h[best]) best = k;
        if (h[best] >= v) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = v;
}

static uint64_t heap_pop(anc_tokenizer *tok, size_t *n) {
    uint64_t *h = tok->bpe_heap;
    uint64_t top = h[0], v = h[--(*n)];
    if (*n) sift_down(h, *n, 0, v);
    return top;
}

static void heapify(anc_tokenizer *tok, size_t n) {
    for (size_t i = n / 4 + 1; i-- > 0;)
        if (i < n) sift_down(tok->bpe_heap, n, i, tok->bpe_heap[i]);
}

/* Queues the merge of the pair (pos, next) when the merges have one; the
 * symbol remembers it, so older queue entries for pos are recognised as
 * stale (a rank names one pair, so an equal rank is the same merge). */
static anc_status push_pair(anc_tokenizer *tok, size_t *hn, int32_t pos, int append_only, anc_error *err) {
    bpe_sym *s = tok->bpe_syms;
    if (pos < 0) return ANC_OK;
    s[pos].rank = NO_MERGE;
    if (s[pos].next < 0) return ANC_OK;
    uint64_t v;
    uint64_t key = (uint64_t)(uint32_t)s[pos].id << 32 | (uint32_t)s[s[pos].next].id;
    if (!anc_tk_u64map_get(&tok->bpe.merges, key, &v)) return ANC_OK;
    s[pos].rank = (uint32_t)(v >> 32);
    s[pos].new_id = (int32_t)(uint32_t)v;
    return heap_push(tok, hn, (v >> 32) << 32 | (uint32_t)pos, append_only, err);
}

/* Looks up the id of the unk token, or fails (HF: UnkTokenOutOfVocabulary). */
static anc_status unk_id(const anc_tokenizer *tok, int32_t *id, anc_error *err) {
    long e = anc_tk_strmap_find(&tok->bpe.vocab, tok->bpe.unk_token, tok->bpe.unk_len);
    if (e < 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab", tok->source,
                             tok->bpe.unk_token);
    *id = tok->bpe.vocab.ents[e].value;
    return ANC_OK;
}

/* Builds the initial symbols of word (HF BPE::merge_word before merge_all). */
static anc_status initial_symbols(anc_tokenizer *tok, const char *w, size_t len, size_t *n, anc_error *err) {
    const anc_tk_bpe *bpe = &tok->bpe;
    char small[64];
    int32_t pend_unk = -1; /* pending unk symbol (fused or not) */
    anc_status st = ANC_OK;
    size_t i = 0;
    *n = 0;
    while (i < len) {
        size_t b = i;
        i += anc_tk_utf8_seq_len((unsigned char)w[i]);
        if (i > len) i = len;
        const char *s = w + b;
        size_t sl = i - b;
        char *heap_s = NULL;
        int decorate = (b > 0 && bpe->prefix) || (i == len && bpe->suffix);
        if (decorate) {
            size_t need = sl + (b > 0 ? bpe->prefix_len : 0) + (i == len ? bpe->suffix_len : 0);
            char *d = need <= sizeof small ? small : (heap_s = malloc(need));
            if (!d) return oom(err);
            size_t k = 0;
            if (b > 0 && bpe->prefix) {
                memcpy(d, bpe->prefix, bpe->prefix_len);
                k = bpe->prefix_len;
            }
            memcpy(d + k, s, sl);
            k += sl;
            if (i == len && bpe->suffix) {
                memcpy(d + k, bpe->suffix, bpe->suffix_len);
                k += bpe->suffix_len;
            }
            s = d;
            sl = k;
        }
        long e = anc_tk_strmap_find(&bpe->vocab, s, sl);
        if (e >= 0) {
            if (pend_unk >= 0) st = add_sym(tok, n, pend_unk, err);
            pend_unk = -1;
            if (!st) st = add_sym(tok, n, bpe->vocab.ents[e].value, err);
        } else {
            int done = 0;
            if (bpe->byte_fallback) {
                int all = 1;
                for (size_t k = 0; k < sl; k++) all &= bpe->byte_ids[(unsigned char)s[k]] >= 0;
                if (all) {
                    for (size_t k = 0; !st && k < sl; k++) st = add_sym(tok, n, bpe->byte_ids[(unsigned char)s[k]], err);
                    done = 1;
                }
            }
            if (!done && !st && bpe->unk_token) {
                int32_t uid = -1;
                st = unk_id(tok, &uid, err);
                if (!st) {
                    if (pend_unk >= 0 && !bpe->fuse_unk) st = add_sym(tok, n, pend_unk, err);
                    pend_unk = uid;
                }
            }
        }
        free(heap_s);
        if (st) return st;
    }
    if (pend_unk >= 0) st = add_sym(tok, n, pend_unk, err);
    if (!st && *n) ((bpe_sym *)tok->bpe_syms)[*n - 1].next = -1;
    return st;
}

/* HF Word::merge_all: lowest rank first, then leftmost; an entry whose pair
 * changed since it was queued is skipped (HF re-checks the pair's merge). */
static anc_status merge_all(anc_tokenizer *tok, size_t n, anc_error *err) {
    size_t hn = 0;
    anc_status st;
    for (size_t p = 0; p + 1 < n; p++) /* queue the initial pairs, then heapify in O(n) */
        if ((st = push_pair(tok, &hn, (int32_t)p, 1, err))) return st;
    heapify(tok, hn);
    while (hn) {
        uint64_t top = heap_pop(tok, &hn);
        int32_t pos = (int32_t)(uint32_t)top;
        bpe_sym *s = tok->bpe_syms;
        if (s[pos].id < 0 || s[pos].rank != (uint32_t)(top >> 32)) continue;
        int32_t nx = s[pos].next;
        s[pos].id = s[pos].new_id;
        s[nx].id = -1;
        s[pos].next = s[nx].next;
        if (s[nx].next >= 0) s[s[nx].next].prev = pos;
        if ((st = push_pair(tok, &hn, s[pos].prev, 0, err))) return st;
        if ((st = push_pair(tok, &hn, pos, 0, err))) return st;
    }
    return ANC_OK;
}

static void cache_clear(anc_tokenizer *tok) {
    anc_tk_strmap_free(&tok->cache);
    tok->cache_ids_n = 0;
}

static anc_status cache_put(anc_tokenizer *tok, const char *w, size_t len, const int32_t *ids, size_t n,
                            anc_error *err) {
    if (tok->cache.n >= CACHE_MAX_ENTRIES || tok->cache_ids_n + n + 1 > CACHE_MAX_IDS) cache_clear(tok);
    if (tok->cache_ids_n + n + 1 > tok->cache_ids_cap) {
        size_t nc = tok->cache_ids_cap ? tok->cache_ids_cap : 4096;
        while (nc < tok->cache_ids_n + n + 1) nc *= 2;
        int32_t *ni = realloc(tok->cache_ids, nc * sizeof *ni);
        if (!ni) return oom(err);
        tok->cache_ids = ni;
        tok->cache_ids_cap = nc;
    }
    int existed;
    anc_status st = anc_tk_strmap_put(&tok->cache, w, len, (int32_t)tok->cache_ids_n, &existed, NULL, err);
    if (st || existed) return st;
    tok->cache_ids[tok->cache_ids_n++] = (int32_t)n;
    if (n) memcpy(tok->cache_ids + tok->cache_ids_n, ids, n * sizeof *ids);
    tok->cache_ids_n += n;
    return ANC_OK;
}

anc_status anc_tk_bpe_word(anc_tokenizer *tok, const char *word, size_t len, int32_t **ids, size_t *n,
                           size_t *cap, anc_error *err) {
    if (len == 0) return ANC_OK;
    anc_status st;
    if (tok->bpe.ignore_merges) {
        long e = anc_tk_strmap_find(&tok->bpe.vocab, word, len);
        if (e >= 0) return anc_tk_ids_push(ids, n, cap, tok->bpe.vocab.ents[e].value, err);
    }
    if (len < CACHE_MAX_WORD) {
        long e = anc_tk_strmap_find(&tok->cache, word, len);
        if (e >= 0) {
            const int32_t *c = tok->cache_ids + tok->cache.ents[e].value;
            for (int32_t k = 0; k < c[0]; k++)
                if ((st = anc_tk_ids_push(ids, n, cap, c[1 + k], err))) return st;
            return ANC_OK;
        }
    }
    size_t ns;
    if ((st = initial_symbols(tok, word, len, &ns, err))) return st;
    if ((st = merge_all(tok, ns, err))) return st;
    size_t first = *n;
    const bpe_sym *s = tok->bpe_syms;
    for (int32_t p = ns ? 0 : -1; p >= 0; p = s[p].next)
        if ((st = anc_tk_ids_push(ids, n, cap, s[p].id, err))) return st;
    if (len < CACHE_MAX_WORD) return cache_put(tok, word, len, *n > first ? *ids + first : NULL, *n - first, err);
    return ANC_OK;
}
