/* libanchor public API: Hugging Face tokenizers, in C: load a `tokenizer.json` (+ optional
 * `tokenizer_config.json`) and encode/decode exactly as the Rust
 * `tokenizers` library does for the supported components:
 *
 *   model          BPE (vocab, merges as "a b" strings or [a, b] pairs,
 *                  byte_fallback, unk_token + fuse_unk, ignore_merges,
 *                  continuing_subword_prefix, end_of_word_suffix)
 *   normalizers    Prepend, Replace (String / Regex), NFC, NFD, NFKC, NFKD,
 *                  Lowercase, Strip, StripAccents, ByteLevel, Sequence
 *   pre-tokenizers ByteLevel, Split, Digits, Metaspace, Whitespace,
 *                  WhitespaceSplit, Punctuation, BertPreTokenizer,
 *                  CharDelimiterSplit, Sequence
 *   decoders       ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
 *                  BPEDecoder, Sequence
 *   post-proc.     TemplateProcessing, ByteLevel, RobertaProcessing,
 *                  BertProcessing, Sequence
 *   added tokens   special or not; lstrip, rstrip, normalized, single_word
 *
 * Regexes run on PCRE2 (UTF + UCP), with the empty-match rules of the
 * Oniguruma engine HF uses. Anything else is refused at load time with
 * ANC_ERR_UNSUPPORTED; malformed files give ANC_ERR_FORMAT; every message
 * names the file and the JSON position (line:column) or key path.
 *
 * Thread safety: a loaded tokenizer keeps a bounded per-word cache and regex
 * scratch space, so one anc_tokenizer must not be used by two threads at
 * once (load one per thread; they are independent). Decoding and the
 * lookups never write to the object. */
#ifndef ANCHOR_PUBLIC_TOKENIZER_H
#define ANCHOR_PUBLIC_TOKENIZER_H

#include "anchor/common.h"

ANC_EXTERN_C_BEGIN

typedef struct anc_tokenizer anc_tokenizer;

/* Loads tokenizer_json_path and, when tokenizer_config_path is not NULL,
 * that tokenizer_config.json (special token names, add_bos_token /
 * add_eos_token, chat templates, model_max_length). On success *out is a new
 * tokenizer (free with anc_tokenizer_free); on failure *out is NULL and err
 * says why: ANC_ERR_IO (a file cannot be read), ANC_ERR_FORMAT (malformed
 * JSON or a bad value, with line:column or the key path),
 * ANC_ERR_UNSUPPORTED (a component listed above as missing), ANC_ERR_NOMEM. */
ANC_API anc_status anc_tokenizer_load(anc_tokenizer **out, const char *tokenizer_json_path,
                                      const char *tokenizer_config_path, anc_error *err);

/* Loads model_dir/tokenizer.json plus model_dir/tokenizer_config.json when
 * that file exists; results and errors as anc_tokenizer_load. */
ANC_API anc_status anc_tokenizer_load_dir(anc_tokenizer **out, const char *model_dir, anc_error *err);

/* Same as anc_tokenizer_load from memory: json/json_len is the
 * tokenizer.json text, config/config_len the tokenizer_config.json text (config
 * may be NULL). source_name labels error messages (e.g. a file name). The
 * texts need not be NUL-terminated and are not kept. Results and errors as
 * anc_tokenizer_load (no ANC_ERR_IO). */
ANC_API anc_status anc_tokenizer_load_text(anc_tokenizer **out, const char *json, size_t json_len,
                                           const char *config, size_t config_len,
                                           const char *source_name, anc_error *err);

/* Frees tok (NULL is fine). */
ANC_API void anc_tokenizer_free(anc_tokenizer *tok);

/* Encodes text[0..len) (UTF-8; invalid UTF-8 is ANC_ERR_INVALID) into a
 * malloc'd array *ids of *n token ids (caller frees; *ids may be NULL when
 * *n is 0). add_special = 0 gives the raw encoding (added tokens are still
 * recognised in the text, as in HF). add_special = 1 also adds the special
 * tokens: when tokenizer_config.json sets add_bos_token or add_eos_token
 * explicitly, BOS/EOS are added as those flags say (the transformers Llama
 * behaviour, which rebuilds the post-processor from them); otherwise the
 * tokenizer.json post-processor's single-sequence template is applied. */
