/* Element types of tensors in files (safetensors, GGUF) and conversions to
 * and from the fp32 that anchor computes in. */
#ifndef ANCHOR_CORE_DTYPE_H
#define ANCHOR_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* anc_dtype, anc_dtype_name and anc_dtype_from_user are public. */
#include "anchor/common.h"

/* Bytes per element (0 for ANC_DT_INVALID). */
size_t anc_dtype_size(anc_dtype dt);
/* Parses a safetensors dtype string; ANC_DT_INVALID when unknown. */
anc_dtype anc_dtype_from_name(const char *name);

float anc_f16_to_f32(uint16_t h);
uint16_t anc_f32_to_f16(float f);     /* round to nearest even, overflow to inf */
float anc_bf16_to_f32(uint16_t b);
uint16_t anc_f32_to_bf16(float f);    /* round to nearest even, NaN kept NaN */

/* Converts n elements of src (dtype dt, little-endian, possibly unaligned)
 * into dst fp32. dt must be F32, F16, BF16 or F64. Returns 0, or -1 for
 * another dtype. */
int anc_convert_to_f32(float *dst, const void *src, anc_dtype dt, size_t n);
/* Converts n fp32 values into dst of dtype dt (F32, F16, BF16). Returns 0 or -1. */
int anc_convert_from_f32(void *dst, const float *src, anc_dtype dt, size_t n);

#endif
