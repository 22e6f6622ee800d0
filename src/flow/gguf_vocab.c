/* Tokenizers <-> GGUF vocabularies (gguf_model.h): tokenizer.json's BPE
 * model (vocab, merges, added tokens) read as JSON, the special tokens and
 * templates through anchor's tokenizer (so the GGUF says what anchor's own
 * encode does), and back. Token types are llama.cpp's (llama_token_type). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/strbuf.h"
#include "flow/gguf_model.h"
#include "tokenizer/tokenizer.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define U2581 "\xE2\x96\x81" /* SentencePiece's word boundary */

/* The pre-tokenizer regexes of Qwen2 and Llama-3 tokenizer.json files. */
static const char QWEN2_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int is_type(const json_t *o, const char *t) { return json_is_string(json_object_get(o, "type")) && !strcmp(json_string_value(json_object_get(o, "type")), t); }

/* A ByteLevel pre-tokenizer with its own GPT-2 regex (want_regex 1) or
 * without (0), no prefix space. */
static int byte_level(const json_t *o, int want_regex) {
    if (!is_type(o, "ByteLevel") || json_is_true(json_object_get(o, "add_prefix_space"))) return 0;
    const json_t *r = json_object_get(o, "use_regex");
    int regex = r ? json_is_true(r) : 1;
    return regex == want_regex;
}

/* llama.cpp's name (tokenizer.ggml.pre) of a byte-level pre_tokenizer, or NULL. */
static const char *pre_name(const json_t *pt) {
    if (byte_level(pt, 1)) return "gpt-2";
    if (!is_type(pt, "Sequence")) return NULL;
    const json_t *a = json_object_get(pt, "pretokenizers");
    if (json_array_size(a) != 2) return NULL;
    const json_t *p0 = json_array_get(a, 0), *p1 = json_array_get(a, 1);
    if (is_type(p0, "Digits") && json_is_true(json_object_get(p0, "individual_digits")) && byte_level(p1, 1)) return "smollm";
    if (!is_type(p0, "Split") || !byte_level(p1, 0)) return NULL;
    const char *re = json_string_value(json_object_get(json_object_get(p0, "pattern"), "Regex"));
    const char *beh = json_string_value(json_object_get(p0, "behavior"));
    if (!re || !beh || strcmp(beh, "Isolated") || json_is_true(json_object_get(p0, "invert"))) return NULL;
    if (!strcmp(re, QWEN2_RE)) return "qwen2";
    if (!strcmp(re, LLAMA3_RE)) return "llama-bpe";
    return NULL;
}

/* 1 when a SentencePiece-style tokenizer puts "▁" before the text. */
static int space_prefix(const json_t *root) {
    const json_t *n = json_object_get(root, "normalizer"), *pt = json_object_get(root, "pre_tokenizer");
    const json_t *list = is_type(n, "Sequence") ? json_object_get(n, "normalizers") : NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const char *p = json_string_value(json_object_get(e, "prepend"));
        if (is_type(e, "Prepend") && p && !strcmp(p, U2581)) return 1;
    }
    if (is_type(n, "Prepend")) return 1;
    if (is_type(pt, "Metaspace")) {
        const char *scheme = json_string_value(json_object_get(pt, "prepend_scheme"));
        const json_t *aps = json_object_get(pt, "add_prefix_space");
        if (scheme) return strcmp(scheme, "never") != 0;
        return aps ? json_is_true(aps) : 1;
    }
    return 0;
}

static int looks_special(const char *s, size_t n) {
    return (n >= 4 && !memcmp(s, "<|", 2) && !memcmp(s + n - 2, "|>", 2)) || (n == 5 && !memcmp(s, "<pad>", 5)) ||
           (n == 6 && !memcmp(s, "<mask>", 6));
}

static int is_byte_piece(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEFabcdef";
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && strchr(hex, s[3]) && strchr(hex, s[4]);
}

/* The vocabulary being exported. */
typedef struct vocab_out {
    int n;
    const char **text;
    size_t *len;
    int32_t *type;
    float *score;
    char **owned; /* strings made here (one per id at most) */
    const char **merge_text;
    size_t *merge_len;
    size_t n_merges;
    anc_sbuf merge_buf; /* "a b" of list-form merges, NUL-separated */
} vocab_out;

