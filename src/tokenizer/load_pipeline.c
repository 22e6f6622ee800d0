/* The component sections of tokenizer.json: "normalizer", "pre_tokenizer",
 * "decoder" and "post_processor". Unknown component types are
 * ANC_ERR_UNSUPPORTED; malformed ones ANC_ERR_FORMAT, naming the key path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

#define MAX_DEPTH 16

static anc_status unsupported(const anc_tk_ctx *cx, const char *path, const char *what, const char *type,
                              anc_error *err) {
    return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, path, "%s type \"%.40s\" is not supported", what, type);
}

/* Reads array member key of obj (a Sequence's children) into *kids. */
static anc_status kids_array(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, size_t elem,
                             void **kids, size_t *n, json_t **arr, anc_error *err) {
    *arr = json_object_get(obj, key);
    if (!json_is_array(*arr)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be an array", key);
    *n = json_array_size(*arr);
    *kids = calloc(*n ? *n : 1, elem);
    if (!*kids) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    return ANC_OK;
}

/* ---- normalizers ---- */

static anc_status normalizer(anc_tk_normalizer *out, const anc_tk_ctx *cx, json_t *j, const char *path, int depth,
                             anc_error *err) {
    const char *type, *s;
    size_t len;
    anc_status st = anc_tk_get_type(cx, j, path, &type, err);
    if (st) return st;
    if (depth > MAX_DEPTH) return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, path, "Sequence nested too deeply");
    if (strcmp(type, "Sequence") == 0) {
        json_t *arr;
        out->kind = ANC_TK_N_SEQUENCE;
        if ((st = kids_array(cx, j, "normalizers", path, sizeof *out->kids, (void **)&out->kids, &out->n_kids, &arr, err)))
            return st;
        for (size_t k = 0; k < out->n_kids; k++) {
            char p[ANC_TK_PATH];
            snprintf(p, sizeof p, "%s.normalizers[%zu]", path, k);
            if ((st = normalizer(&out->kids[k], cx, json_array_get(arr, k), p, depth + 1, err))) return st;
        }
    } else if (strcmp(type, "Prepend") == 0) {
        out->kind = ANC_TK_N_PREPEND;
        if ((st = anc_tk_get_string(cx, j, "prepend", path, 1, &s, &len, err))) return st;
        if ((st = anc_tk_dup(s, len, &out->str, err))) return st;
        out->str_len = len;
    } else if (strcmp(type, "Replace") == 0) {
        out->kind = ANC_TK_N_REPLACE;
        if ((st = anc_tk_get_string(cx, j, "content", path, 1, &s, &len, err))) return st;
        if ((st = anc_tk_dup(s, len, &out->str, err))) return st;
        out->str_len = len;
        if ((st = anc_tk_load_pattern(&out->re, cx, j, path, err))) return st;
    } else if (strcmp(type, "NFC") == 0) {
        out->kind = ANC_TK_N_NFC;
    } else if (strcmp(type, "NFD") == 0) {
        out->kind = ANC_TK_N_NFD;
    } else if (strcmp(type, "NFKC") == 0) {
        out->kind = ANC_TK_N_NFKC;
    } else if (strcmp(type, "NFKD") == 0) {
        out->kind = ANC_TK_N_NFKD;
    } else if (strcmp(type, "Lowercase") == 0) {
        out->kind = ANC_TK_N_LOWERCASE;
    } else if (strcmp(type, "Strip") == 0) {
        out->kind = ANC_TK_N_STRIP;
        if ((st = anc_tk_get_bool(cx, j, "strip_left", path, 1, &out->left, err))) return st;
        if ((st = anc_tk_get_bool(cx, j, "strip_right", path, 1, &out->right, err))) return st;
    } else if (strcmp(type, "StripAccents") == 0) {
        out->kind = ANC_TK_N_STRIP_ACCENTS;
    } else if (strcmp(type, "ByteLevel") == 0) {
        out->kind = ANC_TK_N_BYTE_LEVEL;
    } else {
        return unsupported(cx, path, "normalizer", type, err);
    }
    return ANC_OK;
}

anc_status anc_tk_load_normalizer(anc_tk_normalizer *out, const anc_tk_ctx *cx, json_t *json, const char *path,
                                  anc_error *err) {
    return normalizer(out, cx, json, path, 0, err);
}

/* ---- pre-tokenizers ---- */

