/* GGUF: the reader on llama.cpp's own files (shared fixtures) and on
 * crafted broken ones (every prefix of a valid file; each length, count,
 * type and offset out of range), the writer + model mapping round trip
 * (f32 bit for bit; f16/bf16 exactly the rounded values; q8_0 within its
 * bound, rows that are not a multiple of 32 as f16), llama's rotary layout
 * against the original llama2.c checkpoint of stories260K, and the export
 * flow (LoRA merged on the way, refusals). Vocabularies: test_gguf_vocab.c. */
#define _GNU_SOURCE
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "flow/export.h"
#include "flow/gguf_model.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "model/lora.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

/* ---------------------------------------------------------------- crafted bytes */

typedef struct bb {
    unsigned char *b;
    size_t n, cap;
} bb;

static void bb_put(bb *x, const void *p, size_t n) {
    if (x->n + n > x->cap) {
        x->cap = (x->n + n) * 2 + 64;
        x->b = realloc(x->b, x->cap);
        assert_non_null(x->b);
    }
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
static void bb_u32(bb *x, uint32_t v) {
    unsigned char t[4];
    for (int i = 0; i < 4; i++) t[i] = (unsigned char)(v >> (8 * i));
    bb_put(x, t, 4);
}
static void bb_u64(bb *x, uint64_t v) {
    unsigned char t[8];
    for (int i = 0; i < 8; i++) t[i] = (unsigned char)(v >> (8 * i));
    bb_put(x, t, 8);
}
static void bb_str(bb *x, const char *s) {
    bb_u64(x, strlen(s));
    bb_put(x, s, strlen(s));
}
static void bb_header(bb *x, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bb_put(x, "GGUF", 4);
    bb_u32(x, version);
    bb_u64(x, n_tensors);
    bb_u64(x, n_kv);
}
static void bb_kv_u32(bb *x, const char *key, uint32_t v) {
    bb_str(x, key);
    bb_u32(x, ANC_GGUF_U32);
    bb_u32(x, v);
}
/* A tensor info of n_dims dimensions. */
static void bb_tensor(bb *x, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    bb_str(x, name);
    bb_u32(x, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) bb_u64(x, ne[d]);
    bb_u32(x, type);
    bb_u64(x, off);
}
static void bb_pad(bb *x, size_t al) {
    while (x->n % al) bb_put(x, "", 1);
}
static void bb_zeros(bb *x, size_t n) {
    for (size_t i = 0; i < n; i++) bb_put(x, "", 1);
}

/* Parsing x must fail with code and a message holding want (and "byte"
 * for format errors). */
static void expect_fail(bb *x, anc_status code, const char *want) {
    anc_gguf *g = NULL;
    anc_error err = {0};
    anc_status st = anc_gguf_parse(&g, x->b, x->n, "crafted.gguf", &err);
    if (st != code || !strstr(err.message, want) || (code == ANC_ERR_FORMAT && !strstr(err.message, "byte")))
        fail_msg("expected %s with \"%s\", got %s: %s", anc_status_name(code), want, anc_status_name(st), err.message);
    assert_null(g);
    assert_non_null(strstr(err.message, "crafted.gguf"));
    free(x->b);
    memset(x, 0, sizeof *x);
}

static void test_crafted(void **state) {
    (void)state;
    bb x = {0};
    const uint64_t ne4[] = {4}, ne33[] = {33}, big[] = {1ull << 32, 1ull << 32, 1ull << 32};

    bb_put(&x, "GGUX", 4), bb_u32(&x, 3), bb_u64(&x, 0), bb_u64(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "expected the magic");
    bb_header(&x, 1, 0, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "version 1 is not supported");
    bb_put(&x, "GGUF", 4), bb_u32(&x, 3), bb_u64(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "file ends inside the key-value count");
    bb_header(&x, 3, 0, 1ull << 62);
    expect_fail(&x, ANC_ERR_FORMAT, "key-value pairs cannot fit");
    bb_header(&x, 3, 1ull << 62, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "tensors cannot fit");
    bb_header(&x, 3, 0, 1), bb_u64(&x, 1ull << 40), bb_put(&x, "abcdefgh", 8);
    expect_fail(&x, ANC_ERR_FORMAT, "has length 1099511627776 but only 8 bytes are left");
    bb_header(&x, 3, 0, 1), bb_str(&x, ""), bb_u32(&x, ANC_GGUF_U8), bb_put(&x, "\0\0", 2);
    expect_fail(&x, ANC_ERR_FORMAT, "empty key");
    bb_header(&x, 3, 0, 1), bb_str(&x, "k"), bb_u32(&x, 13), bb_u32(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "value type 13");
    bb_header(&x, 3, 0, 1), bb_str(&x, "k"), bb_u32(&x, ANC_GGUF_ARRAY), bb_u32(&x, ANC_GGUF_ARRAY), bb_u64(&x, 1), bb_u64(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "no nested arrays");
    bb_header(&x, 3, 0, 1), bb_str(&x, "k"), bb_u32(&x, ANC_GGUF_ARRAY), bb_u32(&x, ANC_GGUF_U32), bb_u64(&x, 1ull << 61), bb_u32(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "values of type u32 do not fit");
    bb_header(&x, 3, 0, 1), bb_str(&x, "k"), bb_u32(&x, ANC_GGUF_ARRAY), bb_u32(&x, ANC_GGUF_STRING), bb_u64(&x, ~0ull), bb_u64(&x, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "strings cannot fit");
    bb_header(&x, 3, 0, 1), bb_str(&x, "k"), bb_u32(&x, ANC_GGUF_ARRAY), bb_u32(&x, ANC_GGUF_STRING), bb_u64(&x, 2), bb_str(&x, "a"),
        bb_u64(&x, 100);
    expect_fail(&x, ANC_ERR_FORMAT, "element 1");
    bb_header(&x, 3, 0, 1), bb_str(&x, "flag"), bb_u32(&x, ANC_GGUF_BOOL), bb_put(&x, "\2", 1);
    expect_fail(&x, ANC_ERR_FORMAT, "boolean value 2");
    bb_header(&x, 3, 0, 2), bb_kv_u32(&x, "a.b", 1), bb_kv_u32(&x, "a.b", 2);
    expect_fail(&x, ANC_ERR_FORMAT, "key 'a.b' appears twice");
    bb_header(&x, 3, 0, 1), bb_str(&x, "general.alignment"), bb_u32(&x, ANC_GGUF_U64), bb_u64(&x, 32);
    expect_fail(&x, ANC_ERR_FORMAT, "must be of type u32, not u64");
    bb_header(&x, 3, 0, 1), bb_kv_u32(&x, "general.alignment", 48);
    expect_fail(&x, ANC_ERR_FORMAT, "48 is not a power of two");

    /* tensor infos */
    const uint64_t ne5[] = {1, 1, 1, 1, 1};
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 5, ne5, ANC_GGML_F32, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "has 5 dimensions");
    const uint64_t neg[] = {~0ull};
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, neg, ANC_GGML_F32, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "dimension 0 is negative");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 3, big, ANC_GGML_F32, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "more elements than 2^63");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne4, 4, 0);
    expect_fail(&x, ANC_ERR_UNSUPPORTED, "ggml type 4");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne4, 123456, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "ggml type 123456");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne33, ANC_GGML_Q8_0, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "not a multiple of its block of 32");
    char longname[80];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    bb_header(&x, 3, 1, 0), bb_tensor(&x, longname, 1, ne4, ANC_GGML_F32, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "name of 64 bytes");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne4, ANC_GGML_F32, 4), bb_pad(&x, 32), bb_zeros(&x, 64);
    expect_fail(&x, ANC_ERR_FORMAT, "not a multiple of the alignment 32");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne4, ANC_GGML_F32, 32), bb_pad(&x, 32), bb_zeros(&x, 40);
    expect_fail(&x, ANC_ERR_FORMAT, "ends past the end of the file");
    bb_header(&x, 3, 1, 0), bb_tensor(&x, "t", 1, ne4, ANC_GGML_F32, 0);
    expect_fail(&x, ANC_ERR_FORMAT, "the file ends before the data section");
    const uint64_t ne16[] = {16};
    bb_header(&x, 3, 2, 0), bb_tensor(&x, "a", 1, ne16, ANC_GGML_F32, 0), bb_tensor(&x, "b", 1, ne4, ANC_GGML_F32, 32), bb_pad(&x, 32),
        bb_zeros(&x, 128);
    expect_fail(&x, ANC_ERR_FORMAT, "tensor 'b' overlaps tensor 'a'");
    /* an empty tensor between two overlapping ones does not hide the overlap */
    const uint64_t ne100[] = {100}, ne0[] = {0};
    bb_header(&x, 3, 3, 0), bb_tensor(&x, "a", 1, ne100, ANC_GGML_F32, 0), bb_tensor(&x, "z", 1, ne0, ANC_GGML_F32, 32),
        bb_tensor(&x, "b", 1, ne4, ANC_GGML_F32, 64), bb_pad(&x, 32), bb_zeros(&x, 448);
    expect_fail(&x, ANC_ERR_FORMAT, "tensor 'b' overlaps tensor 'a'");
    bb_header(&x, 3, 2, 0), bb_tensor(&x, "a", 1, ne4, ANC_GGML_F32, 0), bb_tensor(&x, "a", 1, ne4, ANC_GGML_F32, 32), bb_pad(&x, 32),
        bb_zeros(&x, 64);
    expect_fail(&x, ANC_ERR_FORMAT, "tensor name 'a' appears twice");

    /* a valid crafted file: every getter, and their type errors */
    bb_header(&x, 2, 1, 4), bb_kv_u32(&x, "n", 7), bb_str(&x, "s"), bb_u32(&x, ANC_GGUF_STRING), bb_str(&x, "hi");
    bb_str(&x, "big"), bb_u32(&x, ANC_GGUF_U64), bb_u64(&x, ~0ull);
    bb_str(&x, "arr"), bb_u32(&x, ANC_GGUF_ARRAY), bb_u32(&x, ANC_GGUF_I16), bb_u64(&x, 2), bb_put(&x, "\xff\xff\x02\x00", 4);
    bb_tensor(&x, "t", 1, ne4, ANC_GGML_F32, 0), bb_pad(&x, 32);
    const float vals[4] = {1.5f, -2.0f, 0.25f, 8.0f};
    bb_put(&x, vals, sizeof vals);
    anc_gguf *g = NULL;
    anc_error err = {0};
    TU_CHECK(anc_gguf_parse(&g, x.b, x.n, "ok.gguf", &err), &err);
    assert_int_equal(anc_gguf_version(g), 2);
    int64_t iv;
    TU_CHECK(anc_gguf_kv_int(g, anc_gguf_find(g, "n"), &iv, &err), &err);
    assert_int_equal(iv, 7);
    assert_int_equal(anc_gguf_kv_int(g, anc_gguf_find(g, "s"), &iv, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "key 's' is of type str, expected an integer"));
    assert_int_equal(anc_gguf_kv_int(g, anc_gguf_find(g, "big"), &iv, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "larger than 2^63"));
    double d;
    TU_CHECK(anc_gguf_kv_array_num(g, anc_gguf_find(g, "arr"), 0, &d, &err), &err);
    assert_true(d == -1.0);
    TU_CHECK(anc_gguf_kv_array_num(g, anc_gguf_find(g, "arr"), 1, &d, &err), &err);
    assert_true(d == 2.0);
    assert_null(anc_gguf_find(g, "absent"));
    const anc_gguf_tensor *t = anc_gguf_find_tensor(g, "t");
    assert_non_null(t);
    float back[4];
    TU_CHECK(anc_gguf_tensor_read_f32(g, t, back, 4, &err), &err);
    assert_memory_equal(back, vals, sizeof vals);
    assert_int_equal(anc_gguf_tensor_read_f32(g, t, back, 3, &err), ANC_ERR_INVALID);
    anc_gguf_close(g);
    free(x.b);
}