static void vocab_out_free(vocab_out *v) {
    for (int i = 0; v->owned && i < v->n; i++) free(v->owned[i]);
    free(v->owned);
    free(v->text);
    free(v->len);
    free(v->type);
    free(v->score);
    free(v->merge_text);
    free(v->merge_len);
    anc_sbuf_free(&v->merge_buf);
}

/* Token ids of the vocab object and added tokens; gaps become [PADn]. */
static anc_status collect_tokens(vocab_out *v, const json_t *root, int spm, int unk, const char *label, anc_error *err) {
    const json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    const char *key;
    size_t klen;
    json_t *val;
    if (!json_is_object(vocab)) return anc_error_set(err, ANC_ERR_FORMAT, "%s: model.vocab is not an object", label);
    json_object_keylen_foreach((json_t *)vocab, key, klen, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || id >= v->n)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: token '%.80s' has id %lld, outside the model's %d embedding rows", label,
                                 key, (long long)id, v->n);
        v->text[id] = key;
        v->len[id] = klen;
        v->type[id] = spm && is_byte_piece(key, klen) ? TT_BYTE : TT_NORMAL;
    }
    const json_t *added = json_object_get(root, "added_tokens");
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!content || !json_is_integer(json_object_get(a, "id")) || id < 0 || id >= v->n)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: added token %zu (id %lld) is outside the model's %d embedding rows", label, i,
                                 (long long)id, v->n);
        size_t cl = json_string_length(json_object_get(a, "content"));
        int special = json_is_true(json_object_get(a, "special")) || (!spm && looks_special(content, cl));
        v->text[id] = content;
        v->len[id] = cl;
        v->type[id] = special ? TT_CONTROL : TT_USER;
        if (!special && !spm && strstr(content, U2581)) { /* the converter pre-normalises "▁" to " " */
            anc_sbuf b = {0};
            for (size_t k = 0; k < cl; k++)
                if (k + 3 <= cl && !memcmp(content + k, U2581, 3)) anc_sbuf_putc(&b, ' '), k += 2;
                else anc_sbuf_putc(&b, content[k]);
            free(v->owned[id]);
            v->len[id] = b.len;
            if (!(v->owned[id] = anc_sbuf_take(&b))) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            v->text[id] = v->owned[id];
        }
    }
    if (spm && unk >= 0 && unk < v->n && v->text[unk]) v->type[unk] = TT_UNKNOWN;
    for (int id = 0; id < v->n; id++)
        if (!v->text[id]) {
            char pad[32];
            int n = snprintf(pad, sizeof pad, "[PAD%d]", id);
            if (!(v->owned[id] = strdup(pad))) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            v->text[id] = v->owned[id];
            v->len[id] = (size_t)n;
            v->type[id] = TT_UNUSED;
        }
    return ANC_OK;
}

/* Position of the space of merge text s that splits it into two vocab
 * tokens (the first such), or -1. */
static long merge_split(const json_t *vocab, const char *s, size_t len) {
    for (size_t p = 0; p < len; p++)
        if (s[p] == ' ' && json_object_getn(vocab, s, p) && json_object_getn(vocab, s + p + 1, len - p - 1)) return (long)p;
    return -1;
}

/* The merges as "a b" strings; for SentencePiece-style vocabularies the
 * scores: -(rank + 1) of the first merge making a token. */
