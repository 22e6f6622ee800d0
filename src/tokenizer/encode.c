/* Encoding, in HF's order: split out non-normalized added tokens, normalize
 * each remaining piece and split out normalized added tokens, pre-tokenize,
 * run BPE on every piece, then (add_special) add the special tokens. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

typedef struct {
    int32_t *v;
    size_t n, cap;
} id_vec;

static anc_status post_process(const anc_tokenizer *tok, const anc_tk_postproc *p, id_vec *ids, anc_error *err) {
    anc_status st = ANC_OK;
    id_vec out = {0};
    switch (p->kind) {
    case ANC_TK_PP_SEQUENCE:
        for (size_t k = 0; !st && k < p->n_kids; k++) st = post_process(tok, &p->kids[k], ids, err);
        return st;
    case ANC_TK_PP_BYTE_LEVEL:
        return ANC_OK; /* only adjusts offsets */
    case ANC_TK_PP_CLS_SEP:
        st = anc_tk_ids_push(&out.v, &out.n, &out.cap, p->cls_id, err);
        for (size_t i = 0; !st && i < ids->n; i++) st = anc_tk_ids_push(&out.v, &out.n, &out.cap, ids->v[i], err);
        if (!st) st = anc_tk_ids_push(&out.v, &out.n, &out.cap, p->sep_id, err);
        break;
    case ANC_TK_PP_TEMPLATE:
        for (size_t k = 0; !st && k < p->n_single; k++) {
            const anc_tk_tpl_piece *pc = &p->single[k];
            const int32_t *src = pc->is_sequence ? ids->v : pc->ids;
            size_t n = pc->is_sequence ? ids->n : pc->n_ids;
            for (size_t i = 0; !st && i < n; i++) st = anc_tk_ids_push(&out.v, &out.n, &out.cap, src[i], err);
        }
        break;
    default:
        return anc_error_set(err, ANC_ERR_INTERNAL, "tokenizer: unknown post-processor kind %d", p->kind);
    }
    if (st) {
        free(out.v);
        return st;
    }
    free(ids->v);
    *ids = out;
    return ANC_OK;
}

/* Adds BOS/EOS as tokenizer_config.json's add_bos_token/add_eos_token say. */
static anc_status config_specials(const anc_tokenizer *tok, id_vec *ids, anc_error *err) {
    id_vec out = {0};
    anc_status st = ANC_OK;
    if (tok->add_bos == 1) {
        if (tok->special_id[ANC_TK_BOS] < 0)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: add_bos_token is true but bos_token is not a known token",
                                 tok->source);
        st = anc_tk_ids_push(&out.v, &out.n, &out.cap, tok->special_id[ANC_TK_BOS], err);
    }
    for (size_t i = 0; !st && i < ids->n; i++) st = anc_tk_ids_push(&out.v, &out.n, &out.cap, ids->v[i], err);
    if (!st && tok->add_eos == 1) {
        if (tok->special_id[ANC_TK_EOS] < 0)
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: add_eos_token is true but eos_token is not a known token",
                               tok->source);
        else
            st = anc_tk_ids_push(&out.v, &out.n, &out.cap, tok->special_id[ANC_TK_EOS], err);
    }
    if (st) {
        free(out.v);
        return st;
    }
    free(ids->v);
    *ids = out;
    return ANC_OK;
}

anc_status anc_tokenizer_encode(anc_tokenizer *tok, const char *text, size_t len, int add_special, int32_t **ids,
                                size_t *n, anc_error *err) {
    *ids = NULL;
    *n = 0;
    if (!tok || (!text && len)) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_encode: NULL argument");
    size_t bad;
    if (!anc_tk_utf8_valid(text, len, &bad))
        return anc_error_set(err, ANC_ERR_INVALID, "text to encode is not valid UTF-8 (byte %zu)", bad);
    anc_tk_pieces a = {0}, b = {0};
    id_vec out = {0};
    anc_status st = ANC_OK;
    if (len) st = anc_tk_pieces_push(&a, text, len, -1, 1, err);
    if (!st) st = anc_tk_split_added(tok, &tok->trie_raw, 0, &a, &b, err);
    if (!st) {
        anc_tk_pieces_reset(&a);
        st = anc_tk_split_added(tok, &tok->trie_norm, 1, &b, &a, err);
    }
    if (!st && tok->pretok) st = anc_tk_pretokenize(tok, tok->pretok, &a, &b, err);
    for (size_t k = 0; !st && k < a.n; k++) {
        const anc_tk_piece *pc = &a.v[k];
        if (pc->id >= 0) st = anc_tk_ids_push(&out.v, &out.n, &out.cap, pc->id, err);
        else st = anc_tk_bpe_word(tok, a.text.data + pc->off, pc->len, &out.v, &out.n, &out.cap, err);
    }
    anc_tk_pieces_free(&a);
    anc_tk_pieces_free(&b);
    if (!st && add_special) {
        if (tok->add_bos >= 0 || tok->add_eos >= 0) st = config_specials(tok, &out, err);
        else if (tok->post) st = post_process(tok, tok->post, &out, err);
    }
    if (st) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return ANC_OK;
}