/* ---------------------------------------------------------------- writer: every prefix of a valid file fails */

/* A weight that is NaN or infinite is refused by name, before anything is
 * written (Q8_0 has no form for it). */
static void test_writer_refuses_nonfinite(void **state) {
    (void)state;
    float data[32] = {0};
    data[7] = NAN;
    anc_gguf_writer *w = NULL;
    anc_error err = {0};
    TU_CHECK(anc_gguf_writer_create(&w, 0, &err), &err);
    anc_gguf_tensor_src t = {"blk.0.attn_q.weight", 1, {32, 1, 1, 1}, ANC_GGML_Q8_0, data, NULL};
    assert_int_equal(anc_gguf_add_tensor(w, &t, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "'blk.0.attn_q.weight' holds a non-finite value (nan) at element 7"));
    data[7] = INFINITY;
    t.type = ANC_GGML_F32;
    assert_int_equal(anc_gguf_add_tensor(w, &t, &err), ANC_ERR_INVALID);
    data[7] = 1.0f;
    TU_CHECK(anc_gguf_add_tensor(w, &t, &err), &err);
    anc_gguf_writer_free(w);
}

static void test_truncated_prefixes(void **state) {
    (void)state;
    char *d = tu_tmpdir(), *p = tu_path(d, "w.gguf");
    anc_error err = {0};
    anc_gguf_writer *w = NULL;
    TU_CHECK(anc_gguf_writer_create(&w, 64, &err), &err);
    float f[64], q[64];
    for (int i = 0; i < 64; i++) f[i] = (float)i - 20.5f, q[i] = sinf((float)i);
    const char *strs[] = {"a", "", "\xE2\x96\x81x"};
    const float fa[] = {0.5f, -1.0f};
    const int32_t ia[] = {3, -4, 5};
    TU_CHECK(anc_gguf_add_string(w, "general.architecture", "llama", 5, &err), &err);
    TU_CHECK(anc_gguf_add_u32(w, "u", 1u << 31, &err), &err);
    TU_CHECK(anc_gguf_add_i32(w, "i", -7, &err), &err);
    TU_CHECK(anc_gguf_add_f32(w, "f", 0.125f, &err), &err);
    TU_CHECK(anc_gguf_add_bool(w, "b", 1, &err), &err);
    TU_CHECK(anc_gguf_add_strings(w, "ss", strs, NULL, 3, &err), &err);
    TU_CHECK(anc_gguf_add_f32s(w, "fs", fa, 2, &err), &err);
    TU_CHECK(anc_gguf_add_i32s(w, "is", ia, 3, &err), &err);
    assert_int_equal(anc_gguf_add_u32(w, "u", 2, &err), ANC_ERR_INVALID); /* keys are unique */
    const int64_t map[2] = {1, 0};
    anc_gguf_tensor_src a = {"a", 2, {32, 2, 1, 1}, ANC_GGML_F32, f, map}, b = {"b.q8", 1, {64, 1, 1, 1}, ANC_GGML_Q8_0, q, NULL};
    TU_CHECK(anc_gguf_add_tensor(w, &a, &err), &err);
    TU_CHECK(anc_gguf_add_tensor(w, &b, &err), &err);
    anc_gguf_tensor_src bad = {"c", 1, {33, 1, 1, 1}, ANC_GGML_Q8_0, q, NULL};
    assert_int_equal(anc_gguf_add_tensor(w, &bad, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_gguf_add_tensor(w, &a, &err), ANC_ERR_INVALID);
    uint64_t bytes = 0;
    TU_CHECK(anc_gguf_write(w, p, NULL, NULL, &bytes, &err), &err);
    anc_gguf_writer_free(w);
    size_t len = 0;
    char *buf = tu_read_file(p, &len);
    assert_int_equal(len, bytes);
    assert_int_equal(len % 64, 0); /* the last tensor is padded too */
    anc_gguf *g = NULL;
    TU_CHECK(anc_gguf_open(&g, p, &err), &err);
    assert_int_equal(anc_gguf_version(g), 3);
    assert_int_equal(anc_gguf_alignment(g), 64);
    assert_int_equal(anc_gguf_data_offset(g) % 64, 0);
    anc_gguf_str *s = NULL;
    TU_CHECK(anc_gguf_kv_strings(g, anc_gguf_find(g, "ss"), &s, &err), &err);
    assert_int_equal(s[2].len, 4);
    assert_memory_equal(s[2].s, "\xE2\x96\x81x", 4);
    free(s);
    int64_t iv;
    TU_CHECK(anc_gguf_kv_int(g, anc_gguf_find(g, "u"), &iv, &err), &err);
    assert_int_equal(iv, 1ll << 31);
    TU_CHECK(anc_gguf_kv_int(g, anc_gguf_find(g, "i"), &iv, &err), &err);
    assert_int_equal(iv, -7);
    double dv;
    TU_CHECK(anc_gguf_kv_float(g, anc_gguf_find(g, "f"), &dv, &err), &err);
    assert_true(dv == 0.125);
    TU_CHECK(anc_gguf_kv_array_num(g, anc_gguf_find(g, "is"), 1, &dv, &err), &err);
    assert_true(dv == -4.0);
    const anc_gguf_tensor *ta = anc_gguf_find_tensor(g, "a"), *tb = anc_gguf_find_tensor(g, "b.q8");
    assert_int_equal(ta->offset, 0);
    assert_int_equal(tb->offset, 256); /* consecutive, padded to the alignment: as llama.cpp requires */
    float back[64];
    TU_CHECK(anc_gguf_tensor_read_f32(g, ta, back, 64, &err), &err);
    assert_memory_equal(back, f + 32, 32 * sizeof(float)); /* row 0 is source row 1 */
    assert_memory_equal(back + 32, f, 32 * sizeof(float));
    TU_CHECK(anc_gguf_tensor_read_f32(g, tb, back, 64, &err), &err);
    for (int i = 0; i < 64; i++) assert_true(fabsf(back[i] - q[i]) <= 0.5625f / 127.0f);
    /* every prefix that cuts into the metadata or the tensor data is
     * refused, with the offset named; only the last tensor's padding may go */
    const size_t data_end = (size_t)(anc_gguf_data_offset(g) + tb->offset + tb->nbytes);
    anc_gguf_close(g);
    size_t refused = 0;
    for (size_t n = 0; n < len; n++) {
        anc_error e = {0};
        anc_gguf *h = NULL;
        anc_status st = anc_gguf_parse(&h, buf, n, "prefix", &e);
        if (n >= data_end) {
            if (st != ANC_OK) fail_msg("a prefix of %zu bytes holding all data was refused: %s", n, e.message);
            anc_gguf_close(h);
            continue;
        }
        if (st == ANC_OK) fail_msg("a prefix of %zu of %zu bytes parsed", n, len);
        if (st != ANC_ERR_FORMAT || !strstr(e.message, "byte")) fail_msg("prefix %zu: %s", n, e.message);
        refused++;
    }
    assert_int_equal(refused, data_end);
    printf("  all %zu prefixes of a %zu-byte GGUF that cut its metadata or data are refused with a byte offset\n", refused, len);
    free(buf);
    tu_rmtree(d);
    free(d);
    free(p);
}

/* ---------------------------------------------------------------- llama.cpp's files */

static void test_llamacpp_files(void **state) {
    (void)state;
    char *f1 = tu_shared_fixture("gguf/llama-2-tiny-random.gguf"), *f2 = tu_shared_fixture("gguf/ggml-vocab-gpt-2.gguf");
    char *f3 = tu_shared_fixture("gguf/ggml-vocab-llama-spm.gguf");
    if (!f1 || !f2 || !f3) {
        free(f1), free(f2), free(f3);
        skip();
    }
    anc_error err = {0};
    anc_gguf *g = NULL;
    TU_CHECK(anc_gguf_open(&g, f1, &err), &err);
    assert_int_equal(anc_gguf_tensor_count(g), 12);
    const anc_gguf_tensor *emb = anc_gguf_find_tensor(g, "token_embd.weight");
    assert_int_equal(emb->type, ANC_GGML_F16);
    assert_int_equal(emb->ne[0], 8);
    assert_int_equal(emb->ne[1], 32000);
    assert_int_equal(anc_gguf_find_tensor(g, "blk.0.attn_norm.weight")->type, ANC_GGML_F32);
    anc_gguf_str s;
    TU_CHECK(anc_gguf_kv_string(g, anc_gguf_find(g, "tokenizer.ggml.model"), &s, &err), &err);
    assert_true(s.len == 5 && !memcmp(s.s, "llama", 5));
    anc_model *m = NULL;
    TU_CHECK(anc_gguf_load_model(g, &m, &err), &err);
    assert_int_equal(m->cfg.hidden_size, 8);
    assert_int_equal(m->cfg.num_layers, 1);
    assert_int_equal(m->cfg.num_heads, 2);
    assert_int_equal(m->cfg.intermediate_size, 32);
    assert_int_equal(m->cfg.vocab_size, 32000);
    assert_int_equal(m->cfg.max_position_embeddings, 4096);
    assert_int_equal(m->cfg.tie_word_embeddings, 0);
    assert_int_equal(m->cfg.bos_token_id, 1);
    /* the embedding is the file's f16 values, widened */
    const uint16_t *raw = emb->data;
    for (int i = 0; i < 64; i++) assert_true(m->w.embed[i] == anc_f16_to_f32(raw[i]));
    anc_model_free(m);
    anc_gguf_close(g);
    /* the vocabulary-only files parse; a model cannot come from them */
    TU_CHECK(anc_gguf_open(&g, f2, &err), &err);
    assert_int_equal(anc_gguf_tensor_count(g), 0);
    assert_int_equal(anc_gguf_find(g, "tokenizer.ggml.merges")->n, 50000);
    assert_int_equal(anc_gguf_load_model(g, &m, &err), ANC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "architecture 'gpt2'"));
    anc_gguf_close(g);
    TU_CHECK(anc_gguf_open(&g, f3, &err), &err);
    assert_int_equal(anc_gguf_find(g, "tokenizer.ggml.tokens")->n, 32000);
    assert_int_equal(anc_gguf_load_model(g, &m, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "token_embd.weight"));
    anc_gguf_close(g);
    free(f1), free(f2), free(f3);
}