static anc_status collect_merges(vocab_out *v, const json_t *root, int spm, const char *label, anc_error *err) {
    const json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    size_t n = json_array_size(merges);
    v->merge_text = calloc(n ? n : 1, sizeof *v->merge_text);
    v->merge_len = calloc(n ? n : 1, sizeof *v->merge_len);
    size_t *at = calloc(n ? n : 1, sizeof *at); /* list form: offset into merge_buf */
    if (!v->merge_text || !v->merge_len || !at) {
        free(at);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(merges, i);
        if (json_is_string(e)) {
            v->merge_text[i] = json_string_value(e);
            v->merge_len[i] = json_string_length(e);
            at[i] = SIZE_MAX;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            const json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
            at[i] = v->merge_buf.len;
            /* a space inside a part becomes U+0120, as the converter writes it */
            for (int k = 0; k < 2; k++) {
                const json_t *part = k ? b : a;
                const char *ps = json_string_value(part);
                for (size_t j = 0; j < json_string_length(part); j++)
                    if (ps[j] == ' ' && !spm) anc_sbuf_append(&v->merge_buf, "\xC4\xA0", 2);
                    else anc_sbuf_putc(&v->merge_buf, ps[j]);
                if (!k) anc_sbuf_putc(&v->merge_buf, ' ');
            }
            v->merge_len[i] = v->merge_buf.len - at[i];
            anc_sbuf_putc(&v->merge_buf, '\0');
        } else {
            free(at);
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", label, i);
        }
    }
    if (v->merge_buf.oom) {
        free(at);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (at[i] != SIZE_MAX) v->merge_text[i] = v->merge_buf.data + at[i];
    free(at);
    v->n_merges = n;
    if (!spm) return ANC_OK;
    for (int id = 0; id < v->n; id++) v->score[id] = 0.0f;
    anc_sbuf cat = {0};
    for (size_t i = 0; i < n; i++) {
        long p = merge_split(vocab, v->merge_text[i], v->merge_len[i]);
        if (p < 0) {
            anc_sbuf_free(&cat);
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: model.merges[%zu] '%.80s' is not two vocabulary tokens", label, i,
                                 v->merge_text[i]);
        }
        cat.len = 0;
        anc_sbuf_append(&cat, v->merge_text[i], (size_t)p);
        anc_sbuf_append(&cat, v->merge_text[i] + p + 1, v->merge_len[i] - (size_t)p - 1);
        const json_t *idv = cat.oom ? NULL : json_object_getn(vocab, cat.data, cat.len);
        json_int_t id = idv ? json_integer_value(idv) : -1;
        if (id >= 0 && id < v->n && v->score[id] == 0.0f) v->score[id] = -(float)(i + 1);
    }
    /* a longer NORMAL token that no merge makes is never reached by BPE:
     * the lowest priority for llama.cpp's merging too */
    for (int id = 0; id < v->n; id++) {
        if (v->type[id] != TT_NORMAL || v->score[id] != 0.0f) continue;
        size_t chars = 0;
        for (size_t k = 0; k < v->len[id]; k++) chars += ((unsigned char)v->text[id][k] & 0xC0) != 0x80;
        if (chars > 1) v->score[id] = -1e9f;
    }
    int oom = cat.oom;
    anc_sbuf_free(&cat);
    return oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
}

/* add_bos / add_eos as anchor's encode applies them: the special tokens
 * its encode of a short text puts before and after the raw encoding. */
static void effective_adds(anc_tokenizer *tok, int *add_bos, int *add_eos) {
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    anc_error e = {0};
    *add_bos = *add_eos = 0;
    if (!anc_tokenizer_encode(tok, "a", 1, 1, &a, &na, &e) && !anc_tokenizer_encode(tok, "a", 1, 0, &b, &nb, &e) && na > nb)
        for (size_t k = 0; k <= na - nb; k++)
            if (nb == 0 || !memcmp(a + k, b, nb * sizeof *b)) {
                *add_bos = k > 0;
                *add_eos = na - nb - k > 0;
                break;
            }
    free(a);
    free(b);
}

static anc_status put_specials(anc_gguf_writer *w, anc_tokenizer *tok, const anc_config *cfg, anc_gguf_vocab_info *info,
                               anc_error *err) {
    int32_t bos = anc_tokenizer_bos_id(tok), eos = anc_tokenizer_eos_id(tok), unk = anc_tokenizer_unk_id(tok),
            pad = anc_tokenizer_pad_id(tok);
    if (bos < 0) bos = cfg->bos_token_id;
    if (eos < 0) eos = cfg->eos_token_id;
    anc_status st = ANC_OK;
    if (bos >= 0 && bos < cfg->vocab_size) st = anc_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos, err);
    if (!st && eos >= 0 && eos < cfg->vocab_size) st = anc_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos, err);
    if (!st && unk >= 0 && unk < cfg->vocab_size) st = anc_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk, err);
    if (!st && pad >= 0 && pad < cfg->vocab_size) st = anc_gguf_add_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad, err);
    effective_adds(tok, &info->add_bos, &info->add_eos);
    if (!st) st = anc_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", info->add_bos, err);
    if (!st) st = anc_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", info->add_eos, err);
    for (size_t i = 0; !st && i < anc_tokenizer_chat_template_count(tok); i++) {
        const char *name = anc_tokenizer_chat_template_name(tok, i), *t = anc_tokenizer_chat_template(tok, name);
        if (!t) continue;
        char key[160];
        if (!name || !strcmp(name, "default")) snprintf(key, sizeof key, "tokenizer.chat_template");
        else snprintf(key, sizeof key, "tokenizer.chat_template.%.120s", name);
        st = anc_gguf_add_string(w, key, t, strlen(t), err);
        info->templates++;
    }
    return st;
}

