/* Text generation over token ids: the public part (requests, results,
 * settings, anc_generate, anc_gen_results_free) is anchor/generate.h. */
#ifndef ANCHOR_MODEL_GENERATE_H
#define ANCHOR_MODEL_GENERATE_H

#include <stdint.h>

#include "anchor/generate.h"
#include "core/progress.h"
#include "model/decode.h"

/* Bytes of a KV cache for slots sequences of max_len tokens of cfg's model
 * (keys and values, fp32), computed without overflow (saturates at
 * SIZE_MAX). */
size_t anc_kv_bytes_for(const anc_config *cfg, int64_t slots, int64_t max_len);

#endif
