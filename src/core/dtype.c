/* Element types and fp32 <-> f16/bf16/f64 conversions (see dtype.h).
 *
 * The half-precision conversions work on bit patterns so that they are exact
 * and independent of the FPU rounding mode: round to nearest, ties to even;
 * subnormals are produced and consumed; overflow goes to infinity; NaN stays
 * NaN (quieted, sign and top payload bits kept). */
#include "core/dtype.h"

#include <string.h>
#include <strings.h>

size_t anc_dtype_size(anc_dtype dt) {
    switch (dt) {
    case ANC_DT_F64:
    case ANC_DT_I64: return 8;
    case ANC_DT_F32:
    case ANC_DT_I32: return 4;
    case ANC_DT_F16:
    case ANC_DT_BF16:
    case ANC_DT_I16: return 2;
    case ANC_DT_I8:
    case ANC_DT_U8:
    case ANC_DT_BOOL: return 1;
    case ANC_DT_INVALID: return 0;
    }
    return 0;
}

const char *anc_dtype_name(anc_dtype dt) {
    switch (dt) {
    case ANC_DT_F32: return "F32";
    case ANC_DT_F16: return "F16";
    case ANC_DT_BF16: return "BF16";
    case ANC_DT_F64: return "F64";
    case ANC_DT_I64: return "I64";
    case ANC_DT_I32: return "I32";
    case ANC_DT_I16: return "I16";
    case ANC_DT_I8: return "I8";
    case ANC_DT_U8: return "U8";
    case ANC_DT_BOOL: return "BOOL";
    case ANC_DT_INVALID: return "INVALID";
    }
    return "INVALID";
}

anc_dtype anc_dtype_from_name(const char *name) {
    static const anc_dtype all[] = {ANC_DT_F32, ANC_DT_F16, ANC_DT_BF16, ANC_DT_F64, ANC_DT_I64,
                                    ANC_DT_I32, ANC_DT_I16, ANC_DT_I8,   ANC_DT_U8,  ANC_DT_BOOL};
    if (!name) return ANC_DT_INVALID;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, anc_dtype_name(all[i])) == 0) return all[i];
    return ANC_DT_INVALID;
}

anc_dtype anc_dtype_from_user(const char *name) {
    if (!name) return ANC_DT_INVALID;
    if (!strcasecmp(name, "f32") || !strcasecmp(name, "float32") || !strcasecmp(name, "fp32"))
        return ANC_DT_F32;
    if (!strcasecmp(name, "f16") || !strcasecmp(name, "float16") || !strcasecmp(name, "fp16"))
        return ANC_DT_F16;
    if (!strcasecmp(name, "bf16") || !strcasecmp(name, "bfloat16")) return ANC_DT_BF16;
    return ANC_DT_INVALID;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float anc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf / NaN */
    if (exp != 0) return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign); /* +-0 */
    /* Subnormal: mant * 2^-24. Normalize so the leading one becomes implicit. */
    uint32_t e = 113; /* biased f32 exponent of 2^-14 */
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return bits_f32(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

uint16_t anc_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet it, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* >= 65520 (incl. inf) rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* normal f16 range: >= 2^-14 */
        uint32_t r = a - (112u << 23);
        r += 0xfffu + ((r >> 13) & 1u); /* round to nearest even on the 13 dropped bits */
        return (uint16_t)(sign | (r >> 13));
    }
    if (a < 0x33000000u) /* < 2^-25 (also exactly 2^-25, tie to even 0) */
        return sign;
    /* Subnormal result: value = m * 2^(e-150); in units of 2^-24 that is
     * m >> (126 - e), with shift 14..24. Carry into 0x400 gives the min normal. */
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t s = 126u - e;
    uint32_t r = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

float anc_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t anc_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncation could give inf, so quiet it */
        return (uint16_t)((x >> 16) | 0x0040u);
    x += 0x7fffu + ((x >> 16) & 1u); /* overflow of the max finite carries into inf */
    return (uint16_t)(x >> 16);
}

static uint16_t load_u16le(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t load_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t load_u64le(const unsigned char *p) {
    return (uint64_t)load_u32le(p) | ((uint64_t)load_u32le(p + 4) << 32);
}

static void store_u16le(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v & 0xffu);
    p[1] = (unsigned char)(v >> 8);
}

static void store_u32le(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)((v >> (8 * i)) & 0xffu);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ANC_HOST_LE 1
#else
#define ANC_HOST_LE 0
#endif

int anc_convert_to_f32(float *dst, const void *src, anc_dtype dt, size_t n) {
    const unsigned char *s = src;
    switch (dt) {
    case ANC_DT_F32:
        if (ANC_HOST_LE) {
            if (n) memcpy(dst, src, n * sizeof(float));
        } else {
            for (size_t i = 0; i < n; i++) dst[i] = bits_f32(load_u32le(s + 4 * i));
        }
        return 0;
    case ANC_DT_F16:
        for (size_t i = 0; i < n; i++) dst[i] = anc_f16_to_f32(load_u16le(s + 2 * i));
        return 0;
    case ANC_DT_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = anc_bf16_to_f32(load_u16le(s + 2 * i));
        return 0;
    case ANC_DT_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = load_u64le(s + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return -1;
    }
}

int anc_convert_from_f32(void *dst, const float *src, anc_dtype dt, size_t n) {
    unsigned char *d = dst;
    switch (dt) {
    case ANC_DT_F32:
        if (ANC_HOST_LE) {
            if (n) memcpy(dst, src, n * sizeof(float));
        } else {
            for (size_t i = 0; i < n; i++) store_u32le(d + 4 * i, f32_bits(src[i]));
        }
        return 0;
    case ANC_DT_F16:
        for (size_t i = 0; i < n; i++) store_u16le(d + 2 * i, anc_f32_to_f16(src[i]));
        return 0;
    case ANC_DT_BF16:
        for (size_t i = 0; i < n; i++) store_u16le(d + 2 * i, anc_f32_to_bf16(src[i]));
        return 0;
    default:
        return -1;
    }
}