anc_status anc_gguf_put_vocab(anc_gguf_writer *w, const char *model_dir, const anc_config *cfg, const char *pre,
                              anc_gguf_vocab_info *info, anc_error *err) {
    memset(info, 0, sizeof *info);
    char *path = anc_path_join(model_dir, "tokenizer.json"), *text = NULL;
    size_t tlen = 0;
    json_t *root = NULL;
    anc_tokenizer *tok = NULL;
    vocab_out v;
    memset(&v, 0, sizeof v);
    anc_status st = path ? anc_read_file(path, (size_t)1 << 30, &text, &tlen, err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st) {
        json_error_t je;
        root = json_loadb(text, tlen, 0, &je);
        if (!root) st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    if (!st) st = anc_tokenizer_load_dir(&tok, model_dir, err);
    const json_t *model = root ? json_object_get(root, "model") : NULL;
    if (!st && !is_type(model, "BPE"))
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: GGUF export handles BPE tokenizers (byte-level or byte-fallback), not model type '%s'",
                           path, json_string_value(json_object_get(model, "type")) ? json_string_value(json_object_get(model, "type")) : "?");
    int spm = json_is_true(json_object_get(model, "byte_fallback"));
    if (!st && !spm) {
        const char *name = pre ? pre : pre_name(json_object_get(root, "pre_tokenizer"));
        if (!name)
            st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: the pre_tokenizer is none llama.cpp knows by structure (gpt-2, qwen2, "
                               "llama-bpe, smollm); name one with --tokenizer-pre", path);
        else snprintf(info->pre, sizeof info->pre, "%s", name);
    }
    if (spm) snprintf(info->pre, sizeof info->pre, "%s", pre ? pre : "default");
    info->model = spm ? "llama" : "gpt2";
    v.n = cfg->vocab_size;
    if (!st) {
        v.text = calloc((size_t)v.n, sizeof *v.text);
        v.len = calloc((size_t)v.n, sizeof *v.len);
        v.type = calloc((size_t)v.n, sizeof *v.type);
        v.score = calloc((size_t)v.n, sizeof *v.score);
        v.owned = calloc((size_t)v.n, sizeof *v.owned);
        if (!v.text || !v.len || !v.type || !v.score || !v.owned) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!st) st = collect_tokens(&v, root, spm, anc_tokenizer_unk_id(tok), path, err);
    if (!st) st = collect_merges(&v, root, spm, path, err);
    if (!st) st = anc_gguf_add_string(w, "tokenizer.ggml.model", info->model, strlen(info->model), err);
    if (!st) st = anc_gguf_add_string(w, "tokenizer.ggml.pre", info->pre, strlen(info->pre), err);
    if (!st) st = anc_gguf_add_strings(w, "tokenizer.ggml.tokens", v.text, v.len, (size_t)v.n, err);
    if (!st && spm) st = anc_gguf_add_f32s(w, "tokenizer.ggml.scores", v.score, (size_t)v.n, err);
    if (!st) st = anc_gguf_add_i32s(w, "tokenizer.ggml.token_type", v.type, (size_t)v.n, err);
    /* llama.cpp requires the key for byte-level BPE, even when empty */
    if (!st && (v.n_merges || !spm)) st = anc_gguf_add_strings(w, "tokenizer.ggml.merges", v.merge_text, v.merge_len, v.n_merges, err);
    if (!st) st = put_specials(w, tok, cfg, info, err);
    if (!st && spm) st = anc_gguf_add_bool(w, "tokenizer.ggml.add_space_prefix", space_prefix(root), err);
    info->tokens = (size_t)v.n;
    info->merges = v.n_merges;
    vocab_out_free(&v);
    anc_tokenizer_free(tok);
    json_decref(root);
    free(text);
    free(path);
    return st;
}

/* ---------------------------------------------------------------- GGUF -> tokenizer.json */

typedef struct vocab_in {
    anc_gguf_str *tok;
    size_t n;
    int32_t *type;
    float *score;
    anc_gguf_str *merges;
    size_t n_merges;
    int spm;
    char pre[32];
    int32_t bos, eos, unk, pad;
    int add_bos, add_eos, space_prefix;
} vocab_in;

