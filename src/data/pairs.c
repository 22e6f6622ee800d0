#include "data/pairs.h"

#include <stdlib.h>
#include <string.h>

void anc_pairset_free(anc_pairset *ps) {
    if (!ps) return;
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->pairs[i].prompt);
        free(ps->pairs[i].chosen);
        free(ps->pairs[i].rejected);
    }
    free(ps->pairs);
    memset(ps, 0, sizeof *ps);
}

anc_status anc_pairs_from_rows(anc_pairset *out, const anc_rows *rows, int vocab, const char *label, anc_error *err) {
    memset(out, 0, sizeof *out);
    out->pairs = calloc(rows->n ? rows->n : 1, sizeof *out->pairs);
    if (!out->pairs) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n; i++) {
        const json_t *row = rows->rows[i];
        size_t line = rows->lines[i];
        if (!json_object_get(row, "chosen_ids") && (json_object_get(row, "chosen") || json_object_get(row, "rejected"))) {
            anc_pairset_free(out);
            return anc_error_set(err, ANC_ERR_UNSUPPORTED,
                                 "%s:%zu: text rows (\"chosen\"/\"rejected\") need a tokenizer, which this build does not have yet; "
                                 "give pre-tokenised \"prompt_ids\", \"chosen_ids\" and \"rejected_ids\"", label, line);
        }
        anc_pair *p = &out->pairs[out->n];
        p->line = line;
        anc_status st;
        if ((st = anc_row_ids(row, "prompt_ids", 0, vocab, &p->prompt, &p->n_prompt, label, line, err)) ||
            (st = anc_row_ids(row, "chosen_ids", 0, vocab, &p->chosen, &p->n_chosen, label, line, err)) ||
            (st = anc_row_ids(row, "rejected_ids", 0, vocab, &p->rejected, &p->n_rejected, label, line, err))) {
            out->n++;
            anc_pairset_free(out);
            return st;
        }
        out->n++;
        if (p->n_prompt == 0 || p->n_chosen == 0 || p->n_rejected == 0) {
            anc_pairset_free(out);
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s:%zu: prompt_ids, chosen_ids and rejected_ids must each hold at least one id "
                                 "(the prompt conditions the first response token; begin it with BOS)", label, line);
        }
    }
    return ANC_OK;
}

int64_t anc_pair_tokens(const anc_pair *p) {
    return 2 * (int64_t)p->n_prompt + (int64_t)p->n_chosen + (int64_t)p->n_rejected;
}

void anc_packed_free(anc_packed *p) {
    if (!p) return;
    free(p->tokens);
    free(p->seq_offsets);
    free(p->score_mask);
    free(p->seq_chosen);
    free(p->seq_rejected);
    memset(p, 0, sizeof *p);
}

static anc_status reserve(anc_packed *p, int64_t tokens, int seqs, anc_error *err) {
    if (tokens > p->cap_tokens) {
        int64_t cap = tokens + tokens / 2;
        int32_t *t = realloc(p->tokens, sizeof *t * (size_t)cap);
        if (!t) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory packing a batch");
        p->tokens = t;
        uint8_t *m = realloc(p->score_mask, (size_t)cap);
        if (!m) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory packing a batch");
        p->score_mask = m;
        p->cap_tokens = cap;
    }
    if (seqs + 1 > p->cap_seqs) {
        int cap = seqs * 2 + 2;
        int64_t *o = realloc(p->seq_offsets, sizeof *o * (size_t)cap);
        if (!o) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory packing a batch");
        p->seq_offsets = o;
        p->cap_seqs = cap;
    }
    return ANC_OK;
}

static void put_seq(anc_packed *p, const int32_t *prompt, size_t np, const int32_t *resp, size_t nr, int score_prompt) {
    int64_t t = p->n_tokens;
    memcpy(p->tokens + t, prompt, sizeof(int32_t) * np);
    memset(p->score_mask + t, 0, np);
    if (score_prompt && np > 1) memset(p->score_mask + t + 1, 1, np - 1);
    memcpy(p->tokens + t + (int64_t)np, resp, sizeof(int32_t) * nr);
    memset(p->score_mask + t + (int64_t)np, 1, nr);
    p->n_tokens += (int64_t)(np + nr);
    p->n_seqs++;
    p->seq_offsets[p->n_seqs] = p->n_tokens;
}

anc_status anc_pack_pairs(anc_packed *out, const anc_pairset *ps, size_t first, int64_t max_tokens, anc_error *err) {
    if (first >= ps->n) return anc_error_set(err, ANC_ERR_INVALID, "pack: no pairs left at index %zu", first);
    size_t last = first;
    int64_t total = anc_pair_tokens(&ps->pairs[first]);
    while (last + 1 < ps->n && max_tokens > 0 && total + anc_pair_tokens(&ps->pairs[last + 1]) <= max_tokens) {
        last++;
        total += anc_pair_tokens(&ps->pairs[last]);
    }
    size_t n = last - first + 1;
    anc_status st = reserve(out, total, (int)(2 * n), err);
    if (st) return st;
    if (n > out->cap_pairs) {
        int *a = realloc(out->seq_chosen, sizeof(int) * n), *b = a ? realloc(out->seq_rejected, sizeof(int) * n) : NULL;
        if (a) out->seq_chosen = a;
        if (b) out->seq_rejected = b;
        if (!a || !b) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory packing a batch");
        out->cap_pairs = n;
    }
    out->n_tokens = 0;
    out->n_seqs = 0;
    out->seq_offsets[0] = 0;
    for (size_t i = first; i <= last; i++) {
        const anc_pair *p = &ps->pairs[i];
        size_t k = i - first;
        out->seq_chosen[k] = out->n_seqs;
        put_seq(out, p->prompt, p->n_prompt, p->chosen, p->n_chosen, out->score_prompt);
        int same = !out->score_prompt && p->n_rejected == p->n_chosen &&
                   (p->n_chosen == 0 || memcmp(p->rejected, p->chosen, sizeof(int32_t) * p->n_chosen) == 0);
        if (same) {
            out->seq_rejected[k] = out->seq_chosen[k];
        } else {
            out->seq_rejected[k] = out->n_seqs;
            put_seq(out, p->prompt, p->n_prompt, p->rejected, p->n_rejected, 0);
        }
    }
    out->first_pair = first;
    out->n_pairs = n;
    out->batch.n_tokens = out->n_tokens;
    out->batch.tokens = out->tokens;
    out->batch.n_seqs = out->n_seqs;
    out->batch.seq_offsets = out->seq_offsets;
    out->batch.score_mask = out->score_mask;
    return ANC_OK;
}
