/* Tests for src/core/dtype.c (fp16/bf16 conversions) and src/io/safetensors.c
 * (reader validation, writer round trip, malformed inputs, mutation sweep). */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "io/safetensors.h"

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int path_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Fails unless msg contains needle. */
static void assert_has(const char *msg, const char *needle) {
    if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* ---------------------------------------------------------------- dtype */

static void test_dtype_names(void **state) {
    (void)state;
    static const anc_dtype all[] = {ANC_DT_F32, ANC_DT_F16, ANC_DT_BF16, ANC_DT_F64, ANC_DT_I64,
                                    ANC_DT_I32, ANC_DT_I16, ANC_DT_I8,   ANC_DT_U8,  ANC_DT_BOOL};
    static const size_t sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_int_equal(anc_dtype_size(all[i]), sizes[i]);
        assert_int_equal(anc_dtype_from_name(anc_dtype_name(all[i])), all[i]);
    }
    assert_int_equal(anc_dtype_size(ANC_DT_INVALID), 0);
    assert_non_null(anc_dtype_name(ANC_DT_INVALID));
    assert_string_equal(anc_dtype_name(ANC_DT_BF16), "BF16");
    assert_int_equal(anc_dtype_from_name("f32"), ANC_DT_INVALID); /* safetensors spelling is exact */
    assert_int_equal(anc_dtype_from_name("F8_E4M3"), ANC_DT_INVALID);
    assert_int_equal(anc_dtype_from_name(NULL), ANC_DT_INVALID);
    const char *f32s[] = {"f32", "float32", "fp32", "F32"}, *f16s[] = {"f16", "float16", "fp16"},
               *bf16s[] = {"bf16", "bfloat16", "BF16"};
    for (int i = 0; i < 4; i++) assert_int_equal(anc_dtype_from_user(f32s[i]), ANC_DT_F32);
    for (int i = 0; i < 3; i++) assert_int_equal(anc_dtype_from_user(f16s[i]), ANC_DT_F16);
    for (int i = 0; i < 3; i++) assert_int_equal(anc_dtype_from_user(bf16s[i]), ANC_DT_BF16);
    assert_int_equal(anc_dtype_from_user("int8"), ANC_DT_INVALID);
    assert_int_equal(anc_dtype_from_user(""), ANC_DT_INVALID);
    assert_int_equal(anc_dtype_from_user(NULL), ANC_DT_INVALID);
}

