/* Loading a tokenizer.json: the top-level sections, the added tokens, the
 * id -> token table; plus the lookups and anc_tokenizer_free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "tokenizer/tk_internal.h"

#define MAX_TOKENIZER_JSON ((size_t)1 << 30)
#define MAX_CONFIG_JSON ((size_t)64 << 20)
#define MAX_TOKEN_ID 0x7FFFFFFE

static anc_status load_added(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *arr, anc_error *err) {
    size_t next_id_value = tok->bpe.vocab.n, *next_id = &next_id_value;
    if (!arr || json_is_null(arr)) return ANC_OK;
    if (!json_is_array(arr)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "added_tokens", "must be an array");
    size_t n = json_array_size(arr);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    anc_status st;
    for (size_t i = 0; i < n; i++) {
        char path[ANC_TK_PATH];
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        json_t *t = json_array_get(arr, i);
        if (!json_is_object(t)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "must be an object");
        const char *content;
        size_t len;
        if ((st = anc_tk_get_string(cx, t, "content", path, 1, &content, &len, err))) return st;
        json_t *jid = json_object_get(t, "id");
        if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) > MAX_TOKEN_ID)
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"id\" must be an integer in [0, %d]", MAX_TOKEN_ID);
        int special, single_word, lstrip, rstrip, normalized;
        if ((st = anc_tk_get_bool(cx, t, "special", path, 0, &special, err)) ||
            (st = anc_tk_get_bool(cx, t, "single_word", path, 0, &single_word, err)) ||
            (st = anc_tk_get_bool(cx, t, "lstrip", path, 0, &lstrip, err)) ||
            (st = anc_tk_get_bool(cx, t, "rstrip", path, 0, &rstrip, err)) ||
            (st = anc_tk_get_bool(cx, t, "normalized", path, !special, &normalized, err)))
            return st;
        if (len == 0) continue; /* HF ignores empty added tokens */
        /* HF keys added tokens by content: a repeated content updates the flags, keeps the id */
        int existed;
        size_t idx;
        if ((st = anc_tk_strmap_put(&tok->added_map, content, len, (int32_t)tok->n_added, &existed, &idx, err))) return st;
        anc_tk_added *a;
        if (existed) {
            a = &tok->added[tok->added_map.ents[idx].value];
        } else {
            a = &tok->added[tok->n_added++];
            if ((st = anc_tk_dup(content, len, &a->content, err))) return st;
            a->len = len;
            long e = anc_tk_strmap_find(&tok->bpe.vocab, content, len);
            /* HF ignores the written id: a token the model knows keeps the model's
             * id, the others are numbered from the model's vocabulary size on
             * (files written by HF agree; HF only warns when they do not) */
            if (e >= 0) {
                a->id = tok->bpe.vocab.ents[e].value;
            } else {
                if (*next_id > MAX_TOKEN_ID)
                    return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "too many added tokens");
                a->id = (int32_t)(*next_id)++;
            }
        }
        a->special = (uint8_t)special;
        a->single_word = (uint8_t)single_word;
        a->lstrip = (uint8_t)lstrip;
        a->rstrip = (uint8_t)rstrip;
        a->normalized = (uint8_t)normalized;
    }
    return ANC_OK;
}

/* id -> token table: added tokens take precedence over the model vocab. */
static anc_status build_ids(anc_tokenizer *tok, const anc_tk_ctx *cx, anc_error *err) {
    size_t max_id = 0, count = tok->bpe.vocab.n + tok->n_added;
    for (size_t i = 0; i < tok->bpe.vocab.n; i++)
        if ((size_t)tok->bpe.vocab.ents[i].value > max_id) max_id = (size_t)tok->bpe.vocab.ents[i].value;
    for (size_t i = 0; i < tok->n_added; i++)
        if ((size_t)tok->added[i].id > max_id) max_id = (size_t)tok->added[i].id;
    if (count == 0) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.vocab", "the vocabulary is empty");
    if (max_id + 1 > 16 * count + ((size_t)1 << 20))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "model.vocab", "token id %zu is far beyond the %zu tokens", max_id, count);
    tok->n_ids = max_id + 1;
    tok->ids = calloc(tok->n_ids, sizeof *tok->ids);
    if (!tok->ids) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < tok->bpe.vocab.n; i++) {
        const anc_tk_strent *e = &tok->bpe.vocab.ents[i];
        anc_tk_idtok *t = &tok->ids[e->value];
        if (t->s) continue; /* two tokens with one id: the first one decodes */
        t->s = t->dec = anc_tk_strmap_key(&tok->bpe.vocab, i);
        t->len = t->dec_len = e->len;
    }
    for (size_t i = 0; i < tok->n_added; i++) {
        const anc_tk_added *a = &tok->added[i];
        anc_tk_idtok *t = &tok->ids[a->id];
        t->s = a->content;
        t->len = (uint32_t)a->len;
        t->dec = a->norm ? a->norm : a->content;
        t->dec_len = (uint32_t)(a->norm ? a->norm_len : a->len);
        t->special = a->special;
    }
    return ANC_OK;
}

