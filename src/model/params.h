/* The parameters of a Llama-family model as ONE fp32 slab with named views
 * (llm.c style). The same layout serves weights, gradients and optimiser
 * moments: anc_param_layout gives each tensor's HF name, shape and offset. */
#ifndef ANCHOR_MODEL_PARAMS_H
#define ANCHOR_MODEL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

#define ANC_PARAM_NAME_MAX 96

typedef struct anc_param_spec {
    char name[ANC_PARAM_NAME_MAX];   /* HF tensor name, e.g. "model.layers.0.mlp.up_proj.weight" */
    int ndim;                        /* 1 or 2 */
    int64_t shape[2];
    size_t offset;                   /* in floats from the slab start */
    size_t n_elems;
} anc_param_spec;

/* Views into one slab for one layer. Biases are NULL when the model has none. */
typedef struct anc_layer_view {
    float *attn_norm;   /* [C] */
    float *wq;          /* [H*D, C] */
    float *bq;          /* [H*D] or NULL */
    float *wk;          /* [KVH*D, C] */
    float *bk;          /* [KVH*D] or NULL */
    float *wv;          /* [KVH*D, C] */
    float *bv;          /* [KVH*D] or NULL */
    float *wo;          /* [C, H*D] */
    float *mlp_norm;    /* [C] */
    float *w_gate;      /* [F, C] */
    float *w_up;        /* [F, C] */
    float *w_down;      /* [C, F] */
} anc_layer_view;

typedef struct anc_param_view {
    float *embed;       /* [V, C] */
    anc_layer_view *layers;  /* [num_layers], owned by the view */
    float *final_norm;  /* [C] */
    float *lm_head;     /* [V, C]; equals embed when tied */
} anc_param_view;

/* The tensor table of cfg, in HF order. *specs is malloc'd (caller frees);
 * *total is the slab size in floats. */
anc_status anc_param_layout(const anc_config *cfg, anc_param_spec **specs, size_t *n_specs,
                            size_t *total, anc_error *err);

/* Fills view with pointers into slab (laid out per anc_param_layout).
 * view->layers is malloc'd; release with anc_param_view_free. */
anc_status anc_param_view_init(anc_param_view *view, const anc_config *cfg, float *slab,
                               anc_error *err);
void anc_param_view_free(anc_param_view *view);

/* Number of parameters (unique, so a tied head is counted once). */
size_t anc_param_count(const anc_config *cfg);

#endif
