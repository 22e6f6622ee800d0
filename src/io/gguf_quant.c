/* ggml element types: block layouts and fp32 row conversions (gguf_quant.h).
 * The layouts are ggml's (ggml-common.h block structs, ggml.c type
 * traits); F16/BF16 rounding is core/dtype's (round to nearest even). */
#include "io/gguf_quant.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"

typedef struct {
    const char *name;
    uint32_t block, bytes;
} ggml_layout;

#define QK_K 256
static const ggml_layout layouts[ANC_GGML_TYPE_END] = {
    [0] = {"F32", 1, 4},
    [1] = {"F16", 1, 2},
    [2] = {"Q4_0", 32, 2 + 16},
    [3] = {"Q4_1", 32, 2 + 2 + 16},
    [6] = {"Q5_0", 32, 2 + 4 + 16},
    [7] = {"Q5_1", 32, 2 + 2 + 4 + 16},
    [8] = {"Q8_0", 32, 2 + 32},
    [9] = {"Q8_1", 32, 2 + 2 + 32},
    [10] = {"Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4},
    [11] = {"Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12},
    [12] = {"Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12},
    [13] = {"Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12},
    [14] = {"Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16},
    [15] = {"Q8_K", QK_K, 4 + QK_K + QK_K / 8},
    [16] = {"IQ2_XXS", QK_K, 2 + QK_K / 4},
    [17] = {"IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32},
    [18] = {"IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8},
    [19] = {"IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16},
    [20] = {"IQ4_NL", 32, 2 + 16},
    [21] = {"IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4},
    [22] = {"IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16},
    [23] = {"IQ4_XS", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64},
    [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32},
    [30] = {"BF16", 1, 2},
    [34] = {"TQ1_0", QK_K, 2 + 4 * 13},
    [35] = {"TQ2_0", QK_K, 2 + 64},
    [39] = {"MXFP4", 32, 1 + 16},
};

int anc_ggml_type_layout(uint32_t t, uint32_t *block, uint32_t *bytes) {
    uint32_t b = 0, s = 0;
    if (t < ANC_GGML_TYPE_END && layouts[t].name) {
        b = layouts[t].block;
        s = layouts[t].bytes;
    }
    if (block) *block = b;
    if (bytes) *bytes = s;
    return b != 0;
}

const char *anc_ggml_type_name(uint32_t t) {
    return t < ANC_GGML_TYPE_END && layouts[t].name ? layouts[t].name : "?";
}

uint64_t anc_ggml_row_bytes(uint32_t t, uint64_t n) {
    uint32_t b, s;
    if (!anc_ggml_type_layout(t, &b, &s)) return 0;
    return n / b * s;
}

static void put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v & 0xffu);
    p[1] = (unsigned char)(v >> 8);
}

static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void anc_q8_0_quantize_block(const float *x, unsigned char *out) {
    float amax = 0.0f;
    for (int j = 0; j < ANC_Q8_0_BLOCK; j++) {
        float a = fabsf(x[j]);
        if (a > amax) amax = a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_u16(out, anc_f32_to_f16(d));
    for (int j = 0; j < ANC_Q8_0_BLOCK; j++) {
        float q = roundf(x[j] * id);
        /* |x * id| <= 127 for finite blocks; the clamp keeps a NaN or an
         * infinity (anc_gguf_add_tensor refuses them) defined */
        q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q == q ? q : 0.0f;
        out[2 + j] = (unsigned char)(int8_t)q;
    }
}

int anc_ggml_from_f32(uint32_t t, const float *src, void *dst, size_t n) {
    switch (t) {
    case ANC_GGML_F32: return anc_convert_from_f32(dst, src, ANC_DT_F32, n);
    case ANC_GGML_F16: return anc_convert_from_f32(dst, src, ANC_DT_F16, n);
    case ANC_GGML_BF16: return anc_convert_from_f32(dst, src, ANC_DT_BF16, n);
    case ANC_GGML_Q8_0:
        if (n % ANC_Q8_0_BLOCK) return -1;
        for (size_t b = 0; b < n / ANC_Q8_0_BLOCK; b++)
            anc_q8_0_quantize_block(src + b * ANC_Q8_0_BLOCK, (unsigned char *)dst + b * ANC_Q8_0_BYTES);
        return 0;
    default: return -1;
    }
}

int anc_ggml_to_f32(uint32_t t, const void *src, float *dst, size_t n) {
    switch (t) {
    case ANC_GGML_F32: return anc_convert_to_f32(dst, src, ANC_DT_F32, n);
    case ANC_GGML_F16: return anc_convert_to_f32(dst, src, ANC_DT_F16, n);
    case ANC_GGML_BF16: return anc_convert_to_f32(dst, src, ANC_DT_BF16, n);
    case ANC_GGML_F64: return anc_convert_to_f32(dst, src, ANC_DT_F64, n);
    case ANC_GGML_Q8_0: {
        if (n % ANC_Q8_0_BLOCK) return -1;
        const unsigned char *p = src;
        for (size_t b = 0; b < n / ANC_Q8_0_BLOCK; b++, p += ANC_Q8_0_BYTES) {
            const float d = anc_f16_to_f32(get_u16(p));
            for (int j = 0; j < ANC_Q8_0_BLOCK; j++) dst[b * ANC_Q8_0_BLOCK + (size_t)j] = (float)(int8_t)p[2 + j] * d;
        }
        return 0;
    }
    default: return -1;
    }
}