static int has_token(const anc_tokenizer *tok, int32_t id) {
    return id >= 0 && (size_t)id < tok->n_ids && tok->ids[id].s;
}

/* Every id a post-processor adds must be a token (else it could not be decoded). */
static anc_status check_postproc_ids(const anc_tokenizer *tok, const anc_tk_ctx *cx, const anc_tk_postproc *p,
                                     const char *path, anc_error *err) {
    char sub[ANC_TK_PATH];
    for (size_t k = 0; k < p->n_kids; k++) {
        snprintf(sub, sizeof sub, "%s.processors[%zu]", path, k);
        anc_status st = check_postproc_ids(tok, cx, &p->kids[k], sub, err);
        if (st) return st;
    }
    for (size_t k = 0; k < p->n_single; k++)
        for (size_t i = 0; i < p->single[k].n_ids; i++)
            if (!has_token(tok, p->single[k].ids[i]))
                return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "special token id %d of single[%zu] is not a token",
                                   (int)p->single[k].ids[i], k);
    if (p->kind == ANC_TK_PP_CLS_SEP && (!has_token(tok, p->cls_id) || !has_token(tok, p->sep_id)))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "cls or sep id is not a token");
    return ANC_OK;
}

static anc_status build_tries(anc_tokenizer *tok, anc_error *err) {
    anc_tk_buf norm = {0};
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < tok->n_added; i++) {
        anc_tk_added *a = &tok->added[i];
        if (!a->normalized) {
            st = anc_tk_trie_add(&tok->trie_raw, a->content, a->len, (int32_t)i, err);
            continue;
        }
        if (tok->normalizer) {
            st = anc_tk_normalize(tok, tok->normalizer, a->content, a->len, &norm, err);
            if (!st) st = anc_tk_dup(norm.data, norm.len, &a->norm, err);
            a->norm_len = norm.len;
        }
        if (!st)
            st = a->norm ? anc_tk_trie_add(&tok->trie_norm, a->norm, a->norm_len, (int32_t)i, err)
                         : anc_tk_trie_add(&tok->trie_norm, a->content, a->len, (int32_t)i, err);
    }
    anc_tk_buf_free(&norm);
    return st;
}