/* ---------------------------------------------------------------- models */

static anc_model *random_model(const char *cfg, uint64_t seed) {
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_model_create_random(&m, cfg, strlen(cfg), seed, 0.5, &err), &err);
    tu_rng r = {seed * 7 + 1};
    for (int l = 0; l < m->cfg.num_layers; l++) {
        anc_layer_view *L = &m->w.layers[l];
        tu_fill_normal(&r, L->attn_norm, (size_t)m->cfg.hidden_size, 1.0f);
        if (L->bq) tu_fill_normal(&r, L->bq, (size_t)(m->cfg.num_heads * m->cfg.head_dim), 1.0f);
        if (L->bk) tu_fill_normal(&r, L->bk, (size_t)(m->cfg.num_kv_heads * m->cfg.head_dim), 1.0f);
        if (L->bv) tu_fill_normal(&r, L->bv, (size_t)(m->cfg.num_kv_heads * m->cfg.head_dim), 1.0f);
    }
    return m;
}

static void write_model(const anc_model *m, uint32_t type, const char *path, anc_gguf_model_counts *counts) {
    anc_error err = {0};
    anc_gguf_writer *w = NULL;
    anc_gguf_model_keep keep;
    memset(&keep, 0, sizeof keep);
    TU_CHECK(anc_gguf_writer_create(&w, 0, &err), &err);
    TU_CHECK(anc_gguf_put_model(w, m, type, "test", &keep, counts, &err), &err);
    TU_CHECK(anc_gguf_write(w, path, NULL, NULL, NULL, &err), &err);
    anc_gguf_writer_free(w);
    anc_gguf_model_keep_free(&keep);
}

