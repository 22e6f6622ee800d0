/* llama2.c tokenizer.bin -> Hugging Face tokenizer.json.
 *
 * llama2.c's encode() splits the text (with a " " dummy prefix) into code
 * points (unknown ones into <0xNN> byte tokens) and then repeatedly merges
 * the adjacent pair whose concatenation is the vocabulary entry with the
 * highest score. HF BPE merges the pair with the lowest merge rank, so the
 * merge list is every (left, right) split of every token into two
 * vocabulary tokens, ordered by the merged token's score (highest first;
 * ties by token id, then split position). llama2.c breaks ties between
 * equal scores by position instead, which only matters when two different
 * overlapping pairs of equal score compete.
 *
 * The vocabulary's spaces go back to SentencePiece's "▁" (llama2.c's
 * tokenizer.py turned "▁" into " "), and the "\n<s>\n" / "\n</s>\n" names it
 * gives ids 1 and 2 become "<s>" / "</s>". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "tokenizer/tk_internal.h"

#define MAX_TOK_BIN ((size_t)256 << 20)
#define MAX_VOCAB (1 << 24)

typedef struct {
    char *s;
    size_t len;
    float score;
    int plain; /* an ordinary piece (not <unk>/<s>/</s>, not a <0xNN> byte) */
} l2c_tok;

typedef struct {
    float score;
    int32_t merged, left, right;
    uint32_t split;
} l2c_merge;

static int merge_order(const void *pa, const void *pb) {
    const l2c_merge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->merged != b->merged) return a->merged < b->merged ? -1 : 1;
    return (a->split > b->split) - (a->split < b->split);
}

static int is_byte_piece(const char *s, size_t len) {
    return len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>';
}

/* Reads the records of path into toks[0..vocab_size). */
static anc_status read_tok_bin(const char *path, int vocab_size, l2c_tok *toks, anc_error *err) {
    char *buf = NULL;
    size_t len = 0, off = 4;
    anc_status st = anc_read_file(path, MAX_TOK_BIN, &buf, &len, err);
    if (st) return st;
    int32_t max_len;
    if (len < 4) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: file too short for the max_token_length header", path);
        goto done;
    }
    memcpy(&max_len, buf, 4);
    if (max_len < 0) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte 0: negative max_token_length %d", path, (int)max_len);
        goto done;
    }
    for (int i = 0; i < vocab_size; i++) {
        float score;
        int32_t n;
        if (len - off < 8) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %zu: file ends at token %d of the %d expected", path, off, i,
                               vocab_size);
            goto done;
        }
        memcpy(&score, buf + off, 4);
        memcpy(&n, buf + off + 4, 4);
        off += 8;
        if (n < 0 || (size_t)n > len - off) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %zu: token %d has length %d, past the end of the file", path,
                               off - 4, i, (int)n);
            goto done;
        }
        const char *p = buf + off;
        size_t pl = (size_t)n, bad;
        if (!anc_tk_utf8_valid(p, pl, &bad)) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %zu: token %d is not valid UTF-8", path, off + bad, i);
            goto done;
        }
        const char *nul = memchr(p, '\0', pl);
        if (nul) { /* tokenizer.json (and Hugging Face's loader) cannot key a vocabulary entry with NUL */
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %zu: token %d holds a NUL byte, which a tokenizer.json vocabulary cannot hold",
                               path, off + (size_t)(nul - p), i);
            goto done;
        }
        if (i == 1 && pl == 5 && memcmp(p, "\n<s>\n", 5) == 0) p += 1, pl = 3;
        if (i == 2 && pl == 6 && memcmp(p, "\n</s>\n", 6) == 0) p += 1, pl = 4;
        anc_tk_buf b = {0};
        for (size_t k = 0; !st && k < pl; k++) /* " " back to SentencePiece's U+2581 */
            st = p[k] == ' ' ? anc_tk_buf_append(&b, "\xE2\x96\x81", 3, err) : anc_tk_buf_append(&b, p + k, 1, err);
        if (!st && !b.data) st = anc_tk_buf_append(&b, "", 0, err);
        if (st) {
            anc_tk_buf_free(&b);
            goto done;
        }
        toks[i].s = b.data;
        toks[i].len = b.len;
        toks[i].score = isnan(score) ? -INFINITY : score;
        toks[i].plain = i > 2 && !is_byte_piece(b.data, b.len) && b.len > 0;
        off += (size_t)n;
    }
    if (off != len)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %zu: %zu bytes left after %d tokens (vocab_size does not match)",
                           path, off, len - off, vocab_size);