static void test_f16_known_values(void **state) {
    (void)state;
    struct { float f; uint16_t h; } exact[] = {
        {0.0f, 0x0000},      {1.0f, 0x3c00},  {-2.0f, 0xc000},   {0.5f, 0x3800},
        {65504.0f, 0x7bff},  {-65504.0f, 0xfbff},
        {0x1p-14f, 0x0400},  /* min normal */
        {0x1p-24f, 0x0001},  /* min subnormal */
        {0x3ffp-24f, 0x03ff}, /* max subnormal */
        {0x1.ffcp-1f, 0x3bff}, {3.140625f, 0x4248},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        assert_int_equal(anc_f32_to_f16(exact[i].f), exact[i].h);
        assert_true(anc_f16_to_f32(exact[i].h) == exact[i].f);
    }
    assert_int_equal(anc_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(f_bits(anc_f16_to_f32(0x8000)), 0x80000000u);
    /* Rounding to nearest, ties to even. */
    assert_int_equal(anc_f32_to_f16(0.1f), 0x2e66);
    assert_int_equal(anc_f32_to_f16(1.0f / 3.0f), 0x3555);
    assert_int_equal(anc_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);           /* tie -> even (down) */
    assert_int_equal(anc_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);       /* tie -> even (up) */
    assert_int_equal(anc_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01); /* just above the tie */
    assert_int_equal(anc_f32_to_f16(1.0f + 0x1p-11f - 0x1p-23f), 0x3c00); /* just below the tie */
    /* Overflow: 65519 rounds to max finite, 65520 is the tie that goes to inf. */
    assert_int_equal(anc_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(anc_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(anc_f32_to_f16(-1e6f), 0xfc00);
    assert_int_equal(anc_f32_to_f16(bits_f(0x7f7fffffu)), 0x7c00);
    assert_int_equal(anc_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(anc_f32_to_f16(-INFINITY), 0xfc00);
    assert_true(isinf(anc_f16_to_f32(0x7c00)) && anc_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(anc_f16_to_f32(0xfc00)) && anc_f16_to_f32(0xfc00) < 0);
    /* Subnormal rounding. */
    assert_int_equal(anc_f32_to_f16(0x1p-25f), 0x0000);                     /* tie -> 0 */
    assert_int_equal(anc_f32_to_f16(-0x1p-25f), 0x8000);
    assert_int_equal(anc_f32_to_f16(nextafterf(0x1p-25f, 1.0f)), 0x0001);
    assert_int_equal(anc_f32_to_f16(0x1p-26f), 0x0000);
    assert_int_equal(anc_f32_to_f16(3 * 0x1p-25f), 0x0002);                 /* 1.5 ulp tie -> 2 */
    assert_int_equal(anc_f32_to_f16(5 * 0x1p-25f), 0x0002);                 /* 2.5 ulp tie -> 2 */
    assert_int_equal(anc_f32_to_f16(0x7ffp-25f), 0x0400);                   /* max subnormal + half -> min normal */
    assert_int_equal(anc_f32_to_f16(1e-30f), 0x0000);
    assert_int_equal(anc_f32_to_f16(bits_f(0x00000001u)), 0x0000);          /* f32 subnormal */
    /* NaN stays NaN, quiet, sign kept; also signaling NaN with payload only in low bits. */
    uint16_t hn = anc_f32_to_f16(NAN);
    assert_int_equal(hn & 0x7c00, 0x7c00);
    assert_true((hn & 0x3ff) != 0);
    uint16_t hs = anc_f32_to_f16(bits_f(0xff800001u));
    assert_int_equal(hs & 0xfc00, 0xfc00);
    assert_true((hs & 0x3ff) != 0);
    assert_true(isnan(anc_f16_to_f32(0x7e00)));
    assert_true(isnan(anc_f16_to_f32(0x7c01)));
}

static void test_f16_exhaustive_roundtrip(void **state) {
    (void)state;
    int nans = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = anc_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            nans++;
            assert_true(isnan(anc_f16_to_f32(anc_f32_to_f16(f))));
            continue;
        }
        if (anc_f32_to_f16(f) != h) fail_msg("f16 0x%04x -> %a -> 0x%04x", h, (double)f, anc_f32_to_f16(f));
        /* Midpoint to the next value up rounds to whichever neighbour is even. */
        if ((h & 0x7fffu) < 0x7bffu) {
            float g = anc_f16_to_f32((uint16_t)(h + 1));
            double mid = ((double)f + (double)g) / 2;
            uint16_t expect = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
            if (anc_f32_to_f16((float)mid) != expect) fail_msg("f16 tie above 0x%04x", h);
        }
    }
    assert_int_equal(nans, 2 * 1023);
}

static void test_bf16_known_values(void **state) {
    (void)state;
    assert_int_equal(anc_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(anc_f32_to_bf16(-2.0f), 0xc000);
    assert_int_equal(anc_f32_to_bf16(0.0f), 0x0000);
    assert_int_equal(anc_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(anc_f32_to_bf16(3.140625f), 0x4049);
    assert_true(anc_bf16_to_f32(0x4049) == 3.140625f);
    assert_int_equal(anc_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);     /* tie -> even (down) */
    assert_int_equal(anc_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82); /* tie -> even (up) */
    assert_int_equal(anc_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    assert_int_equal(anc_f32_to_bf16(bits_f(0x7f7f0000u)), 0x7f7f); /* max finite bf16 */
    assert_int_equal(anc_f32_to_bf16(bits_f(0x7f7fffffu)), 0x7f80); /* max f32 rounds to inf */
    assert_int_equal(anc_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(anc_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(anc_f32_to_bf16(bits_f(0x00010000u)), 0x0001);  /* subnormal kept */
    assert_int_equal(anc_f32_to_bf16(bits_f(0x00008000u)), 0x0000);  /* subnormal tie -> even 0 */
    assert_int_equal(anc_f32_to_bf16(bits_f(0x00018000u)), 0x0002);  /* subnormal tie -> even 2 */
    /* NaN with payload only in the low 16 bits must not become inf. */
    uint16_t b = anc_f32_to_bf16(bits_f(0x7f800001u));
    assert_int_equal(b & 0x7f80, 0x7f80);
    assert_true((b & 0x7f) != 0);
    assert_true(isnan(anc_bf16_to_f32(b)));
    assert_true((anc_f32_to_bf16(bits_f(0xffc00000u)) & 0x8000) != 0); /* sign kept */
    assert_true(isnan(anc_bf16_to_f32(anc_f32_to_bf16(NAN))));
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = anc_bf16_to_f32((uint16_t)h);
        assert_int_equal(f_bits(f), h << 16);
        if (!isnan(f)) assert_int_equal(anc_f32_to_bf16(f), h);
    }
}

static void test_convert_buffers(void **state) {
    (void)state;
    const float src[5] = {1.0f, -0.5f, 65504.0f, 0x1p-24f, 3.0f};
    unsigned char raw[1 + 5 * 8];
    float back[5];
    /* Unaligned destination/source (offset 1). */
    assert_int_equal(anc_convert_from_f32(raw + 1, src, ANC_DT_F16, 5), 0);
    assert_int_equal(raw[1], 0x00);
    assert_int_equal(raw[2], 0x3c); /* little-endian 0x3c00 */
    assert_int_equal(anc_convert_to_f32(back, raw + 1, ANC_DT_F16, 5), 0);
    for (int i = 0; i < 5; i++) assert_true(back[i] == src[i]);
    assert_int_equal(anc_convert_from_f32(raw + 1, src, ANC_DT_BF16, 5), 0);
    assert_int_equal(raw[2], 0x3f);
    assert_int_equal(raw[1], 0x80);
    assert_int_equal(anc_convert_from_f32(raw + 1, src, ANC_DT_F32, 5), 0);
    assert_int_equal(anc_convert_to_f32(back, raw + 1, ANC_DT_F32, 5), 0);
    for (int i = 0; i < 5; i++) assert_true(back[i] == src[i]);
    double d[5] = {1.5, -2.25, 1e300, 0.1, 0};
    memcpy(raw + 1, d, sizeof d);
    assert_int_equal(anc_convert_to_f32(back, raw + 1, ANC_DT_F64, 5), 0);
    assert_true(back[0] == 1.5f && back[1] == -2.25f && isinf(back[2]) && back[3] == 0.1f && back[4] == 0);
    assert_int_equal(anc_convert_to_f32(back, raw, ANC_DT_I32, 1), -1);
    assert_int_equal(anc_convert_from_f32(raw, src, ANC_DT_F64, 1), -1);
    assert_int_equal(anc_convert_from_f32(raw, src, ANC_DT_U8, 1), -1);
}

/* ---------------------------------------------------------------- round trip */

static void test_roundtrip(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "model.safetensors");
    float wf32[12], wf16[6] = {1.0f, -0.5f, 0.1f, 65504.0f, 0x1p-24f, -3.0f}, wbf16[5] = {1.0f, 3.14159f, -1e-3f, 1e30f, 0};
    for (int i = 0; i < 12; i++) wf32[i] = 0.25f * (float)i - 1.0f;
    int32_t ids32[4] = {0, -1, 2147483647, -2147483647 - 1};
    int64_t ids64[4] = {1, -1, INT64_MAX, INT64_MIN};
    uint8_t mask[7] = {0, 1, 2, 3, 250, 255, 7};
    double f64[3] = {1.25, -8.5, 1e-3};
    float scalar = 42.0f;
    int64_t s_f32[] = {3, 4}, s_f16[] = {2, 3}, s_bf16[] = {5}, s_i32[] = {4}, s_i64[] = {2, 2}, s_u8[] = {7},
            s_f64[] = {3}, s_empty[] = {0, 5};
    anc_st_write_item items[] = {
        {"w.f32", ANC_DT_F32, 2, s_f32, wf32},   {"w.f16", ANC_DT_F16, 2, s_f16, wf16},
        {"mask.u8", ANC_DT_U8, 1, s_u8, mask},   {"w.bf16", ANC_DT_BF16, 1, s_bf16, wbf16},
        {"ids.i32", ANC_DT_I32, 1, s_i32, ids32}, {"ids.i64", ANC_DT_I64, 2, s_i64, ids64},
        {"x.f64", ANC_DT_F64, 1, s_f64, f64},    {"scalar", ANC_DT_F32, 0, NULL, &scalar},
        {"empty", ANC_DT_F32, 2, s_empty, NULL},
    };
    const size_t n = sizeof items / sizeof items[0];
    const char *meta[] = {"format", "pt", "note", "h\xc3\xa9llo \"quoted\"", NULL};
    anc_error err = {0};
    TU_CHECK(anc_st_write(path, items, n, meta, &err), &err);
    char *tmp = tu_path(dir, "model.safetensors.tmp");
    assert_false(path_exists(tmp));

    /* Raw layout: header length, padding, key order. */
    size_t flen;
    char *raw = tu_read_file(path, &flen);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (unsigned char)raw[i];
    assert_int_equal((8 + hlen) % 8, 0);
    assert_true(hlen < flen);
    assert_memory_equal(raw + 8, "{\"__metadata__\":{\"format\":\"pt\"", 30);
    size_t jl = hlen;
    while (jl > 0 && raw[8 + jl - 1] == ' ') jl--;
    assert_int_equal(raw[8 + jl - 1], '}');
    assert_true(hlen - jl < 8);
    const char *prev = raw + 8;
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\":{", items[i].name);
        const char *at = strstr(raw + 8, key);
        assert_non_null(at);
        assert_true(at > prev);
        prev = at;
    }

    anc_safetensors *st = NULL;
    TU_CHECK(anc_st_open(&st, path, &err), &err);
    assert_string_equal(anc_st_label(st), path);
    assert_int_equal(anc_st_count(st), n);
    assert_null(anc_st_get(st, n));
    assert_string_equal(anc_st_metadata(st, "format"), "pt");
    assert_string_equal(anc_st_metadata(st, "note"), "h\xc3\xa9llo \"quoted\"");
    assert_null(anc_st_metadata(st, "missing"));
    assert_null(anc_st_find(st, "nope"));
    assert_null(anc_st_find(st, "__metadata__"));
    /* anc_st_get: data-offset order (= write order here), contiguous from 8 + N. */
    uint64_t off = 8 + hlen;
    for (size_t i = 0; i < n; i++) {
        const anc_st_tensor *t = anc_st_get(st, i);
        assert_non_null(t);
        assert_string_equal(t->name, items[i].name);
        assert_ptr_equal(anc_st_find(st, items[i].name), t);
        assert_int_equal(t->dtype, items[i].dtype);
        assert_int_equal(t->ndim, items[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], items[i].shape[d]);
        assert_int_equal(t->file_offset, off);
        assert_int_equal(t->nbytes, t->n_elems * anc_dtype_size(t->dtype));
        assert_memory_equal(raw + t->file_offset, t->data, (size_t)t->nbytes);
        off += t->nbytes;
    }
    assert_int_equal(off, flen);

    float buf[16];
    const anc_st_tensor *t = anc_st_find(st, "w.f32");
    TU_CHECK(anc_st_read_f32(t, buf, 12, &err), &err);
    assert_memory_equal(buf, wf32, sizeof wf32);
    t = anc_st_find(st, "w.f16");
    assert_int_equal(t->n_elems, 6);
    TU_CHECK(anc_st_read_f32(t, buf, 6, &err), &err);
    for (int i = 0; i < 6; i++) assert_true(buf[i] == anc_f16_to_f32(anc_f32_to_f16(wf16[i])));
    assert_true(buf[0] == 1.0f && buf[3] == 65504.0f && buf[4] == 0x1p-24f);
    t = anc_st_find(st, "w.bf16");
    TU_CHECK(anc_st_read_f32(t, buf, 5, &err), &err);
    for (int i = 0; i < 5; i++) assert_true(buf[i] == anc_bf16_to_f32(anc_f32_to_bf16(wbf16[i])));
    t = anc_st_find(st, "x.f64");
    TU_CHECK(anc_st_read_f32(t, buf, 3, &err), &err);
    assert_true(buf[0] == 1.25f && buf[1] == -8.5f && buf[2] == 1e-3f);
    t = anc_st_find(st, "scalar");
    assert_int_equal(t->n_elems, 1);
    TU_CHECK(anc_st_read_f32(t, buf, 1, &err), &err);
    assert_true(buf[0] == 42.0f);
    t = anc_st_find(st, "empty");
    assert_int_equal(t->n_elems, 0);
    assert_int_equal(t->nbytes, 0);
    TU_CHECK(anc_st_read_f32(t, NULL, 0, &err), &err);
    /* Integer tensors hold the raw little-endian bytes. */
    t = anc_st_find(st, "ids.i32");
    assert_memory_equal(t->data, ids32, sizeof ids32);
    assert_int_equal(anc_st_read_f32(t, buf, 4, &err), ANC_ERR_UNSUPPORTED);
    assert_has(err.message, "ids.i32");
    assert_memory_equal(anc_st_find(st, "ids.i64")->data, ids64, sizeof ids64);
    assert_memory_equal(anc_st_find(st, "mask.u8")->data, mask, sizeof mask);
    assert_int_equal(anc_st_read_f32(anc_st_find(st, "w.f32"), buf, 11, &err), ANC_ERR_INVALID);
    assert_has(err.message, "w.f32");
    anc_st_close(st);

    /* Overwriting an existing file works; no metadata means no __metadata__ key. */
    TU_CHECK(anc_st_write(path, items, 1, NULL, &err), &err);
    free(raw);
    raw = tu_read_file(path, &flen);
    const char *want = "{\"w.f32\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}}";
    assert_memory_equal(raw + 8, want, strlen(want));
    assert_int_equal(raw[8 + strlen(want)], ' ');
    TU_CHECK(anc_st_open(&st, path, &err), &err);
    assert_int_equal(anc_st_count(st), 1);
    assert_null(anc_st_metadata(st, "format"));
    anc_st_close(st);
    anc_st_close(NULL);

    free(raw);
    free(tmp);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_write_invalid_items(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "bad.safetensors");
    float v[4] = {0};
    int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg[2] = {2, -1};
    anc_error err = {0};
    anc_st_write_item dup[2] = {{"a", ANC_DT_F32, 1, shape, v}, {"a", ANC_DT_F32, 1, shape, v}};
    assert_int_equal(anc_st_write(path, dup, 2, NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "duplicate");
    assert_has(err.message, "'a'");
    anc_st_write_item bad_dt = {"b", ANC_DT_INVALID, 1, shape, v};
    assert_int_equal(anc_st_write(path, &bad_dt, 1, NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "dtype");
    anc_st_write_item many = {"c", ANC_DT_F32, 9, shape, v};
    assert_int_equal(anc_st_write(path, &many, 1, NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "ndim 9");
    anc_st_write_item negative = {"d", ANC_DT_F32, 2, neg, v};
    assert_int_equal(anc_st_write(path, &negative, 1, NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "[2, -1]");
    anc_st_write_item reserved = {"__metadata__", ANC_DT_F32, 1, shape, v};
    assert_int_equal(anc_st_write(path, &reserved, 1, NULL, &err), ANC_ERR_INVALID);
    assert_has(err.message, "reserved");
    anc_st_write_item ok = {"e", ANC_DT_F32, 1, shape, v};
    const char *odd_meta[] = {"k", NULL};
    assert_int_equal(anc_st_write(path, &ok, 1, odd_meta, &err), ANC_ERR_INVALID);
    assert_has(err.message, "'k'");
    const char *bad_utf8[] = {"k", "\xff\xfe", NULL};
    assert_int_equal(anc_st_write(path, &ok, 1, bad_utf8, &err), ANC_ERR_INVALID);
    assert_false(path_exists(path));
    char *tmp = tu_path(dir, "bad.safetensors.tmp");
    assert_false(path_exists(tmp));
    free(tmp);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_write_missing_dir(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "no/such/dir/out.safetensors");
    float v[2] = {1, 2};
    int64_t shape[1] = {2};
    anc_st_write_item it = {"v", ANC_DT_F32, 1, shape, v};
    anc_error err = {0};
    assert_int_equal(anc_st_write(path, &it, 1, NULL, &err), ANC_ERR_IO);
    assert_has(err.message, path);
    assert_has(err.message, "No such file or directory");
    assert_false(path_exists(path));
    /* Target is a directory: the rename fails and the .tmp file is removed. */
    char *sub = tu_path(dir, "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(anc_st_write(sub, &it, 1, NULL, &err), ANC_ERR_IO);
    assert_has(err.message, sub);
    assert_has(err.message, "rename");
    char *subtmp = tu_path(dir, "sub.tmp");
    assert_false(path_exists(subtmp));
    free(subtmp);
    free(sub);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_open_errors(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    anc_safetensors *st = (anc_safetensors *)1;
    anc_error err = {0};
    char *missing = tu_path(dir, "missing.safetensors");
    assert_int_equal(anc_st_open(&st, missing, &err), ANC_ERR_IO);
    assert_null(st);
    assert_has(err.message, missing);
    assert_has(err.message, "No such file");
    assert_int_equal(anc_st_open(&st, dir, &err), ANC_ERR_IO); /* a directory */
    assert_has(err.message, dir);
    char *empty = tu_path(dir, "empty.safetensors");
    tu_write_file(empty, "", 0);
    assert_int_equal(anc_st_open(&st, empty, &err), ANC_ERR_FORMAT);
    assert_has(err.message, empty);
    assert_has(err.message, "empty");
    char *shortf = tu_path(dir, "short.safetensors");
    tu_write_file(shortf, "\x02\0\0\0", 4);
    assert_int_equal(anc_st_open(&st, shortf, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "file is 4 bytes, shorter than the 8-byte header length");
    /* A sparse 101 MB file whose header claims 100 MB + 1: over the limit. */
    char *big = tu_path(dir, "big.safetensors");
    unsigned char hl[8];
    uint64_t claim = 100000001u;
    for (int i = 0; i < 8; i++) hl[i] = (unsigned char)(claim >> (8 * i));
    tu_write_file(big, hl, 8);
    assert_int_equal(truncate(big, 101000000), 0);
    assert_int_equal(anc_st_open(&st, big, &err), ANC_ERR_FORMAT);
    assert_has(err.message, "header length 100000001 at byte 0 exceeds the limit");
    assert_null(st);
    free(big);
    free(shortf);
    free(empty);
    free(missing);
    tu_rmtree(dir);
    free(dir);
}

/* ---------------------------------------------------------------- malformed */

/* Builds "<u64 len><header><data_len zero bytes>" (malloc'd). */
static unsigned char *make_st(const char *header, size_t hl, size_t data_len, size_t *len) {
    *len = 8 + hl + data_len;
    unsigned char *b = calloc(1, *len);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    return b;
}

/* Parses header + data_len bytes and asserts code and that the message names
 * the label and contains each of up to two needles. */
static void expect_bad(const char *header, size_t data_len, anc_status code, const char *n1, const char *n2) {
    size_t len;
    unsigned char *b = make_st(header, strlen(header), data_len, &len);
    anc_safetensors *st = NULL;
    anc_error err = {0};
    anc_status s = anc_st_parse(&st, b, len, "bad.safetensors", &err);
    if (s != code) fail_msg("header %s: got %s (%s), want %s", header, anc_status_name(s), err.message, anc_status_name(code));
    assert_null(st);
    assert_has(err.message, "bad.safetensors: ");
    if (n1) assert_has(err.message, n1);
    if (n2) assert_has(err.message, n2);
    free(b);
}

#define T1(body) "{\"x\":" body "}"

static void test_malformed(void **state) {
    (void)state;
    anc_safetensors *st = NULL;
    anc_error err = {0};
    assert_int_equal(anc_st_parse(&st, "", 0, "bad.safetensors", &err), ANC_ERR_FORMAT);
    assert_has(err.message, "bad.safetensors: file is empty");
    assert_int_equal(anc_st_parse(&st, "\x10\0\0", 3, "bad.safetensors", &err), ANC_ERR_FORMAT);
    assert_has(err.message, "3 bytes, shorter than the 8-byte");
    unsigned char hb[100] = {0x39, 0x30}; /* 12345 */
    assert_int_equal(anc_st_parse(&st, hb, sizeof hb, "bad.safetensors", &err), ANC_ERR_FORMAT);
    assert_has(err.message, "bad.safetensors: header length 12345 at byte 0 is past the end of the 100-byte file");
    memset(hb, 0xff, 8);
    assert_int_equal(anc_st_parse(&st, hb, sizeof hb, "bad.safetensors", &err), ANC_ERR_FORMAT);
    assert_has(err.message, "18446744073709551615");

    expect_bad("{not json", 0, ANC_ERR_FORMAT, "not valid JSON", "column");
    expect_bad("", 0, ANC_ERR_FORMAT, "not valid JSON", NULL);
    expect_bad("{} trailing", 0, ANC_ERR_FORMAT, "not valid JSON", "file byte");
    expect_bad("[1, 2]", 0, ANC_ERR_FORMAT, "is a JSON array, expected an object", NULL);
    expect_bad("\"str\"", 0, ANC_ERR_FORMAT, "expected an object", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, ANC_ERR_FORMAT, "duplicate", "not valid JSON");
    expect_bad(T1("[]"), 0, ANC_ERR_FORMAT, "tensor 'x': entry is a JSON array", NULL);
    expect_bad(T1("{\"shape\":[1],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT, "'x'", "missing \"dtype\"");
    expect_bad(T1("{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT, "\"dtype\" is a JSON integer", NULL);
    expect_bad(T1("{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "tensor 'x': unknown dtype 'F17'", NULL);
    expect_bad(T1("{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4, ANC_ERR_UNSUPPORTED,
               "'x'", "dtype 'U32' is not supported");
    expect_bad(T1("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT, "missing \"shape\"", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "tensor 'x': \"shape\" is a JSON integer, expected an array", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "tensor 'x': shape[1] is -3, expected a non-negative integer", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}"), 8, ANC_ERR_FORMAT,
               "shape[0] is a JSON string", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}"), 8, ANC_ERR_FORMAT,
               "shape[0] is a JSON real number", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "'x'", "shape has 9 dimensions, at most 8");
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "'x'", "overflows");
    expect_bad(T1("{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}"), 4, ANC_ERR_FORMAT,
               "overflows", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1]}"), 4, ANC_ERR_FORMAT, "missing \"data_offsets\"", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}"), 4, ANC_ERR_FORMAT, "[begin, end]", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":1}}"), 4, ANC_ERR_FORMAT, "[begin, end]", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}"), 4, ANC_ERR_FORMAT, "non-negative", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}"), 8, ANC_ERR_FORMAT, "[8, 4] are reversed", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[10,10],\"data_offsets\":[0,400]}"), 128, ANC_ERR_FORMAT,
               "bad.safetensors: tensor 'x': data_offsets [0, 400] exceed the data section of 128 bytes (file truncated?)", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775807,9223372036854775807]}"), 4,
               ANC_ERR_FORMAT, "exceed the data section", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}"), 4, ANC_ERR_FORMAT,
               "not valid JSON", NULL);
    expect_bad(T1("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}"), 24, ANC_ERR_FORMAT,
               "tensor 'x': data_offsets [0, 12] span 12 bytes but shape [2, 3] of F32 needs 24 bytes", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]}}",
               16, ANC_ERR_FORMAT, "tensor 'b': data_offsets [8, 16] overlap tensor 'a' at [0, 16]", NULL);
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
               8, ANC_ERR_FORMAT, "overlap", NULL);
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"n\":3}}", 0, ANC_ERR_FORMAT,
               "\"__metadata__\" key 'n' is a JSON integer, expected a string", NULL);
    expect_bad("{\"__metadata__\":[\"k\"]}", 0, ANC_ERR_FORMAT, "\"__metadata__\" is a JSON array", NULL);
    /* A NUL byte inside the header. */
    size_t len;
    unsigned char *b = make_st("{\"a\0\":1}", 8, 0, &len);
    assert_int_equal(anc_st_parse(&st, b, len, "nul", &err), ANC_ERR_FORMAT);
    assert_has(err.message, "nul: header is not valid JSON");
    free(b);
}

