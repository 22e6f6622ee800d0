/* Pre-tokenizers of tokenizer.json: ByteLevel, Split, Digits, Metaspace,
 * Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer,
 * CharDelimiterSplit and Sequence. Each splits the untokenised pieces into
 * smaller ones; pieces that already are tokens pass through. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

/* GPT-2's pattern, used by ByteLevel when use_regex is set. */
const char anc_tk_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void anc_tk_byte_level_tables(anc_tokenizer *tok) {
    int n = 0;
    for (int i = 0; i < 324; i++) tok->char_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp;
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) cp = (uint32_t)b;
        else cp = 256u + (uint32_t)n++;
        tok->byte_char_len[b] = (uint8_t)anc_tk_utf8_put(cp, tok->byte_char[b]);
        tok->char_byte[cp] = (int16_t)b;
    }
}

/* Pushes the kept spans (flag 0, non-empty) of s as pieces. */
static anc_status emit_spans(anc_tk_pieces *out, const char *s, const anc_tk_spans *sp, int at_origin,
                             anc_error *err) {
    for (size_t i = 0; i < sp->n; i++) {
        const anc_tk_span *v = &sp->v[i];
        if (v->flag || v->end == v->start) continue;
        anc_status st = anc_tk_pieces_push(out, s + v->start, v->end - v->start, -1, at_origin && v->start == 0, err);
        if (st) return st;
    }
    return ANC_OK;
}

static int pred_numeric(uint32_t c, const void *ctx) {
    (void)ctx;
    return anc_tk_is_numeric(c);
}
static int pred_whitespace(uint32_t c, const void *ctx) {
    (void)ctx;
    return anc_tk_is_whitespace(c);
}
static int pred_punct(uint32_t c, const void *ctx) {
    (void)ctx;
    return anc_tk_is_punctuation(c);
}
static int pred_char(uint32_t c, const void *ctx) {
    return c == *(const uint32_t *)ctx;
}

static anc_status pred_split(anc_tk_char_pred pred, const void *ctx, anc_tk_behavior b, const char *s, size_t len,
                             int at_origin, anc_tk_spans *sp, anc_tk_pieces *out, anc_error *err) {
    anc_status st = anc_tk_pred_spans(pred, ctx, s, len, sp, err);
    if (st) return st;
    anc_tk_spans_apply(sp, b, 0);
    return emit_spans(out, s, sp, at_origin, err);
}

/* HF Whitespace: the regex \w+|[^\w\s]+ inverted and removed, i.e. maximal
 * runs of word characters or of "other" characters, whitespace dropped. */
static anc_status whitespace_split(const char *s, size_t len, int at_origin, anc_tk_pieces *out, anc_error *err) {
    size_t i = 0, run = 0;
    int run_class = -1; /* 0 word, 1 other, 2 space */
    while (i <= len) {
        size_t b = i;
        int cls = 3; /* end */
        if (i < len) {
            uint32_t c = anc_tk_utf8_next(s, len, &i);
            cls = anc_tk_is_word(c) ? 0 : anc_tk_is_whitespace(c) ? 2 : 1;
        } else {
            i++;
        }
        if (cls != run_class) {
            if (run_class == 0 || run_class == 1) {
                anc_status st = anc_tk_pieces_push(out, s + run, b - run, -1, at_origin && run == 0, err);
                if (st) return st;
            }
            run = b;
            run_class = cls;
        }
    }
    return ANC_OK;
}

static anc_status byte_level(anc_tokenizer *tok, const anc_tk_pretok *p, const char *s, size_t len, int at_origin,
                             anc_tk_spans *sp, anc_tk_buf *scratch, anc_tk_pieces *out, anc_error *err) {
    anc_status st;
    scratch->len = 0;
    if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
        if ((st = anc_tk_buf_append(scratch, " ", 1, err))) return st;
    }
    if ((st = anc_tk_buf_append(scratch, s, len, err))) return st;
    const char *t = scratch->data;
    size_t tl = scratch->len;
    sp->n = 0;
    if (p->use_regex) {
        if ((st = anc_tk_regex_spans(&tok->byte_level_re, tok->md, t, tl, sp, err))) return st;
        anc_tk_spans_apply(sp, ANC_TK_ISOLATED, 0);
    } else if ((st = anc_tk_spans_push(sp, 0, tl, 0, err))) {
        return st;
    }
    for (size_t k = 0; k < sp->n; k++) {
        size_t a = sp->v[k].start, e = sp->v[k].end;
        if (e == a) continue;
        if ((st = anc_tk_pieces_push(out, "", 0, -1, at_origin && a == 0, err))) return st;
        anc_tk_piece *pc = &out->v[out->n - 1];
        if ((st = anc_tk_buf_reserve(&out->text, (e - a) * 2, err))) return st;
        char *w = out->text.data + out->text.len;
        size_t wl = 0;
        for (size_t j = a; j < e; j++) {
            unsigned char b = (unsigned char)t[j];
            memcpy(w + wl, tok->byte_char[b], tok->byte_char_len[b]);
            wl += tok->byte_char_len[b];
        }
        out->text.len += wl;
        out->text.data[out->text.len] = '\0';
        pc->len = wl;
    }
    return ANC_OK;
}

