#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

/* ---- small id vectors ---------------------------------------------------- */

typedef struct ids {
    int32_t *v;
    size_t n;
} ids;

static anc_status encode(anc_tokenizer *tok, const char *text, size_t len, int special, ids *out, anc_error *err) {
    return anc_tokenizer_encode(tok, text, len, special, &out->v, &out->n, err);
}

static anc_status append_id(ids *x, int32_t id, anc_error *err) {
    int32_t *nv = realloc(x->v, sizeof(int32_t) * (x->n + 1));
    if (!nv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    x->v = nv;
    x->v[x->n++] = id;
    return ANC_OK;
}

/* ---- row shapes ---------------------------------------------------------- */

/* Text of a completion given as a string or as a message list (the
 * assistant content of its messages, joined). */
static int is_messages(const json_t *v) {
    if (!json_is_array(v) || json_array_size(v) == 0) return 0;
    json_t *m0 = json_array_get(v, 0);
    return json_is_object(m0) && json_is_string(json_object_get(m0, "role"));
}

/* Standard prompt ids: the tokenizer's special-token template (BOS for
 * Llama-style tokenizers), never a doubled BOS, never a trailing EOS. */
static anc_status standard_prompt(anc_tokenizer *tok, const char *text, ids *out, anc_error *err) {
    anc_status st = encode(tok, text, strlen(text), 1, out, err);
    if (st) return st;
    int32_t bos = anc_tokenizer_bos_id(tok), eos = anc_tokenizer_eos_id(tok);
    if (out->n >= 2 && bos >= 0 && out->v[0] == bos && out->v[1] == bos) {
        memmove(out->v, out->v + 1, sizeof(int32_t) * (out->n - 1));
        out->n--;
    }
    if (out->n >= 1 && eos >= 0 && eos != bos && out->v[out->n - 1] == eos && anc_tokenizer_add_eos(tok) == 1) out->n--;
    return ANC_OK;
}

static anc_status standard_completion(anc_tokenizer *tok, const char *text, ids *out, anc_error *err) {
    anc_status st = encode(tok, text, strlen(text), 0, out, err);
    if (st) return st;
    int32_t eos = anc_tokenizer_eos_id(tok);
    return eos >= 0 ? append_id(out, eos, err) : ANC_OK;
}

/* Conversational: prompt rendering and the completion's rendering as the
 * suffix of the whole conversation. */
static anc_status conv_prompt(anc_tokenizer *tok, const anc_template *tmpl, json_t *prompt_msgs, char **ptext,
                              size_t *plen, anc_error *err) {
    return anc_render_chat(tmpl, tok, prompt_msgs, 1, ptext, plen, err);
}

static anc_status conv_completion(anc_tokenizer *tok, const anc_template *tmpl, json_t *prompt_msgs, json_t *answer,
                                  const char *ptext, size_t plen, ids *out, const char *label, size_t line,
                                  anc_error *err) {
    json_t *all = json_array();
    json_array_extend(all, prompt_msgs);
    if (json_is_array(answer)) json_array_extend(all, answer);
    else {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string("assistant"));
        json_object_set(m, "content", answer);
        json_array_append_new(all, m);
    }
    char *full = NULL;
    size_t flen = 0;
    anc_status st = anc_render_chat(tmpl, tok, all, 0, &full, &flen, err);
    json_decref(all);
    if (st) return anc_error_prefix(err, "%s:%zu", label, line);
    if (flen < plen || memcmp(full, ptext, plen) != 0) {
        free(full);
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "%s:%zu: the chat template does not render the prompt (with add_generation_prompt) as a prefix of "
                             "the conversation with the answer, so the answer's tokens cannot be separated; use --chat-template", label, line);
    }
    st = encode(tok, full + plen, flen - plen, 0, out, err);
    free(full);
    return st;
}

/* TRL's extract_prompt for strings: the longest common prefix, moved back
 * over a trailing space; when one text is a prefix of the other, moved back
 * to the last space so that both completions keep at least one word. */
