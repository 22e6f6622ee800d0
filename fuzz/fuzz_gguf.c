/* libFuzzer target for the GGUF reader (`anchor convert --from gguf`):
 * parse an arbitrary buffer with anc_gguf_parse; when it parses, touch
 * every KV through the typed getters and every tensor (its first and last
 * byte, a fp32 read of the types anchor reads), then build a model from it
 * (anc_gguf_load_model; nothing is sized beyond what the file holds) and a
 * tokenizer.json from its vocabulary (anc_gguf_vocab_to_hf), which must
 * load in anchor's tokenizer. A model that loads is written back as a GGUF
 * (f32) and read again: the same parameters, bit for bit. Failures must
 * explain themselves.
 * Seeds: fuzz/corpus/fuzz_gguf/ (valid files written by anchor's writer:
 * KVs of every type, tiny llama/qwen2 models with SentencePiece-style and
 * byte-level vocabularies, q8_0; and broken ones). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/gguf_model.h"
#include "fuzz_tmp.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_READ_ELEMS ((uint64_t)1 << 20)

static void touch_kvs(const anc_gguf *g) {
    anc_error err;
    for (size_t i = 0; i < anc_gguf_kv_count(g); i++) {
        const anc_gguf_kv *kv = anc_gguf_kv_at(g, i);
        if (!kv || anc_gguf_find(g, "") != NULL) abort();
        int64_t iv;
        double dv;
        int bv;
        anc_gguf_str s;
        (void)anc_gguf_kv_int(g, kv, &iv, &err);
        (void)anc_gguf_kv_float(g, kv, &dv, &err);
        (void)anc_gguf_kv_bool(g, kv, &bv, &err);
        if (anc_gguf_kv_string(g, kv, &s, &err) == ANC_OK && s.len) {
            const volatile char *p = s.s;
            (void)p[0];
            (void)p[s.len - 1];
        }
        anc_gguf_str *arr = NULL;
        if (anc_gguf_kv_strings(g, kv, &arr, &err) == ANC_OK) {
            for (uint64_t k = 0; k < kv->n; k++)
                if (arr[k].len) {
                    const volatile char *p = arr[k].s;
                    (void)p[arr[k].len - 1];
                }
            free(arr);
        }
        for (uint64_t k = 0; k < kv->n && k < 64; k++) (void)anc_gguf_kv_array_num(g, kv, k, &dv, &err);
    }
}

static void touch_tensors(const anc_gguf *g, size_t size) {
    anc_error err;
    for (size_t i = 0; i < anc_gguf_tensor_count(g); i++) {
        const anc_gguf_tensor *t = anc_gguf_tensor_at(g, i);
        if (anc_gguf_find_tensor(g, t->name) != t) abort();
        if (t->nbytes) {
            if (anc_gguf_data_offset(g) + t->offset + t->nbytes > size) abort();
            const volatile unsigned char *p = t->data;
            (void)p[0];
            (void)p[t->nbytes - 1];
        }
        if (t->n_elems > MAX_READ_ELEMS) continue;
        float *buf = malloc((size_t)(t->n_elems ? t->n_elems : 1) * sizeof(float));
        if (!buf) continue;
        anc_status st = anc_gguf_tensor_read_f32(g, t, buf, t->n_elems, &err);
        if (st != ANC_OK && st != ANC_ERR_UNSUPPORTED) abort();
        free(buf);
    }
}

/* A model that loads survives a write and a read. */
static void model_roundtrip(const anc_model *m) {
    char *dir = fz_tmpdir();
    if (!dir) return;
    char *p = fz_path(dir, "m.gguf");
    anc_error err;
    anc_gguf_writer *w = NULL;
    anc_gguf_model_keep keep;
    memset(&keep, 0, sizeof keep);
    anc_gguf_model_counts c;
    if (p && anc_gguf_writer_create(&w, 0, &err) == ANC_OK) {
        if (anc_gguf_put_model(w, m, ANC_GGML_F32, NULL, &keep, &c, &err) != ANC_OK) abort();
        if (anc_gguf_write(w, p, NULL, NULL, NULL, &err) != ANC_OK) abort();
        anc_gguf *g = NULL;
        anc_model *b = NULL;
        if (anc_gguf_open(&g, p, &err) != ANC_OK || anc_gguf_load_model(g, &b, &err) != ANC_OK) abort();
        if (b->n_params != m->n_params || memcmp(b->params, m->params, sizeof(float) * m->n_params) != 0) abort();
        anc_model_free(b);
        anc_gguf_close(g);
    }
    anc_gguf_writer_free(w);
    anc_gguf_model_keep_free(&keep);
    free(p);
    fz_rmtree(dir);
    free(dir);
}

static void vocab(const anc_gguf *g) {
    char *tj = NULL, *tc = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_gguf_vocab_to_hf(g, &tj, &tc, &err) != ANC_OK) {
        if (tj || tc || err.message[0] == '\0') abort();
        return;
    }
    anc_tokenizer *tok = NULL;
    if (anc_tokenizer_load_text(&tok, tj, strlen(tj), tc, strlen(tc), "tokenizer.json", &err) != ANC_OK) abort();
    int32_t *ids = NULL;
    size_t n = 0;
    if (anc_tokenizer_encode(tok, "Hello world 12", 14, 1, &ids, &n, &err) == ANC_OK) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= anc_tokenizer_vocab_size(tok)) abort();
        free(ids);
    }
    anc_tokenizer_free(tok);
    free(tj);
    free(tc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    anc_gguf *g = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_gguf_parse(&g, data, size, "fuzz", &err) != ANC_OK) {
        if (g != NULL || err.message[0] == '\0') abort();
        return 0;
    }
    touch_kvs(g);
    touch_tensors(g, size);
    anc_model *m = NULL;
    anc_error_clear(&err);
    if (anc_gguf_load_model(g, &m, &err) == ANC_OK) {
        model_roundtrip(m);
        anc_model_free(m);
    } else if (m || err.message[0] == '\0') {
        abort();
    }
    if (anc_gguf_find(g, "tokenizer.ggml.tokens")) vocab(g);
    anc_gguf_close(g);
    return 0;
}
