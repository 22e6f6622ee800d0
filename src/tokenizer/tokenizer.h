/* Hugging Face tokenizers: the public part (loading, encoding, decoding,
 * lookups, special tokens, chat template sources) is anchor/tokenizer.h,
 * which documents the supported components; this header adds what only
 * anchor itself uses. */
#ifndef ANCHOR_TOKENIZER_TOKENIZER_H
#define ANCHOR_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "anchor/tokenizer.h"
#include "core/error.h"

/* Converts llama2.c's tokenizer file (tok_bin_path: int32 max_token_length,
 * then vocab_size records of float32 score, int32 length, bytes) into an
 * equivalent Hugging Face tokenizer.json: SentencePiece-style BPE with the
 * Llama-2 legacy normalizer (Prepend "▁", Replace " " -> "▁"), byte
 * fallback, <unk>=0, <s>=1, </s>=2, and merges ordered by the score of the
 * merged token, so that HF BPE gives the ids of llama2.c's encode()
 * (highest-scoring pair first). *json_text (caller frees) is the
 * tokenizer.json text; when config_text is not NULL, *config_text (caller
 * frees) is a tokenizer_config.json with bos "<s>", eos "</s>", unk "<unk>",
 * add_bos_token true, add_eos_token false. A vocab_size that does not match
 * the file is ANC_ERR_FORMAT. */
anc_status anc_tokenizer_from_llama2c(const char *tok_bin_path, int vocab_size, char **json_text,
                                      char **config_text, anc_error *err);

#endif