static anc_status prepend_scheme(const anc_tk_ctx *cx, json_t *j, const char *path, int *scheme, anc_error *err) {
    const char *s;
    int add_prefix_space;
    anc_status st = anc_tk_get_string(cx, j, "prepend_scheme", path, 0, &s, NULL, err);
    if (st) return st;
    *scheme = ANC_TK_PREPEND_ALWAYS;
    if (s) {
        if (strcmp(s, "always") == 0) *scheme = ANC_TK_PREPEND_ALWAYS;
        else if (strcmp(s, "first") == 0) *scheme = ANC_TK_PREPEND_FIRST;
        else if (strcmp(s, "never") == 0) *scheme = ANC_TK_PREPEND_NEVER;
        else return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "prepend_scheme must be always, first or never");
    }
    if ((st = anc_tk_get_bool(cx, j, "add_prefix_space", path, 1, &add_prefix_space, err))) return st;
    if (!add_prefix_space) {
        if (s && *scheme != ANC_TK_PREPEND_NEVER)
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "add_prefix_space does not match declared prepend_scheme");
        *scheme = ANC_TK_PREPEND_NEVER;
    }
    return ANC_OK;
}

static anc_status behavior(const anc_tk_ctx *cx, json_t *j, const char *path, int required, int *out, anc_error *err) {
    const char *s;
    anc_status st = anc_tk_get_string(cx, j, "behavior", path, required, &s, NULL, err);
    if (st) return st;
    *out = ANC_TK_ISOLATED;
    if (s && (*out = anc_tk_behavior_from_name(s)) < 0)
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path,
                           "behavior \"%.40s\" is not Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous", s);
    return ANC_OK;
}

static anc_status pretok(anc_tokenizer *tok, anc_tk_pretok *out, const anc_tk_ctx *cx, json_t *j, const char *path,
                         int depth, anc_error *err) {
    const char *type;
    anc_status st = anc_tk_get_type(cx, j, path, &type, err);
    if (st) return st;
    if (depth > MAX_DEPTH) return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, path, "Sequence nested too deeply");
    if (strcmp(type, "Sequence") == 0) {
        json_t *arr;
        out->kind = ANC_TK_P_SEQUENCE;
        if ((st = kids_array(cx, j, "pretokenizers", path, sizeof *out->kids, (void **)&out->kids, &out->n_kids, &arr, err)))
            return st;
        for (size_t k = 0; k < out->n_kids; k++) {
            char p[ANC_TK_PATH];
            snprintf(p, sizeof p, "%s.pretokenizers[%zu]", path, k);
            if ((st = pretok(tok, &out->kids[k], cx, json_array_get(arr, k), p, depth + 1, err))) return st;
        }
    } else if (strcmp(type, "ByteLevel") == 0) {
        out->kind = ANC_TK_P_BYTE_LEVEL;
        if ((st = anc_tk_get_bool(cx, j, "add_prefix_space", path, 1, &out->add_prefix_space, err))) return st;
        if ((st = anc_tk_get_bool(cx, j, "use_regex", path, 1, &out->use_regex, err))) return st;
        if (out->use_regex && !tok->byte_level_re.code) {
            char where[ANC_TK_PATH + 64];
            snprintf(where, sizeof where, "%s: built-in GPT-2 pattern", cx->file);
            st = anc_tk_regex_compile(&tok->byte_level_re, anc_tk_gpt2_pattern, strlen(anc_tk_gpt2_pattern), 0, where,
                                      err);
            if (st) return st;
        }
    } else if (strcmp(type, "Split") == 0) {
        out->kind = ANC_TK_P_SPLIT;
        if ((st = behavior(cx, j, path, 1, &out->behavior, err))) return st;
        if ((st = anc_tk_get_bool(cx, j, "invert", path, 0, &out->invert, err))) return st;
        if ((st = anc_tk_load_pattern(&out->re, cx, j, path, err))) return st;
    } else if (strcmp(type, "Digits") == 0) {
        out->kind = ANC_TK_P_DIGITS;
        if ((st = anc_tk_get_bool(cx, j, "individual_digits", path, 0, &out->individual_digits, err))) return st;
    } else if (strcmp(type, "Metaspace") == 0) {
        out->kind = ANC_TK_P_METASPACE;
        if ((st = anc_tk_get_char(cx, j, "replacement", path, &out->ch, out->ch_utf8, &out->ch_len, err))) return st;
        if ((st = prepend_scheme(cx, j, path, &out->prepend_scheme, err))) return st;
        if ((st = anc_tk_get_bool(cx, j, "split", path, 1, &out->split, err))) return st;
    } else if (strcmp(type, "Whitespace") == 0) {
        out->kind = ANC_TK_P_WHITESPACE;
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        out->kind = ANC_TK_P_WHITESPACE_SPLIT;
    } else if (strcmp(type, "Punctuation") == 0) {
        out->kind = ANC_TK_P_PUNCTUATION;
        if ((st = behavior(cx, j, path, 0, &out->behavior, err))) return st;
    } else if (strcmp(type, "BertPreTokenizer") == 0) {
        out->kind = ANC_TK_P_BERT;
    } else if (strcmp(type, "CharDelimiterSplit") == 0) {
        out->kind = ANC_TK_P_CHAR_DELIMITER;
        if ((st = anc_tk_get_char(cx, j, "delimiter", path, &out->ch, out->ch_utf8, &out->ch_len, err))) return st;
    } else {
        return unsupported(cx, path, "pre-tokenizer", type, err);
    }
    return ANC_OK;
}

