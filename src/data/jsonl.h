/* Reading datasets of JSON rows: JSONL (one object per line, blank lines
 * skipped) or a single JSON array of objects. Errors carry file:line:column. */
#ifndef ANCHOR_DATA_JSONL_H
#define ANCHOR_DATA_JSONL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/strbuf.h"

typedef struct anc_rows {
    json_t **rows;      /* n owned references (json_decref each) */
    size_t *lines;      /* 1-based source line of each row (array files: the line where the row starts) */
    size_t n;
    /* JSONL lines longer than the caller's max_line_bytes, left unparsed */
    size_t n_too_long;
    size_t first_too_long_line;  /* 0 when none */
} anc_rows;

/* Loads every row of path (a leading UTF-8 byte order mark is skipped).
 * Each row must be a JSON object. On error nothing
 * is returned and err says file:line:column and what was expected. */
anc_status anc_rows_load(anc_rows *out, const char *path, anc_error *err);
/* Same from memory (label names the source in errors). */
anc_status anc_rows_parse(anc_rows *out, const char *text, size_t len, const char *label, anc_error *err);
/* anc_rows_load where a JSONL line longer than max_line_bytes (0: no limit)
 * is counted in n_too_long and not parsed (parsing 50 MB of one row costs
 * a second and several times its size in memory). A top-level JSON array
 * file is parsed whole. */
anc_status anc_rows_load_limited(anc_rows *out, const char *path, size_t max_line_bytes, anc_error *err);
void anc_rows_free(anc_rows *rows);

/* Reads row[key] as an array of integer token ids in [0, vocab) (vocab <= 0:
 * any non-negative int32). *ids is malloc'd (caller frees), *n its length.
 * Missing key: ANC_ERR_FORMAT unless optional, then *ids = NULL, *n = 0. */
anc_status anc_row_ids(const json_t *row, const char *key, int optional, int vocab, int32_t **ids,
                       size_t *n, const char *label, size_t line, anc_error *err);

/* The text a prompt stands for: a string prompt itself, or the content of
 * the last user message of a message list. malloc'd (caller frees); NULL
 * when there is none or out of memory. */
char *anc_prompt_text(const json_t *prompt);

/* Appends row (consumed; NULL counts as out of memory) to b as one line of
 * compact JSON, keys in insertion order, and a newline. ANC_OK or
 * ANC_ERR_NOMEM (also when b is out of memory already). */
anc_status anc_jsonl_put(anc_sbuf *b, json_t *row);

#endif
