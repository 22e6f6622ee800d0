#include "model/config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

const char *anc_arch_name(anc_arch a) {
    switch (a) {
    case ANC_ARCH_LLAMA: return "LlamaForCausalLM";
    case ANC_ARCH_MISTRAL: return "MistralForCausalLM";
    case ANC_ARCH_QWEN2: return "Qwen2ForCausalLM";
    }
    return "?";
}

const char *anc_arch_model_type(anc_arch a) {
    switch (a) {
    case ANC_ARCH_LLAMA: return "llama";
    case ANC_ARCH_MISTRAL: return "mistral";
    case ANC_ARCH_QWEN2: return "qwen2";
    }
    return "?";
}

/* Reads an integer key. required: missing is an error; else *out keeps def. */
static anc_status get_int(json_t *root, const char *key, int required, int def, int *out,
                          const char *label, anc_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return anc_error_set(err, ANC_ERR_FORMAT, "%s: missing required key \"%s\" (an integer)", label, key);
        *out = def;
        return ANC_OK;
    }
    if (!json_is_integer(v))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: key \"%s\" must be an integer", label, key);
    json_int_t x = json_integer_value(v);
    if (x < -1 || x > 1000000000)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: key \"%s\" = %lld is out of range", label, key, (long long)x);
    *out = (int)x;
    return ANC_OK;
}

static anc_status get_num(json_t *root, const char *key, double def, float *out,
                          const char *label, anc_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return ANC_OK;
    }
    if (!json_is_number(v))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: key \"%s\" must be a number", label, key);
    double x = json_number_value(v);
    if (!isfinite(x) || fabs(x) > 3.0e38)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: key \"%s\" = %g is outside the range of a 32-bit float", label, key, x);
    *out = (float)x;
    return ANC_OK;
}

static anc_status parse_rope_scaling(anc_config *cfg, json_t *rs, const char *label, anc_error *err) {
    cfg->rope_scaling.type = ANC_ROPE_DEFAULT;
    if (!rs || json_is_null(rs)) return ANC_OK;
    if (!json_is_object(rs))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: \"rope_scaling\" must be an object or null", label);
    json_t *t = json_object_get(rs, "rope_type");
    if (!t) t = json_object_get(rs, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;
    if (!type)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: \"rope_scaling\" needs a string \"rope_type\"", label);
    if (strcmp(type, "default") == 0) return ANC_OK;
    if (strcmp(type, "llama3") != 0)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED,
                             "%s: rope_scaling type \"%s\" is not supported (supported: llama3, default)", label, type);
    anc_rope_scaling *s = &cfg->rope_scaling;
    s->type = ANC_ROPE_LLAMA3;
    anc_status st;
    if ((st = get_num(rs, "factor", 8.0, &s->factor, label, err))) return st;
    if ((st = get_num(rs, "low_freq_factor", 1.0, &s->low_freq_factor, label, err))) return st;
    if ((st = get_num(rs, "high_freq_factor", 4.0, &s->high_freq_factor, label, err))) return st;
    if ((st = get_num(rs, "original_max_position_embeddings", 8192.0, &s->original_max_position_embeddings, label, err))) return st;
    if (!(s->factor > 0) || !(s->high_freq_factor > s->low_freq_factor) || !(s->original_max_position_embeddings > 0))
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "%s: rope_scaling llama3 needs factor > 0, high_freq_factor > low_freq_factor and original_max_position_embeddings > 0", label);
    return ANC_OK;
}