/* specials: compare bos/eos too (they travel with the vocabulary). */
static void same_config(const anc_config *a, const anc_config *b, int specials) {
    assert_int_equal(a->arch == ANC_ARCH_QWEN2, b->arch == ANC_ARCH_QWEN2);
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->hidden_size, b->hidden_size);
    assert_int_equal(a->intermediate_size, b->intermediate_size);
    assert_int_equal(a->num_layers, b->num_layers);
    assert_int_equal(a->num_heads, b->num_heads);
    assert_int_equal(a->num_kv_heads, b->num_kv_heads);
    assert_int_equal(a->head_dim, b->head_dim);
    assert_int_equal(a->max_position_embeddings, b->max_position_embeddings);
    assert_true(a->rms_norm_eps == b->rms_norm_eps);
    assert_true(a->rope_theta == b->rope_theta);
    assert_int_equal(a->rope_scaling.type, b->rope_scaling.type);
    if (a->rope_scaling.type == ANC_ROPE_LLAMA3) {
        assert_true(a->rope_scaling.factor == b->rope_scaling.factor);
        assert_true(a->rope_scaling.low_freq_factor == b->rope_scaling.low_freq_factor);
        assert_true(a->rope_scaling.high_freq_factor == b->rope_scaling.high_freq_factor);
        assert_true(a->rope_scaling.original_max_position_embeddings == b->rope_scaling.original_max_position_embeddings);
    }
    assert_int_equal(a->tie_word_embeddings, b->tie_word_embeddings);
    assert_int_equal(a->attention_bias, b->attention_bias);
    if (specials) {
        assert_int_equal(a->bos_token_id, b->bos_token_id);
        assert_int_equal(a->eos_token_id, b->eos_token_id);
    }
}