done:
    free(buf);
    return st;
}

static anc_status collect_merges(const l2c_tok *toks, int vocab_size, const anc_tk_strmap *map, l2c_merge **out,
                                 size_t *n_out, anc_error *err) {
    size_t n = 0, cap = 0;
    l2c_merge *m = NULL;
    for (int i = 0; i < vocab_size; i++) {
        if (!toks[i].plain) continue;
        const char *s = toks[i].s;
        size_t len = toks[i].len, k = 0;
        anc_tk_utf8_next(s, len, &k);
        for (; k < len; k += anc_tk_utf8_seq_len((unsigned char)s[k])) {
            long l = anc_tk_strmap_find(map, s, k), r = anc_tk_strmap_find(map, s + k, len - k);
            if (l < 0 || r < 0) continue;
            int32_t li = map->ents[l].value, ri = map->ents[r].value;
            if (!toks[li].plain || !toks[ri].plain) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                l2c_merge *nm = realloc(m, cap * sizeof *nm);
                if (!nm) {
                    free(m);
                    return anc_error_set(err, ANC_ERR_NOMEM, "llama2.c tokenizer: out of memory");
                }
                m = nm;
            }
            m[n++] = (l2c_merge){toks[i].score, i, li, ri, (uint32_t)k};
        }
    }
    if (n) qsort(m, n, sizeof *m, merge_order);
    *out = m;
    *n_out = n;
    return ANC_OK;
}

static json_t *str(const char *s, size_t len) {
    return json_stringn(s, len);
}

