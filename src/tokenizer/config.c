/* tokenizer_config.json: special token names (a string or an AddedToken
 * object with "content"), add_bos_token / add_eos_token, chat_template (a
 * string, or a list of {name, template}) and model_max_length; plus their
 * accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

static const char *special_keys[ANC_TK_N_SPECIAL] = {"bos_token", "eos_token", "pad_token", "unk_token"};

static anc_status special_token(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *root, int which, anc_error *err) {
    const char *key = special_keys[which];
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return ANC_OK;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, key, "must be a string, an object with a \"content\" string, or null");
    free(tok->special_str[which]);
    tok->special_str[which] = NULL;
    anc_status st = anc_tk_dup(json_string_value(v), json_string_length(v), &tok->special_str[which], err);
    if (st) return st;
    tok->special_id[which] = anc_tokenizer_token_to_id(tok, json_string_value(v), json_string_length(v));
    return ANC_OK;
}

static anc_status add_template(anc_tokenizer *tok, const char *name, size_t name_len, const char *text, size_t len,
                               anc_error *err) {
    char **nn = realloc(tok->tpl_names, (tok->n_tpl + 1) * sizeof *nn);
    if (!nn) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    tok->tpl_names = nn;
    char **nt = realloc(tok->tpl_texts, (tok->n_tpl + 1) * sizeof *nt);
    if (!nt) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory");
    tok->tpl_texts = nt;
    tok->tpl_names[tok->n_tpl] = tok->tpl_texts[tok->n_tpl] = NULL;
    anc_status st = anc_tk_dup(name, name_len, &tok->tpl_names[tok->n_tpl], err);
    if (!st) st = anc_tk_dup(text, len, &tok->tpl_texts[tok->n_tpl], err);
    tok->n_tpl++; /* counted even on failure so that free sees both slots */
    return st;
}

static anc_status chat_templates(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *root, anc_error *err) {
    json_t *v = json_object_get(root, "chat_template");
    if (!v || json_is_null(v)) return ANC_OK;
    if (json_is_string(v)) return add_template(tok, "default", 7, json_string_value(v), json_string_length(v), err);
    if (!json_is_array(v))
        return anc_tk_fail(err, ANC_ERR_FORMAT, cx, "chat_template", "must be a string or a list of {name, template}");
    for (size_t i = 0; i < json_array_size(v); i++) {
        char path[ANC_TK_PATH];
        snprintf(path, sizeof path, "chat_template[%zu]", i);
        json_t *e = json_array_get(v, i), *name = json_object_get(e, "name"), *text = json_object_get(e, "template");
        if (!json_is_string(name) || !json_is_string(text))
            return anc_tk_fail(err, ANC_ERR_FORMAT, cx, path, "must be an object with string \"name\" and \"template\"");
        anc_status st = add_template(tok, json_string_value(name), json_string_length(name), json_string_value(text),
                                     json_string_length(text), err);
        if (st) return st;
    }
    return ANC_OK;
}

anc_status anc_tk_load_config(anc_tokenizer *tok, const char *text, size_t len, const char *label, anc_error *err) {
    anc_tk_ctx cx = {label};
    json_error_t je;
    /* numbers as reals: model_max_length is often 1e30 written as an integer */
    json_t *root = json_loadb(text, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
    if (!root)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON (byte %d): %s", label, je.line, je.column,
                             je.position, je.text);
    anc_status st = ANC_OK;
    if (!json_is_object(root)) {
        st = anc_tk_fail(err, ANC_ERR_FORMAT, &cx, "(top level)", "expected a JSON object");
        goto done;
    }
    for (int i = 0; i < ANC_TK_N_SPECIAL && !st; i++) st = special_token(tok, &cx, root, i, err);
    if (st) goto done;
    json_t *b = json_object_get(root, "add_bos_token"), *e = json_object_get(root, "add_eos_token");
    if ((b && !json_is_boolean(b) && !json_is_null(b)) || (e && !json_is_boolean(e) && !json_is_null(e))) {
        st = anc_tk_fail(err, ANC_ERR_FORMAT, &cx, b && !json_is_boolean(b) ? "add_bos_token" : "add_eos_token",
                         "must be true or false");
        goto done;
    }
    if (json_is_boolean(b)) tok->add_bos = json_is_true(b);
    if (json_is_boolean(e)) tok->add_eos = json_is_true(e);
    json_t *m = json_object_get(root, "model_max_length");
    if (m && !json_is_null(m)) {
        if (!json_is_number(m)) {
            st = anc_tk_fail(err, ANC_ERR_FORMAT, &cx, "model_max_length", "must be a number");
            goto done;
        }
        double d = json_number_value(m);
        tok->max_len = d >= 9.2e18 ? INT64_MAX : d > 0 ? (int64_t)d : 0;
    }
    st = chat_templates(tok, &cx, root, err);
done:
    json_decref(root);
    return st;
}

/* ---- accessors ---- */

int32_t anc_tokenizer_bos_id(const anc_tokenizer *tok) { return tok ? tok->special_id[ANC_TK_BOS] : -1; }
int32_t anc_tokenizer_eos_id(const anc_tokenizer *tok) { return tok ? tok->special_id[ANC_TK_EOS] : -1; }
int32_t anc_tokenizer_pad_id(const anc_tokenizer *tok) { return tok ? tok->special_id[ANC_TK_PAD] : -1; }
int32_t anc_tokenizer_unk_id(const anc_tokenizer *tok) { return tok ? tok->special_id[ANC_TK_UNK] : -1; }

const char *anc_tokenizer_special_token(const anc_tokenizer *tok, const char *which) {
    static const char *names[ANC_TK_N_SPECIAL] = {"bos", "eos", "pad", "unk"};
    if (!tok || !which) return NULL;
    for (int i = 0; i < ANC_TK_N_SPECIAL; i++)
        if (strcmp(which, names[i]) == 0) return tok->special_str[i];
    return NULL;
}

int anc_tokenizer_add_bos(const anc_tokenizer *tok) { return tok ? tok->add_bos : -1; }
int anc_tokenizer_add_eos(const anc_tokenizer *tok) { return tok ? tok->add_eos : -1; }
int64_t anc_tokenizer_model_max_length(const anc_tokenizer *tok) { return tok ? tok->max_len : 0; }

const char *anc_tokenizer_chat_template(const anc_tokenizer *tok, const char *name) {
    if (!tok) return NULL;
    if (!name) name = "default";
    for (size_t i = 0; i < tok->n_tpl; i++)
        if (strcmp(tok->tpl_names[i], name) == 0) return tok->tpl_texts[i];
    return NULL;
}

size_t anc_tokenizer_chat_template_count(const anc_tokenizer *tok) { return tok ? tok->n_tpl : 0; }

const char *anc_tokenizer_chat_template_name(const anc_tokenizer *tok, size_t i) {
    return tok && i < tok->n_tpl ? tok->tpl_names[i] : NULL;
}
