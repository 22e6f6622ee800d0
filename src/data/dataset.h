/* Preference datasets in TRL's formats, tokenised the way training needs:
 *
 *   standard        {"prompt": str, "chosen": str, "rejected": str}
 *   conversational  {"prompt": [messages], "chosen": [messages], "rejected": [messages]}
 *   implicit prompt {"chosen": ..., "rejected": ...} (the prompt is their common prefix)
 *   unpaired        {"prompt": ..., "completion": ..., "label": bool}
 *   pre-tokenised   {"prompt_ids": [...], "chosen_ids"/"rejected_ids" or "completion_ids": [...]}
 *
 * Conversational rows: the prompt is the chat template rendered with
 * add_generation_prompt = true; each completion is what the template renders
 * for the conversation with that answer, minus the prompt's rendering (the
 * end-of-turn token included, no EOS added). Standard rows: the prompt gets
 * the tokenizer's BOS when it adds one (never twice) and each completion gets
 * EOS appended, as TRL does. ids = ids(prompt) + ids(completion), so both
 * sides of a pair share identical prompt ids. */
#ifndef ANCHOR_DATA_DATASET_H
#define ANCHOR_DATA_DATASET_H

#include <stdint.h>

#include "data/jsonl.h"
#include "data/pairs.h"
#include "jinja/chat_template.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

typedef enum { ANC_TRUNC_KEEP_END = 0, ANC_TRUNC_KEEP_START = 1 } anc_trunc_mode;

typedef struct anc_dataset_opts {
    int64_t max_length;         /* prompt + completion tokens; 0 = no limit */
    int64_t max_prompt_length;  /* 0 = no limit */
    anc_trunc_mode truncation;  /* which end of the prompt survives */
    int unpaired;               /* rows are prompt/completion/label */
    int64_t max_row_bytes;      /* rows with more text are dropped before tokenizing; 0 = no limit */
} anc_dataset_opts;

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

typedef struct anc_dataset_stats {
    size_t rows, kept;
    size_t dropped;             /* rows that cannot fit max_length even truncated */
    size_t dropped_bytes;       /* of dropped: longer than max_row_bytes, not tokenized */
    size_t truncated;           /* rows kept after truncation */
    size_t conversational, standard, pretokenised, implicit_prompt;
    size_t first_dropped_line;  /* 0 when none */
} anc_dataset_stats;


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