static void vocab_in_free(vocab_in *v) {
    free(v->tok);
    free(v->type);
    free(v->score);
    free(v->merges);
}

static anc_status opt_id(const anc_gguf *g, const char *key, size_t n, int32_t *out, anc_error *err) {
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    int64_t v;
    *out = -1;
    if (!kv) return ANC_OK;
    if (anc_gguf_kv_int(g, kv, &v, err)) return err->code;
    if (v >= 0 && (uint64_t)v < n) *out = (int32_t)v;
    return ANC_OK;
}

static anc_status opt_bool(const anc_gguf *g, const char *key, int def, int *out, anc_error *err) {
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    *out = def;
    return kv ? anc_gguf_kv_bool(g, kv, out, err) : ANC_OK;
}

/* A numeric array of exactly n elements into ints (as_float 0) or floats. */
static anc_status num_array(const anc_gguf *g, const char *key, size_t n, int32_t **ints, float **floats, anc_error *err) {
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    if (!kv) return ANC_OK;
    if (kv->type != ANC_GGUF_ARRAY || kv->n != n)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: %s must be an array of %zu numbers (one per token)", anc_gguf_label(g), key, n);
    void *p = malloc((n ? n : 1) * 4);
    if (!p) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (ints) *ints = p;
    else *floats = p;
    for (size_t i = 0; i < n; i++) {
        double d;
        if (anc_gguf_kv_array_num(g, kv, i, &d, err)) return err->code;
        if (ints) (*ints)[i] = d >= -2147483648.0 && d <= 2147483647.0 ? (int32_t)d : 0;
        else (*floats)[i] = (float)d;
    }
    return ANC_OK;
}

static anc_status read_vocab(const anc_gguf *g, vocab_in *v, anc_error *err) {
    const char *L = anc_gguf_label(g);
    const anc_gguf_kv *kv = anc_gguf_find(g, "tokenizer.ggml.model");
    anc_gguf_str s;
    if (!kv) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing key tokenizer.ggml.model", L);
    if (anc_gguf_kv_string(g, kv, &s, err)) return err->code;
    if (s.len == 5 && !memcmp(s.s, "llama", 5)) v->spm = 1;
    else if (!(s.len == 4 && !memcmp(s.s, "gpt2", 4)))
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tokenizer model '%.*s' is not supported (llama, gpt2)", L,
                             (int)(s.len < 40 ? s.len : 40), s.s);
    snprintf(v->pre, sizeof v->pre, "%s", v->spm ? "default" : "gpt-2");
    if ((kv = anc_gguf_find(g, "tokenizer.ggml.pre"))) {
        if (anc_gguf_kv_string(g, kv, &s, err)) return err->code;
        snprintf(v->pre, sizeof v->pre, "%.*s", (int)(s.len < 31 ? s.len : 31), s.s);
    }
    if (!(kv = anc_gguf_find(g, "tokenizer.ggml.tokens"))) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing tokenizer.ggml.tokens", L);
    if (anc_gguf_kv_strings(g, kv, &v->tok, err)) return err->code;
    v->n = (size_t)kv->n;
    if (v->n > (size_t)1 << 24) return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: %zu tokens (at most 2^24)", L, v->n);
    anc_status st = num_array(g, "tokenizer.ggml.token_type", v->n, &v->type, NULL, err);
    if (!st) st = num_array(g, "tokenizer.ggml.scores", v->n, NULL, &v->score, err);
    if (!st && (kv = anc_gguf_find(g, "tokenizer.ggml.merges"))) {
        st = anc_gguf_kv_strings(g, kv, &v->merges, err);
        v->n_merges = st ? 0 : (size_t)kv->n;
    }
    if (!st && !v->spm && !v->merges) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: a gpt2 vocabulary needs tokenizer.ggml.merges", L);
    if (!st) st = opt_id(g, "tokenizer.ggml.bos_token_id", v->n, &v->bos, err);
    if (!st) st = opt_id(g, "tokenizer.ggml.eos_token_id", v->n, &v->eos, err);
    if (!st) st = opt_id(g, "tokenizer.ggml.unknown_token_id", v->n, &v->unk, err);
    if (!st) st = opt_id(g, "tokenizer.ggml.padding_token_id", v->n, &v->pad, err);
    if (!st) st = opt_bool(g, "tokenizer.ggml.add_bos_token", v->spm, &v->add_bos, err);
    if (!st) st = opt_bool(g, "tokenizer.ggml.add_eos_token", 0, &v->add_eos, err);
    if (!st) st = opt_bool(g, "tokenizer.ggml.add_space_prefix", 1, &v->space_prefix, err);
    if (!st && v->spm && v->unk < 0 && v->type)
        for (size_t i = 0; i < v->n && v->unk < 0; i++)
            if (v->type[i] == TT_UNKNOWN) v->unk = (int32_t)i;
    return st;
}