static size_t implicit_split(const char *a, const char *b) {
    size_t i = 0;
    while (a[i] && b[i] && a[i] == b[i]) i++;
    if (!a[i] || !b[i]) {
        while (i > 0 && a[i - 1] != ' ') i--;
        if (i > 0) i--;
        return i;
    }
    if (i > 0 && a[i - 1] == ' ') i--;
    return i;
}

/* Common prefix of two message lists, leaving each at least one message. */
static size_t implicit_messages(const json_t *a, const json_t *b) {
    size_t na = json_array_size(a), nb = json_array_size(b), k = 0;
    while (k < na && k < nb && json_equal(json_array_get(a, k), json_array_get(b, k))) k++;
    if (k > na - 1) k = na - 1;
    if (k > nb - 1) k = nb - 1;
    return k;
}

static json_t *slice(const json_t *arr, size_t from, size_t to) {
    json_t *s = json_array();
    for (size_t i = from; i < to; i++) json_array_append(s, json_array_get(arr, i));
    return s;
}

/* ---- truncation ---------------------------------------------------------- */

/* Returns 0 when kept (possibly truncated: *truncated set), 1 when dropped. */
static int truncate_row(anc_pair *p, const anc_dataset_opts *o, int *truncated) {
    *truncated = 0;
    if (o->max_prompt_length > 0 && (int64_t)p->n_prompt > o->max_prompt_length) {
        size_t keep = (size_t)o->max_prompt_length;
        if (o->truncation == ANC_TRUNC_KEEP_END) memmove(p->prompt, p->prompt + (p->n_prompt - keep), sizeof(int32_t) * keep);
        p->n_prompt = keep;
        *truncated = 1;
    }
    if (o->max_length > 0) {
        int64_t room = o->max_length - (int64_t)p->n_prompt;
        if (room < 1) return 1;
        if ((int64_t)p->n_chosen > room) { p->n_chosen = (size_t)room; *truncated = 1; }
        if (p->rejected && (int64_t)p->n_rejected > room) { p->n_rejected = (size_t)room; *truncated = 1; }
    }
    return 0;
}

int64_t anc_dataset_byte_limit(int64_t tokens) {
    return tokens > 0 && tokens < INT64_MAX / ANC_MAX_BYTES_PER_TOKEN ? tokens * ANC_MAX_BYTES_PER_TOKEN : 0;
}

size_t anc_dataset_line_limit(const anc_dataset_opts *o) {
    int64_t b = o->max_row_bytes;
    return b > 0 && (uint64_t)b < SIZE_MAX / ANC_MAX_LINE_BYTES_PER_TEXT_BYTE ? (size_t)b * ANC_MAX_LINE_BYTES_PER_TEXT_BYTE : 0;
}

/* Bytes of all the strings in v (a row's text, message contents included). */
static size_t text_bytes(const json_t *v, int depth) {
    if (json_is_string(v)) return json_string_length(v);
    size_t n = 0;
    if (depth > 8) return n;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) n += text_bytes(json_array_get(v, i), depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) n += text_bytes(x, depth + 1);
    }
    return n;
}

/* ---- one row ------------------------------------------------------------- */

static const char *field_text(const json_t *v) { return json_is_string(v) ? json_string_value(v) : NULL; }