/* Exports m in each type, imports it back and checks every parameter. */
static void model_roundtrip(const char *label, const char *cfg_json) {
    anc_model *m = random_model(cfg_json, 3);
    char *d = tu_tmpdir(), *p = tu_path(d, "m.gguf");
    static const uint32_t types[] = {ANC_GGML_F32, ANC_GGML_F16, ANC_GGML_BF16, ANC_GGML_Q8_0};
    for (int k = 0; k < 4; k++) {
        anc_gguf_model_counts counts;
        write_model(m, types[k], p, &counts);
        anc_error err = {0};
        anc_gguf *g = NULL;
        anc_model *b = NULL;
        TU_CHECK(anc_gguf_open(&g, p, &err), &err);
        TU_CHECK(anc_gguf_load_model(g, &b, &err), &err);
        same_config(&m->cfg, &b->cfg, 0);
        assert_int_equal(b->n_params, m->n_params);
        double worst = 0; /* q8_0: error / (amax/127) of its block */
        size_t fallback = 0;
        for (size_t i = 0; i < m->n_specs; i++) {
            const anc_param_spec *s = &m->specs[i];
            const float *x = m->params + s->offset, *y = b->params + s->offset;
            int matrix = s->ndim == 2;
            uint32_t t = matrix ? types[k] : ANC_GGML_F32;
            if (t == ANC_GGML_Q8_0 && s->shape[1] % 32) t = ANC_GGML_F16, fallback++;
            for (size_t e = 0; e < s->n_elems; e++) {
                float want = x[e];
                if (t == ANC_GGML_F16) want = anc_f16_to_f32(anc_f32_to_f16(x[e]));
                if (t == ANC_GGML_BF16) want = anc_bf16_to_f32(anc_f32_to_bf16(x[e]));
                if (t != ANC_GGML_Q8_0) {
                    if (memcmp(&want, &y[e], 4)) fail_msg("%s %s: %s[%zu] = %.9g, expected %.9g", label, anc_ggml_type_name(types[k]),
                                                          s->name, e, y[e], want);
                    continue;
                }
                size_t b0 = e / 32 * 32;
                float amax = 0;
                for (size_t j = b0; j < b0 + 32; j++) amax = fmaxf(amax, fabsf(x[j]));
                double r = amax > 0 ? fabs((double)y[e] - (double)x[e]) / (amax / 127.0) : fabs(y[e]);
                if (r > worst) worst = r;
            }
        }
        if (types[k] == ANC_GGML_Q8_0) {
            printf("  %s q8_0: worst error %.4f x amax/127 of its block (bound 0.5625); %zu matrices as f16\n", label, worst, fallback);
            assert_true(worst <= 0.5625);
            assert_int_equal(counts.q8_fallbacks, fallback);
        }
        anc_model_free(b);
        anc_gguf_close(g);
    }
    anc_model_free(m);
    tu_rmtree(d);
    free(d), free(p);
}