static json_t *added_token(int id, const l2c_tok *t) {
    return json_pack("{s:i, s:o, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", str(t->s, t->len), "single_word", 0,
                     "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

static json_t *build_json(const l2c_tok *toks, int vocab_size, const l2c_merge *m, size_t n_merges, int *bad_id) {
    json_t *vocab = json_object(), *merges = json_array();
    if (!vocab || !merges) goto fail;
    for (int i = 0; i < vocab_size; i++) {
        if (json_object_getn(vocab, toks[i].s, toks[i].len)) continue; /* a duplicate keeps its first id */
        if (json_object_setn_new(vocab, toks[i].s, toks[i].len, json_integer(i))) {
            *bad_id = i;
            goto fail;
        }
    }
    for (size_t k = 0; k < n_merges; k++) {
        const l2c_tok *a = &toks[m[k].left], *b = &toks[m[k].right];
        if (json_array_append_new(merges, json_pack("[o, o]", str(a->s, a->len), str(b->s, b->len)))) goto fail;
    }
    const char *u = "\xE2\x96\x81";
    json_t *bos = str(toks[1].s, toks[1].len);
    json_t *root = json_pack(
        "{s:s, s:n, s:n, s:[o, o, o],"
        " s:{s:s, s:[{s:s, s:s}, {s:s, s:{s:s}, s:s}]}, s:n,"
        " s:{s:s, s:[{s:{s:O, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:O, s:i}}, {s:{s:s, s:i}}, {s:{s:O, s:i}}, {s:{s:s, s:i}}],"
        "    s:{s:{s:O, s:[i], s:[O]}}},"
        " s:{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]},"
        " s:{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added_token(0, &toks[0]), added_token(1, &toks[1]),
        added_token(2, &toks[2]), "normalizer", "type", "Sequence", "normalizers", "type", "Prepend", "prepend", u, "type",
        "Replace", "pattern", "String", " ", "content", u, "pre_tokenizer", "post_processor", "type",
        "TemplateProcessing", "single", "SpecialToken", "id", bos, "type_id", 0, "Sequence", "id", "A", "type_id", 0,
        "pair", "SpecialToken", "id", bos, "type_id", 0, "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", bos,
        "type_id", 1, "Sequence", "id", "B", "type_id", 1, "special_tokens", toks[1].s, "id", bos, "ids", 1, "tokens",
        bos, "decoder", "type", "Sequence", "decoders", "type", "Replace", "pattern", "String", u, "content", " ", "type",
        "ByteFallback", "type", "Fuse", "type", "Strip", "content", " ", "start", 1, "stop", 0, "model", "type", "BPE",
        "dropout", "unk_token", str(toks[0].s, toks[0].len), "continuing_subword_prefix", "end_of_word_suffix",
        "fuse_unk", 1, "byte_fallback", 1, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_decref(bos);
    return root;
fail:
    json_decref(vocab);
    json_decref(merges);
    return NULL;
}

anc_status anc_tokenizer_from_llama2c(const char *tok_bin_path, int vocab_size, char **json_text, char **config_text,
                                      anc_error *err) {
    *json_text = NULL;
    if (config_text) *config_text = NULL;
    if (!tok_bin_path) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_from_llama2c: NULL path");
    if (vocab_size < 3 || vocab_size > MAX_VOCAB)
        return anc_error_set(err, ANC_ERR_INVALID, "%s: vocab_size %d is outside [3, %d]", tok_bin_path, vocab_size, MAX_VOCAB);
    l2c_tok *toks = calloc((size_t)vocab_size, sizeof *toks);
    if (!toks) return anc_error_set(err, ANC_ERR_NOMEM, "llama2.c tokenizer: out of memory");
    anc_tk_strmap map = {0};
    l2c_merge *m = NULL;
    size_t n_merges = 0;
    json_t *root = NULL;
    anc_status st = read_tok_bin(tok_bin_path, vocab_size, toks, err);
    for (int i = 0; !st && i < vocab_size; i++) st = anc_tk_strmap_put(&map, toks[i].s, toks[i].len, i, NULL, NULL, err);
    if (!st) st = collect_merges(toks, vocab_size, &map, &m, &n_merges, err);
    if (!st) {
        int bad_id = -1;
        root = build_json(toks, vocab_size, m, n_merges, &bad_id);
        if (!root) st = anc_error_set(err, ANC_ERR_NOMEM, "%s: cannot build tokenizer.json (token %d)", tok_bin_path, bad_id);
    }
    if (!st) {
        *json_text = json_dumps(root, JSON_COMPACT);
        if (!*json_text) st = anc_error_set(err, ANC_ERR_NOMEM, "llama2.c tokenizer: out of memory");
    }
    if (!st && config_text) {
        json_t *cfg = json_pack("{s:o, s:o, s:o, s:n, s:b, s:b, s:b, s:s}", "bos_token", str(toks[1].s, toks[1].len),
                                "eos_token", str(toks[2].s, toks[2].len), "unk_token", str(toks[0].s, toks[0].len),
                                "pad_token", "add_bos_token", 1, "add_eos_token", 0, "legacy", 1, "tokenizer_class",
                                "LlamaTokenizer");
        *config_text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
        json_decref(cfg);
        if (!*config_text) st = anc_error_set(err, ANC_ERR_NOMEM, "llama2.c tokenizer: out of memory");
    }
    if (st) {
        free(*json_text);
        *json_text = NULL;
    }
    json_decref(root);
    free(m);
    anc_tk_strmap_free(&map);
    for (int i = 0; i < vocab_size; i++) free(toks[i].s);
    free(toks);
    return st;
}
