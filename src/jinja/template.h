/* Chat templates: renders a model's own `chat_template` (the Jinja2 source
 * found in tokenizer_config.json) the way Hugging Face transformers does:
 * jinja2's ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks
 * on, the loopcontrols extension ({% break %}, {% continue %}), a pass-through
 * {% generation %} block, tojson as json.dumps(ensure_ascii=False) (key order
 * kept, ", " and ": " separators), and the globals raise_exception(msg) and
 * strftime_now(fmt). Undefined names render as "" and are falsy (jinja2's
 * default Undefined); using one as a value (attribute, arithmetic, call) is
 * an error, as in jinja2.
 *
 * Supported: text, {{ }}, {# #}, whitespace control (- and +), if/elif/else,
 * for (else, `if` filter, tuple unpacking, loop.*), set (names, tuples,
 * ns.attr, block set), macro/call, filter blocks, with, raw, break/continue,
 * literals, arithmetic, comparisons, in/not in, tests, ternaries, slicing,
 * the common jinja2 filters and tests, str/dict/list methods, range(),
 * dict(), namespace(), cycler(), joiner().
 * Not supported (ANC_ERR_UNSUPPORTED naming label:line:column): extends,
 * block, include, import, recursive loops, star-arguments (*args, **kwargs) in calls, and the
 * few filters/tests/methods listed as such in their error messages.
 * Syntax errors are ANC_ERR_FORMAT with label:line:column; errors raised
 * while rendering (raise_exception, type errors, undefined use) are
 * ANC_ERR_INVALID with the line:column of the expression.
 *
 * A compiled template is immutable: several threads may render it at once.
 *
 * Public (anchor/chat.h): anc_template, anc_template_options,
 * anc_template_compile, anc_template_free, anc_template_label,
 * anc_template_builtin, anc_template_builtin_name. */
#ifndef ANCHOR_TOKENIZER_TEMPLATE_H
#define ANCHOR_TOKENIZER_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "anchor/chat.h"
#include "core/error.h"

/* Renders t with the variables of context, a JSON object (NULL: no
 * variables) whose members become template variables: typically messages,
 * add_generation_prompt, bos_token, eos_token, tools, plus any extra ones.
 * Absent members are undefined (transformers passes tools=None and
 * documents=None when unused: pass JSON null to mimic that). Object key order
 * is kept (it shows in tojson and dict iteration). opts may be NULL.
 * On success *out is a malloc'd NUL-terminated string (caller frees) of
 * *out_len bytes (out_len may be NULL). On failure *out is NULL and err
 * carries the position and message; raise_exception(msg) surfaces as
 * ANC_ERR_INVALID "label:line:col: raise_exception: msg". Limits in opts
 * (output, memory, steps) fail with ANC_ERR_INVALID rather than exhaust the
 * machine; nesting of macros and values is bounded too. */
anc_status anc_template_render(const anc_template *t, const json_t *context, const anc_template_options *opts,
                               char **out, size_t *out_len, anc_error *err);

#endif