static anc_status build_row(anc_tokenizer *tok, const anc_template *tmpl, const json_t *row, const char *label,
                            size_t line, const anc_dataset_opts *o, int vocab, anc_pair *p, uint8_t *lab,
                            anc_dataset_stats *stt, anc_error *err) {
    memset(p, 0, sizeof *p);
    p->line = line;
    anc_status st;
    const char *second = o->unpaired ? "completion" : "chosen";
    if (o->unpaired) {
        json_t *l = json_object_get(row, "label");
        if (!json_is_boolean(l))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: unpaired rows need a boolean \"label\" (true = desirable)", label, line);
        *lab = json_is_true(l);
    }
    if (json_object_get(row, "prompt_ids")) {
        stt->pretokenised++;
        if ((st = anc_row_ids(row, "prompt_ids", 0, vocab, &p->prompt, &p->n_prompt, label, line, err))) return st;
        if (o->unpaired) return anc_row_ids(row, "completion_ids", 0, vocab, &p->chosen, &p->n_chosen, label, line, err);
        if ((st = anc_row_ids(row, "chosen_ids", 0, vocab, &p->chosen, &p->n_chosen, label, line, err))) return st;
        return anc_row_ids(row, "rejected_ids", 0, vocab, &p->rejected, &p->n_rejected, label, line, err);
    }
    if (!tok)
        return anc_error_set(err, ANC_ERR_INVALID, "%s:%zu: text rows need a tokenizer (tokenizer.json in the model folder)", label, line);
    json_t *prompt = json_object_get(row, "prompt"), *a = json_object_get(row, second),
           *b = o->unpaired ? NULL : json_object_get(row, "rejected");
    json_t *messages = json_object_get(row, "messages");
    if (!a && messages && o->unpaired)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: unpaired rows need \"completion\"", label, line);
    if (!a || (!o->unpaired && !b))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"%s\"%s (strings or message lists), or pre-tokenised *_ids",
                             label, line, second, o->unpaired ? "" : " and \"rejected\"");
    int conv = is_messages(a) || is_messages(prompt);
    ids P = {0}, A = {0}, B = {0};
    if (!conv) {
        const char *ta = field_text(a), *tb = b ? field_text(b) : NULL, *tp = prompt ? field_text(prompt) : NULL;
        if (!ta || (b && !tb) || (prompt && !tp))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: \"prompt\", \"%s\"%s must all be strings or all message lists",
                                 label, line, second, o->unpaired ? "" : " and \"rejected\"");
        stt->standard++;
        char *owned = NULL;
        if (!prompt) {
            if (o->unpaired) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: unpaired rows need \"prompt\"", label, line);
            size_t cut = implicit_split(ta, tb);
            if (cut == 0) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: no \"prompt\" and chosen/rejected share no prefix to use as one", label, line);
            owned = strndup(ta, cut);
            tp = owned;
            ta += cut;
            tb += cut;
            stt->implicit_prompt++;
        }
        st = standard_prompt(tok, tp, &P, err);
        free(owned);
        if (!st) st = standard_completion(tok, ta, &A, err);
        if (!st && tb) st = standard_completion(tok, tb, &B, err);
    } else {
        if (!tmpl)
            return anc_error_set(err, ANC_ERR_INVALID, "%s:%zu: conversational rows need a chat template: the tokenizer has none; pass --chat-template NAME|FILE", label, line);
        stt->conversational++;
        json_t *pm = NULL, *am = NULL, *bm = NULL;
        if (prompt) {
            if (!is_messages(prompt)) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: \"prompt\" must be a list of {role, content} messages", label, line);
            pm = json_incref(prompt);
            am = json_incref(a);
            bm = b ? json_incref(b) : NULL;
        } else {
            if (o->unpaired || !is_messages(a) || !is_messages(b))
                return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: without \"prompt\", chosen and rejected must both be message lists", label, line);
            size_t k = implicit_messages(a, b);
            if (k == 0) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: chosen and rejected share no messages to use as the prompt", label, line);
            pm = slice(a, 0, k);
            am = slice(a, k, json_array_size(a));
            bm = slice(b, k, json_array_size(b));
            stt->implicit_prompt++;
        }
        char *ptext = NULL;
        size_t plen = 0;
        st = conv_prompt(tok, tmpl, pm, &ptext, &plen, err);
        if (st) anc_error_prefix(err, "%s:%zu", label, line);
        if (!st) st = encode(tok, ptext, plen, 0, &P, err);
        if (!st) st = conv_completion(tok, tmpl, pm, am, ptext, plen, &A, label, line, err);
        if (!st && bm) st = conv_completion(tok, tmpl, pm, bm, ptext, plen, &B, label, line, err);
        free(ptext);
        json_decref(pm);
        json_decref(am);
        json_decref(bm);
    }
    p->prompt = P.v;
    p->n_prompt = P.n;
    p->chosen = A.v;
    p->n_chosen = A.n;
    p->rejected = B.v;
    p->n_rejected = B.n;
    if (st) return st;
    for (size_t i = 0; i < P.n + A.n + B.n; i++) {
        int32_t id = i < P.n ? P.v[i] : i < P.n + A.n ? A.v[i - P.n] : B.v[i - P.n - A.n];
        if (vocab > 0 && (id < 0 || id >= vocab))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the tokenizer produced id %d, outside the model's vocabulary of %d", label, line, id, vocab);
    }
    return ANC_OK;
}