static int32_t type_of(const vocab_in *v, size_t i) { return v->type ? v->type[i] : TT_NORMAL; }

typedef struct {
    float score;
    int32_t merged, left, right;
    uint32_t split;
} spm_merge;

static int spm_merge_order(const void *pa, const void *pb) {
    const spm_merge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->merged != b->merged) return a->merged < b->merged ? -1 : 1;
    return (a->split > b->split) - (a->split < b->split);
}

static int32_t vocab_id(const json_t *vocab, const char *s, size_t n) {
    const json_t *j = json_object_getn(vocab, s, n);
    return j ? (int32_t)json_integer_value(j) : -1;
}

/* Merges of a vocabulary without a merge list, from its scores: every split
 * of a NORMAL token into two NORMAL tokens, highest merged score first
 * (the order llama.cpp's SentencePiece tokenizer merges in). */
static anc_status derive_merges(const vocab_in *v, const json_t *vocab, json_t *merges, anc_error *err) {
    size_t n = 0, cap = 0;
    spm_merge *m = NULL;
    for (size_t i = 0; i < v->n; i++) {
        if (type_of(v, i) != TT_NORMAL) continue;
        const char *s = v->tok[i].s;
        size_t len = (size_t)v->tok[i].len;
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)s[k] & 0xC0) == 0x80) continue; /* inside a UTF-8 sequence */
            int32_t l = vocab_id(vocab, s, k), r = vocab_id(vocab, s + k, len - k);
            if (l < 0 || r < 0 || type_of(v, (size_t)l) != TT_NORMAL || type_of(v, (size_t)r) != TT_NORMAL) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                spm_merge *nm = realloc(m, cap * sizeof *nm);
                if (!nm) {
                    free(m);
                    return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
                }
                m = nm;
            }
            m[n++] = (spm_merge){v->score ? v->score[i] : -(float)i, (int32_t)i, l, r, (uint32_t)k};
        }
    }
    if (n) qsort(m, n, sizeof *m, spm_merge_order);
    int bad = 0;
    for (size_t k = 0; k < n && !bad; k++) {
        const anc_gguf_str *a = &v->tok[m[k].left], *b = &v->tok[m[k].right];
        bad = json_array_append_new(merges, json_pack("[s%, s%]", a->s, (size_t)a->len, b->s, (size_t)b->len)) != 0;
    }
    free(m);
    return bad ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
}

/* The merges of the file as [a, b] pairs, split at the space that leaves two
 * vocabulary tokens. */
static anc_status list_merges(const vocab_in *v, const json_t *vocab, json_t *merges, const char *label, anc_error *err) {
    for (size_t i = 0; i < v->n_merges; i++) {
        const char *s = v->merges[i].s;
        size_t len = (size_t)v->merges[i].len;
        long p = merge_split(vocab, s, len);
        if (p < 0)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu] '%.*s' is not two tokens separated by a space",
                                 label, i, (int)(len < 80 ? len : 80), s);
        char *cat = malloc(len ? len : 1);
        if (!cat) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        memcpy(cat, s, (size_t)p);
        memcpy(cat + p, s + p + 1, len - (size_t)p - 1);
        int made = json_object_getn(vocab, cat, len - 1) != NULL;
        free(cat);
        if (!made)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu] '%.*s' makes a token that is not in the vocabulary",
                                 label, i, (int)(len < 80 ? len : 80), s);
        json_t *pair = json_pack("[s%, s%]", s, (size_t)p, s + p + 1, len - (size_t)p - 1);
        if (!pair || json_array_append_new(merges, pair)) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    return ANC_OK;
}

static json_t *byte_level_json(int regex, int trim) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", trim, "use_regex", regex);
}

