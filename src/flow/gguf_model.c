/* anchor models <-> GGUF tensors and hyper-parameters (gguf_model.h), and
 * anchor convert --from gguf (anc_gguf_import). */
#include "flow/gguf_model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "tensor/ops.h"

/* HF suffix of a layer tensor -> GGUF suffix. */
static const struct {
    const char *hf, *gguf;
} layer_names[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

/* The GGUF name of HF tensor hf into out[ANC_GGUF_NAME_MAX]; 0 when unknown. */
static int gguf_name(const char *hf, char *out) {
    if (!strcmp(hf, "model.embed_tokens.weight")) return snprintf(out, ANC_GGUF_NAME_MAX, "token_embd.weight") > 0;
    if (!strcmp(hf, "model.norm.weight")) return snprintf(out, ANC_GGUF_NAME_MAX, "output_norm.weight") > 0;
    if (!strcmp(hf, "lm_head.weight")) return snprintf(out, ANC_GGUF_NAME_MAX, "output.weight") > 0;
    int layer, n = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &n) != 1 || n == 0) return 0;
    for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
        if (!strcmp(hf + n, layer_names[i].hf)) return snprintf(out, ANC_GGUF_NAME_MAX, "blk.%d.%s", layer, layer_names[i].gguf) > 0;
    return 0;
}

/* 1 for the rotary projections llama's GGUF stores permuted: 'q', 'k' or 0. */
static int rotary_kind(const char *hf) {
    if (strstr(hf, "self_attn.q_proj.")) return 'q';
    if (strstr(hf, "self_attn.k_proj.")) return 'k';
    return 0;
}

static const char *gguf_arch(anc_arch a) { return a == ANC_ARCH_QWEN2 ? "qwen2" : "llama"; }

/* map[r] = HF row of GGUF row r for heads of D rows (LlamaModel.permute). */
static int64_t *rotary_map(int heads, int D) {
    int64_t *m = malloc(sizeof *m * (size_t)heads * (size_t)D);
    if (!m) return NULL;
    for (int h = 0; h < heads; h++)
        for (int j = 0; j < D / 2; j++)
            for (int s = 0; s < 2; s++)
                m[(int64_t)h * D + 2 * j + s] = (int64_t)h * D + (int64_t)s * (D / 2) + j;
    return m;
}

void anc_gguf_model_keep_free(anc_gguf_model_keep *k) {
    if (!k) return;
    free(k->perm_q);
    free(k->perm_k);
    free(k->rope_factors);
    free(k->bias_copies);
    memset(k, 0, sizeof *k);
}

static uint32_t file_type_of(uint32_t type) {
    switch (type) {
    case ANC_GGML_F16: return 1;
    case ANC_GGML_Q8_0: return 7;
    case ANC_GGML_BF16: return 32;
    default: return 0;
    }
}

static anc_status put_hparams(anc_gguf_writer *w, const anc_config *c, uint32_t type, const char *name, anc_error *err) {
    const char *a = gguf_arch(c->arch);
    char k[96];
    anc_status st = anc_gguf_add_string(w, "general.architecture", a, strlen(a), err);
    if (!st) st = anc_gguf_add_string(w, "general.type", "model", 5, err);
    if (!st && name) st = anc_gguf_add_string(w, "general.name", name, strlen(name), err);
#define U32(key, v) if (!st) snprintf(k, sizeof k, "%s.%s", a, key), st = anc_gguf_add_u32(w, k, (uint32_t)(v), err)
#define F32(key, v) if (!st) snprintf(k, sizeof k, "%s.%s", a, key), st = anc_gguf_add_f32(w, k, (float)(v), err)
    U32("block_count", c->num_layers);
    U32("context_length", c->max_position_embeddings);
    U32("embedding_length", c->hidden_size);
    U32("feed_forward_length", c->intermediate_size);
    U32("attention.head_count", c->num_heads);
    U32("attention.head_count_kv", c->num_kv_heads);
    F32("rope.freq_base", c->rope_theta);
    F32("attention.layer_norm_rms_epsilon", c->rms_norm_eps);
    if (c->head_dim != c->hidden_size / c->num_heads) {
        U32("attention.key_length", c->head_dim);
        U32("attention.value_length", c->head_dim);
    }
    U32("vocab_size", c->vocab_size);
    U32("rope.dimension_count", c->head_dim);
    if (c->rope_scaling.type == ANC_ROPE_LLAMA3) {
        /* llama.cpp reads the scaling from rope_freqs.weight; these (ignored
         * by llama.cpp) let anchor's import restore config.json exactly */
        if (!st) st = anc_gguf_add_f32(w, "anchor.rope_scaling.llama3.factor", c->rope_scaling.factor, err);
        if (!st) st = anc_gguf_add_f32(w, "anchor.rope_scaling.llama3.low_freq_factor", c->rope_scaling.low_freq_factor, err);
        if (!st) st = anc_gguf_add_f32(w, "anchor.rope_scaling.llama3.high_freq_factor", c->rope_scaling.high_freq_factor, err);
        if (!st)
            st = anc_gguf_add_f32(w, "anchor.rope_scaling.llama3.original_max_position_embeddings",
                                  c->rope_scaling.original_max_position_embeddings, err);
    }
#undef U32
#undef F32
    if (!st) st = anc_gguf_add_u32(w, "general.file_type", file_type_of(type), err);
    if (!st) st = anc_gguf_add_u32(w, "general.quantization_version", 2, err);
    return st;
}