anc_status anc_dataset_build(anc_tokenizer *tok, const anc_template *tmpl, const anc_rows *rows, const char *label,
                             const anc_dataset_opts *o, int vocab, anc_pairset *ps, uint8_t **labels,
                             anc_dataset_stats *stt, anc_error *err) {
    memset(ps, 0, sizeof *ps);
    memset(stt, 0, sizeof *stt);
    if (labels) *labels = NULL;
    ps->pairs = calloc(rows->n ? rows->n : 1, sizeof(anc_pair));
    uint8_t *lab = calloc(rows->n ? rows->n : 1, 1);
    if (!ps->pairs || !lab) {
        free(lab);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    anc_status st = ANC_OK;
    /* lines the reader left unparsed for their length are dropped rows too */
    stt->rows = stt->dropped = stt->dropped_bytes = rows->n_too_long;
    stt->first_dropped_line = rows->first_too_long_line;
    for (size_t i = 0; i < rows->n && !st; i++) {
        anc_pair p;
        uint8_t l = 0;
        stt->rows++;
        if (o->max_row_bytes > 0 && text_bytes(rows->rows[i], 0) > (size_t)o->max_row_bytes) {
            stt->dropped++;
            stt->dropped_bytes++;
            if (!stt->first_dropped_line || rows->lines[i] < stt->first_dropped_line) stt->first_dropped_line = rows->lines[i];
            continue;
        }
        st = build_row(tok, tmpl, rows->rows[i], label, rows->lines[i], o, vocab, &p, &l, stt, err);
        if (!st && (p.n_prompt == 0 || p.n_chosen == 0 || (!o->unpaired && p.n_rejected == 0)))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: prompt and completions must each give at least one token", label, rows->lines[i]);
        int truncated = 0;
        if (!st && truncate_row(&p, o, &truncated)) {
            stt->dropped++;
            if (!stt->first_dropped_line) stt->first_dropped_line = rows->lines[i];
            free(p.prompt);
            free(p.chosen);
            free(p.rejected);
            continue;
        }
        if (st) {
            free(p.prompt);
            free(p.chosen);
            free(p.rejected);
            break;
        }
        stt->truncated += (size_t)truncated;
        lab[ps->n] = l;
        ps->pairs[ps->n++] = p;
        stt->kept++;
    }
    if (st) {
        anc_pairset_free(ps);
        free(lab);
        return st;
    }
    if (labels && o->unpaired) *labels = lab;
    else free(lab);
    return ANC_OK;
}

anc_status anc_prompt_ids(anc_tokenizer *tok, const anc_template *tmpl, const json_t *prompt, int32_t **out, size_t *n,
                          anc_error *err) {
    *out = NULL;
    *n = 0;
    ids P = {0};
    anc_status st;
    if (json_is_string(prompt)) {
        st = standard_prompt(tok, json_string_value(prompt), &P, err);
    } else if (is_messages(prompt)) {
        if (!tmpl) return anc_error_set(err, ANC_ERR_INVALID, "message-list prompts need a chat template: the tokenizer has none; pass --chat-template NAME|FILE");
        char *text = NULL;
        size_t len = 0;
        st = anc_render_chat(tmpl, tok, (json_t *)prompt, 1, &text, &len, err);
        if (!st) st = encode(tok, text, len, 0, &P, err);
        free(text);
    } else {
        return anc_error_set(err, ANC_ERR_FORMAT, "a prompt must be a string or a list of {role, content} messages");
    }
    if (st) {
        free(P.v);
        return st;
    }
    *out = P.v;
    *n = P.n;
    return ANC_OK;
}
