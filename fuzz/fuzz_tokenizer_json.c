/* libFuzzer target for tokenizer.json loading and encoding. The input is a
 * tokenizer.json text, optionally followed by a NUL byte and a text to
 * encode (otherwise a few fixed texts are encoded). Every successful encode
 * is decoded again and every id must have a token; failures must explain
 * themselves. Seeds: fuzz/corpus/fuzz_tokenizer_json/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode_decode(anc_tokenizer *tok, const char *text, size_t len) {
    anc_error err;
    anc_error_clear(&err);
    for (int add_special = 0; add_special < 2; add_special++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (anc_tokenizer_encode(tok, text, len, add_special, &ids, &n, &err) != ANC_OK) {
            if (ids || err.message[0] == '\0') abort();
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (!anc_tokenizer_id_to_token(tok, ids[i], NULL)) abort(); /* ids from the file must decode */
        for (int skip = 0; skip < 2; skip++) {
            char *out = NULL;
            size_t out_len = 0;
            if (anc_tokenizer_decode(tok, ids, n, skip, &out, &out_len, &err) != ANC_OK) abort();
            if (!out || strlen(out) > out_len) abort();
            free(out);
        }
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *texts[] = {
        "", " ", "Hello world! It's 2024.", "  a\tb\n\nc  ", "\xC3\xA9\xE6\x97\xA5\xF0\x9F\xA6\x99 <s></s><unk>",
        "\xE2\x96\x81x\xE2\x96\x81\xE2\x96\x81", "'s 'LL 123456 ###",
    };
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    anc_tokenizer *tok = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_tokenizer_load_text(&tok, (const char *)data, json_len, NULL, 0, "fuzz.json", &err) != ANC_OK) {
        if (tok || err.message[0] == '\0') abort();
        return 0;
    }
    if (nul) {
        encode_decode(tok, (const char *)nul + 1, size - json_len - 1);
    } else {
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) encode_decode(tok, texts[i], strlen(texts[i]));
    }
    (void)anc_tokenizer_vocab_size(tok);
    anc_tokenizer_free(tok);
    return 0;
}
