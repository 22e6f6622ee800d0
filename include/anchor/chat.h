/* libanchor public API: chat templates. A model's own `chat_template` (the
 * Jinja2 source in tokenizer_config.json) rendered the way Hugging Face
 * transformers does (jinja2's sandboxed environment with trim_blocks and
 * lstrip_blocks, loop controls, tojson as json.dumps(ensure_ascii=False),
 * raise_exception and strftime_now), plus built-in templates (chatml,
 * llama3, llama2, zephyr, mistral) for tokenizers without one.
 *
 * Not supported (ANC_ERR_UNSUPPORTED naming label:line:column): extends,
 * block, include, import, recursive loops, star-arguments in calls, and the
 * few filters/tests/methods named as such in their error messages. Syntax
 * errors are ANC_ERR_FORMAT with label:line:column; errors raised while
 * rendering (raise_exception, type errors, use of an undefined value) are
 * ANC_ERR_INVALID with the line:column of the expression.
 *
 * Values cross this API as JSON text (UTF-8): a render context is a JSON
 * object, messages a JSON array of {"role": ..., "content": ...} objects.
 * A compiled anc_template is immutable: several threads may render it at
 * once. */
#ifndef ANCHOR_PUBLIC_CHAT_H
#define ANCHOR_PUBLIC_CHAT_H

#include "anchor/common.h"
#include "anchor/tokenizer.h"

ANC_EXTERN_C_BEGIN

typedef struct anc_template anc_template;

/* Render settings; a zeroed struct (or passing NULL) means the defaults. */
typedef struct anc_template_options {
    int has_now;        /* nonzero: strftime_now() formats now_utc; zero: the current time */
    int64_t now_utc;    /* seconds since 1970-01-01T00:00:00Z (formatted as UTC) */
    size_t max_output;  /* cap on rendered bytes; 0 = 64 MiB */
    size_t max_memory;  /* cap on one render's working memory; 0 = 512 MiB */
    uint64_t max_steps; /* cap on statements + loop iterations + calls; 0 = 50 million */
} anc_template_options;

/* Compiles source[0..len) (Jinja2; need not be NUL-terminated, not kept).
 * label names the template in error messages ("label:line:column: ...");
 * NULL means "chat_template". On success *out owns the compiled template
 * (release with anc_template_free). On failure *out is NULL and err says
 * what and where: ANC_ERR_FORMAT for syntax errors, ANC_ERR_UNSUPPORTED for
 * valid Jinja2 that anchor does not implement (including unknown filter or
 * test names), ANC_ERR_NOMEM. */
ANC_API anc_status anc_template_compile(anc_template **out, const char *source, size_t len, const char *label,
                                        anc_error *err);

/* Renders t with the members of the JSON object context_json[0..len) (NULL
 * or len 0: no variables) as template variables, e.g. messages,
 * add_generation_prompt, bos_token, eos_token, tools. Absent members are
 * undefined (transformers passes tools=None: give JSON null to mimic that);
 * key order is kept (it shows in tojson and dict iteration). opts may be
 * NULL. On success *out is a malloc'd NUL-terminated string (caller frees)
 * of *out_len bytes (out_len may be NULL). On failure *out is NULL and err
 * says why: ANC_ERR_FORMAT when context_json is not a JSON object (naming
 * line:column), ANC_ERR_INVALID for errors raised while rendering
 * ("label:line:col: raise_exception: msg") and for the limits of opts
 * (output, memory, steps), ANC_ERR_NOMEM. */
ANC_API anc_status anc_template_render_json(const anc_template *t, const char *context_json, size_t len,
                                            const anc_template_options *opts, char **out, size_t *out_len,
                                            anc_error *err);

/* Releases a compiled template; NULL is a no-op. */
ANC_API void anc_template_free(anc_template *t);

/* The label given at compile time, owned by t (never NULL). */
ANC_API const char *anc_template_label(const anc_template *t);

/* Source of the built-in template name ("chatml", "llama3", "llama2",
 * "zephyr", "mistral"), static storage, or NULL for an unknown name. Each
 * expects messages, add_generation_prompt and (except chatml) bos_token /
 * eos_token. */
ANC_API const char *anc_template_builtin(const char *name);

/* Name of built-in template i (0-based), static; NULL past the last one. */
ANC_API const char *anc_template_builtin_name(size_t i);

/* Picks and compiles the chat template a run uses: override is NULL (the
 * default template of tok, which may be NULL), a built-in name or the path
 * of a Jinja2 file. On success *out is a compiled template (anc_template_free)
 * or NULL when there is neither override nor tokenizer template (no error:
 * conversational rows then fail with a clear message). Errors: an override
 * that is neither a built-in name nor a readable file (ANC_ERR_IO), and
 * those of anc_template_compile. */
ANC_API anc_status anc_chat_template_resolve(const anc_tokenizer *tok, const char *override, anc_template **out,
                                             anc_error *err);

/* Renders the JSON array of messages messages_json[0..len) with tmpl as
 * transformers' apply_chat_template(tokenize=False): the variables are
 * messages, add_generation_prompt (nonzero: the assistant turn is opened),
 * the bos_token / eos_token strings of tok ("" when tok is NULL or names
 * none), and tools and documents as null. Output and errors as anc_template_render_json (ANC_ERR_FORMAT when
 * messages_json is not a JSON array). */
ANC_API anc_status anc_render_chat_json(const anc_template *tmpl, const anc_tokenizer *tok, const char *messages_json,
                                        size_t len, int add_generation_prompt, char **out, size_t *out_len,
                                        anc_error *err);

ANC_EXTERN_C_END

#endif
