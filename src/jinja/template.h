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
 * A compiled template is immutable: several threads may render it at once. */
#ifndef ANCHOR_TOKENIZER_TEMPLATE_H
#define ANCHOR_TOKENIZER_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct anc_template anc_template;

/* Render settings; a zeroed struct (or passing NULL) means the defaults. */
typedef struct anc_template_options {
    int has_now;        /* nonzero: strftime_now() formats now_utc; zero: the current time */
    int64_t now_utc;    /* seconds since 1970-01-01T00:00:00Z (formatted as UTC) */
    size_t max_output;  /* cap on rendered bytes; 0 = 64 MiB */
    size_t max_memory;  /* cap on one render's working memory; 0 = 512 MiB */
    uint64_t max_steps; /* cap on statements + loop iterations + calls; 0 = 50 million */
} anc_template_options;

/* Compiles len bytes of Jinja2 source. label names the template in error
 * messages ("label:line:column: ..."); NULL means "chat_template". On success
 * *out owns the compiled template (anc_template_free). On failure *out is
 * NULL and err says what and where: ANC_ERR_FORMAT for syntax errors,
 * ANC_ERR_UNSUPPORTED for valid Jinja2 that anchor does not implement
 * (including unknown filter or test names), ANC_ERR_NOMEM. */
anc_status anc_template_compile(anc_template **out, const char *source, size_t len, const char *label,
                                anc_error *err);

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

/* Frees a compiled template; NULL is a no-op. */
void anc_template_free(anc_template *t);

/* The label given at compile time (never NULL). */
const char *anc_template_label(const anc_template *t);

/* Source of a built-in template for `--chat-template NAME` overrides, or NULL
 * for an unknown name. Names: "chatml", "llama3", "llama2", "zephyr",
 * "mistral". The string is static; do not free it. Each expects messages,
 * add_generation_prompt and (except chatml) bos_token / eos_token. */
const char *anc_template_builtin(const char *name);

/* Name of built-in template i (0-based), NULL past the last one. */
const char *anc_template_builtin_name(size_t i);

#endif
