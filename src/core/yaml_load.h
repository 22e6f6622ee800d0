/* Loading YAML documents safely: the one entry the pipeline file and
 * `--config` files go through. libyaml's loader has no nesting limit and
 * slows quadratically on deep flow nesting (100,000 '[' took 20 s), and it
 * keeps the last of two equal keys silently; this wrapper refuses both,
 * naming file:line. */
#ifndef ANCHOR_CORE_YAML_LOAD_H
#define ANCHOR_CORE_YAML_LOAD_H

#include <stddef.h>
#include <yaml.h>

#include "core/error.h"

#define ANC_YAML_MAX_DEPTH 64          /* nested sequences / mappings */
#define ANC_YAML_MAX_BYTES ((size_t)16 << 20)

/* Parses len bytes of text (label names it in errors) into *doc, which the
 * caller releases with yaml_document_delete on success (on failure *doc
 * holds nothing). Errors (ANC_ERR_FORMAT): invalid YAML
 * ("label:line:col: invalid YAML: ..."), nesting deeper than
 * ANC_YAML_MAX_DEPTH, a mapping with the same scalar key twice
 * ("label:line: key 'k' given twice (first at line N)"). An empty text
 * gives a document without a root node. */
anc_status anc_yaml_load_text(const char *text, size_t len, const char *label, yaml_document_t *doc, anc_error *err);

/* anc_yaml_load_text of the file at path (at most ANC_YAML_MAX_BYTES). */
anc_status anc_yaml_load_file(const char *path, yaml_document_t *doc, anc_error *err);

#endif