static anc_status parse_root(anc_config *cfg, json_t *root, const char *label, anc_error *err) {
    memset(cfg, 0, sizeof *cfg);
    if (!json_is_object(root)) return anc_error_set(err, ANC_ERR_FORMAT, "%s: expected a JSON object", label);

    const char *arch = NULL;
    json_t *archs = json_object_get(root, "architectures");
    if (json_is_array(archs) && json_array_size(archs) > 0 && json_is_string(json_array_get(archs, 0)))
        arch = json_string_value(json_array_get(archs, 0));
    const char *mt = json_string_value(json_object_get(root, "model_type"));
    if (arch && strcmp(arch, "LlamaForCausalLM") == 0) cfg->arch = ANC_ARCH_LLAMA;
    else if (arch && strcmp(arch, "MistralForCausalLM") == 0) cfg->arch = ANC_ARCH_MISTRAL;
    else if (arch && strcmp(arch, "Qwen2ForCausalLM") == 0) cfg->arch = ANC_ARCH_QWEN2;
    else if (!arch && mt && strcmp(mt, "llama") == 0) cfg->arch = ANC_ARCH_LLAMA;
    else if (!arch && mt && strcmp(mt, "mistral") == 0) cfg->arch = ANC_ARCH_MISTRAL;
    else if (!arch && mt && strcmp(mt, "qwen2") == 0) cfg->arch = ANC_ARCH_QWEN2;
    else
        return anc_error_set(err, ANC_ERR_UNSUPPORTED,
                             "%s: architecture \"%s\" is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)",
                             label, arch ? arch : (mt ? mt : "(none given)"));

    anc_status st;
    if ((st = get_int(root, "vocab_size", 1, 0, &cfg->vocab_size, label, err))) return st;
    if ((st = get_int(root, "hidden_size", 1, 0, &cfg->hidden_size, label, err))) return st;
    if ((st = get_int(root, "intermediate_size", 1, 0, &cfg->intermediate_size, label, err))) return st;
    if ((st = get_int(root, "num_hidden_layers", 1, 0, &cfg->num_layers, label, err))) return st;
    if ((st = get_int(root, "num_attention_heads", 1, 0, &cfg->num_heads, label, err))) return st;
    if ((st = get_int(root, "num_key_value_heads", 0, cfg->num_heads, &cfg->num_kv_heads, label, err))) return st;
    int hd_default = cfg->num_heads > 0 ? cfg->hidden_size / cfg->num_heads : 0;
    if ((st = get_int(root, "head_dim", 0, hd_default, &cfg->head_dim, label, err))) return st;
    if ((st = get_int(root, "max_position_embeddings", 0, 2048, &cfg->max_position_embeddings, label, err))) return st;
    if ((st = get_num(root, "rms_norm_eps", 1e-6, &cfg->rms_norm_eps, label, err))) return st;
    if ((st = get_num(root, "rope_theta", 10000.0, &cfg->rope_theta, label, err))) return st;
    if ((st = parse_rope_scaling(cfg, json_object_get(root, "rope_scaling"), label, err))) return st;

    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: \"tie_word_embeddings\" must be true or false", label);
    /* transformers' PretrainedConfig defaults tie_word_embeddings to true. */
    cfg->tie_word_embeddings = tie ? json_is_true(tie) : 1;

    json_t *bias = json_object_get(root, "attention_bias");
    cfg->attention_bias = cfg->arch == ANC_ARCH_QWEN2 ? 1 : (bias && json_is_true(bias));

    if (json_is_true(json_object_get(root, "mlp_bias")))
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: \"mlp_bias\": true is not supported", label);
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    if (act && strcmp(act, "silu") != 0)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (only silu)", label, act);
    if ((st = get_int(root, "bos_token_id", 0, -1, &cfg->bos_token_id, label, err))) return st;
    json_t *eos = json_object_get(root, "eos_token_id");
    cfg->eos_token_id = -1;
    if (json_is_array(eos) && json_array_size(eos) > 0) eos = json_array_get(eos, 0);
    if (json_is_integer(eos)) {
        json_int_t x = json_integer_value(eos);
        if (x < -1 || x > 1000000000)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: key \"eos_token_id\" = %lld is out of range", label, (long long)x);
        cfg->eos_token_id = (int)x;
    }
    if ((st = get_int(root, "sliding_window", 0, 0, &cfg->sliding_window, label, err))) return st;

    cfg->torch_dtype = ANC_DT_F32;
    const char *td = json_string_value(json_object_get(root, "torch_dtype"));
    if (!td) td = json_string_value(json_object_get(root, "dtype"));
    if (td) {
        anc_dtype dt = anc_dtype_from_user(td);
        if (dt != ANC_DT_INVALID) cfg->torch_dtype = dt;
    }
    return anc_config_validate(cfg, label, err);
}

anc_status anc_config_parse(anc_config *cfg, const char *json, size_t len, const char *label,
                            anc_error *err) {
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", label, je.line, je.column, je.text);
    anc_status st = parse_root(cfg, root, label, err);
    json_decref(root);
    return st;
}

anc_status anc_config_load(anc_config *cfg, const char *path, anc_error *err) {
    char *text = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(path, 64u << 20, &text, &len, err);
    if (st) return st;
    st = anc_config_parse(cfg, text, len, path, err);
    free(text);
    return st;
}

/* The parameter count of c in 128-bit arithmetic (the table of
 * anc_param_layout), so a crafted config cannot wrap it. Dimensions must
 * already be positive and below 2^31. */
static unsigned __int128 param_count_exact(const anc_config *c) {
    typedef unsigned __int128 u128;
    const u128 V = (u128)c->vocab_size, C = (u128)c->hidden_size, F = (u128)c->intermediate_size;
    const u128 QD = (u128)c->num_heads * (u128)c->head_dim, KD = (u128)c->num_kv_heads * (u128)c->head_dim;
    u128 layer = 2 * C + 2 * QD * C + 2 * KD * C + 3 * F * C;
    if (c->attention_bias) layer += QD + 2 * KD;
    return V * C * (c->tie_word_embeddings ? 1 : 2) + (u128)c->num_layers * layer + C;
}