static void test_valid_edge_cases(void **state) {
    (void)state;
    anc_safetensors *st = NULL;
    anc_error err = {0};
    size_t len;
    /* Empty header object, padded with spaces; trailing unused data is allowed. */
    unsigned char *b = make_st("{}      ", 8, 3, &len);
    TU_CHECK(anc_st_parse(&st, b, len, NULL, &err), &err);
    assert_int_equal(anc_st_count(st), 0);
    assert_null(anc_st_get(st, 0));
    assert_null(anc_st_find(st, "x"));
    assert_string_equal(anc_st_label(st), "<buffer>");
    anc_st_close(st);
    free(b);
    /* Out-of-order offsets are sorted; an empty tensor may sit anywhere; extra keys ignored. */
    const char *h = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1},"
                    "\"z\":{\"dtype\":\"BOOL\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
                    "\"__metadata__\":{}}";
    b = make_st(h, strlen(h), 8, &len);
    float one = 1.5f;
    memcpy(b + len - 8, &one, 4);
    b[len - 4] = 0x80, b[len - 3] = 0x3f; /* bf16 1.0 */
    b[len - 2] = 0x00, b[len - 1] = 0xc0; /* bf16 -2.0 */
    TU_CHECK(anc_st_parse(&st, b, len, "mem", &err), &err);
    assert_int_equal(anc_st_count(st), 3);
    assert_string_equal(anc_st_get(st, 0)->name, "a");
    assert_string_equal(anc_st_get(st, 1)->name, "z");
    assert_string_equal(anc_st_get(st, 2)->name, "b");
    assert_int_equal(anc_st_get(st, 0)->file_offset, 8 + strlen(h));
    float out[2];
    TU_CHECK(anc_st_read_f32(anc_st_find(st, "a"), out, 1, &err), &err);
    assert_true(out[0] == 1.5f);
    TU_CHECK(anc_st_read_f32(anc_st_find(st, "b"), out, 2, &err), &err);
    assert_true(out[0] == 1.0f && out[1] == -2.0f);
    assert_null(anc_st_metadata(st, "k"));
    anc_st_close(st);
    free(b);
}