ANC_API anc_status anc_tokenizer_encode(anc_tokenizer *tok, const char *text, size_t len, int add_special,
                                        int32_t **ids, size_t *n, anc_error *err);

/* Decodes ids[0..n) into a malloc'd NUL-terminated UTF-8 string *text of
 * *len bytes (caller frees) through the tokenizer.json decoder (tokens joined
 * with " " when there is none). As in tokenizers >= 0.23, an added token
 * with normalized = true enters the decoder in its normalized form (Llama-2's
 * <s> as "▁<s>"). skip_special = 1 drops special added tokens, normalized
 * ones included (tokenizers 0.23 keeps those, comparing their normalized
 * form with the special token's content; earlier versions drop them too).
 * An id with no token is ANC_ERR_INVALID (HF silently drops it). */
ANC_API anc_status anc_tokenizer_decode(const anc_tokenizer *tok, const int32_t *ids, size_t n,
                                        int skip_special, char **text, size_t *len, anc_error *err);

/* Id of the token whose string is token[0..len) (added tokens first, then the
 * model vocabulary), or -1. */
ANC_API int32_t anc_tokenizer_token_to_id(const anc_tokenizer *tok, const char *token, size_t len);

/* The string of token id (not NUL-terminated; its length in *len, which may
 * be NULL), owned by tok, or NULL when id has no token. */
ANC_API const char *anc_tokenizer_id_to_token(const anc_tokenizer *tok, int32_t id, size_t *len);

/* One past the largest token id (model vocabulary and added tokens): the
 * number of embedding rows the tokenizer needs. */
ANC_API size_t anc_tokenizer_vocab_size(const anc_tokenizer *tok);

/* 1 when id is a special added token (skipped by skip_special), else 0. */
ANC_API int anc_tokenizer_is_special(const anc_tokenizer *tok, int32_t id);

/* Ids of the tokenizer_config.json bos/eos/pad/unk tokens, or -1 when the
 * config does not name one or names a token the tokenizer lacks. Without a
 * config, unk falls back to the BPE model's unk_token. */
ANC_API int32_t anc_tokenizer_bos_id(const anc_tokenizer *tok);
ANC_API int32_t anc_tokenizer_eos_id(const anc_tokenizer *tok);
ANC_API int32_t anc_tokenizer_pad_id(const anc_tokenizer *tok);
ANC_API int32_t anc_tokenizer_unk_id(const anc_tokenizer *tok);

/* Strings of those tokens as the config names them (NUL-terminated, owned by
 * tok), or NULL. which is one of "bos", "eos", "pad", "unk". */
ANC_API const char *anc_tokenizer_special_token(const anc_tokenizer *tok, const char *which);

/* add_bos_token / add_eos_token of the config: 1 or 0, or -1 when absent. */
ANC_API int anc_tokenizer_add_bos(const anc_tokenizer *tok);
ANC_API int anc_tokenizer_add_eos(const anc_tokenizer *tok);

/* model_max_length of the config, clamped to [0, INT64_MAX]; 0 when absent.
 * (HF writes 1e30 for "no limit"; that reads as INT64_MAX.) */
ANC_API int64_t anc_tokenizer_model_max_length(const anc_tokenizer *tok);

/* The chat template named name (NULL or "default": the default one) as a
 * NUL-terminated string owned by tok, or NULL when there is none. A config
 * whose chat_template is a string has only the default template; a list of
 * {name, template} keeps every entry by name. */
ANC_API const char *anc_tokenizer_chat_template(const anc_tokenizer *tok, const char *name);

/* Number of named chat templates (the default one included when present)
 * and the name of the i-th (NULL when i is out of range). */
ANC_API size_t anc_tokenizer_chat_template_count(const anc_tokenizer *tok);
ANC_API const char *anc_tokenizer_chat_template_name(const anc_tokenizer *tok, size_t i);

ANC_EXTERN_C_END

#endif