/* rope_freqs.weight: factor[i] = unscaled / scaled inverse frequency. */
static float *llama3_factors(const anc_config *c, const anc_rope_scaling *s) {
    int half = c->head_dim / 2;
    float *plain = malloc(sizeof(float) * (size_t)half), *scaled = malloc(sizeof(float) * (size_t)half);
    if (!plain || !scaled) {
        free(plain);
        free(scaled);
        return NULL;
    }
    anc_rope_inv_freq(plain, c->head_dim, c->rope_theta, NULL);
    anc_rope_inv_freq(scaled, c->head_dim, c->rope_theta, s);
    for (int i = 0; i < half; i++) plain[i] = plain[i] / scaled[i];
    free(scaled);
    return plain;
}

static int type_slot(uint32_t t) { return t == ANC_GGML_F32 ? 0 : t == ANC_GGML_F16 ? 1 : t == ANC_GGML_BF16 ? 2 : 3; }

/* Adds one HF tensor spec of m. */
static anc_status put_tensor(anc_gguf_writer *w, const anc_model *m, const anc_param_spec *s, uint32_t type,
                             anc_gguf_model_keep *keep, size_t *n_copies, anc_gguf_model_counts *counts, anc_error *err) {
    anc_gguf_tensor_src t;
    memset(&t, 0, sizeof t);
    char name[ANC_GGUF_NAME_MAX];
    if (!gguf_name(s->name, name)) return anc_error_set(err, ANC_ERR_INTERNAL, "no GGUF name for tensor %s", s->name);
    t.name = name;
    t.data = m->params + s->offset;
    int norm = strstr(name, "_norm.weight") != NULL;
    if (s->ndim == 1) {
        t.n_dims = 1;
        t.ne[0] = s->shape[0];
    } else {
        t.n_dims = 2;
        t.ne[0] = s->shape[1];
        t.ne[1] = s->shape[0];
    }
    t.type = s->ndim == 1 || norm ? ANC_GGML_F32 : type;
    if (t.type == ANC_GGML_Q8_0 && t.ne[0] % ANC_Q8_0_BLOCK) {
        t.type = ANC_GGML_F16;
        counts->q8_fallbacks++;
    }
    int rk = m->cfg.arch != ANC_ARCH_QWEN2 ? rotary_kind(s->name) : 0;
    if (rk) {
        const int64_t *map = rk == 'q' ? keep->perm_q : keep->perm_k;
        if (s->ndim == 2) {
            t.row_map = map;
        } else { /* a bias: permute the elements into a copy */
            float *cp = keep->bias_copies + *n_copies;
            for (int64_t i = 0; i < s->shape[0]; i++) cp[i] = t.data[map[i]];
            *n_copies += (size_t)s->shape[0];
            t.data = cp;
        }
    }
    anc_status st = anc_gguf_add_tensor(w, &t, err);
    if (!st) {
        counts->tensors++;
        counts->by_type[type_slot(t.type)]++;
    }
    return st;
}

