/* A model answering chat messages: the `local:DIR` LLM backend (a reviser,
 * judge or stronger model run by anchor itself). Messages are rendered with
 * the model's chat template (add_generation_prompt = true), the reply is
 * sampled with the KV cache and decoded without special tokens. */
#ifndef ANCHOR_LLM_LOCAL_H
#define ANCHOR_LLM_LOCAL_H

#include <jansson.h>

#include "core/error.h"
#include "model/model.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

typedef struct anc_chat_model anc_chat_model;

/* The token ids that end a generated reply for the model in model_dir
 * (model_dir may be NULL): the tokenizer's EOS, the eos_token_id(s) of
 * generation_config.json (an integer or a list), and the end-of-turn
 * markers of common chat templates (<|im_end|>, <|eot_id|>, <|end|>,
 * <end_of_turn>) when the vocabulary has them. Writes at most cap ids,
 * without duplicates, and returns how many. */
int anc_stop_ids(const char *model_dir, const anc_tokenizer *tok, int32_t *out, int cap);

/* Loads dir (weights, tokenizer, chat template; chat_template may override
 * it: a built-in name or a file). */
anc_status anc_chat_model_load(anc_chat_model **out, const char *dir, const char *chat_template, anc_error *err);
void anc_chat_model_free(anc_chat_model *c);

/* anc_llm_local_fn-compatible: answers messages under params (temperature,
 * top_p, max_tokens, seed; defaults greedy, 512 tokens, seed 0). ctx is an
 * anc_chat_model. *text is malloc'd. */
anc_status anc_chat_model_answer(void *ctx, const json_t *messages, const json_t *params, char **text, anc_error *err);

#endif
