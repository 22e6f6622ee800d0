/* Importing preference data from other projects into anchor's pair format:
 * TRL conversational rows (design notes §3)
 *
 *   {"prompt":   [{"role": "user", "content": ...}, ...],
 *    "chosen":   [{"role": "assistant", "content": ...}],
 *    "rejected": [{"role": "assistant", "content": ...}],
 *    "id": "...", "source": "..."}
 *
 * and, for unpaired (KTO-style) data,
 *
 *   {"prompt": [...], "completion": [{"role": "assistant", ...}], "label": true|false, "id", "source"}.
 *
 * Formats (anc_import_format):
 *  ultrafeedback       HuggingFaceH4/ultrafeedback_binarized and any TRL preference row: "chosen" and
 *                      "rejected" as message lists that share every turn but the final assistant one (those
 *                      shared turns become the prompt), or as strings next to a "prompt" (string or message
 *                      list). "prompt_id" or "id" becomes the id; "score_chosen"/"score_rejected" are kept.
 *  hh-rlhf             Anthropic HH-RLHF rows {"chosen", "rejected"}: whole transcripts "\n\nHuman: ...
 *                      \n\nAssistant: ..." with an implicit shared prompt. The prompt is the longest common
 *                      prefix cut back to its last "\n\nAssistant:" turn boundary (as TRL's hh-rlhf script);
 *                      this is right also when one response is a prefix of the other. The prompt transcript
 *                      becomes user/assistant messages (one space after each "Human:"/"Assistant:" dropped),
 *                      the rest of each transcript the response. A response that itself holds further
 *                      "\n\nHuman:"/"\n\nAssistant:" turns is skipped (5 rows of the harmless-base test split):
 *                      training on it would teach the model to write the user's turns.
 *  llama-factory       LLaMA-Factory preference files, detected per row: sharegpt ("conversations" of
 *                      {"from","value"} ending with the user's turn, "chosen"/"rejected" {"from":"gpt",
 *                      "value"}, optional "system"), alpaca ("instruction", optional "input", "chosen",
 *                      "rejected", optional "system" and "history" [[q, a], ...]; instruction and input are
 *                      joined by "\n" as LLaMA-Factory does), and v1 ("chosen_messages"/"rejected_messages"
 *                      with content parts [{"type":"text","value"}]).
 *  llama-factory-kto   LLaMA-Factory KTO rows: "messages" or "conversations" ending with the assistant's
 *                      completion, and "label" or "kto_tag" (true/false or 1/0); alpaca-style
 *                      "instruction"/"input"/"output" rows too. Written as unpaired rows.
 *
 * Roles: user/human -> user, assistant/gpt/bot/model -> assistant, system -> system. Rows that cannot make a
 * usable pair are skipped with a reason (empty response, identical responses, tool turns, ...); rows of the
 * wrong shape (missing fields, wrong JSON types) are errors that name file:line and what was expected.
 */
#ifndef ANCHOR_CLAIR_IMPORT_H
#define ANCHOR_CLAIR_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "clair/text.h"
#include "core/error.h"
#include "data/jsonl.h"

typedef enum anc_import_format {
    ANC_IMPORT_ULTRAFEEDBACK = 0,
    ANC_IMPORT_HH_RLHF,
    ANC_IMPORT_LLAMA_FACTORY,
    ANC_IMPORT_LLAMA_FACTORY_KTO
} anc_import_format;

/* "ultrafeedback", "hh-rlhf", "llama-factory", "llama-factory-kto" (also
 * with '_'). Unknown names are ANC_ERR_INVALID listing the valid ones. */
anc_status anc_import_format_parse(const char *name, anc_import_format *out, anc_error *err);
/* The canonical name. Never NULL. */
const char *anc_import_format_name(anc_import_format f);

/* Converts one input row. On success either *out is a new row (caller
 * json_decref's) and *skip is NULL, or *out is NULL and *skip is a static
 * reason string for skipping the row. source names the dataset in the row's
 * "source" field; the id is the row's own id when it has one, else
 * "<source>-<line>". label and line name the row in errors. */
anc_status anc_import_row(anc_import_format f, const json_t *row, const char *source, const char *label, size_t line,
                          json_t **out, const char **skip, anc_error *err);

#define ANC_IMPORT_MAX_REASONS 16

typedef struct anc_import_reason {
    const char *reason;    /* static string from anc_import_row */
    size_t count;
    size_t first_line;     /* line of the first row skipped for it */
} anc_import_reason;

typedef struct anc_import_summary {
    size_t read, written, skipped;
    anc_import_reason reasons[ANC_IMPORT_MAX_REASONS];
    size_t n_reasons;
} anc_import_summary;

/* Converts every row (rows->lines give the line numbers). *out is a new
 * JSON array of the written rows (caller json_decref's); *sum counts rows
 * read, written and skipped per reason. A malformed row stops the import
 * with an error naming label:line (nothing is returned). */
anc_status anc_import_rows(anc_import_format f, const anc_rows *rows, const char *source, const char *label,
                           json_t **out, anc_import_summary *sum, anc_error *err);

/* Appends each element of array as one compact JSON line (keys in insertion
 * order, UTF-8 kept) to out. */
anc_status anc_import_dump_jsonl(const json_t *array, anc_sbuf *out, anc_error *err);

/* The text of a response field of a pair row, as used by the statistics:
 * row[key] may be a string, a message list (the content of its last
 * "assistant"/"gpt" message), or one message object ({"role","content"} or
 * {"from","value"}); a missing key falls back to "<key>_messages" (LLaMA-Factory v1). Content may be a string or a list of text parts
 * ({"type":"text","text"|"value"} or plain strings), which are concatenated.
 * *out is malloc'd (caller frees). Errors name label:line and key. */
anc_status anc_pair_text(const json_t *row, const char *key, char **out, const char *label, size_t line,
                         anc_error *err);

#endif
