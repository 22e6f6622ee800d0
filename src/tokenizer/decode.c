/* Decoding: ids -> token strings -> the tokenizer.json decoder chain
 * (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder,
 * Sequence) -> one string, as HF's Tokenizer::decode. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tk_internal.h"

typedef struct {
    anc_tk_buf text;
    size_t *off, *len;
    size_t n, cap;
} tk_list;

static void list_free(tk_list *l) {
    anc_tk_buf_free(&l->text);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static void list_reset(tk_list *l) {
    l->n = 0;
    l->text.len = 0;
}

/* Starts a new (empty) token at the end of l; append its bytes to l->text
 * and call list_close. */
static anc_status list_open(tk_list *l, anc_error *err) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        size_t *no = realloc(l->off, nc * sizeof *no);
        if (!no) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory decoding");
        l->off = no;
        size_t *nl = realloc(l->len, nc * sizeof *nl);
        if (!nl) return anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory decoding");
        l->len = nl;
        l->cap = nc;
    }
    l->off[l->n] = l->text.len;
    l->len[l->n] = 0;
    l->n++;
    return ANC_OK;
}

static void list_close(tk_list *l) {
    l->len[l->n - 1] = l->text.len - l->off[l->n - 1];
}

static anc_status list_push(tk_list *l, const char *s, size_t n, anc_error *err) {
    anc_status st = list_open(l, err);
    if (!st) st = anc_tk_buf_append(&l->text, s, n, err);
    if (!st) list_close(l);
    return st;
}

#define TOK(l, i) ((l)->text.data + (l)->off[i])

static anc_status dec_byte_level(const anc_tokenizer *tok, const tk_list *in, tk_list *out, anc_error *err) {
    anc_tk_buf bytes = {0};
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        const char *s = TOK(in, i);
        size_t len = in->len[i], j = 0, mark = bytes.len;
        int ok = 1;
        while (ok && j < len) {
            uint32_t c = anc_tk_utf8_next(s, len, &j);
            if (c < 324 && tok->char_byte[c] >= 0) {
                char b = (char)tok->char_byte[c];
                st = anc_tk_buf_append(&bytes, &b, 1, err);
                if (st) break;
            } else {
                ok = 0;
            }
        }
        if (!st && !ok) {
            bytes.len = mark; /* a character outside the byte alphabet: keep the token's own bytes */
            st = anc_tk_buf_append(&bytes, s, len, err);
        }
    }
    if (!st) st = list_open(out, err);
    if (!st) st = anc_tk_append_lossy(&out->text, (const unsigned char *)bytes.data, bytes.len, err);
    if (!st) list_close(out);
    anc_tk_buf_free(&bytes);
    return st;
}

static anc_status dec_metaspace(const anc_tk_decoder *d, const tk_list *in, tk_list *out, anc_error *err) {
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        const char *s = TOK(in, i);
        size_t len = in->len[i], j = 0;
        st = list_open(out, err);
        while (!st && j < len) {
            size_t b = j;
            uint32_t c = anc_tk_utf8_next(s, len, &j);
            if (c == d->ch) {
                if (!(i == 0 && d->prepend_scheme != ANC_TK_PREPEND_NEVER)) st = anc_tk_buf_append(&out->text, " ", 1, err);
            } else {
                st = anc_tk_buf_append(&out->text, s + b, j - b, err);
            }
        }
        if (!st) list_close(out);
    }
    return st;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xNN>" -> byte (Rust u8::from_str_radix on the two characters). */
static int byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    if (s[3] == '+') return hex_digit(s[4]);
    int h = hex_digit(s[3]), l = hex_digit(s[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

static anc_status flush_bytes(anc_tk_buf *pend, tk_list *out, anc_error *err) {
    anc_status st = ANC_OK;
    if (!pend->len) return ANC_OK;
    if (anc_tk_utf8_valid(pend->data, pend->len, NULL)) {
        st = list_push(out, pend->data, pend->len, err);
    } else {
        for (size_t k = 0; !st && k < pend->len; k++) st = list_push(out, "\xEF\xBF\xBD", 3, err);
    }
    pend->len = 0;
    return st;
}

static anc_status dec_byte_fallback(const tk_list *in, tk_list *out, anc_error *err) {
    anc_tk_buf pend = {0};
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        int b = byte_token(TOK(in, i), in->len[i]);
        if (b >= 0) {
            char c = (char)b;
            st = anc_tk_buf_append(&pend, &c, 1, err);
        } else {
            st = flush_bytes(&pend, out, err);
            if (!st) st = list_push(out, TOK(in, i), in->len[i], err);
        }
    }
    if (!st) st = flush_bytes(&pend, out, err);
    anc_tk_buf_free(&pend);
    return st;
}

static anc_status dec_strip(const anc_tk_decoder *d, const tk_list *in, tk_list *out, anc_error *err) {
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        const char *s = TOK(in, i);
        size_t len = in->len[i], a = 0, e = len, j;
        for (size_t k = 0; k < d->start && a < len; k++) {
            j = a;
            if (anc_tk_utf8_next(s, len, &j) != d->ch) break;
            a = j;
        }
        for (size_t k = 0; k < d->stop && e > 0; k++) {
            size_t p = e - 1;
            while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
            j = p;
            if (anc_tk_utf8_next(s, len, &j) != d->ch) break;
            e = p;
        }
        st = list_push(out, s + a, e > a ? e - a : 0, err);
    }
    return st;
}