anc_status anc_gguf_put_model(anc_gguf_writer *w, const anc_model *m, uint32_t type, const char *name,
                              anc_gguf_model_keep *keep, anc_gguf_model_counts *counts, anc_error *err) {
    memset(counts, 0, sizeof *counts);
    const anc_config *c = &m->cfg;
    if (m->frozen16) return anc_error_set(err, ANC_ERR_INVALID, "export: a bf16-only frozen base cannot be exported");
    counts->arch = gguf_arch(c->arch);
    anc_status st = put_hparams(w, c, type, name, err);
    if (st) return st;
    if (c->arch != ANC_ARCH_QWEN2) {
        keep->perm_q = rotary_map(c->num_heads, c->head_dim);
        keep->perm_k = rotary_map(c->num_kv_heads, c->head_dim);
        keep->bias_copies = c->attention_bias
                                ? malloc(sizeof(float) * (size_t)c->num_layers * (size_t)(c->num_heads + c->num_kv_heads) *
                                         (size_t)c->head_dim)
                                : NULL;
        if (!keep->perm_q || !keep->perm_k || (c->attention_bias && !keep->bias_copies))
            return anc_error_set(err, ANC_ERR_NOMEM, "export: out of memory");
    }
    if (c->rope_scaling.type == ANC_ROPE_LLAMA3 && c->arch == ANC_ARCH_QWEN2)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED,
                             "export: llama3 rope scaling on a qwen2 model has no GGUF form (llama.cpp's qwen2 reads no "
                             "rope_freqs tensor)");
    if (c->rope_scaling.type == ANC_ROPE_LLAMA3) {
        if (!(keep->rope_factors = llama3_factors(c, &c->rope_scaling)))
            return anc_error_set(err, ANC_ERR_NOMEM, "export: out of memory");
        anc_gguf_tensor_src rf = {"rope_freqs.weight", 1, {c->head_dim / 2, 1, 1, 1}, ANC_GGML_F32, keep->rope_factors, NULL};
        if ((st = anc_gguf_add_tensor(w, &rf, err))) return st;
        counts->tensors++;
        counts->by_type[0]++;
    }
    size_t n_copies = 0;
    for (size_t i = 0; i < m->n_specs && !st; i++) st = put_tensor(w, m, &m->specs[i], type, keep, &n_copies, counts, err);
    return st;
}

/* ---------------------------------------------------------------- import */

/* Integer key arch.suffix in [lo, hi]; absent: def, or an error when def < 0. */
static anc_status get_count(const anc_gguf *g, const char *arch, const char *suffix, int64_t def, int64_t lo, int64_t hi,
                            int *out, anc_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    int64_t v = def;
    if (!kv && def < 0) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing key %s (an integer)", anc_gguf_label(g), key);
    if (kv && anc_gguf_kv_int(g, kv, &v, err)) return err->code;
    if (v < lo || v > hi)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": %s = %" PRId64 " is outside %" PRId64 "..%" PRId64,
                             anc_gguf_label(g), kv ? kv->offset : 0, key, v, lo, hi);
    *out = (int)v;
    return ANC_OK;
}

static anc_status get_real(const anc_gguf *g, const char *key, double def, float *out, anc_error *err) {
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    double v = def;
    if (kv && anc_gguf_kv_float(g, kv, &v, err)) return err->code;
    if (!isfinite(v) || fabs(v) > 3e38)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: %s = %g is not a finite 32-bit float", anc_gguf_label(g), key, v);
    *out = (float)v;
    return ANC_OK;
}

/* The llama3 rope_scaling whose factors rope_freqs.weight holds: the
 * anchor.rope_scaling.* keys when present, else transformers' defaults
 * (low 1, high 4, original 8192) with factor = the last factor; the
 * recomputed factors must match. */
