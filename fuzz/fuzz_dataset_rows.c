/* libFuzzer target for dataset reading: the bytes are a dataset file
 * (JSONL or a JSON array) written to a private temp folder and read the way
 * the commands read one:
 *   anc_rows_load            rows with file:line errors (every command)
 *   anc_pairs_from_rows      pre-tokenised preference rows (src/data/pairs.c)
 *   anc_train_data_load      `anchor train`: anc_rows_load + anc_dataset_build
 *                            (standard, conversational, implicit-prompt,
 *                            pre-tokenised rows), once paired with the
 *                            tokenizer's own chat template, once unpaired (KTO,
 *                            with KL rows) under chatml with truncation
 *   anc_prompt_ids/anc_row_ids  `anchor generate`'s prompts
 *   anc_pack_pairs           the trainer's micro-batches of the pairs built
 * with the demo task's 195-token tokenizer (src/demo/tokenizer.c).
 * Invariants: failures explain themselves and return nothing; every built
 * pair has non-empty parts, ids inside the vocabulary and respects the
 * length limits; the row counts add up; packed batches hold exactly their
 * pairs' tokens. Seeds: fuzz/corpus/fuzz_dataset_rows/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/jsonl.h"
#include "data/pairs.h"
#include "demo/tokenizer.h"
#include "fuzz_tmp.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"
#include "train/train_data.h"

#define MAX_PROMPT_ROWS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static anc_tokenizer *g_tok;
static anc_template *g_tmpl, *g_chatml;
static int g_vocab;

static void teardown(void) {
    anc_template_free(g_tmpl);
    anc_template_free(g_chatml);
    anc_tokenizer_free(g_tok);
}

static void setup(void) {
    if (g_tok) return;
    char *json = NULL, *config = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_demo_tokenizer_json(&json, &config, &err) != ANC_OK) abort();
    if (anc_tokenizer_load_text(&g_tok, json, strlen(json), config, strlen(config), "demo", &err) != ANC_OK) abort();
    free(json);
    free(config);
    if (anc_chat_template_resolve(g_tok, NULL, &g_tmpl, &err) != ANC_OK || !g_tmpl) abort();
    if (anc_chat_template_resolve(g_tok, "chatml", &g_chatml, &err) != ANC_OK || !g_chatml) abort();
    g_vocab = (int)anc_tokenizer_vocab_size(g_tok);
    atexit(teardown);
}

static void check_ids(const int32_t *ids, size_t n, int vocab) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (vocab > 0 && ids[i] >= vocab)) abort();
}

static void check_pairs(const anc_pairset *ps, int vocab, const anc_dataset_opts *o) {
    for (size_t i = 0; i < ps->n; i++) {
        const anc_pair *p = &ps->pairs[i];
        if (p->n_prompt == 0 || p->n_chosen == 0 || !p->prompt || !p->chosen) abort();
        if (!o->unpaired && (p->n_rejected == 0 || !p->rejected)) abort();
        check_ids(p->prompt, p->n_prompt, vocab);
        check_ids(p->chosen, p->n_chosen, vocab);
        check_ids(p->rejected, p->n_rejected, vocab);
        if (o->max_prompt_length > 0 && (int64_t)p->n_prompt > o->max_prompt_length) abort();
        if (o->max_length > 0 && (int64_t)(p->n_prompt + p->n_chosen) > o->max_length) abort();
        if (o->max_length > 0 && !o->unpaired && (int64_t)(p->n_prompt + p->n_rejected) > o->max_length) abort();
    }
}

/* Packs every pair of ps the way the trainer does and checks each batch. */
static void check_packing(const anc_pairset *ps, int vocab, int score_prompt, int64_t max_tokens) {
    if (ps->n == 0) return;
    anc_packed pk;
    memset(&pk, 0, sizeof pk);
    pk.score_prompt = score_prompt;
    anc_error err;
    anc_error_clear(&err);
    for (size_t at = 0; at < ps->n; at += pk.n_pairs) {
        if (anc_pack_pairs(&pk, ps, at, max_tokens, &err) != ANC_OK) abort();
        if (pk.n_pairs == 0 || pk.first_pair != at || at + pk.n_pairs > ps->n) abort();
        int64_t want = 0;
        for (size_t k = 0; k < pk.n_pairs; k++) want += anc_pair_tokens(&ps->pairs[at + k]);
        if (pk.n_tokens > want || pk.n_seqs > 2 * (int)pk.n_pairs) abort();
        if (pk.seq_offsets[0] != 0 || pk.seq_offsets[pk.n_seqs] != pk.n_tokens) abort();
        for (int s = 0; s < pk.n_seqs; s++)
            if (pk.seq_offsets[s + 1] <= pk.seq_offsets[s]) abort();
        for (size_t k = 0; k < pk.n_pairs; k++) {
            const anc_pair *p = &ps->pairs[at + k];
            int c = pk.seq_chosen[k], r = pk.seq_rejected[k];
            if (c < 0 || c >= pk.n_seqs || r < 0 || r >= pk.n_seqs) abort();
            if (pk.seq_offsets[c + 1] - pk.seq_offsets[c] != (int64_t)(p->n_prompt + p->n_chosen)) abort();
            if (memcmp(pk.tokens + pk.seq_offsets[c], p->prompt, sizeof(int32_t) * p->n_prompt) != 0) abort();
        }
        check_ids(pk.tokens, (size_t)pk.n_tokens, vocab);
        if (max_tokens <= 0 && pk.n_pairs != 1) abort();
    }
    anc_packed_free(&pk);
}