/* Allocates *node and loads section json (null: *node stays NULL). */
#define LOAD_SECTION(node, key, loader)                                                          \
    do {                                                                                         \
        json_t *sec_ = json_object_get(root, key);                                               \
        if (sec_ && !json_is_null(sec_)) {                                                       \
            node = calloc(1, sizeof *node);                                                      \
            if (!node) {                                                                         \
                st = anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");              \
                goto done;                                                                       \
            }                                                                                    \
            if ((st = loader)) goto done;                                                        \
        }                                                                                        \
    } while (0)

anc_status anc_tokenizer_load_text(anc_tokenizer **out, const char *json, size_t json_len, const char *config,
                                   size_t config_len, const char *source_name, anc_error *err) {
    *out = NULL;
    if (!json) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_load_text: NULL text");
    anc_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    anc_status st;
    json_t *root = NULL;
    if ((st = anc_tk_dup(source_name ? source_name : "tokenizer.json", strlen(source_name ? source_name : "tokenizer.json"),
                         &tok->source, err)))
        goto done;
    for (int i = 0; i < ANC_TK_N_SPECIAL; i++) tok->special_id[i] = -1;
    tok->add_bos = tok->add_eos = -1;
    anc_tk_byte_level_tables(tok);
    tok->md = pcre2_match_data_create(1, NULL);
    if (!tok->md) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    anc_tk_ctx cx = {tok->source};
    json_error_t je;
    root = json_loadb(json, json_len, JSON_ALLOW_NUL, &je);
    if (!root) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON (byte %d): %s", tok->source, je.line, je.column,
                           je.position, je.text);
        goto done;
    }
    if (!json_is_object(root)) {
        st = anc_tk_fail(err, ANC_ERR_FORMAT, &cx, "(top level)", "expected a JSON object");
        goto done;
    }
    json_t *version = json_object_get(root, "version");
    if (version && (!json_is_string(version) || strcmp(json_string_value(version), "1.0") != 0)) {
        st = anc_tk_fail(err, ANC_ERR_UNSUPPORTED, &cx, "version", "unknown tokenizer.json version (expected \"1.0\")");
        goto done;
    }
    if ((st = anc_tk_load_bpe(tok, &cx, json_object_get(root, "model"), err))) goto done;
    LOAD_SECTION(tok->normalizer, "normalizer", anc_tk_load_normalizer(tok->normalizer, &cx, sec_, "normalizer", err));
    LOAD_SECTION(tok->pretok, "pre_tokenizer", anc_tk_load_pretok(tok, tok->pretok, &cx, sec_, "pre_tokenizer", err));
    LOAD_SECTION(tok->decoder, "decoder", anc_tk_load_decoder(tok->decoder, &cx, sec_, "decoder", err));
    LOAD_SECTION(tok->post, "post_processor", anc_tk_load_postproc(tok, tok->post, &cx, sec_, "post_processor", err));
    if ((st = load_added(tok, &cx, json_object_get(root, "added_tokens"), err))) goto done;
    if ((st = build_tries(tok, err))) goto done;
    if ((st = build_ids(tok, &cx, err))) goto done;
    if (tok->post && (st = check_postproc_ids(tok, &cx, tok->post, "post_processor", err))) goto done;
    if (tok->bpe.unk_token) tok->special_id[ANC_TK_UNK] = anc_tokenizer_token_to_id(tok, tok->bpe.unk_token, tok->bpe.unk_len);
    if (config && (st = anc_tk_load_config(tok, config, config_len, "tokenizer_config.json", err))) goto done;
done:
    json_decref(root);
    if (st) {
        anc_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return ANC_OK;
}

anc_status anc_tokenizer_load(anc_tokenizer **out, const char *tokenizer_json_path, const char *tokenizer_config_path,
                              anc_error *err) {
    *out = NULL;
    if (!tokenizer_json_path) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_load: NULL path");
    char *json = NULL, *config = NULL;
    size_t json_len = 0, config_len = 0;
    anc_status st = anc_read_file(tokenizer_json_path, MAX_TOKENIZER_JSON, &json, &json_len, err);
    if (!st && tokenizer_config_path)
        st = anc_read_file(tokenizer_config_path, MAX_CONFIG_JSON, &config, &config_len, err);
    if (!st) st = anc_tokenizer_load_text(out, json, json_len, NULL, 0, tokenizer_json_path, err);
    if (!st && config) {
        st = anc_tk_load_config(*out, config, config_len, tokenizer_config_path, err);
        if (st) {
            anc_tokenizer_free(*out);
            *out = NULL;
        }
    }
    free(json);
    free(config);
    return st;
}

anc_status anc_tokenizer_load_dir(anc_tokenizer **out, const char *model_dir, anc_error *err) {
    *out = NULL;
    if (!model_dir) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_load_dir: NULL directory");
    char *json = anc_path_join(model_dir, "tokenizer.json");
    char *config = anc_path_join(model_dir, "tokenizer_config.json");
    anc_status st;
    if (!json || !config) st = anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    else if (!anc_path_exists(json)) st = anc_error_set(err, ANC_ERR_IO, "%s: no tokenizer.json in this folder", model_dir);
    else st = anc_tokenizer_load(out, json, anc_path_exists(config) ? config : NULL, err);
    free(json);
    free(config);
    return st;
}

void anc_tokenizer_free(anc_tokenizer *tok) {
    if (!tok) return;
    free(tok->source);
    anc_tk_strmap_free(&tok->bpe.vocab);
    anc_tk_u64map_free(&tok->bpe.merges);
    free(tok->bpe.unk_token);
    free(tok->bpe.prefix);
    free(tok->bpe.suffix);
    anc_tk_normalizer_free(tok->normalizer);
    free(tok->normalizer);
    anc_tk_pretok_free(tok->pretok);
    free(tok->pretok);
    anc_tk_decoder_free(tok->decoder);
    free(tok->decoder);
    anc_tk_postproc_free(tok->post);
    free(tok->post);
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].norm);
    }
    free(tok->added);
    anc_tk_strmap_free(&tok->added_map);
    anc_tk_trie_free(&tok->trie_raw);
    anc_tk_trie_free(&tok->trie_norm);
    free(tok->ids);
    anc_tk_regex_free(&tok->byte_level_re);
    if (tok->md) pcre2_match_data_free(tok->md);
    free(tok->bpe_syms);
    free(tok->bpe_heap);
    anc_tk_strmap_free(&tok->cache);
    free(tok->cache_ids);
    for (int i = 0; i < ANC_TK_N_SPECIAL; i++) free(tok->special_str[i]);
    for (size_t i = 0; i < tok->n_tpl; i++) {
        free(tok->tpl_names[i]);
        free(tok->tpl_texts[i]);
    }
    free(tok->tpl_names);
    free(tok->tpl_texts);
    free(tok);
}

/* ---- lookups ---- */

int32_t anc_tokenizer_token_to_id(const anc_tokenizer *tok, const char *token, size_t len) {
    if (!tok || !token) return -1;
    long e = anc_tk_strmap_find(&tok->added_map, token, len);
    if (e >= 0) return tok->added[tok->added_map.ents[e].value].id;
    e = anc_tk_strmap_find(&tok->bpe.vocab, token, len);
    return e >= 0 ? tok->bpe.vocab.ents[e].value : -1;
}

const char *anc_tokenizer_id_to_token(const anc_tokenizer *tok, int32_t id, size_t *len) {
    if (len) *len = 0;
    if (!tok || id < 0 || (size_t)id >= tok->n_ids || !tok->ids[id].s) return NULL;
    if (len) *len = tok->ids[id].len;
    return tok->ids[id].s;
}

size_t anc_tokenizer_vocab_size(const anc_tokenizer *tok) {
    return tok ? tok->n_ids : 0;
}

int anc_tokenizer_is_special(const anc_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || (size_t)id >= tok->n_ids) return 0;
    return tok->ids[id].special;
}