static anc_status rope_from_factors(const anc_gguf *g, anc_config *c, const anc_gguf_tensor *t, anc_error *err) {
    int half = c->head_dim / 2;
    if (t->n_elems != (uint64_t)half)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: rope_freqs.weight has %" PRIu64 " elements, expected head_dim/2 = %d",
                             anc_gguf_label(g), t->n_elems, half);
    float *f = malloc(sizeof(float) * (size_t)half);
    if (!f) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = anc_gguf_tensor_read_f32(g, t, f, (uint64_t)half, err);
    anc_rope_scaling *s = &c->rope_scaling;
    s->type = ANC_ROPE_LLAMA3;
    if (!st) st = get_real(g, "anchor.rope_scaling.llama3.factor", f[half - 1], &s->factor, err);
    if (!st) st = get_real(g, "anchor.rope_scaling.llama3.low_freq_factor", 1.0, &s->low_freq_factor, err);
    if (!st) st = get_real(g, "anchor.rope_scaling.llama3.high_freq_factor", 4.0, &s->high_freq_factor, err);
    if (!st) st = get_real(g, "anchor.rope_scaling.llama3.original_max_position_embeddings", 8192.0,
                           &s->original_max_position_embeddings, err);
    if (!st && (!(s->factor > 0) || !(s->high_freq_factor > s->low_freq_factor) || !(s->original_max_position_embeddings > 0)))
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: the llama3 rope scaling parameters are inconsistent", anc_gguf_label(g));
    float *want = st ? NULL : llama3_factors(c, s);
    if (!st && !want) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < half; i++)
        if (!(fabsf(want[i] - f[i]) <= 1e-5f * fabsf(want[i])))
            st = anc_error_set(err, ANC_ERR_UNSUPPORTED,
                               "%s: rope_freqs.weight[%d] = %g is not llama3 rope scaling (factor %g, low %g, high %g, original "
                               "context %g gives %g)", anc_gguf_label(g), i, f[i], s->factor, s->low_freq_factor,
                               s->high_freq_factor, s->original_max_position_embeddings, want[i]);
    free(want);
    free(f);
    return st;
}

static anc_status special_id(const anc_gguf *g, const char *key, int vocab, int *out, anc_error *err) {
    const anc_gguf_kv *kv = anc_gguf_find(g, key);
    *out = -1;
    if (!kv) return ANC_OK;
    int64_t v;
    if (anc_gguf_kv_int(g, kv, &v, err)) return err->code;
    if (v >= 0 && v < vocab) *out = (int)v;
    return ANC_OK;
}

