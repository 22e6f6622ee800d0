/* ggml tensor element types as GGUF files name them: the block layout of
 * every type llama.cpp defines (so a reader can size any tensor), and row
 * conversions between fp32 and the types anchor reads and writes (F32,
 * F16, BF16, Q8_0).
 *
 * Q8_0 (ggml's block_q8_0): blocks of 32 values, each an fp16 scale d
 * followed by 32 int8 q; value = q * d. Quantising a block takes
 * amax = max |x|, d = amax / 127, q = roundf(x / d) (round half away from
 * zero, x * (1/d) as ggml's quantize_row_q8_0_ref and gguf-py compute it),
 * and stores d rounded to fp16. The error of a value is at most
 * d/2 + 127 * |d - fp16(d)| <= 0.5625 * amax / 127 while d is a normal fp16
 * number (amax >= 127 * 2^-14). */
#ifndef ANCHOR_IO_GGUF_QUANT_H
#define ANCHOR_IO_GGUF_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* ggml_type values (ggml.h). Values 4, 5, 31-33 and 36-38 were removed from
 * ggml and are not valid in a file. */
enum {
    ANC_GGML_F32 = 0,
    ANC_GGML_F16 = 1,
    ANC_GGML_Q4_0 = 2,
    ANC_GGML_Q4_1 = 3,
    ANC_GGML_Q5_0 = 6,
    ANC_GGML_Q5_1 = 7,
    ANC_GGML_Q8_0 = 8,
    ANC_GGML_Q8_1 = 9,
    ANC_GGML_Q2_K = 10,
    ANC_GGML_Q8_K = 15,
    ANC_GGML_I8 = 24,
    ANC_GGML_F64 = 28,
    ANC_GGML_BF16 = 30,
    ANC_GGML_MXFP4 = 39,
    ANC_GGML_TYPE_END = 40 /* one past the largest type anchor can size */
};

#define ANC_Q8_0_BLOCK 32
#define ANC_Q8_0_BYTES 34

/* Elements per block and bytes per block of ggml type t; 0 and 0 (and
 * returns 0) when t is not a ggml type anchor knows. Returns 1 when known. */
int anc_ggml_type_layout(uint32_t t, uint32_t *block, uint32_t *bytes);
/* ggml's name of type t ("F32", "Q8_0"), or "?" when unknown. */
const char *anc_ggml_type_name(uint32_t t);

/* Bytes of one row of n elements of type t (n a multiple of its block;
 * known t). */
uint64_t anc_ggml_row_bytes(uint32_t t, uint64_t n);

/* Converts n fp32 values of src into dst in type t (F32, F16, BF16 or
 * Q8_0; n a multiple of 32 for Q8_0), little-endian. Returns 0, or -1 for
 * another type or a bad n. */
int anc_ggml_from_f32(uint32_t t, const float *src, void *dst, size_t n);
/* Converts n values of type t (F32, F16, BF16, F64 or Q8_0; n a multiple of
 * 32 for Q8_0) at src (any alignment) into fp32. Returns 0, or -1. */
int anc_ggml_to_f32(uint32_t t, const void *src, float *dst, size_t n);

/* Q8_0 of one block x[32] into out[34] (see the header comment). */
void anc_q8_0_quantize_block(const float *x, unsigned char *out);

#endif