anc_status anc_config_validate(const anc_config *c, const char *label, anc_error *err) {
    if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->intermediate_size <= 0 || c->num_layers <= 0 ||
        c->num_heads <= 0 || c->num_kv_heads <= 0 || c->head_dim <= 0)
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "%s: vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads and head_dim must all be positive",
                             label);
    if (c->num_heads % c->num_kv_heads != 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)",
                             label, c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2 != 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: head_dim %d must be even for rotary embeddings", label, c->head_dim);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: rms_norm_eps and rope_theta must be positive", label);
    if (c->bos_token_id >= c->vocab_size || c->eos_token_id >= c->vocab_size)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: bos/eos token id outside the vocabulary of %d", label, c->vocab_size);
    if (c->max_position_embeddings <= 0)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: max_position_embeddings must be positive", label);
    /* Bounds before anything is sized from these numbers: every later size
     * (parameter table, slab, activations) is computed in size_t, and a
     * crafted config must not wrap it. */
    static const struct { const char *name; long long max; } lim[] = {
        {"vocab_size", 1LL << 24}, {"hidden_size", 1LL << 17}, {"intermediate_size", 1LL << 19},
        {"num_hidden_layers", 1024}, {"num_attention_heads", 1024}, {"head_dim", 4096},
    };
    const int val[] = {c->vocab_size, c->hidden_size, c->intermediate_size, c->num_layers, c->num_heads, c->head_dim};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (val[i] > lim[i].max)
            return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: %s = %d is larger than anchor supports (at most %lld)", label,
                                 lim[i].name, val[i], lim[i].max);
    unsigned __int128 n = param_count_exact(c);
    if (n > ((unsigned __int128)1 << 40))
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: the model would hold %.3g parameters (at most 2^40 supported)", label,
                             (double)n);
    return ANC_OK;
}

anc_status anc_config_save(const anc_config *c, anc_dtype dtype, const char *path, anc_error *err) {
    json_t *root = json_object();
    json_t *archs = json_array();
    json_array_append_new(archs, json_string(anc_arch_name(c->arch)));
    json_object_set_new(root, "architectures", archs);
    json_object_set_new(root, "model_type", json_string(anc_arch_model_type(c->arch)));
    json_object_set_new(root, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(root, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(root, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(root, "num_hidden_layers", json_integer(c->num_layers));
    json_object_set_new(root, "num_attention_heads", json_integer(c->num_heads));
    json_object_set_new(root, "num_key_value_heads", json_integer(c->num_kv_heads));
    if (c->head_dim != c->hidden_size / c->num_heads)
        json_object_set_new(root, "head_dim", json_integer(c->head_dim));
    json_object_set_new(root, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(root, "rms_norm_eps", json_real(c->rms_norm_eps));
    json_object_set_new(root, "rope_theta", json_real(c->rope_theta));
    if (c->rope_scaling.type == ANC_ROPE_LLAMA3) {
        json_t *rs = json_object();
        json_object_set_new(rs, "rope_type", json_string("llama3"));
        json_object_set_new(rs, "factor", json_real(c->rope_scaling.factor));
        json_object_set_new(rs, "low_freq_factor", json_real(c->rope_scaling.low_freq_factor));
        json_object_set_new(rs, "high_freq_factor", json_real(c->rope_scaling.high_freq_factor));
        json_object_set_new(rs, "original_max_position_embeddings",
                            json_integer((json_int_t)c->rope_scaling.original_max_position_embeddings));
        json_object_set_new(root, "rope_scaling", rs);
    } else {
        json_object_set_new(root, "rope_scaling", json_null());
    }
    json_object_set_new(root, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    if (c->arch != ANC_ARCH_QWEN2) json_object_set_new(root, "attention_bias", json_boolean(c->attention_bias));
    json_object_set_new(root, "hidden_act", json_string("silu"));
    if (c->bos_token_id >= 0) json_object_set_new(root, "bos_token_id", json_integer(c->bos_token_id));
    if (c->eos_token_id >= 0) json_object_set_new(root, "eos_token_id", json_integer(c->eos_token_id));
    if (c->sliding_window > 0) json_object_set_new(root, "sliding_window", json_integer(c->sliding_window));
    const char *dn = dtype == ANC_DT_BF16 ? "bfloat16" : dtype == ANC_DT_F16 ? "float16" : "float32";
    json_object_set_new(root, "torch_dtype", json_string(dn));
    json_object_set_new(root, "use_cache", json_true());
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!text) return anc_error_set(err, ANC_ERR_NOMEM, "%s: cannot serialise config", path);
    anc_status st = anc_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return st;
}