static const char LLAMA_CFG[] = "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 100, \"hidden_size\": 64, "
                                "\"intermediate_size\": 80, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                                "\"num_key_value_heads\": 2, \"head_dim\": 16, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-5, "
                                "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                                "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}, "
                                "\"tie_word_embeddings\": false, \"attention_bias\": true, \"bos_token_id\": 1, \"eos_token_id\": 2}";
static const char QWEN2_CFG[] = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"vocab_size\": 50, \"hidden_size\": 32, "
                                "\"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
                                "\"num_key_value_heads\": 1, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6, "
                                "\"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"eos_token_id\": 3}";

static void test_model_roundtrip_llama(void **s) { (void)s; model_roundtrip("llama (llama3 rope, GQA, biases, untied)", LLAMA_CFG); }
static void test_model_roundtrip_qwen2(void **s) { (void)s; model_roundtrip("qwen2 (tied)", QWEN2_CFG); }

/* The GGUF's layout itself: names, types, rope_freqs, llama's q/k rows in
 * Meta's interleaved order, qwen2's not, a tied head absent. */
static void test_model_layout(void **state) {
    (void)state;
    anc_model *m = random_model(LLAMA_CFG, 5), *q = random_model(QWEN2_CFG, 6);
    char *d = tu_tmpdir(), *p = tu_path(d, "l.gguf"), *pq = tu_path(d, "q.gguf");
    anc_gguf_model_counts c;
    write_model(m, ANC_GGML_Q8_0, p, &c);
    assert_int_equal(c.q8_fallbacks, 2); /* ffn_down: rows of 80 */
    write_model(q, ANC_GGML_F32, pq, &c);
    anc_error err = {0};
    anc_gguf *g = NULL;
    TU_CHECK(anc_gguf_open(&g, p, &err), &err);
    assert_int_equal(anc_gguf_find_tensor(g, "blk.0.ffn_down.weight")->type, ANC_GGML_F16);
    assert_int_equal(anc_gguf_find_tensor(g, "blk.0.ffn_up.weight")->type, ANC_GGML_Q8_0);
    assert_int_equal(anc_gguf_find_tensor(g, "blk.1.attn_norm.weight")->type, ANC_GGML_F32);
    assert_int_equal(anc_gguf_find_tensor(g, "blk.1.attn_q.bias")->type, ANC_GGML_F32);
    assert_non_null(anc_gguf_find_tensor(g, "output.weight"));
    const anc_gguf_tensor *rf = anc_gguf_find_tensor(g, "rope_freqs.weight");
    assert_non_null(rf);
    assert_int_equal(rf->ne[0], 8);
    const float *fac = rf->data;
    assert_true(fac[0] == 1.0f);                    /* high frequencies kept */
    assert_true(fabsf(fac[7] - 8.0f) < 1e-5f);      /* low ones divided by factor */
    int64_t v;
    TU_CHECK(anc_gguf_kv_int(g, anc_gguf_find(g, "general.file_type"), &v, &err), &err);
    assert_int_equal(v, 7);
    TU_CHECK(anc_gguf_kv_int(g, anc_gguf_find(g, "llama.rope.dimension_count"), &v, &err), &err);
    assert_int_equal(v, 16);
    assert_null(anc_gguf_find(g, "llama.attention.key_length")); /* head_dim = hidden / heads */
    anc_gguf_close(g);
    /* f32 llama: GGUF row h*D + 2j + s holds HF row h*D + s*D/2 + j, biases too */
    write_model(m, ANC_GGML_F32, p, &c);
    TU_CHECK(anc_gguf_open(&g, p, &err), &err);
    const int D = 16, C = 64;
    const float *gq = anc_gguf_find_tensor(g, "blk.1.attn_q.weight")->data, *gk = anc_gguf_find_tensor(g, "blk.1.attn_k.weight")->data;
    const float *gb = anc_gguf_find_tensor(g, "blk.1.attn_k.bias")->data;
    for (int h = 0; h < 4; h++)
        for (int j = 0; j < D / 2; j++)
            for (int s = 0; s < 2; s++) {
                int gr = h * D + 2 * j + s, hr = h * D + s * (D / 2) + j;
                assert_memory_equal(gq + (size_t)gr * C, m->w.layers[1].wq + (size_t)hr * C, sizeof(float) * C);
                if (h < 2) {
                    assert_memory_equal(gk + (size_t)gr * C, m->w.layers[1].wk + (size_t)hr * C, sizeof(float) * C);
                    assert_true(gb[gr] == m->w.layers[1].bk[hr]);
                }
            }
    anc_gguf_close(g);
    /* qwen2: HF order, no output.weight when tied */
    TU_CHECK(anc_gguf_open(&g, pq, &err), &err);
    assert_null(anc_gguf_find_tensor(g, "output.weight"));
    assert_memory_equal(anc_gguf_find_tensor(g, "blk.0.attn_q.weight")->data, q->w.layers[0].wq, sizeof(float) * 32 * 32);
    anc_gguf_str s;
    TU_CHECK(anc_gguf_kv_string(g, anc_gguf_find(g, "general.architecture"), &s, &err), &err);
    assert_true(s.len == 5 && !memcmp(s.s, "qwen2", 5));
    anc_gguf_close(g);
    anc_model_free(m), anc_model_free(q);
    tu_rmtree(d);
    free(d), free(p), free(pq);
}

/* stories260K exported: q and k rows are those of the original llama2.c
 * checkpoint (Meta's order, the one llama.cpp's rope type NORM expects),
 * bit for bit, after anchor's import permuted them into HF order. */
