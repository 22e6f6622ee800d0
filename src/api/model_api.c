/* The public model calls that have no internal twin (anchor/model.h):
 * a model's description and a freshly initialised model from config.json
 * text. */
#include <string.h>

#include "anchor/model.h"
#include "core/rng.h"
#include "model/model.h"

void anc_model_get_info(const anc_model *m, anc_model_info *info) {
    memset(info, 0, sizeof *info);
    const anc_config *c = &m->cfg;
    info->architecture = anc_arch_name(c->arch);
    info->model_type = anc_arch_model_type(c->arch);
    info->vocab_size = c->vocab_size;
    info->hidden_size = c->hidden_size;
    info->intermediate_size = c->intermediate_size;
    info->num_layers = c->num_layers;
    info->num_heads = c->num_heads;
    info->num_kv_heads = c->num_kv_heads;
    info->head_dim = c->head_dim;
    info->max_position_embeddings = c->max_position_embeddings;
    info->tie_word_embeddings = c->tie_word_embeddings;
    info->bos_token_id = c->bos_token_id;
    info->eos_token_id = c->eos_token_id;
    info->n_params = (uint64_t)m->n_params;
    info->source_dtype = m->source_dtype;
}

/* 1 when an HF tensor name is a bias ("...q_proj.bias"). */
static int is_bias(const char *name) {
    size_t n = strlen(name);
    return n >= 5 && strcmp(name + n - 5, ".bias") == 0;
}

anc_status anc_model_create_random(anc_model **out, const char *config_json, size_t len, uint64_t seed,
                                   double init_std, anc_error *err) {
    *out = NULL;
    if (!config_json) return anc_error_set(err, ANC_ERR_INVALID, "create model: no config.json text");
    anc_config cfg;
    anc_status st = anc_config_parse(&cfg, config_json, len, "config.json", err);
    if (!st) st = anc_config_validate(&cfg, "config.json", err);
    anc_model *m = NULL;
    if (!st) st = anc_model_create(&m, &cfg, err);
    if (st) return st;
    double sd = init_std > 0 ? init_std : 0.02;
    anc_rng r;
    anc_rng_seed(&r, seed);
    for (size_t i = 0; i < m->n_specs; i++) {
        const anc_param_spec *s = &m->specs[i];
        float *p = m->params + s->offset;
        if (s->ndim == 1) {
            float v = is_bias(s->name) ? 0.0f : 1.0f;
            for (size_t k = 0; k < s->n_elems; k++) p[k] = v;
        } else {
            for (size_t k = 0; k < s->n_elems; k++) p[k] = (float)(anc_rng_normal(&r) * sd);
        }
    }
    *out = m;
    return ANC_OK;
}
