/* Prompt templates for the CLAIR modules: single-pass {placeholder}
 * substitution, template files checked for their placeholders. The string
 * buffer and the UTF-8 and whitespace helpers they build on are
 * core/strbuf.h and core/text.h (included here). No global state. */
#ifndef ANCHOR_CLAIR_TEXT_H
#define ANCHOR_CLAIR_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/text.h"

/* ---- prompt templates --------------------------------------------------- */

/* One placeholder: "{name}" in a template is replaced by value. */
typedef struct anc_text_var {
    const char *name;   /* without braces, e.g. "input" */
    const char *value;  /* NUL-terminated replacement text */
} anc_text_var;

/* Renders tmpl into a malloc'd string (*out, caller frees). Every exact
 * occurrence of "{name}" for a name in vars is replaced by its value; all
 * other text, including other braces such as "{task}", is copied literally.
 * Substitution is a single left-to-right pass: inserted values are never
 * scanned again, so a value that itself contains "{output}" stays as is. */
anc_status anc_text_fill(const char *tmpl, const anc_text_var *vars, size_t n_vars, char **out, anc_error *err);

/* Loads a template file (at most 1 MiB, valid UTF-8 not required) into a
 * malloc'd string (*out, caller frees). One trailing newline ("\n" or
 * "\r\n") that editors add is dropped. Each of the n_required names must
 * occur as "{name}" at least once; otherwise ANC_ERR_FORMAT names the file
 * and the missing placeholder. */
anc_status anc_text_template_load(const char *path, const char *const *required, size_t n_required, char **out,
                                  anc_error *err);

/* Checks that tmpl holds each required "{name}"; label names it in errors. */
anc_status anc_text_template_check(const char *tmpl, const char *const *required, size_t n_required,
                                   const char *label, anc_error *err);

#endif