static void test_stories_meta_order(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tok) {
        free(bin), free(tok);
        skip();
    }
    char *d = tu_tmpdir(), *model = tu_path(d, "s"), *g = tu_path(d, "s.gguf");
    assert_int_equal(tu_system("'%s' convert --from llama2c '%s' --tokenizer '%s' --out '%s' >/dev/null 2>&1", tu_cli(), bin, tok, model), 0);
    assert_int_equal(tu_system("'%s' export --model '%s' --gguf '%s' --type f32 >/dev/null 2>&1", tu_cli(), model, g), 0);
    size_t len = 0;
    char *raw = tu_read_file(bin, &len);
    const size_t V = 512, C = 64, L = 5, KV = 32;
    const float *w = (const float *)(raw + 28);
    const float *wq = w + V * C + L * C, *wk = wq + L * C * C;
    anc_error err = {0};
    anc_gguf *gg = NULL;
    TU_CHECK(anc_gguf_open(&gg, g, &err), &err);
    for (size_t l = 0; l < L; l++) {
        char n[64];
        snprintf(n, sizeof n, "blk.%zu.attn_q.weight", l);
        assert_memory_equal(anc_gguf_find_tensor(gg, n)->data, wq + l * C * C, sizeof(float) * C * C);
        snprintf(n, sizeof n, "blk.%zu.attn_k.weight", l);
        assert_memory_equal(anc_gguf_find_tensor(gg, n)->data, wk + l * C * KV, sizeof(float) * C * KV);
    }
    assert_null(anc_gguf_find_tensor(gg, "output.weight")); /* shared classifier */
    assert_memory_equal(anc_gguf_find_tensor(gg, "token_embd.weight")->data, w, sizeof(float) * V * C);
    anc_gguf_close(gg);
    /* and back: convert --from gguf gives the converted model bit for bit */
    char *back = tu_path(d, "back");
    assert_int_equal(tu_system("'%s' convert --from gguf '%s' --out '%s' >/dev/null 2>&1", tu_cli(), g, back), 0);
    anc_model *a = NULL, *b = NULL;
    TU_CHECK(anc_model_load_hf(&a, model, &err), &err);
    TU_CHECK(anc_model_load_hf(&b, back, &err), &err);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, sizeof(float) * a->n_params);
    same_config(&a->cfg, &b->cfg, 1);
    anc_tokenizer *ta = NULL, *tb = NULL;
    TU_CHECK(anc_tokenizer_load_dir(&ta, model, &err), &err);
    TU_CHECK(anc_tokenizer_load_dir(&tb, back, &err), &err);
    const char *text = "Once upon a time, Lily saw a big red ball. \"Wow!\" she said.\n\nThe end.";
    int32_t *ia = NULL, *ib = NULL;
    size_t na = 0, nb = 0;
    TU_CHECK(anc_tokenizer_encode(ta, text, strlen(text), 1, &ia, &na, &err), &err);
    TU_CHECK(anc_tokenizer_encode(tb, text, strlen(text), 1, &ib, &nb, &err), &err);
    assert_int_equal(na, nb);
    assert_memory_equal(ia, ib, na * sizeof *ia);
    assert_int_equal(ia[0], 1); /* BOS added on both sides */
    free(ia), free(ib);
    anc_tokenizer_free(ta), anc_tokenizer_free(tb);
    anc_model_free(a), anc_model_free(b);
    free(raw), free(back);
    tu_rmtree(d);
    free(d), free(model), free(g), free(bin), free(tok);
}

/* ---------------------------------------------------------------- the export flow */

/* A byte-level BPE tokenizer.json of 96 tokens (printable ASCII, "Ġ", EOS)
 * for the 96-token reference model. */
static void write_tiny_tokenizer(const char *dir, int with_pre) {
    json_t *vocab = json_object();
    int id = 0;
    for (char ch = '!'; ch <= '~'; ch++) {
        char s[2] = {ch, 0};
        json_object_set_new(vocab, s, json_integer(id++));
    }
    json_object_set_new(vocab, "\xC4\xA0", json_integer(id++));
    json_object_set_new(vocab, "<|endoftext|>", json_integer(id++));
    assert_int_equal(id, 96);
    json_t *pre = with_pre ? json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1)
                           : json_null();
    json_t *root = json_pack("{s:s, s:[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}], s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b},"
                             " s:{s:s, s:o, s:[]}}",
                             "version", "1.0", "added_tokens", "id", 95, "content", "<|endoftext|>", "single_word", 0, "lstrip", 0,
                             "rstrip", 0, "normalized", 0, "special", 1, "normalizer", "pre_tokenizer", pre, "post_processor",
                             "decoder", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model",
                             "type", "BPE", "vocab", vocab, "merges");
    assert_non_null(root);
    char *p = tu_path(dir, "tokenizer.json"), *pc = tu_path(dir, "tokenizer_config.json");
    assert_int_equal(json_dump_file(root, p, 0), 0);
    const char *cfg = "{\"eos_token\": \"<|endoftext|>\", \"chat_template\": \"{% for m in messages %}{{ m['content'] }}{% endfor %}\"}";
    tu_write_file(pc, cfg, strlen(cfg));
    json_decref(root);
    free(p), free(pc);
}