/* ---------------------------------------------------------------- mutation sweep */

/* Parses a private copy of exactly len bytes (so ASan sees any over-read) and,
 * on success, walks and reads every tensor. Returns the parse status. */
static anc_status parse_and_walk(const unsigned char *src, size_t len) {
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) memcpy(copy, src, len);
    anc_safetensors *st = NULL;
    anc_error err = {0};
    anc_status s = anc_st_parse(&st, copy, len, "fuzz.safetensors", &err);
    if (s == ANC_OK) {
        assert_non_null(st);
        for (size_t i = 0; i < anc_st_count(st); i++) {
            const anc_st_tensor *t = anc_st_get(st, i);
            assert_true(t->file_offset + t->nbytes <= len);
            assert_ptr_equal(anc_st_find(st, t->name), t);
            if (t->n_elems > 4096) continue;
            float buf[4096];
            anc_status r = anc_st_read_f32(t, buf, t->n_elems, &err);
            assert_true(r == ANC_OK || r == ANC_ERR_UNSUPPORTED);
        }
        anc_st_close(st);
    } else {
        assert_null(st);
        assert_true(s == ANC_ERR_FORMAT || s == ANC_ERR_UNSUPPORTED);
        assert_true(strncmp(err.message, "fuzz.safetensors: ", 18) == 0);
    }
    free(copy);
    return s;
}

