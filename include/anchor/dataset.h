/* libanchor public API: preference datasets in TRL's formats, tokenised the
 * way training and scoring need them. A file is JSONL (one object per line,
 * blank lines skipped) or one JSON array of objects; each row is one of
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
 * the tokenizer's BOS when it adds one (never twice) and each completion
 * gets EOS appended, as TRL does. Both sides of a pair share the same
 * prompt ids. Errors name file:line (and line:column for JSON syntax). */
#ifndef ANCHOR_PUBLIC_DATASET_H
#define ANCHOR_PUBLIC_DATASET_H

#include "anchor/chat.h"
#include "anchor/common.h"
#include "anchor/tokenizer.h"

ANC_EXTERN_C_BEGIN

/* One tokenised pair: response ids exclude the prompt. For unpaired rows the
 * completion is in chosen and rejected is empty. Arrays are owned by the
 * pair set. */
typedef struct anc_pair {
    int32_t *prompt, *chosen, *rejected;
    size_t n_prompt, n_chosen, n_rejected;
    size_t line;                             /* source line (for messages) */
} anc_pair;

/* n pairs; a zeroed anc_pairset is empty. Release with anc_pairset_free. */
typedef struct anc_pairset {
    anc_pair *pairs;
    size_t n;
} anc_pairset;

typedef enum { ANC_TRUNC_KEEP_END = 0, ANC_TRUNC_KEEP_START = 1 } anc_trunc_mode;

/* How rows become pairs; a zeroed struct means no limits, keep_end, paired
 * rows. */
typedef struct anc_dataset_opts {
    int64_t max_length;         /* prompt + completion tokens; 0 = no limit */
    int64_t max_prompt_length;  /* 0 = no limit */
    anc_trunc_mode truncation;  /* which end of the prompt survives */
    int unpaired;               /* rows are prompt/completion/label */
    int64_t max_row_bytes;      /* rows with more text are dropped before tokenizing; 0 = no limit */
} anc_dataset_opts;

/* What building a dataset did. */
typedef struct anc_dataset_stats {
    size_t rows, kept;
    size_t dropped;             /* rows that cannot fit max_length even truncated */
    size_t dropped_bytes;       /* of dropped: longer than max_row_bytes, not tokenized */
    size_t truncated;           /* rows kept after truncation */
    size_t conversational, standard, pretokenised, implicit_prompt;
    size_t first_dropped_line;  /* 0 when none */
} anc_dataset_stats;

/* Reads the dataset file path and tokenises every row into *ps (filled on
 * success, zeroed on failure; release with anc_pairset_free). tok and tmpl
 * may be NULL when every row is pre-tokenised; tmpl is needed for
 * conversational rows (see anc_chat_template_resolve). o may be NULL (the
 * defaults). Ids are checked against vocab when vocab > 0 (pass the model's
 * vocab_size). Rows that cannot fit o->max_length even truncated are dropped
 * and counted in *st, which may be NULL. For unpaired rows, labels (may be
 * NULL) receives a malloc'd array of ps->n labels, 1 for desirable (caller
 * frees); otherwise *labels is NULL. Errors: ANC_ERR_IO (unreadable file),
 * ANC_ERR_FORMAT (a malformed row, an id outside the vocabulary, an empty
 * prompt or completion; naming file:line), ANC_ERR_INVALID (a text row
 * without tokenizer, a conversational row without template), ANC_ERR_NOMEM. */
ANC_API anc_status anc_dataset_load(const char *path, anc_tokenizer *tok, const anc_template *tmpl,
                                    const anc_dataset_opts *o, int vocab, anc_pairset *ps, uint8_t **labels,
                                    anc_dataset_stats *st, anc_error *err);

/* anc_dataset_load from memory: text[0..len) holds the rows (JSONL or a
 * JSON array; not kept), label names the source in errors (NULL:
 * "dataset"). Same results and errors (no ANC_ERR_IO). */
ANC_API anc_status anc_dataset_parse(const char *text, size_t len, const char *label, anc_tokenizer *tok,
                                     const anc_template *tmpl, const anc_dataset_opts *o, int vocab,
                                     anc_pairset *ps, uint8_t **labels, anc_dataset_stats *st, anc_error *err);

/* Releases the pairs of ps and zeroes it (NULL is a no-op). */
ANC_API void anc_pairset_free(anc_pairset *ps);

/* Tokens pair p counts for in a micro-batch budget (max_tokens of
 * anc_score_pairs): both sequences, 2 x prompt + chosen + rejected. */
ANC_API int64_t anc_pair_tokens(const anc_pair *p);

/* Token ids of a generation prompt given as JSON text prompt_json[0..len):
 * a JSON string (encoded with the tokenizer's BOS as for standard rows) or
 * a JSON array of messages (rendered with add_generation_prompt = true;
 * tmpl required). On success *ids (malloc'd, caller frees) holds *n ids.
 * Errors: ANC_ERR_FORMAT (not JSON, or neither a string nor a message
 * list), ANC_ERR_INVALID (a message list without template), those of the
 * tokenizer and the template, ANC_ERR_NOMEM. */
ANC_API anc_status anc_prompt_ids_json(anc_tokenizer *tok, const anc_template *tmpl, const char *prompt_json,
                                       size_t len, int32_t **ids, size_t *n, anc_error *err);

ANC_EXTERN_C_END

#endif