anc_status anc_tk_load_pretok(anc_tokenizer *tok, anc_tk_pretok *out, const anc_tk_ctx *cx, json_t *json,
                              const char *path, anc_error *err) {
    return pretok(tok, out, cx, json, path, 0, err);
}

/* ---- decoders ---- */

static anc_status decoder(anc_tk_decoder *out, const anc_tk_ctx *cx, json_t *j, const char *path, int depth,
                          anc_error *err) {
    const char *type, *s;
    size_t len;
    anc_status st = anc_tk_get_type(cx, j, path, &type, err);
    if (st) return st;
    if (depth > MAX_DEPTH) return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, path, "Sequence nested too deeply");
    if (strcmp(type, "Sequence") == 0) {
        json_t *arr;
        out->kind = ANC_TK_D_SEQUENCE;
        if ((st = kids_array(cx, j, "decoders", path, sizeof *out->kids, (void **)&out->kids, &out->n_kids, &arr, err)))
            return st;
        for (size_t k = 0; k < out->n_kids; k++) {
            char p[ANC_TK_PATH];
            snprintf(p, sizeof p, "%s.decoders[%zu]", path, k);
            if ((st = decoder(&out->kids[k], cx, json_array_get(arr, k), p, depth + 1, err))) return st;
        }
    } else if (strcmp(type, "ByteLevel") == 0) {
        out->kind = ANC_TK_D_BYTE_LEVEL;
    } else if (strcmp(type, "Metaspace") == 0) {
        char u[4];
        size_t ul;
        out->kind = ANC_TK_D_METASPACE;
        if ((st = anc_tk_get_char(cx, j, "replacement", path, &out->ch, u, &ul, err))) return st;
        if ((st = prepend_scheme(cx, j, path, &out->prepend_scheme, err))) return st;
    } else if (strcmp(type, "ByteFallback") == 0) {
        out->kind = ANC_TK_D_BYTE_FALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        out->kind = ANC_TK_D_FUSE;
    } else if (strcmp(type, "Strip") == 0) {
        char u[4];
        size_t ul;
        out->kind = ANC_TK_D_STRIP;
        if ((st = anc_tk_get_char(cx, j, "content", path, &out->ch, u, &ul, err))) return st;
        if ((st = anc_tk_get_size(cx, j, "start", path, 0, &out->start, err))) return st;
        if ((st = anc_tk_get_size(cx, j, "stop", path, 0, &out->stop, err))) return st;
    } else if (strcmp(type, "Replace") == 0) {
        out->kind = ANC_TK_D_REPLACE;
        if ((st = anc_tk_get_string(cx, j, "content", path, 1, &s, &len, err))) return st;
        if ((st = anc_tk_dup(s, len, &out->str, err))) return st;
        out->str_len = len;
        if ((st = anc_tk_load_pattern(&out->re, cx, j, path, err))) return st;
    } else if (strcmp(type, "BPEDecoder") == 0) {
        out->kind = ANC_TK_D_BPE;
        if ((st = anc_tk_get_string(cx, j, "suffix", path, 0, &s, &len, err))) return st;
        if (!s) {
            s = "</w>";
            len = 4;
        }
        if ((st = anc_tk_dup(s, len, &out->str, err))) return st;
        out->str_len = len;
    } else {
        return unsupported(cx, path, "decoder", type, err);
    }
    return ANC_OK;
}

anc_status anc_tk_load_decoder(anc_tk_decoder *out, const anc_tk_ctx *cx, json_t *json, const char *path,
                               anc_error *err) {
    return decoder(out, cx, json, path, 0, err);
}

/* ---- post-processors ---- */

/* [token, id] of Bert/RobertaProcessing. */
static anc_status token_pair(const anc_tk_ctx *cx, json_t *j, const char *key, const char *path, int32_t *id,
                             anc_error *err) {
    json_t *v = json_object_get(j, key);
    json_t *i = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) || !json_is_integer(i) ||
        json_integer_value(i) < 0 || json_integer_value(i) > 0x7FFFFFFE)
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"%s\" must be [token, id]", key);
    *id = (int32_t)json_integer_value(i);
    return ANC_OK;
}

