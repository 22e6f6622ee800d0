/* anchor stats: contrast statistics of preference datasets (design notes
 * §1.1, the paper's Table 1): lengths of chosen and rejected, word-set
 * Jaccard, character Levenshtein distance, share of identical pairs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/import.h"
#include "clair/stats.h"
#include "cli/cli.h"
#include "flow/data_steps.h"
#include "data/jsonl.h"
#include "tokenizer/tokenizer.h"


/* Token-set Jaccard input from text: the raw encoding (no special tokens). */
static anc_status add_text_tokens(anc_contrast *acc, anc_tokenizer *tok, const char *c, const char *r, anc_error *err) {
    int32_t *ci = NULL, *ri = NULL;
    size_t nc = 0, nr = 0;
    anc_status st = anc_tokenizer_encode(tok, c, strlen(c), 0, &ci, &nc, err);
    if (!st) st = anc_tokenizer_encode(tok, r, strlen(r), 0, &ri, &nr, err);
    if (!st) st = anc_contrast_add_tokens(acc, ci, nc, ri, nr, err);
    free(ci);
    free(ri);
    return st;
}

/* Statistics of one pairs file; tok (may be NULL) tokenises text for the
 * token-set Jaccard. */
static anc_status file_stats(const char *path, anc_tokenizer *tok, anc_contrast_stats *out, anc_error *err) {
    anc_rows rows;
    anc_status st = anc_rows_load(&rows, path, err);
    if (st) return st;
    anc_contrast *acc = NULL;
    st = anc_contrast_create(&acc, err);
    for (size_t i = 0; !st && i < rows.n; i++) {
        const json_t *row = rows.rows[i];
        size_t line = rows.lines[i];
        char *c = NULL, *r = NULL;
        st = anc_pair_text(row, "chosen", &c, path, line, err);
        if (!st) st = anc_pair_text(row, "rejected", &r, path, line, err);
        if (!st) st = anc_contrast_add(acc, c, strlen(c), r, strlen(r), err);
        if (!st && tok) {
            st = add_text_tokens(acc, tok, c, r, err);
            if (st) anc_error_prefix(err, "%s:%zu", path, line);
        }
        free(c);
        free(r);
        if (!st && !tok && json_object_get(row, "chosen_ids") && json_object_get(row, "rejected_ids")) {
            int32_t *ci = NULL, *ri = NULL;
            size_t nc = 0, nr = 0;
            st = anc_row_ids(row, "chosen_ids", 0, 0, &ci, &nc, path, line, err);
            if (!st) st = anc_row_ids(row, "rejected_ids", 0, 0, &ri, &nr, path, line, err);
            if (!st) st = anc_contrast_add_tokens(acc, ci, nc, ri, nr, err);
            free(ci);
            free(ri);
        }
    }
    if (!st) st = anc_contrast_result(acc, out, err);
    anc_contrast_free(acc);
    anc_rows_free(&rows);
    return st;
}

int cmd_stats(int argc, char **argv) {
    anc_stats_opts o = {0};
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse_table(argc, argv, anc_stats_option_table, &o, "stats", "FILE... [--json] [--model DIR]",
                       "Contrast statistics of preference datasets, as in Table 1 of the CLAIR/APO paper: for each\n"
                       "FILE (JSONL or JSON array of pairs; \"chosen\"/\"rejected\" as strings, message lists (the\n"
                       "last assistant message counts) or LLaMA-Factory {\"from\",\"value\"} objects): rows, mean and\n"
                       "median length of chosen and rejected in characters (code points) and words, mean Jaccard\n"
                       "similarity of their word sets (higher = more contrastive), mean character Levenshtein\n"
                       "distance (lower = more contrastive) and the share of identical pairs. Rows that also carry\n"
                       "chosen_ids/rejected_ids, or --model DIR, add a token-set Jaccard column.",
                       &pos, &n_pos);
    int json = o.json;
    const char *model = o.model;
    if (rc) {
        free(pos);
        return rc == 1 ? 0 : rc;
    }
    if (n_pos == 0) {
        free(pos);
        return cli_usage_error("stats", "give at least one pairs FILE");
    }
    anc_contrast_stats *stats = calloc((size_t)n_pos, sizeof *stats);
    anc_error err = {0};
    anc_tokenizer *tok = NULL;
    int code = 0;
    if (model && anc_tokenizer_load_dir(&tok, model, &err)) {
        code = cli_fail("stats", &err);
        goto done;
    }
    if (!stats) {
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        code = cli_fail("stats", &err);
        goto done;
    }
    for (int i = 0; i < n_pos; i++) {
        if (file_stats(pos[i], tok, &stats[i], &err)) {
            code = cli_fail("stats", &err);
            goto done;
        }
    }
    if (json) {
        json_t *arr = json_array();
        for (int i = 0; arr && i < n_pos; i++) {
            json_t *o = anc_contrast_json(&stats[i]);
            if (!o || json_object_set_new(o, "file", json_string(pos[i])) || json_array_append_new(arr, o)) {
                json_decref(arr);
                arr = NULL;
            }
        }
        char *text = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(arr);
        if (!text) {
            anc_error_set(&err, ANC_ERR_NOMEM, "out of memory formatting JSON");
            code = cli_fail("stats", &err);
            goto done;
        }
        printf("%s\n", text);
        free(text);
    } else {
        anc_sbuf table = {0};
        if (anc_contrast_table((const char *const *)pos, stats, (size_t)n_pos, &table, &err)) {
            anc_sbuf_free(&table);
            code = cli_fail("stats", &err);
            goto done;
        }
        fputs(anc_sbuf_str(&table), stdout);
        anc_sbuf_free(&table);
    }
    if (fflush(stdout) != 0) {
        anc_error_set(&err, ANC_ERR_IO, "cannot write to stdout");
        code = cli_fail("stats", &err);
    }
done:
    anc_tokenizer_free(tok);
    free(stats);
    free(pos);
    return code;
}
