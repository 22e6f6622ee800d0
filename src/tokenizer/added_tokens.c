/* Added tokens: a byte trie of their contents and HF's
 * AddedVocabulary::find_matches (leftmost-longest, non-overlapping matches;
 * single_word, lstrip and rstrip), which cuts them out of the text before
 * (normalized = false) or after (normalized = true) normalization. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

static anc_status trie_node(anc_tk_trie *t, anc_error *err) {
    if (t->n_nodes == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        int32_t *nt = realloc(t->term, nc * sizeof *nt);
        if (!nt) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory (added tokens)");
        t->term = nt;
        t->cap = nc;
    }
    t->term[t->n_nodes++] = -1;
    return ANC_OK;
}

anc_status anc_tk_trie_add(anc_tk_trie *t, const char *s, size_t len, int32_t index, anc_error *err) {
    anc_status st;
    if (len == 0) return ANC_OK;
    if (!t->n_nodes && (st = trie_node(t, err))) return st;
    uint64_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint64_t key = node << 8 | (unsigned char)s[i], child;
        if (!anc_tk_u64map_get(&t->edges, key, &child)) {
            if ((st = trie_node(t, err))) return st;
            child = t->n_nodes - 1;
            if ((st = anc_tk_u64map_set(&t->edges, key, child, err))) return st;
        }
        node = child;
    }
    t->term[node] = index;
    t->first[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << ((unsigned char)s[0] & 7));
    return ANC_OK;
}

void anc_tk_trie_free(anc_tk_trie *t) {
    anc_tk_u64map_free(&t->edges);
    free(t->term);
    memset(t, 0, sizeof *t);
}

/* Longest token starting at s[pos]: its index and end, or -1. */
static int32_t longest_at(const anc_tk_trie *t, const char *s, size_t len, size_t pos, size_t *end) {
    int32_t best = -1;
    uint64_t node = 0;
    for (size_t j = pos; j < len; j++) {
        uint64_t child;
        if (!anc_tk_u64map_get(&t->edges, node << 8 | (unsigned char)s[j], &child)) break;
        node = child;
        if (t->term[node] >= 0) {
            best = t->term[node];
            *end = j + 1;
        }
    }
    return best;
}

static size_t prev_char_start(const char *s, size_t i) {
    size_t p = i - 1;
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
    return p;
}

static int ends_with_word(const char *s, size_t end) {
    if (end == 0) return 0;
    size_t p = prev_char_start(s, end);
    return anc_tk_is_word(anc_tk_utf8_next(s, end, &p));
}

static int starts_with_word(const char *s, size_t len, size_t start) {
    if (start >= len) return 0;
    return anc_tk_is_word(anc_tk_utf8_next(s, len, &start));
}

/* Start of the whitespace run that ends at s[end]. */
static size_t trailing_space_start(const char *s, size_t end) {
    while (end > 0) {
        size_t p = prev_char_start(s, end), q = p;
        if (!anc_tk_is_whitespace(anc_tk_utf8_next(s, end, &q))) break;
        end = p;
    }
    return end;
}

/* End of the whitespace run that starts at s[start]. */
static size_t leading_space_end(const char *s, size_t len, size_t start) {
    while (start < len) {
        size_t q = start;
        if (!anc_tk_is_whitespace(anc_tk_utf8_next(s, len, &q))) break;
        start = q;
    }
    return start;
}

static anc_status find_matches(const anc_tokenizer *tok, const anc_tk_trie *t, const char *s, size_t len,
                               int at_origin, anc_tk_pieces *out, anc_error *err) {
    anc_status st;
    size_t start_offset = 0, pos = 0;
    if (t->n_nodes) {
        while (pos < len) {
            unsigned char c = (unsigned char)s[pos];
            size_t end = 0;
            int32_t k = (t->first[c >> 3] >> (c & 7)) & 1 ? longest_at(t, s, len, pos, &end) : -1;
            if (k < 0) {
                pos++;
                continue;
            }
            size_t start = pos, stop = end;
            pos = end; /* the automaton resumes after the raw match */
            const anc_tk_added *a = &tok->added[k];
            if (a->single_word) {
                int start_space = start == 0 || !ends_with_word(s, start);
                int stop_space = stop == len || !starts_with_word(s, len, stop);
                if (!start_space || !stop_space) continue;
            }
            if (a->lstrip) {
                size_t ns = trailing_space_start(s, start);
                start = ns > start_offset ? ns : start_offset;
            }
            if (a->rstrip) stop = leading_space_end(s, len, stop);
            if (start_offset < start &&
                (st = anc_tk_pieces_push(out, s + start_offset, start - start_offset, -1, at_origin && start_offset == 0,
                                         err)))
                return st;
            if (stop > start && (st = anc_tk_pieces_push(out, s + start, stop - start, a->id, at_origin && start == 0, err)))
                return st;
            start_offset = stop;
        }
    }
    if (start_offset < len)
        return anc_tk_pieces_push(out, s + start_offset, len - start_offset, -1, at_origin && start_offset == 0, err);
    return ANC_OK;
}

anc_status anc_tk_split_added(anc_tokenizer *tok, const anc_tk_trie *trie, int normalize, const anc_tk_pieces *in,
                              anc_tk_pieces *out, anc_error *err) {
    anc_tk_buf norm = {0};
    anc_status st = ANC_OK;
    for (size_t k = 0; !st && k < in->n; k++) {
        const anc_tk_piece *pc = &in->v[k];
        const char *s = in->text.data + pc->off;
        size_t len = pc->len;
        if (pc->id >= 0) {
            st = anc_tk_pieces_push(out, s, len, pc->id, pc->at_origin, err);
            continue;
        }
        if (normalize && tok->normalizer) {
            st = anc_tk_normalize(tok, tok->normalizer, s, len, &norm, err);
            if (st) break;
            s = norm.data;
            len = norm.len;
        }
        st = find_matches(tok, trie, s, len, pc->at_origin, out, err);
    }
    anc_tk_buf_free(&norm);
    return st;
}