static anc_status read_config(const anc_gguf *g, anc_config *c, anc_error *err) {
    const char *L = anc_gguf_label(g);
    memset(c, 0, sizeof *c);
    const anc_gguf_kv *kv = anc_gguf_find(g, "general.architecture");
    anc_gguf_str a;
    if (!kv) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing key general.architecture", L);
    if (anc_gguf_kv_string(g, kv, &a, err)) return err->code;
    char arch[16];
    if (a.len == 5 && !memcmp(a.s, "llama", 5)) c->arch = ANC_ARCH_LLAMA;
    else if (a.len == 5 && !memcmp(a.s, "qwen2", 5)) c->arch = ANC_ARCH_QWEN2;
    else
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not supported (supported: llama, qwen2)", L,
                             (int)(a.len < 40 ? a.len : 40), a.s);
    snprintf(arch, sizeof arch, "%s", gguf_arch(c->arch));
    const anc_gguf_tensor *emb = anc_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing the 2-D tensor token_embd.weight", L);
    const int64_t BIG = 1 << 30;
    anc_status st;
    if ((st = get_count(g, arch, "embedding_length", -1, 1, BIG, &c->hidden_size, err)) ||
        (st = get_count(g, arch, "block_count", -1, 1, 4096, &c->num_layers, err)) ||
        (st = get_count(g, arch, "feed_forward_length", -1, 1, BIG, &c->intermediate_size, err)) ||
        (st = get_count(g, arch, "attention.head_count", -1, 1, 4096, &c->num_heads, err)) ||
        (st = get_count(g, arch, "attention.head_count_kv", c->num_heads, 1, 4096, &c->num_kv_heads, err)) ||
        (st = get_count(g, arch, "context_length", 2048, 1, BIG, &c->max_position_embeddings, err)) ||
        (st = get_count(g, arch, "attention.key_length", c->hidden_size / c->num_heads, 1, BIG, &c->head_dim, err)))
        return st;
    int vlen, rdim;
    if ((st = get_count(g, arch, "attention.value_length", c->head_dim, 1, BIG, &vlen, err)) ||
        (st = get_count(g, arch, "rope.dimension_count", c->head_dim, 1, BIG, &rdim, err)))
        return st;
    if (vlen != c->head_dim || rdim != c->head_dim)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: key/value length %d/%d with %d rotary dimensions (anchor rotates whole heads "
                             "with equal key and value lengths)", L, c->head_dim, vlen, rdim);
    if (emb->ne[1] > (int64_t)BIG) return anc_error_set(err, ANC_ERR_FORMAT, "%s: token_embd.weight has too many rows", L);
    c->vocab_size = (int)emb->ne[1];
    char key[96];
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (!anc_gguf_find(g, key)) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing key %s", L, key);
    if ((st = get_real(g, key, 1e-5, &c->rms_norm_eps, err))) return st;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    if ((st = get_real(g, key, 10000.0, &c->rope_theta, err))) return st;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if ((kv = anc_gguf_find(g, key))) {
        anc_gguf_str s;
        if (anc_gguf_kv_string(g, kv, &s, err)) return err->code;
        if (!(s.len == 4 && !memcmp(s.s, "none", 4)))
            return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: %s '%.*s' is not supported (anchor has llama3 scaling only)", L, key,
                                 (int)(s.len < 40 ? s.len : 40), s.s);
    }
    c->tie_word_embeddings = anc_gguf_find_tensor(g, "output.weight") == NULL;
    c->attention_bias = c->arch == ANC_ARCH_QWEN2 || anc_gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
    if ((st = special_id(g, "tokenizer.ggml.bos_token_id", c->vocab_size, &c->bos_token_id, err)) ||
        (st = special_id(g, "tokenizer.ggml.eos_token_id", c->vocab_size, &c->eos_token_id, err)))
        return st;
    c->torch_dtype = ANC_DT_F32;
    const anc_gguf_tensor *rf = anc_gguf_find_tensor(g, "rope_freqs.weight");
    if (rf && c->arch == ANC_ARCH_QWEN2)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: a qwen2 file with rope_freqs.weight (llama.cpp's qwen2 reads none)", L);
    if (rf && c->head_dim % 2 == 0 && (st = rope_from_factors(g, c, rf, err))) return st;
    return anc_config_validate(c, L, err);
}

/* Reads GGUF tensor t into dst (spec s of the model), undoing llama's
 * rotary permutation into HF order when rk is 'q' or 'k'. */
static anc_status read_tensor(const anc_gguf *g, const anc_gguf_tensor *t, const anc_param_spec *s, const anc_config *c,
                              int rk, float *dst, anc_error *err) {
    int64_t ne0 = s->ndim == 1 ? s->shape[0] : s->shape[1], ne1 = s->ndim == 1 ? 1 : s->shape[0];
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: byte %" PRIu64 ": tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64
                             ", %" PRId64 "], expected [%" PRId64 ", %" PRId64 "] for %s", anc_gguf_label(g), t->info_offset,
                             t->name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1, s->name);
    if (!rk) return anc_gguf_tensor_read_f32(g, t, dst, s->n_elems, err);
    float *tmp = malloc(sizeof(float) * (s->n_elems ? s->n_elems : 1));
    int64_t *map = rotary_map(rk == 'q' ? c->num_heads : c->num_kv_heads, c->head_dim);
    anc_status st = !tmp || !map ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : anc_gguf_tensor_read_f32(g, t, tmp, s->n_elems, err);
    size_t row = s->ndim == 1 ? 1 : (size_t)s->shape[1];
    int64_t rows = s->shape[0];
    for (int64_t r = 0; !st && r < rows; r++) memcpy(dst + (size_t)map[r] * row, tmp + (size_t)r * row, sizeof(float) * row);
    free(tmp);
    free(map);
    return st;
}