/* tokenizer.json's pre_tokenizer for llama.cpp's pre name, or NULL. */
static json_t *pre_tokenizer_json(const char *pre) {
    if (!strcmp(pre, "gpt-2") || !strcmp(pre, "phi-2") || !strcmp(pre, "gpt2")) return byte_level_json(1, 1);
    if (!strcmp(pre, "smollm"))
        return json_pack("{s:s, s:[{s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Digits", "individual_digits", 1,
                         byte_level_json(1, 1));
    const char *re = !strcmp(pre, "qwen2") ? QWEN2_RE : !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") ? LLAMA3_RE : NULL;
    if (!re) return NULL;
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Split", "pattern",
                     "Regex", re, "behavior", "Isolated", "invert", 0, byte_level_json(0, 0));
}

static json_t *tok_json(const vocab_in *v, int32_t id) {
    return id >= 0 ? json_stringn(v->tok[id].s, (size_t)v->tok[id].len) : json_null();
}

/* TemplateProcessing adding BOS and/or EOS. */
static json_t *template_json(const vocab_in *v) {
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    int ids[2] = {v->add_bos ? v->bos : -1, v->add_eos ? v->eos : -1};
    for (int seq = 0; seq < 2; seq++) {
        json_t *arr = seq ? pair : single;
        for (int part = 0; part < (seq ? 2 : 1); part++) {
            if (ids[0] >= 0) json_array_append_new(arr, json_pack("{s:{s:o, s:i}}", "SpecialToken", "id", tok_json(v, ids[0]), "type_id", part));
            json_array_append_new(arr, json_pack("{s:{s:s, s:i}}", "Sequence", "id", part ? "B" : "A", "type_id", part));
            if (ids[1] >= 0) json_array_append_new(arr, json_pack("{s:{s:o, s:i}}", "SpecialToken", "id", tok_json(v, ids[1]), "type_id", part));
        }
    }
    for (int k = 0; k < 2; k++)
        if (ids[k] >= 0)
            json_object_setn_new(specials, v->tok[ids[k]].s, (size_t)v->tok[ids[k]].len,
                                 json_pack("{s:o, s:[i], s:[o]}", "id", tok_json(v, ids[k]), "ids", ids[k], "tokens", tok_json(v, ids[k])));
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", pair, "special_tokens", specials);
}

/* The tokenizer.json root around vocab, merges and added tokens. */
static json_t *tokenizer_root(const vocab_in *v, json_t *vocab, json_t *merges, json_t *added, json_t *pre) {
    const char *u = U2581;
    json_t *post = v->add_bos || v->add_eos ? template_json(v)
                   : v->spm                 ? json_null()
                                            : json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                                                        "trim_offsets", 0, "use_regex", 1);
    json_t *normalizer, *decoder;
    if (v->spm) {
        json_t *norms = json_array();
        if (v->space_prefix) json_array_append_new(norms, json_pack("{s:s, s:s}", "type", "Prepend", "prepend", u));
        json_array_append_new(norms, json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content", u));
        normalizer = json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", norms);
        json_t *decs = json_pack("[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]", "type", "Replace", "pattern", "String", u, "content", " ",
                                 "type", "ByteFallback", "type", "Fuse");
        if (v->space_prefix)
            json_array_append_new(decs, json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ", "start", 1, "stop", 0));
        decoder = json_pack("{s:s, s:o}", "type", "Sequence", "decoders", decs);
    } else {
        normalizer = json_null();
        decoder = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1);
    }
    json_t *model = json_pack("{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout", "unk_token",
                              v->spm ? tok_json(v, v->unk) : json_null(), "continuing_subword_prefix", "end_of_word_suffix",
                              "fuse_unk", v->spm, "byte_fallback", v->spm, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation", "padding", "added_tokens",
                     added, "normalizer", normalizer, "pre_tokenizer", pre, "post_processor", post, "decoder", decoder, "model",
                     model);
}

