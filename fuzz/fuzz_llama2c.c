/* libFuzzer target for llama2.c files (`anchor convert --from llama2c`).
 * Byte 0 picks the file type (the rest is written to a private temp folder):
 *   even: a v0 checkpoint (bytes 1..) read with anc_llama2c_load; a model
 *         that loads is saved as a Hugging Face folder (anc_model_save_hf,
 *         f32) and read back with anc_model_load_hf: same config, same
 *         weights bit for bit.
 *   odd:  a tokenizer.bin (bytes 3..) converted with
 *         anc_tokenizer_from_llama2c for vocab_size = bytes 1..2 (uint16,
 *         little-endian); the tokenizer.json/tokenizer_config.json it makes
 *         must load (anc_tokenizer_load_text) and encode/decode a few texts,
 *         with every id inside the vocabulary.
 * Failures explain themselves and return nothing.
 * Finding fixed: a token holding a NUL byte converted to a tokenizer.json
 * that did not load; the converter now refuses it.
 * Seeds: fuzz/corpus/fuzz_llama2c/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tmp.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void checkpoint(const char *dir, const char *path) {
    anc_model *m = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_llama2c_load(&m, path, &err) != ANC_OK) {
        if (m || err.message[0] == '\0') abort();
        return;
    }
    if (!m || anc_config_validate(&m->cfg, "llama2c", &err) != ANC_OK) abort();
    if (m->n_params != anc_param_count(&m->cfg)) abort();
    char *hf = fz_path(dir, "hf");
    if (!hf) {
        anc_model_free(m);
        return;
    }
    if (anc_model_save_hf(m, hf, ANC_DT_F32, &err) != ANC_OK) abort();
    anc_model *back = NULL;
    if (anc_model_load_hf(&back, hf, &err) != ANC_OK) abort();
    if (back->n_params != m->n_params || memcmp(back->params, m->params, sizeof(float) * m->n_params) != 0) abort();
    if (back->cfg.num_layers != m->cfg.num_layers || back->cfg.vocab_size != m->cfg.vocab_size ||
        back->cfg.head_dim != m->cfg.head_dim || back->cfg.tie_word_embeddings != m->cfg.tie_word_embeddings)
        abort();
    anc_model_free(back);
    anc_model_free(m);
    free(hf);
}

static void tokenizer(const char *path, int vocab) {
    static const char *texts[] = {"", "Hello world", " a  b\n", "\xC3\xA9t\xC3\xA9 \xF0\x9F\xA6\x99", "<s>x</s>"};
    char *json = NULL, *config = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_tokenizer_from_llama2c(path, vocab, &json, &config, &err) != ANC_OK) {
        if (json || config || err.message[0] == '\0') abort();
        return;
    }
    if (!json || !config) abort();
    anc_tokenizer *tok = NULL;
    if (anc_tokenizer_load_text(&tok, json, strlen(json), config, strlen(config), "tokenizer.json", &err) != ANC_OK) {
        abort(); /* what convert writes must load */
    }
    size_t v = anc_tokenizer_vocab_size(tok);
    if (v == 0 || v > (size_t)vocab) abort();
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (anc_tokenizer_encode(tok, texts[t], strlen(texts[t]), 1, &ids, &n, &err) != ANC_OK) {
            if (ids || err.message[0] == '\0') abort();
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab) abort();
        char *out = NULL;
        size_t out_len = 0;
        if (anc_tokenizer_decode(tok, ids, n, 1, &out, &out_len, &err) == ANC_OK) free(out);
        else if (out || err.message[0] == '\0') abort();
        free(ids);
    }
    anc_tokenizer_free(tok);
    free(json);
    free(config);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int tok = data[0] & 1;
    size_t skip = tok ? 3 : 1;
    if (size < skip) return 0;
    char *dir = fz_tmpdir();
    if (!dir) return 0;
    char *path = fz_path(dir, tok ? "tokenizer.bin" : "model.bin");
    if (path && fz_write(path, data + skip, size - skip) == 0) {
        if (tok) tokenizer(path, (int)(data[1] | (data[2] << 8)));
        else checkpoint(dir, path);
    }
    free(path);
    fz_rmtree(dir);
    free(dir);
    return 0;
}