static void test_export_flow(void **state) {
    (void)state;
    char *d = tu_tmpdir(), *base = tu_path(d, "base"), *g = tu_path(d, "m.gguf");
    char *ref = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    char *adapter = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/lora/adapter_qv");
    assert_int_equal(tu_system("cp -r '%s' '%s'", ref, base), 0);
    anc_export_opts o;
    anc_export_opts_init(&o);
    assert_string_equal(o.type, "f16");
    o.model = base;
    o.gguf = g;
    o.type = "f32";
    anc_export_result res;
    anc_error err = {0};
    /* no tokenizer.json: refused, naming it */
    assert_int_equal(anc_export_run(&o, NULL, &res, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "tokenizer.json"));
    /* a byte-level tokenizer without a pre-tokenizer llama.cpp knows */
    write_tiny_tokenizer(base, 0);
    assert_int_equal(anc_export_run(&o, NULL, &res, &err), ANC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "--tokenizer-pre"));
    assert_int_equal(tu_system("test -e '%s'", g), 1); /* nothing written */
    o.tokenizer_pre = "gpt-2";
    o.adapter = adapter;
    TU_CHECK(anc_export_run(&o, NULL, &res, &err), &err);
    assert_string_equal(res.arch, "llama");
    assert_string_equal(res.tok_model, "gpt2");
    assert_int_equal(res.tokens, 96);
    assert_int_equal(res.templates, 1);
    assert_int_equal(res.adapter_merged, 1);
    assert_int_equal(res.f32, res.tensors);
    /* the GGUF holds the merged model, bit for bit */
    anc_model *merged = NULL, *back = NULL;
    TU_CHECK(anc_model_load_adapted(&merged, base, adapter, &err), &err);
    anc_gguf *gg = NULL;
    TU_CHECK(anc_gguf_open(&gg, g, &err), &err);
    TU_CHECK(anc_gguf_load_model(gg, &back, &err), &err);
    assert_memory_equal(back->params, merged->params, sizeof(float) * merged->n_params);
    anc_model *plain = NULL;
    TU_CHECK(anc_model_load_hf(&plain, base, &err), &err);
    assert_true(memcmp(plain->params, merged->params, sizeof(float) * merged->n_params) != 0); /* the adapter did something */
    anc_gguf_str s;
    TU_CHECK(anc_gguf_kv_string(gg, anc_gguf_find(gg, "tokenizer.chat_template"), &s, &err), &err);
    assert_true(s.len > 10 && !memcmp(s.s, "{% for m", 8));
    TU_CHECK(anc_gguf_kv_string(gg, anc_gguf_find(gg, "general.name"), &s, &err), &err);
    assert_true(s.len == 4 && !memcmp(s.s, "base", 4));
    int64_t eos;
    TU_CHECK(anc_gguf_kv_int(gg, anc_gguf_find(gg, "tokenizer.ggml.eos_token_id"), &eos, &err), &err);
    assert_int_equal(eos, 95);
    anc_gguf_close(gg);
    anc_model_free(merged), anc_model_free(back), anc_model_free(plain);
    /* refusals: an unknown type; an output that exists and is not a GGUF */
    o.type = "q4_0";
    assert_int_equal(anc_export_run(&o, NULL, &res, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "q4_0"));
    o.type = "q8_0";
    char *cfgp = tu_path(base, "config.json");
    size_t before = 0;
    char *cfg_text = tu_read_file(cfgp, &before);
    o.gguf = cfgp;
    assert_int_equal(anc_export_run(&o, NULL, &res, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a GGUF"));
    char *after = tu_read_file(cfgp, NULL);
    assert_string_equal(after, cfg_text);
    /* an existing GGUF is replaced; the CLI says what it wrote */
    char *log = tu_path(d, "export.log");
    assert_int_equal(tu_system("'%s' export --model '%s' --adapter '%s' --gguf '%s' --type q8_0 --tokenizer-pre gpt-2 --name tiny 2> '%s'",
                               tu_cli(), base, adapter, g, log), 0);
    char *l = tu_read_file(log, NULL);
    if (!strstr(l, "q8_0") || !strstr(l, "tokenizer gpt2 (pre gpt-2)") || !strstr(l, "96 tokens")) fail_msg("export said: %s", l);
    assert_int_equal(tu_system("'%s' export --model '%s' --gguf '%s' --type q4 >/dev/null 2>&1", tu_cli(), base, g), 2);
    char *help = tu_path(d, "help.txt");
    assert_int_equal(tu_system("'%s' export --help > '%s'", tu_cli(), help), 0);
    char *h = tu_read_file(help, NULL);
    assert_non_null(strstr(h, "--adapter"));
    assert_non_null(strstr(h, "--tokenizer-pre"));
    assert_non_null(strstr(h, "q8_0"));
    /* convert --from gguf of it: a folder anchor loads, with its tokenizer */
    char *hf = tu_path(d, "hf");
    assert_int_equal(tu_system("'%s' convert --from gguf '%s' --out '%s' --dtype bf16 >/dev/null 2>&1", tu_cli(), g, hf), 0);
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_model_load_hf(&m, hf, &err), &err);
    TU_CHECK(anc_tokenizer_load_dir(&tok, hf, &err), &err);
    assert_int_equal(m->cfg.vocab_size, 96);
    assert_int_equal(anc_tokenizer_eos_id(tok), 95);
    int32_t *ids = NULL;
    size_t n = 0;
    TU_CHECK(anc_tokenizer_encode(tok, "a b", 3, 0, &ids, &n, &err), &err);
    assert_int_equal(n, 3); /* "a" "Ġ" "b" */
    assert_int_equal(ids[1], 94);
    free(ids);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    free(h), free(help), free(l), free(log), free(after), free(cfg_text), free(cfgp), free(hf);
    tu_rmtree(d);
    free(d), free(base), free(g), free(ref), free(adapter);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_writer_refuses_nonfinite),
        cmocka_unit_test(test_llamacpp_files),
        cmocka_unit_test(test_model_roundtrip_llama),
        cmocka_unit_test(test_model_roundtrip_qwen2),
        cmocka_unit_test(test_model_layout),
        cmocka_unit_test(test_stories_meta_order),
        cmocka_unit_test(test_export_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