static void train_pass(const char *path, const anc_template *tmpl, const anc_dataset_opts *o, size_t n_rows) {
    anc_train_data d;
    anc_dataset_stats st;
    anc_error err;
    anc_error_clear(&err);
    memset(&st, 0, sizeof st);
    if (anc_train_data_load(&d, path, 2, g_vocab, g_tok, tmpl, o, &st, &err) != ANC_OK) {
        if (err.message[0] == '\0') abort();
        return;
    }
    if (d.ps.n == 0 || d.unpaired != o->unpaired || (o->unpaired && !d.label)) abort();
    if (st.rows != n_rows || st.kept + st.dropped != st.rows) abort();
    if (!o->unpaired && st.kept != d.ps.n) abort();
    if (st.dropped && !st.first_dropped_line) abort();
    check_pairs(&d.ps, g_vocab, o);
    (void)anc_train_data_hash(&d);
    check_packing(&d.ps, g_vocab, 0, 48);
    check_packing(&d.ps, g_vocab, 1, 0);
    anc_train_data_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    char *dir = fz_tmpdir();
    if (!dir) return 0;
    char *path = fz_path(dir, "data.jsonl");
    if (!path || fz_write(path, data, size) != 0) goto done;

    anc_rows rows, mem;
    anc_error err, err2;
    anc_error_clear(&err);
    anc_error_clear(&err2);
    anc_status st = anc_rows_load(&rows, path, &err);
    anc_status st2 = anc_rows_parse(&mem, (const char *)data, size, "data.jsonl", &err2);
    if (st != st2) abort();
    if (st != ANC_OK) {
        if (rows.n || rows.rows || mem.n || err.message[0] == '\0') abort();
        goto done;
    }
    if (rows.n != mem.n) abort();
    for (size_t i = 0; i < rows.n; i++) {
        if (!json_is_object(rows.rows[i]) || rows.lines[i] == 0 || rows.lines[i] != mem.lines[i]) abort();
        if (i && rows.lines[i] <= rows.lines[i - 1]) abort();
    }
    anc_rows_free(&mem);

    /* Pre-tokenised rows, as `anchor train` reads them without a tokenizer. */
    anc_pairset ps;
    anc_dataset_opts paired = {0};
    anc_error_clear(&err);
    if (anc_pairs_from_rows(&ps, &rows, g_vocab, "data.jsonl", &err) == ANC_OK) {
        check_pairs(&ps, g_vocab, &paired);
        check_packing(&ps, g_vocab, 0, 32);
        anc_pairset_free(&ps);
    } else if (err.message[0] == '\0') {
        abort();
    }

    /* Generation prompts and token-id fields of each row. */
    for (size_t i = 0; i < rows.n && i < MAX_PROMPT_ROWS; i++) {
        const json_t *row = rows.rows[i];
        const json_t *prompt = json_object_get(row, "prompt");
        if (!prompt) prompt = json_object_get(row, "messages");
        int32_t *ids = NULL;
        size_t n = 0;
        anc_error_clear(&err);
        if (prompt) {
            const anc_template *t = i % 2 ? g_chatml : g_tmpl;
            if (anc_prompt_ids(g_tok, t, prompt, &ids, &n, &err) == ANC_OK) check_ids(ids, n, g_vocab);
            else if (ids || err.message[0] == '\0') abort();
            free(ids);
            ids = NULL;
        }
        anc_error_clear(&err);
        if (anc_row_ids(row, "prompt_ids", 1, g_vocab, &ids, &n, "data.jsonl", rows.lines[i], &err) == ANC_OK)
            check_ids(ids, n, g_vocab);
        else if (ids || err.message[0] == '\0')
            abort();
        free(ids);
    }

    train_pass(path, g_tmpl, &paired, rows.n);
    anc_dataset_opts unpaired = {.max_length = 24, .max_prompt_length = 8, .truncation = ANC_TRUNC_KEEP_START, .unpaired = 1};
    train_pass(path, g_chatml, &unpaired, rows.n);
    anc_dataset_opts trunc = {.max_length = 20, .max_prompt_length = 12, .truncation = ANC_TRUNC_KEEP_END};
    train_pass(path, g_tmpl, &trunc, rows.n);
    anc_rows_free(&rows);
done:
    free(path);
    fz_rmtree(dir);
    free(dir);
    return 0;
}
