/* The "model" section of tokenizer.json: a BPE vocabulary and merge list.
 *
 * Merges come as "a b" strings (tokenizers < 0.20) or [a, b] pairs. A merge
 * string with more than one space is read the way HF's JavaScript port
 * reads it (`split(' ', 2)`: the text before the first space and the text
 * between the first and second spaces); a resulting empty part can never
 * match a symbol, so such a merge is kept as a dead rank. (The Rust library
 * refuses these files.) Otherwise both parts and their concatenation must be
 * in the vocabulary, as in the Rust library; a pair listed twice keeps its
 * last rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

#define MAX_TOKEN_ID 0x7FFFFFFE

static anc_status load_vocab(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *vocab, anc_error *err) {
    if (!json_is_object(vocab)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.vocab", "must be an object of token: id");
    const char *key;
    json_t *v;
    void *it;
    for (it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        v = json_object_iter_value(it);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_TOKEN_ID) {
            char path[ANC_TK_PATH];
            snprintf(path, sizeof path, "model.vocab[\"%.64s\"]", key);
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "id must be an integer in [0, %d]", MAX_TOKEN_ID);
        }
        anc_status st = anc_tk_strmap_put(&tok->bpe.vocab, key, klen, (int32_t)json_integer_value(v), NULL, NULL, err);
        if (st) return st;
    }
    return ANC_OK;
}

static anc_status vocab_id(const anc_tokenizer *tok, const anc_tk_ctx *cx, const char *path, const char *s, size_t len,
                           int32_t *id, anc_error *err) {
    long e = anc_tk_strmap_find(&tok->bpe.vocab, s, len);
    if (e < 0)
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "merge refers to token \"%.*s\", which is not in model.vocab",
                           (int)(len > 80 ? 80 : len), s);
    *id = tok->bpe.vocab.ents[e].value;
    return ANC_OK;
}

/* Registers merge (a, b) with the given rank. */
static anc_status add_merge(anc_tokenizer *tok, const anc_tk_ctx *cx, const char *path, const char *a, size_t al,
                            const char *b, size_t bl, uint32_t rank, anc_tk_buf *scratch, anc_error *err) {
    anc_tk_bpe *bpe = &tok->bpe;
    int32_t ia = -1, ib = -1, inew = -1;
    anc_status st;
    if ((st = vocab_id(tok, cx, path, a, al, &ia, err)) || (st = vocab_id(tok, cx, path, b, bl, &ib, err))) return st;
    size_t skip = 0;
    if (bpe->prefix) {
        if (bl < bpe->prefix_len || memcmp(b, bpe->prefix, bpe->prefix_len) != 0)
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path,
                               "second part of the merge does not start with continuing_subword_prefix");
        skip = bpe->prefix_len;
    }
    scratch->len = 0;
    if ((st = anc_tk_buf_append(scratch, a, al, err)) || (st = anc_tk_buf_append(scratch, b + skip, bl - skip, err)))
        return st;
    if ((st = vocab_id(tok, cx, path, scratch->data, scratch->len, &inew, err))) return st;
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    return anc_tk_u64map_set(&bpe->merges, key, (uint64_t)rank << 32 | (uint32_t)inew, err);
}

static anc_status load_merges(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *merges, anc_error *err) {
    if (!json_is_array(merges))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.merges", "must be an array of \"a b\" strings or [a, b] pairs");
    size_t n = json_array_size(merges);
    if (n > UINT32_MAX) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.merges", "too many merges");
    anc_tk_buf scratch = {0};
    anc_status st = ANC_OK;
    char path[ANC_TK_PATH];
    for (size_t i = 0; !st && i < n; i++) {
        json_t *m = json_array_get(merges, i);
        snprintf(path, sizeof path, "model.merges[%zu]", i);
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            size_t len = json_string_length(m);
            const char *sp1 = memchr(s, ' ', len);
            if (!sp1) {
                st = anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "merge \"%.80s\" has no space between its two parts", s);
                break;
            }
            const char *b = sp1 + 1, *end = s + len;
            const char *sp2 = memchr(b, ' ', (size_t)(end - b));
            if (sp2) end = sp2; /* JS split(' ', 2): the second part stops at the next space */
            size_t al = (size_t)(sp1 - s), bl = (size_t)(end - b);
            if (al == 0 || bl == 0) continue; /* an empty part never matches: a dead rank */
            st = add_merge(tok, cx, path, s, al, b, bl, (uint32_t)i, &scratch, err);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *a = json_array_get(m, 0), *b = json_array_get(m, 1);
            st = add_merge(tok, cx, path, json_string_value(a), json_string_length(a), json_string_value(b),
                           json_string_length(b), (uint32_t)i, &scratch, err);
        } else {
            st = anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "must be a string \"a b\" or an array of two strings");
        }
    }
    tok->bpe.n_merges = n;
    anc_tk_buf_free(&scratch);
    return st;
}

anc_status anc_tk_load_bpe(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *model, anc_error *err) {
    anc_tk_bpe *bpe = &tok->bpe;
    anc_status st;
    if (!json_is_object(model)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model", "missing or not an object");
    json_t *type = json_object_get(model, "type");
    if (type && !json_is_string(type)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.type", "must be a string");
    if (type && strcmp(json_string_value(type), "BPE") != 0)
        return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, "model.type", "model type \"%.40s\" is not supported (only BPE)",
                           json_string_value(type));
    if (!type && !json_object_get(model, "merges"))
        return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, "model",
                           "no \"type\" and no \"merges\": not a BPE model (only BPE is supported)");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout)) {
        if (!json_is_number(dropout)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.dropout", "must be a number or null");
        if (json_number_value(dropout) > 0.0)
            return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, "model.dropout",
                               "BPE dropout %g is not supported (encoding would be random)", json_number_value(dropout));
    }
    const char *s;
    size_t len;
    if ((st = anc_tk_get_string(cx, model, "unk_token", "model", 0, &s, &len, err))) return st;
    if (s && (st = anc_tk_dup(s, len, &bpe->unk_token, err))) return st;
    bpe->unk_len = len;
    if ((st = anc_tk_get_string(cx, model, "continuing_subword_prefix", "model", 0, &s, &len, err))) return st;
    if (s && len && (st = anc_tk_dup(s, len, &bpe->prefix, err))) return st;
    bpe->prefix_len = bpe->prefix ? len : 0;
    if ((st = anc_tk_get_string(cx, model, "end_of_word_suffix", "model", 0, &s, &len, err))) return st;
    if (s && len && (st = anc_tk_dup(s, len, &bpe->suffix, err))) return st;
    bpe->suffix_len = bpe->suffix ? len : 0;
    if ((st = anc_tk_get_bool(cx, model, "fuse_unk", "model", 0, &bpe->fuse_unk, err))) return st;
    if ((st = anc_tk_get_bool(cx, model, "byte_fallback", "model", 0, &bpe->byte_fallback, err))) return st;
    if ((st = anc_tk_get_bool(cx, model, "ignore_merges", "model", 0, &bpe->ignore_merges, err))) return st;
    if (!json_object_get(model, "vocab")) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model", "missing \"vocab\"");
    if (!json_object_get(model, "merges")) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model", "missing \"merges\"");
    if ((st = load_vocab(tok, cx, json_object_get(model, "vocab"), err))) return st;
    if ((st = load_merges(tok, cx, json_object_get(model, "merges"), err))) return st;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        long e = anc_tk_strmap_find(&bpe->vocab, name, 6);
        bpe->byte_ids[b] = e >= 0 ? bpe->vocab.ents[e].value : -1;
    }
    return ANC_OK;
}