static void test_fuzz_regression(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "seed.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6};
    float c[3] = {-1, 0.5f, 1e-8f};
    uint8_t u[3] = {1, 2, 3};
    int64_t sa[2] = {2, 3}, sc[1] = {3}, su[1] = {3};
    anc_st_write_item items[] = {{"a", ANC_DT_F32, 2, sa, a}, {"u", ANC_DT_U8, 1, su, u},
                                 {"c", ANC_DT_BF16, 1, sc, c}, {"h", ANC_DT_F16, 1, sc, c}};
    const char *meta[] = {"k", "v", NULL};
    anc_error err = {0};
    TU_CHECK(anc_st_write(path, items, 4, meta, &err), &err);
    size_t len;
    unsigned char *file = (unsigned char *)tu_read_file(path, &len);
    assert_int_equal(parse_and_walk(file, len), ANC_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | file[i];

    /* Every truncation must be rejected (the last tensor loses bytes). */
    for (size_t cut = 0; cut < len; cut++) {
        anc_status s = parse_and_walk(file, cut);
        if (s != ANC_ERR_FORMAT) fail_msg("truncation to %zu bytes gave %s", cut, anc_status_name(s));
    }
    /* Every single-bit flip in the length field and the header. */
    size_t rejected = 0, flips = 0;
    for (size_t pos = 0; pos < 8 + hlen; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            file[pos] ^= (unsigned char)(1u << bit);
            if (parse_and_walk(file, len) != ANC_OK) rejected++;
            flips++;
            file[pos] ^= (unsigned char)(1u << bit);
        }
    }
    assert_int_equal(flips, 8 * (8 + hlen));
    assert_true(rejected > flips / 2);
    /* Byte-value sweeps at every header position (0x00, '"', '9', '[', '-', 0xff). */
    static const unsigned char vals[] = {0x00, '"', '9', '[', '-', 0xff, '}', ','};
    for (size_t pos = 0; pos < 8 + hlen; pos++) {
        unsigned char orig = file[pos];
        for (size_t v = 0; v < sizeof vals; v++) {
            file[pos] = vals[v];
            (void)parse_and_walk(file, len);
        }
        file[pos] = orig;
    }
    assert_int_equal(parse_and_walk(file, len), ANC_OK);
    free(file);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_names),
        cmocka_unit_test(test_f16_known_values),
        cmocka_unit_test(test_f16_exhaustive_roundtrip),
        cmocka_unit_test(test_bf16_known_values),
        cmocka_unit_test(test_convert_buffers),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_write_invalid_items),
        cmocka_unit_test(test_write_missing_dir),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_valid_edge_cases),
        cmocka_unit_test(test_fuzz_regression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