static anc_status metaspace(const anc_tk_pretok *p, const char *s, size_t len, int at_origin, anc_tk_spans *sp,
                            anc_tk_buf *scratch, anc_tk_pieces *out, anc_error *err) {
    anc_status st;
    scratch->len = 0;
    /* HF replaces ' ' first, so a leading space counts as a replacement */
    int starts_with_rep = (len >= p->ch_len && memcmp(s, p->ch_utf8, p->ch_len) == 0) || (len > 0 && s[0] == ' ');
    int prepend = (p->prepend_scheme == ANC_TK_PREPEND_ALWAYS && !starts_with_rep) ||
                  (p->prepend_scheme == ANC_TK_PREPEND_FIRST && !starts_with_rep && at_origin);
    if (prepend && (st = anc_tk_buf_append(scratch, p->ch_utf8, p->ch_len, err))) return st;
    if ((st = anc_tk_buf_reserve(scratch, len * p->ch_len, err))) return st;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') st = anc_tk_buf_append(scratch, p->ch_utf8, p->ch_len, err);
        else st = anc_tk_buf_append(scratch, s + i, 1, err);
        if (st) return st;
    }
    if (!p->split) return anc_tk_pieces_push(out, scratch->data, scratch->len, -1, at_origin, err);
    return pred_split(pred_char, &p->ch, ANC_TK_MERGED_WITH_NEXT, scratch->data, scratch->len, at_origin, sp, out, err);
}

/* Runs one (non-Sequence) pre-tokenizer over every untokenised piece. */
static anc_status run_one(anc_tokenizer *tok, const anc_tk_pretok *p, const anc_tk_pieces *in, anc_tk_pieces *out,
                          anc_error *err) {
    anc_tk_spans sp = {0}, sp2 = {0};
    anc_tk_buf scratch = {0};
    anc_tk_pieces mid = {0};
    anc_status st = ANC_OK;
    for (size_t k = 0; !st && k < in->n; k++) {
        const anc_tk_piece *pc = &in->v[k];
        const char *s = in->text.data + pc->off;
        size_t len = pc->len;
        int org = pc->at_origin;
        if (pc->id >= 0) {
            st = anc_tk_pieces_push(out, s, len, pc->id, org, err);
            continue;
        }
        switch (p->kind) {
        case ANC_TK_P_BYTE_LEVEL:
            st = byte_level(tok, p, s, len, org, &sp, &scratch, out, err);
            break;
        case ANC_TK_P_SPLIT:
            st = anc_tk_regex_spans(&p->re, tok->md, s, len, &sp, err);
            if (!st) {
                anc_tk_spans_apply(&sp, (anc_tk_behavior)p->behavior, p->invert);
                st = emit_spans(out, s, &sp, org, err);
            }
            break;
        case ANC_TK_P_DIGITS:
            st = pred_split(pred_numeric, NULL, p->individual_digits ? ANC_TK_ISOLATED : ANC_TK_CONTIGUOUS, s, len,
                            org, &sp, out, err);
            break;
        case ANC_TK_P_METASPACE:
            st = metaspace(p, s, len, org, &sp, &scratch, out, err);
            break;
        case ANC_TK_P_WHITESPACE:
            st = whitespace_split(s, len, org, out, err);
            break;
        case ANC_TK_P_WHITESPACE_SPLIT:
            st = pred_split(pred_whitespace, NULL, ANC_TK_REMOVED, s, len, org, &sp, out, err);
            break;
        case ANC_TK_P_PUNCTUATION:
            st = pred_split(pred_punct, NULL, (anc_tk_behavior)p->behavior, s, len, org, &sp, out, err);
            break;
        case ANC_TK_P_BERT:
            anc_tk_pieces_reset(&mid);
            st = pred_split(pred_whitespace, NULL, ANC_TK_REMOVED, s, len, org, &sp, &mid, err);
            for (size_t j = 0; !st && j < mid.n; j++)
                st = pred_split(pred_punct, NULL, ANC_TK_ISOLATED, mid.text.data + mid.v[j].off, mid.v[j].len,
                                mid.v[j].at_origin, &sp2, out, err);
            break;
        case ANC_TK_P_CHAR_DELIMITER:
            st = pred_split(pred_char, &p->ch, ANC_TK_REMOVED, s, len, org, &sp, out, err);
            break;
        default:
            st = anc_error_set(err, ANC_ERR_INTERNAL, "tokenizer: unknown pre-tokenizer kind %d", p->kind);
        }
    }
    anc_tk_spans_free(&sp);
    anc_tk_spans_free(&sp2);
    anc_tk_buf_free(&scratch);
    anc_tk_pieces_free(&mid);
    return st;
}

anc_status anc_tk_pretokenize(anc_tokenizer *tok, const anc_tk_pretok *p, anc_tk_pieces *cur, anc_tk_pieces *tmp,
                              anc_error *err) {
    if (p->kind == ANC_TK_P_SEQUENCE) {
        for (size_t k = 0; k < p->n_kids; k++) {
            anc_status st = anc_tk_pretokenize(tok, &p->kids[k], cur, tmp, err);
            if (st) return st;
        }
        return ANC_OK;
    }
    anc_tk_pieces_reset(tmp);
    anc_status st = run_one(tok, p, cur, tmp, err);
    if (st) return st;
    anc_tk_pieces t = *cur;
    *cur = *tmp;
    *tmp = t;
    return ANC_OK;
}

void anc_tk_pretok_free(anc_tk_pretok *p) {
    if (!p) return;
    for (size_t k = 0; k < p->n_kids; k++) anc_tk_pretok_free(&p->kids[k]);
    free(p->kids);
    anc_tk_regex_free(&p->re);
    p->kids = NULL;
    p->n_kids = 0;
}