static anc_status dec_replace(const anc_tk_decoder *d, const tk_list *in, tk_list *out, pcre2_match_data *md,
                              anc_error *err) {
    anc_tk_spans sp = {0};
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        const char *s = TOK(in, i);
        st = anc_tk_regex_spans(&d->re, md, s, in->len[i], &sp, err);
        if (!st) st = list_open(out, err);
        for (size_t k = 0; !st && k < sp.n; k++) {
            if (sp.v[k].flag) st = anc_tk_buf_append(&out->text, d->str, d->str_len, err);
            else st = anc_tk_buf_append(&out->text, s + sp.v[k].start, sp.v[k].end - sp.v[k].start, err);
        }
        if (!st) list_close(out);
    }
    anc_tk_spans_free(&sp);
    return st;
}

static anc_status dec_bpe(const anc_tk_decoder *d, const tk_list *in, tk_list *out, anc_error *err) {
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < in->n; i++) {
        const char *s = TOK(in, i);
        size_t len = in->len[i], j = 0, run = 0;
        const char *with = i + 1 == in->n ? "" : " ";
        st = list_open(out, err);
        while (!st && d->str_len && j + d->str_len <= len) {
            if (memcmp(s + j, d->str, d->str_len) == 0) {
                st = anc_tk_buf_append(&out->text, s + run, j - run, err);
                if (!st) st = anc_tk_buf_append(&out->text, with, strlen(with), err);
                j += d->str_len;
                run = j;
            } else {
                j++;
            }
        }
        if (!st) st = anc_tk_buf_append(&out->text, s + run, len - run, err);
        if (!st) list_close(out);
    }
    return st;
}

/* Runs decoder d over *cur, leaving the result in *cur (*tmp is scratch). */
static anc_status run_decoder(const anc_tokenizer *tok, const anc_tk_decoder *d, tk_list *cur, tk_list *tmp,
                              pcre2_match_data *md, anc_error *err) {
    anc_status st;
    if (d->kind == ANC_TK_D_SEQUENCE) {
        for (size_t k = 0; k < d->n_kids; k++)
            if ((st = run_decoder(tok, &d->kids[k], cur, tmp, md, err))) return st;
        return ANC_OK;
    }
    list_reset(tmp);
    switch (d->kind) {
    case ANC_TK_D_BYTE_LEVEL: st = dec_byte_level(tok, cur, tmp, err); break;
    case ANC_TK_D_METASPACE: st = dec_metaspace(d, cur, tmp, err); break;
    case ANC_TK_D_BYTE_FALLBACK: st = dec_byte_fallback(cur, tmp, err); break;
    case ANC_TK_D_FUSE:
        st = list_open(tmp, err);
        if (!st) st = anc_tk_buf_append(&tmp->text, cur->text.data, cur->text.len, err);
        if (!st) list_close(tmp);
        break;
    case ANC_TK_D_STRIP: st = dec_strip(d, cur, tmp, err); break;
    case ANC_TK_D_REPLACE: st = dec_replace(d, cur, tmp, md, err); break;
    case ANC_TK_D_BPE: st = dec_bpe(d, cur, tmp, err); break;
    default: st = anc_error_set(err, ANC_ERR_INTERNAL, "tokenizer: unknown decoder kind %d", d->kind);
    }
    if (st) return st;
    tk_list t = *cur;
    *cur = *tmp;
    *tmp = t;
    return ANC_OK;
}

anc_status anc_tokenizer_decode(const anc_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, char **text,
                                size_t *len, anc_error *err) {
    *text = NULL;
    if (len) *len = 0;
    if (!tok || (!ids && n)) return anc_error_set(err, ANC_ERR_INVALID, "anc_tokenizer_decode: NULL argument");
    tk_list cur = {0}, tmp = {0};
    pcre2_match_data *md = NULL;
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= tok->n_ids || !tok->ids[id].s) {
            st = anc_error_set(err, ANC_ERR_INVALID, "%s: cannot decode id %d at position %zu: no such token",
                               tok->source, (int)id, i);
            break;
        }
        if (skip_special && tok->ids[id].special) continue;
        /* the list text is contiguous, so Fuse and a missing decoder are joins */
        if (!tok->decoder && cur.n && (st = anc_tk_buf_append(&cur.text, " ", 1, err))) break;
        st = list_push(&cur, tok->ids[id].dec, tok->ids[id].dec_len, err);
    }
    if (!st && tok->decoder) {
        /* decoding must not touch the tokenizer's shared scratch: own match data */
        md = pcre2_match_data_create(1, NULL);
        if (!md) st = anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory decoding");
        if (!st) st = run_decoder(tok, tok->decoder, &cur, &tmp, md, err);
    }
    if (!st) {
        size_t total = tok->decoder ? 0 : cur.text.len;
        for (size_t i = 0; tok->decoder && i < cur.n; i++) total += cur.len[i];
        char *r = malloc(total + 1);
        if (!r) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "tokenizer: out of memory decoding");
        } else {
            size_t w = 0;
            if (!tok->decoder) {
                memcpy(r, cur.text.data ? cur.text.data : "", cur.text.len);
                w = cur.text.len;
            } else {
                for (size_t i = 0; i < cur.n; i++) {
                    memcpy(r + w, TOK(&cur, i), cur.len[i]);
                    w += cur.len[i];
                }
            }
            r[w] = '\0';
            *text = r;
            if (len) *len = w;
        }
    }
    if (md) pcre2_match_data_free(md);
    list_free(&cur);
    list_free(&tmp);
    return st;
}

void anc_tk_decoder_free(anc_tk_decoder *d) {
    if (!d) return;
    for (size_t k = 0; k < d->n_kids; k++) anc_tk_decoder_free(&d->kids[k]);
    free(d->kids);
    free(d->str);
    anc_tk_regex_free(&d->re);
    d->kids = NULL;
    d->n_kids = 0;
    d->str = NULL;
}