static anc_status template_single(anc_tk_postproc *out, const anc_tk_ctx *cx, json_t *j, const char *path,
                                  anc_error *err) {
    char p[ANC_TK_PATH];
    json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    snprintf(p, sizeof p, "%s.single", path);
    if (!json_is_array(single)) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, p, "must be an array of pieces");
    if (specials && !json_is_object(specials) && !json_is_null(specials))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "\"special_tokens\" must be an object");
    out->n_single = json_array_size(single);
    out->single = calloc(out->n_single ? out->n_single : 1, sizeof *out->single);
    if (!out->single) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t k = 0; k < out->n_single; k++) {
        json_t *piece = json_array_get(single, k), *seq = json_object_get(piece, "Sequence"),
               *sp = json_object_get(piece, "SpecialToken");
        snprintf(p, sizeof p, "%s.single[%zu]", path, k);
        if (seq && json_is_object(seq)) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (!id || strcmp(id, "A") != 0)
                return anc_tk_fail(err, ANC_ERR_FORMAT, cx, p, "a single-sequence template may only use sequence \"A\"");
            out->single[k].is_sequence = 1;
            continue;
        }
        const char *name = sp ? json_string_value(json_object_get(sp, "id")) : NULL;
        if (!name) return anc_tk_fail(err, ANC_ERR_FORMAT, cx, p, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        json_t *def = json_object_get(specials, name), *ids = json_object_get(def, "ids");
        if (!json_is_array(ids))
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, p, "special token \"%.60s\" is missing from special_tokens", name);
        size_t n = json_array_size(ids);
        out->single[k].ids = malloc((n ? n : 1) * sizeof(int32_t));
        if (!out->single[k].ids) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(ids, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7FFFFFFE)
                return anc_tk_fail(err, ANC_ERR_FORMAT, cx, p, "special token \"%.60s\" has a bad id", name);
            out->single[k].ids[i] = (int32_t)json_integer_value(v);
        }
        out->single[k].n_ids = n;
    }
    return ANC_OK;
}

static anc_status postproc(anc_tk_postproc *out, const anc_tk_ctx *cx, json_t *j, const char *path, int depth,
                           anc_error *err) {
    const char *type;
    anc_status st = anc_tk_get_type(cx, j, path, &type, err);
    if (st) return st;
    if (depth > MAX_DEPTH) return anc_tk_fail(err, ANC_ERR_UNSUPPORTED, cx, path, "Sequence nested too deeply");
    if (strcmp(type, "Sequence") == 0) {
        json_t *arr;
        out->kind = ANC_TK_PP_SEQUENCE;
        if ((st = kids_array(cx, j, "processors", path, sizeof *out->kids, (void **)&out->kids, &out->n_kids, &arr, err)))
            return st;
        for (size_t k = 0; k < out->n_kids; k++) {
            char p[ANC_TK_PATH];
            snprintf(p, sizeof p, "%s.processors[%zu]", path, k);
            if ((st = postproc(&out->kids[k], cx, json_array_get(arr, k), p, depth + 1, err))) return st;
        }
    } else if (strcmp(type, "TemplateProcessing") == 0) {
        out->kind = ANC_TK_PP_TEMPLATE;
        return template_single(out, cx, j, path, err);
    } else if (strcmp(type, "ByteLevel") == 0) {
        out->kind = ANC_TK_PP_BYTE_LEVEL;
    } else if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        out->kind = ANC_TK_PP_CLS_SEP;
        if ((st = token_pair(cx, j, "cls", path, &out->cls_id, err))) return st;
        if ((st = token_pair(cx, j, "sep", path, &out->sep_id, err))) return st;
    } else {
        return unsupported(cx, path, "post-processor", type, err);
    }
    return ANC_OK;
}

anc_status anc_tk_load_postproc(anc_tokenizer *tok, anc_tk_postproc *out, const anc_tk_ctx *cx, json_t *json,
                                const char *path, anc_error *err) {
    (void)tok;
    return postproc(out, cx, json, path, 0, err);
}

void anc_tk_postproc_free(anc_tk_postproc *p) {
    if (!p) return;
    for (size_t k = 0; k < p->n_kids; k++) anc_tk_postproc_free(&p->kids[k]);
    for (size_t k = 0; k < p->n_single; k++) free(p->single[k].ids);
    free(p->single);
    free(p->kids);
    p->kids = NULL;
    p->single = NULL;
    p->n_kids = p->n_single = 0;
}
