/* Chat templates over a tokenizer: which template a run uses (an override
 * by built-in name or file, else the tokenizer's own) and rendering a
 * message list with the tokenizer's special tokens, as transformers'
 * apply_chat_template. The engine itself is jinja/template.h.
 * anc_chat_template_resolve is public (anchor/chat.h). */
#ifndef ANCHOR_JINJA_CHAT_TEMPLATE_H
#define ANCHOR_JINJA_CHAT_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "anchor/chat.h"
#include "core/error.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

/* Renders messages (a JSON array) with tmpl into a malloc'd string. */
anc_status anc_render_chat(const anc_template *tmpl, const anc_tokenizer *tok, json_t *messages,
                           int add_generation_prompt, char **out, size_t *out_len, anc_error *err);

#endif
