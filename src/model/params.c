#include "model/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends one tensor to the table; offsets grow in HF order. */
static void add_spec(anc_param_spec *specs, size_t *n, size_t *total, const char *name, int ndim,
                     int64_t d0, int64_t d1) {
    anc_param_spec *s = &specs[(*n)++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = ndim == 2 ? d1 : 1;
    s->n_elems = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    s->offset = *total;
    *total += s->n_elems;
}

anc_status anc_param_layout(const anc_config *c, anc_param_spec **out, size_t *n_out, size_t *total_out,
                            anc_error *err) {
    const int64_t V = c->vocab_size, C = c->hidden_size, F = c->intermediate_size;
    const int64_t QD = (int64_t)c->num_heads * c->head_dim, KD = (int64_t)c->num_kv_heads * c->head_dim;
    size_t cap = 3 + (size_t)c->num_layers * 12;
    anc_param_spec *specs = calloc(cap, sizeof *specs);
    if (!specs) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for the parameter table");
    size_t n = 0, total = 0;
    char name[ANC_PARAM_NAME_MAX];
    add_spec(specs, &n, &total, "model.embed_tokens.weight", 2, V, C);
    for (int l = 0; l < c->num_layers; l++) {
#define P(suffix, nd, a, b)                                                         \
    do {                                                                            \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);               \
        add_spec(specs, &n, &total, name, nd, a, b);                                \
    } while (0)
        P("input_layernorm.weight", 1, C, 1);
        P("self_attn.q_proj.weight", 2, QD, C);
        if (c->attention_bias) P("self_attn.q_proj.bias", 1, QD, 1);
        P("self_attn.k_proj.weight", 2, KD, C);
        if (c->attention_bias) P("self_attn.k_proj.bias", 1, KD, 1);
        P("self_attn.v_proj.weight", 2, KD, C);
        if (c->attention_bias) P("self_attn.v_proj.bias", 1, KD, 1);
        P("self_attn.o_proj.weight", 2, C, QD);
        P("post_attention_layernorm.weight", 1, C, 1);
        P("mlp.gate_proj.weight", 2, F, C);
        P("mlp.up_proj.weight", 2, F, C);
        P("mlp.down_proj.weight", 2, C, F);
#undef P
    }
    add_spec(specs, &n, &total, "model.norm.weight", 1, C, 1);
    if (!c->tie_word_embeddings) add_spec(specs, &n, &total, "lm_head.weight", 2, V, C);
    *out = specs;
    *n_out = n;
    *total_out = total;
    return ANC_OK;
}

size_t anc_param_count(const anc_config *c) {
    anc_param_spec *specs = NULL;
    size_t n = 0, total = 0;
    if (anc_param_layout(c, &specs, &n, &total, NULL) != ANC_OK) return 0;
    free(specs);
    return total;
}

anc_status anc_param_view_init(anc_param_view *v, const anc_config *c, float *slab, anc_error *err) {
    memset(v, 0, sizeof *v);
    v->layers = calloc((size_t)c->num_layers, sizeof *v->layers);
    if (!v->layers) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for layer views");
    const size_t V = (size_t)c->vocab_size, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    const size_t QD = (size_t)c->num_heads * (size_t)c->head_dim, KD = (size_t)c->num_kv_heads * (size_t)c->head_dim;
    /* Must walk the slab in exactly the order of anc_param_layout. */
    float *p = slab;
    v->embed = p; p += V * C;
    for (int l = 0; l < c->num_layers; l++) {
        anc_layer_view *L = &v->layers[l];
        L->attn_norm = p; p += C;
        L->wq = p; p += QD * C;
        if (c->attention_bias) { L->bq = p; p += QD; }
        L->wk = p; p += KD * C;
        if (c->attention_bias) { L->bk = p; p += KD; }
        L->wv = p; p += KD * C;
        if (c->attention_bias) { L->bv = p; p += KD; }
        L->wo = p; p += C * QD;
        L->mlp_norm = p; p += C;
        L->w_gate = p; p += F * C;
        L->w_up = p; p += F * C;
        L->w_down = p; p += C * F;
    }
    v->final_norm = p; p += C;
    if (c->tie_word_embeddings) v->lm_head = v->embed;
    else { v->lm_head = p; p += V * C; }
    return ANC_OK;
}

void anc_param_view_free(anc_param_view *v) {
    if (!v) return;
    free(v->layers);
    v->layers = NULL;
}
