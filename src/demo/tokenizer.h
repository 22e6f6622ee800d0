/* A tiny Hugging Face tokenizer for the demo task family (demo/task.h):
 * a character-level BPE over the task alphabet with a few merges for its
 * frequent words, so a tiny model trains on short sequences. */
#ifndef ANCHOR_DEMO_TOKENIZER_H
#define ANCHOR_DEMO_TOKENIZER_H

#include "core/error.h"

/* Writes a tokenizer.json and a matching tokenizer_config.json, both
 * malloc'd NUL-terminated texts (caller frees; config_text may be NULL when
 * not wanted). The tokenizer: added special tokens <pad>=0, <s>=1, </s>=2,
 * <unk>=3; then one token per character of the alphabet (digits, a-z, the
 * capitals A B E I N O Q S T, space, newline, '.', ':', ',', ';'); then the
 * tokens of its merges. No normalizer or pre-tokenizer (the whole text is
 * one BPE word), byte_fallback off, unk_token <unk>, decoder Fuse, and a
 * TemplateProcessing post-processor that prepends <s>. Two-digit numbers are single tokens (merges "1"+"0" -> "10"); 195 ids.
 * The config: bos "<s>", eos "</s>", pad "<pad>", unk "<unk>",
 * add_bos_token true, add_eos_token false, model_max_length 512, and the
 * chat template
 *   {{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}Q: ...\nA: {% else %}...{{ eos_token }}...
 * so a prompt's rendering ("<s>Q: x\nA: ") is a prefix of its conversation's
 * ("<s>Q: x\nA: y</s>"), with or without add_generation_prompt.
 * Every string of the task family (prompts, reference, stronger, revised and
 * mistaken answers) encodes without <unk> and decodes back exactly.
 * ANC_ERR_NOMEM only. */
anc_status anc_demo_tokenizer_json(char **json_text, char **config_text, anc_error *err);

#endif
