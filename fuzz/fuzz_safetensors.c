/* libFuzzer target for the safetensors reader: parse an arbitrary buffer,
 * then touch every tensor (lookup by name, fp32 read of float dtypes) and
 * the metadata, so out-of-bounds offsets surface under ASan.
 * Seeds: fuzz/corpus/fuzz_safetensors/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define MAX_READ_ELEMS ((uint64_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    anc_safetensors *st = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_st_parse(&st, data, size, "fuzz", &err) != ANC_OK) {
        if (st != NULL || err.message[0] == '\0') abort(); /* failures must explain themselves */
        return 0;
    }
    (void)anc_st_metadata(st, "format");
    (void)anc_st_label(st);
    size_t n = anc_st_count(st);
    uint64_t prev_end = 0;
    for (size_t i = 0; i < n; i++) {
        const anc_st_tensor *t = anc_st_get(st, i);
        if (!t || anc_st_find(st, t->name) != t) abort();
        /* Sorted by offset and in bounds (the parser promised). */
        if (t->nbytes > 0) {
            if (t->file_offset < prev_end || t->file_offset + t->nbytes > size) abort();
            prev_end = t->file_offset + t->nbytes;
            /* Touch the first and last byte of the region. */
            const volatile uint8_t *p = t->data;
            (void)p[0];
            (void)p[t->nbytes - 1];
        }
        if (t->dtype != ANC_DT_F32 && t->dtype != ANC_DT_F16 && t->dtype != ANC_DT_BF16 && t->dtype != ANC_DT_F64)
            continue;
        if (t->n_elems > MAX_READ_ELEMS) continue;
        float *buf = malloc((size_t)(t->n_elems ? t->n_elems : 1) * sizeof(float));
        if (!buf) continue;
        if (anc_st_read_f32(t, buf, t->n_elems, &err) != ANC_OK) abort();
        free(buf);
    }
    anc_st_close(st);
    return 0;
}
