/* Generation of text responses for evaluation (anchor eval, anchor ab
 * --model-a/--model-b): prompts -> token ids (anc_prompt_ids: BOS for string
 * prompts, the chat template for message lists) -> anc_generate -> decoded
 * text (special tokens skipped). Stops at the tokenizer's EOS and at the
 * eos_token_id(s) of model_dir/generation_config.json, as anchor generate
 * does. Greedy when temperature is 0. */
#ifndef ANCHOR_EVAL_GEN_H
#define ANCHOR_EVAL_GEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/progress.h"
#include "model/model.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

typedef struct anc_eval_gen_opts {
    int max_new_tokens;   /* >= 1 */
    double temperature;   /* 0 = greedy */
    double top_p;         /* 1 = off */
    int top_k;            /* 0 = off */
    uint64_t seed;
    int parallel;         /* sequences decoded together (>= 1) */
} anc_eval_gen_opts;

/* Defaults: 256 new tokens, greedy, top_p 1, top_k 0, seed 0, parallel 8. */
void anc_eval_gen_opts_init(anc_eval_gen_opts *o);


/* Generates one response per prompts[i] (a string or a message list;
 * tmpl may be NULL when every prompt is a string) into *texts, a malloc'd
 * array of n malloc'd strings (free with anc_eval_texts_free). Errors name
 * the prompt index. */
anc_status anc_eval_generate(const anc_model *m, anc_tokenizer *tok, const anc_template *tmpl, const char *model_dir,
                             const json_t *const *prompts, size_t n, const anc_eval_gen_opts *o, char ***texts,
                             anc_progress_fn progress, void *progress_ctx, anc_error *err);

void anc_eval_texts_free(char **texts, size_t n);

#endif
