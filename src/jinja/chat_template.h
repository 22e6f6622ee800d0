/* Chat templates over a tokenizer: which template a run uses (an override
 * by built-in name or file, else the tokenizer's own) and rendering a
 * message list with the tokenizer's special tokens, as transformers'
 * apply_chat_template. The engine itself is jinja/template.h. */
#ifndef ANCHOR_JINJA_CHAT_TEMPLATE_H
#define ANCHOR_JINJA_CHAT_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

/* Picks the chat template: override is NULL (the tokenizer's own), a
 * built-in name (chatml, llama3, llama2, zephyr, mistral) or a file path.
 * *out is NULL when there is neither override nor tokenizer template
 * (conversational rows then fail with a clear error). */
anc_status anc_chat_template_resolve(const anc_tokenizer *tok, const char *override, anc_template **out,
                                     anc_error *err);

/* Renders messages (a JSON array) with tmpl into a malloc'd string. */
anc_status anc_render_chat(const anc_template *tmpl, const anc_tokenizer *tok, json_t *messages,
                           int add_generation_prompt, char **out, size_t *out_len, anc_error *err);

#endif