static json_t *config_root(const anc_gguf *g, const vocab_in *v) {
    json_t *c = json_pack("{s:b, s:b}", "add_bos_token", v->add_bos, "add_eos_token", v->add_eos);
    const char *names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    int32_t ids[4] = {v->bos, v->eos, v->unk, v->pad};
    for (int k = 0; k < 4; k++)
        if (ids[k] >= 0) json_object_set_new(c, names[k], tok_json(v, ids[k]));
    json_t *named = json_array();
    anc_error e = {0};
    for (size_t i = 0; i < anc_gguf_kv_count(g); i++) {
        const anc_gguf_kv *kv = anc_gguf_kv_at(g, i);
        static const char pfx[] = "tokenizer.chat_template";
        anc_gguf_str s;
        if (kv->key.len < sizeof pfx - 1 || memcmp(kv->key.s, pfx, sizeof pfx - 1) || anc_gguf_kv_string(g, kv, &s, &e)) continue;
        json_t *t = json_stringn(s.s, (size_t)s.len);
        if (!t) continue;
        if (kv->key.len == sizeof pfx - 1) json_array_append_new(named, json_pack("{s:s, s:o}", "name", "default", "template", t));
        else if (kv->key.s[sizeof pfx - 1] == '.')
            json_array_append_new(named, json_pack("{s:s%, s:o}", "name", kv->key.s + sizeof pfx, (size_t)(kv->key.len - sizeof pfx), "template", t));
        else json_decref(t);
    }
    if (json_array_size(named) == 1 && !strcmp(json_string_value(json_object_get(json_array_get(named, 0), "name")), "default"))
        json_object_set(c, "chat_template", json_object_get(json_array_get(named, 0), "template"));
    else if (json_array_size(named) > 0) json_object_set(c, "chat_template", named);
    json_decref(named);
    json_object_set_new(c, "clean_up_tokenization_spaces", json_false());
    json_object_set_new(c, "tokenizer_class", json_string(v->spm ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast"));
    return c;
}

static char *dump(json_t *j) { return j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL; }

anc_status anc_gguf_vocab_to_hf(const anc_gguf *g, char **tokenizer_json, char **tokenizer_config, anc_error *err) {
    *tokenizer_json = *tokenizer_config = NULL;
    const char *L = anc_gguf_label(g);
    vocab_in v;
    memset(&v, 0, sizeof v);
    anc_status st = read_vocab(g, &v, err);
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array(), *pre = NULL, *root = NULL, *cfg = NULL;
    if (!st && !vocab) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st && !v.spm && !(pre = pre_tokenizer_json(v.pre)))
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre '%s' has no tokenizer.json form in anchor (gpt-2, qwen2, "
                           "llama-bpe, smollm)", L, v.pre);
    for (size_t i = 0; !st && i < v.n; i++)
        if (memchr(v.tok[i].s, '\0', (size_t)v.tok[i].len))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: token %zu holds a NUL byte, which a tokenizer.json cannot hold", L, i);
    for (size_t i = 0; !st && i < v.n; i++) {
        int32_t t = type_of(&v, i);
        if (t == TT_UNUSED || (!v.spm && t == TT_USER)) continue;
        if (json_object_getn(vocab, v.tok[i].s, (size_t)v.tok[i].len)) continue; /* a repeated token keeps its first id */
        if (json_object_setn_new(vocab, v.tok[i].s, (size_t)v.tok[i].len, json_integer((json_int_t)i)))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: token %zu is not valid UTF-8", L, i);
    }
    for (size_t i = 0; !st && i < v.n; i++) {
        int32_t t = type_of(&v, i);
        if (t != TT_CONTROL && t != TT_UNKNOWN && t != TT_USER) continue;
        json_t *content = json_stringn(v.tok[i].s, (size_t)v.tok[i].len);
        if (!content) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: token %zu is not valid UTF-8", L, i);
        else
            json_array_append_new(added, json_pack("{s:I, s:o, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i, "content", content,
                                                   "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special",
                                                   t != TT_USER));
    }
    if (!st) st = v.merges ? list_merges(&v, vocab, merges, L, err) : derive_merges(&v, vocab, merges, err);
    if (!st) {
        root = tokenizer_root(&v, vocab, merges, added, v.spm ? json_null() : pre);
        vocab = merges = added = pre = NULL; /* stolen by root */
        cfg = config_root(g, &v);
        *tokenizer_json = dump(root);
        *tokenizer_config = dump(cfg);
        if (!*tokenizer_json || !*tokenizer_config) {
            free(*tokenizer_json);
            free(*tokenizer_config);
            *tokenizer_json = *tokenizer_config = NULL;
            st = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory for the tokenizer files", L);
        }
    }
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    json_decref(pre);
    json_decref(root);
    json_decref(cfg);
    vocab_in_free(&v);
    return st;
}
