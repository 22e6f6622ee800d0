/* The benchmarks' model: a SmolLM2-135M-shaped random Llama (30 layers,
 * hidden 576, 9 heads / 3 kv heads, intermediate 1536, vocabulary 49152,
 * tied embeddings), weights N(0, 0.02) and unit norm weights. Header-only:
 * every benchmark source is its own program. */
#ifndef ANCHOR_BENCH_MODEL_H
#define ANCHOR_BENCH_MODEL_H

#include <stdio.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "model/model.h"

/* Returns a new model with `layers` layers over a vocabulary of vocab_size
 * ids (bos 1, eos 2), or NULL after printing why.
 * frozen16: a frozen bf16 base (anc_model_create_frozen16) holding the
 * same draws rounded to bf16, as train --use-peft --bf16 holds a base. */
static inline anc_model *bench_smollm2_model_with(int layers, int vocab_size, uint64_t seed, int frozen16) {
    anc_config cfg = {0};
    cfg.arch = ANC_ARCH_LLAMA;
    cfg.vocab_size = vocab_size;
    cfg.hidden_size = 576;
    cfg.intermediate_size = 1536;
    cfg.num_layers = layers;
    cfg.num_heads = 9;
    cfg.num_kv_heads = 3;
    cfg.head_dim = 64;
    cfg.max_position_embeddings = 8192;
    cfg.rms_norm_eps = 1e-5f;
    cfg.rope_theta = 100000.0f;
    cfg.tie_word_embeddings = 1;
    cfg.bos_token_id = 1;
    cfg.eos_token_id = 2;
    anc_error err = {0};
    anc_model *m = NULL;
    if (frozen16 ? anc_model_create_frozen16(&m, &cfg, &err) : anc_model_create(&m, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    anc_rng r;
    anc_rng_seed(&r, seed);
    for (size_t s = 0; s < m->n_specs; s++) {
        const anc_param_spec *sp = &m->specs[s];
        for (size_t k = 0; k < sp->n_elems; k++) {
            float v = (float)(anc_rng_normal(&r) * 0.02);
            if (frozen16 && sp->ndim == 2) m->params16[sp->offset + k] = anc_f32_to_bf16(v);
            else m->params[sp->offset + k] = v;
        }
    }
    for (int l = 0; l < layers; l++)
        for (int i = 0; i < cfg.hidden_size; i++) {
            m->w.layers[l].attn_norm[i] = 1;
            m->w.layers[l].mlp_norm[i] = 1;
        }
    for (int i = 0; i < cfg.hidden_size; i++) m->w.final_norm[i] = 1;
    return m;
}

static inline anc_model *bench_smollm2_model_as(int layers, uint64_t seed, int frozen16) {
    return bench_smollm2_model_with(layers, 49152, seed, frozen16);
}

static inline anc_model *bench_smollm2_model(int layers, uint64_t seed) { return bench_smollm2_model_as(layers, seed, 0); }

#endif
