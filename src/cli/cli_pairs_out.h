/* Pair records as commands write them (TRL rows plus anchor's fields) and
 * writing a step's records from the run store in input order. */
#ifndef ANCHOR_CLI_PAIRS_OUT_H
#define ANCHOR_CLI_PAIRS_OUT_H

#include <jansson.h>

#include "data/jsonl.h" /* anc_prompt_text */
#include "store/store.h"

/* {"id", "prompt", "chosen", "rejected", "source"}: with a message-list
 * prompt, chosen and rejected are one assistant message each (TRL's
 * conversational form); with a string prompt, strings. New reference. */
json_t *cli_pair_record(const char *id, const json_t *prompt, const char *chosen, const char *rejected,
                        const char *source);


/* Writes the DONE records of step that hold a pair ("chosen") for ids[0..n) (input order; ids repeated
 * in the input are written once) to out atomically; counts the pairs
 * written, the items done (may be NULL) and the items failed. */
anc_status cli_pairs_write_ordered(anc_store *store, const char *step, const char *const *ids, size_t n,
                                   const char *out, size_t *written, size_t *done, size_t *failed, anc_error *err);

#endif
