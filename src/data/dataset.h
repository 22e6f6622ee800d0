/* Preference datasets in TRL's formats (the formats and the public part are
 * anchor/dataset.h: the option and stats types, anc_dataset_load,
 * anc_dataset_parse, anc_prompt_ids_json); this header adds the builders
 * over parsed rows that the trainer and the CLI use. */
#ifndef ANCHOR_DATA_DATASET_H
#define ANCHOR_DATA_DATASET_H

#include <stdint.h>

#include "anchor/dataset.h"
#include "data/jsonl.h"
#include "data/pairs.h"
#include "jinja/chat_template.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

/* No real tokenizer packs more than this many bytes of text into a token on
 * average over a row: a row longer than this times the token limit cannot
 * fit it, and is dropped without being tokenized (a 50M-character row would
 * otherwise take seconds and a gigabyte before failing). */
#define ANC_MAX_BYTES_PER_TOKEN 64
/* A JSONL line holds at most this many bytes per byte of its text (the
 * \u0001 escape is 6 bytes for 1; keys and punctuation add a little): longer
 * lines than this times max_row_bytes need not be parsed to be dropped. */
#define ANC_MAX_LINE_BYTES_PER_TEXT_BYTE 8
/* max_row_bytes for a token limit (0: no limit). */
int64_t anc_dataset_byte_limit(int64_t tokens);
/* The max_line_bytes for anc_rows_load_limited that goes with o (0: none). */
size_t anc_dataset_line_limit(const anc_dataset_opts *o);


/* Builds the tokenised pairs of rows (label names the file in errors, which
 * carry file:line). tok and tmpl may be NULL when every row is
 * pre-tokenised. For unpaired rows, labels receives a malloc'd [n] array
 * (1 desirable) and each pair holds the completion as `chosen` (the caller
 * builds KL rows). Ids are checked against vocab (> 0). */
anc_status anc_dataset_build(anc_tokenizer *tok, const anc_template *tmpl, const anc_rows *rows, const char *label,
                             const anc_dataset_opts *o, int vocab, anc_pairset *ps, uint8_t **labels,
                             anc_dataset_stats *st, anc_error *err);

/* Token ids of a generation prompt: a string (with the tokenizer's BOS as
 * for standard rows) or a message list (rendered with
 * add_generation_prompt = true; tmpl required). *ids malloc'd. */
anc_status anc_prompt_ids(anc_tokenizer *tok, const anc_template *tmpl, const json_t *prompt, int32_t **ids, size_t *n,
                          anc_error *err);


#endif