anc_status anc_gguf_load_model(const anc_gguf *g, anc_model **out, anc_error *err) {
    *out = NULL;
    anc_config c;
    anc_status st = read_config(g, &c, err);
    if (st) return st;
    /* nothing is allocated for more parameters than the file holds */
    uint64_t held = 0;
    for (size_t i = 0; i < anc_gguf_tensor_count(g); i++) held += anc_gguf_tensor_at(g, i)->n_elems;
    size_t need = anc_param_count(&c);
    if ((uint64_t)need > held)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: the hyper-parameters imply %zu parameters but the file's tensors hold %" PRIu64,
                             anc_gguf_label(g), need, held);
    anc_model *m = NULL;
    if ((st = anc_model_create(&m, &c, err))) return anc_error_prefix(err, "%s", anc_gguf_label(g));
    size_t nt = anc_gguf_tensor_count(g);
    unsigned char *used = calloc(nt ? nt : 1, 1);
    if (!used) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < m->n_specs; i++) {
        const anc_param_spec *s = &m->specs[i];
        char name[ANC_GGUF_NAME_MAX];
        gguf_name(s->name, name);
        const anc_gguf_tensor *t = anc_gguf_find_tensor(g, name);
        if (!t) {
            /* qwen2 biases may be absent (then zero); everything else is required */
            if (!strstr(name, ".bias"))
                st = anc_error_set(err, ANC_ERR_FORMAT, "%s: missing tensor %s (for %s)", anc_gguf_label(g), name, s->name);
            continue;
        }
        used[t - anc_gguf_tensor_at(g, 0)] = 1;
        int rk = c.arch != ANC_ARCH_QWEN2 ? rotary_kind(s->name) : 0;
        st = read_tensor(g, t, s, &c, rk, m->params + s->offset, err);
    }
    const anc_gguf_tensor *rf = anc_gguf_find_tensor(g, "rope_freqs.weight");
    if (rf) used[rf - anc_gguf_tensor_at(g, 0)] = 1;
    for (size_t i = 0; !st && i < nt; i++)
        if (!used[i])
            st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in a %s model of this configuration",
                               anc_gguf_label(g), anc_gguf_tensor_at(g, i)->name, gguf_arch(c.arch));
    free(used);
    if (st) {
        anc_model_free(m);
        return st;
    }
    *out = m;
    return ANC_OK;
}

anc_status anc_gguf_import(const char *path, const char *out_dir, anc_dtype dtype, anc_gguf_import_result *res,
                           anc_error *err) {
    memset(res, 0, sizeof *res);
    anc_gguf *g = NULL;
    anc_model *m = NULL;
    char *tj = NULL, *tc = NULL, *p1 = NULL, *p2 = NULL;
    anc_status st = anc_gguf_open(&g, path, err);
    if (!st) st = anc_gguf_load_model(g, &m, err);
    const anc_gguf_kv *tokens = g ? anc_gguf_find(g, "tokenizer.ggml.tokens") : NULL;
    int has_vocab = tokens != NULL;
    if (!st && tokens && tokens->n > (uint64_t)m->cfg.vocab_size)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %" PRIu64 " tokens, more than the %d rows of token_embd",
                           path, tokens->n, m->cfg.vocab_size);
    if (!st && has_vocab) st = anc_gguf_vocab_to_hf(g, &tj, &tc, err);
    if (!st) st = anc_model_save_hf(m, out_dir, dtype, err);
    if (!st && has_vocab) {
        p1 = anc_path_join(out_dir, "tokenizer.json");
        p2 = anc_path_join(out_dir, "tokenizer_config.json");
        if (!p1 || !p2) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        if (!st) st = anc_write_file_atomic(p1, tj, strlen(tj), err);
        if (!st) st = anc_write_file_atomic(p2, tc, strlen(tc), err);
    }
    if (!st) {
        snprintf(res->arch, sizeof res->arch, "%s", gguf_arch(m->cfg.arch));
        res->tensors = anc_gguf_tensor_count(g);
        res->n_params = m->n_params;
        res->vocab_size = m->cfg.vocab_size;
        res->num_layers = m->cfg.num_layers;
        res->tokenizer = has_vocab;
    }
    free(tj);
    free(tc);
    free(p1);
    free(p2);
    anc_model_free(m);
    anc_gguf_close(g);
    return st;
}
