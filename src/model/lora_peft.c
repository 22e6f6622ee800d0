/* PEFT's adapter files (adapter_config.json + adapter_model.safetensors)
 * in and out, and merging an adapter into its base. See lora.h. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/paths.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"

#define ADAPTER_CONFIG "adapter_config.json"
#define ADAPTER_WEIGHTS "adapter_model.safetensors"

static json_t *config_json(const anc_lora *l, const char *base_model) {
    json_t *js = json_object();
    json_t *targets = json_array();
    for (int k = 0; k < ANC_LORA_NMOD; k++)
        if (l->cfg.targets & (1u << k)) json_array_append_new(targets, json_string(anc_lora_module_name((anc_lora_module)k)));
    /* PEFT writes lora_alpha as an int when it is one */
    json_t *alpha = l->cfg.alpha == floor(l->cfg.alpha) && l->cfg.alpha < 1e15 ? json_integer((json_int_t)l->cfg.alpha)
                                                                                : json_real(l->cfg.alpha);
    json_object_set_new(js, "alpha_pattern", json_object());
    json_object_set_new(js, "base_model_name_or_path", base_model ? json_string(base_model) : json_null());
    json_object_set_new(js, "bias", json_string("none"));
    json_object_set_new(js, "fan_in_fan_out", json_false());
    json_object_set_new(js, "inference_mode", json_true());
    json_object_set_new(js, "init_lora_weights", json_true());
    json_object_set_new(js, "layers_pattern", json_null());
    json_object_set_new(js, "layers_to_transform", json_null());
    json_object_set_new(js, "lora_alpha", alpha);
    json_object_set_new(js, "lora_dropout", json_real(l->cfg.dropout));
    json_object_set_new(js, "modules_to_save", json_null());
    json_object_set_new(js, "peft_type", json_string("LORA"));
    json_object_set_new(js, "r", json_integer(l->cfg.r));
    json_object_set_new(js, "rank_pattern", json_object());
    json_object_set_new(js, "revision", json_null());
    json_object_set_new(js, "target_modules", targets);
    json_object_set_new(js, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(js, "use_dora", json_false());
    json_object_set_new(js, "use_rslora", l->cfg.use_rslora ? json_true() : json_false());
    return js;
}

anc_status anc_lora_save_peft(const anc_lora *l, const char *dir, const char *base_model, anc_error *err) {
    anc_status st = anc_mkdirs(dir, err);
    if (st) return st;
    anc_st_write_item *items = calloc(l->n_specs ? l->n_specs : 1, sizeof *items);
    if (!items) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n_specs; i++) {
        items[i].name = l->specs[i].name;
        items[i].dtype = ANC_DT_F32;
        items[i].ndim = 2;
        items[i].shape = l->specs[i].shape;
        items[i].data = l->params + l->specs[i].offset;
    }
    static const char *const meta[] = {"format", "pt", NULL};
    char *path = anc_path_join(dir, ADAPTER_WEIGHTS);
    st = path ? anc_st_write(path, items, l->n_specs, meta, err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    free(path);
    free(items);
    if (st) return st;
    json_t *js = config_json(l, base_model);
    char *text = js ? json_dumps(js, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16)) : NULL;
    json_decref(js);
    path = anc_path_join(dir, ADAPTER_CONFIG);
    if (!text || !path) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else st = anc_write_file_atomic(path, text, strlen(text), err);
    free(text);
    free(path);
    return st;
}

/* A key that must be absent, null, false, an empty object/array or equal
 * to `ok` (a string) for anchor to read the adapter faithfully. */
static anc_status refuse_unless_plain(json_t *root, const char *key, const char *ok, const char *path, anc_error *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v) || json_is_false(v)) return ANC_OK;
    if ((json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0)) return ANC_OK;
    if (ok && json_is_string(v) && !strcmp(json_string_value(v), ok)) return ANC_OK;
    return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: \"%s\" is set; anchor reads plain LoRA adapters only (no %s)", path, key,
                         key);
}

static anc_status parse_config(const char *path, anc_lora_config *lc, anc_error *err) {
    char *text = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(path, (size_t)1 << 20, &text, &len, err);
    if (st) return st;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    anc_lora_config_default(lc);
    lc->dropout = 0;
    json_t *v = NULL;
    if (!json_is_object(root)) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: expected a JSON object", path);
    else if (!json_is_string(v = json_object_get(root, "peft_type")) || strcmp(json_string_value(v), "LORA"))
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: peft_type must be \"LORA\"", path);
    else if (!json_is_integer(v = json_object_get(root, "r")) || json_integer_value(v) < 1 || json_integer_value(v) > 65536)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: \"r\" must be an integer in 1..65536", path);
    if (!st) {
        lc->r = (int)json_integer_value(v);
        v = json_object_get(root, "lora_alpha");
        if (!json_is_number(v) || !(json_number_value(v) > 0))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: \"lora_alpha\" must be a number > 0", path);
        else lc->alpha = json_number_value(v);
    }
    if (!st && (v = json_object_get(root, "lora_dropout")) && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: \"lora_dropout\" must be a number in [0, 1)", path);
        else lc->dropout = json_number_value(v);
    }
    if (!st) lc->use_rslora = json_is_true(json_object_get(root, "use_rslora"));
    static const char *const plain[] = {"use_dora", "rank_pattern", "alpha_pattern", "layers_to_transform",
                                        "layers_pattern", "fan_in_fan_out", "modules_to_save", "bias"};
    for (size_t i = 0; !st && i < sizeof plain / sizeof plain[0]; i++)
        st = refuse_unless_plain(root, plain[i], i == 7 ? "none" : NULL, path, err);
    if (!st) {
        v = json_object_get(root, "target_modules");
        const char *names[64];
        int n = 0;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            /* a string is a regular expression in PEFT; only the keyword and plain names are read */
            if (strpbrk(s, ".*[]()|\\^$+?"))
                st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: target_modules \"%s\" is a regular expression; give a list of module names", path, s);
            names[n++] = s;
        } else if (json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 64) {
            for (size_t i = 0; !st && i < json_array_size(v); i++) {
                json_t *e = json_array_get(v, i);
                if (!json_is_string(e)) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: target_modules[%zu] is not a string", path, i);
                else names[n++] = json_string_value(e);
            }
        } else {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: \"target_modules\" must be a non-empty list of module names", path);
        }
        if (!st && (st = anc_lora_parse_targets(names, n, &lc->targets, err))) anc_error_prefix(err, "%s", path);
    }
    json_decref(root);
    return st;
}

anc_status anc_lora_load_peft(anc_lora **out, const char *dir, const anc_config *mc, anc_error *err) {
    *out = NULL;
    char *cpath = anc_path_join(dir, ADAPTER_CONFIG), *wpath = anc_path_join(dir, ADAPTER_WEIGHTS);
    anc_safetensors *sf = NULL;
    anc_lora *l = NULL;
    anc_lora_config lc;
    anc_status st = ANC_OK;
    if (!cpath || !wpath) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else if (!anc_path_exists(cpath))
        st = anc_error_set(err, ANC_ERR_IO, "%s: no adapter_config.json (is %s a PEFT adapter folder?)", cpath, dir);
    if (!st) st = parse_config(cpath, &lc, err);
    if (!st) st = anc_lora_create(&l, mc, &lc, err);
    if (!st) st = anc_st_open(&sf, wpath, err);
    for (size_t i = 0; !st && i < l->n_specs; i++) {
        const anc_param_spec *s = &l->specs[i];
        const anc_st_tensor *t = anc_st_find(sf, s->name);
        if (!t) {
            /* PEFT files from older versions keep the adapter name */
            char alt[ANC_PARAM_NAME_MAX + 16];
            size_t n = strlen(s->name) - strlen(".weight");
            snprintf(alt, sizeof alt, "%.*s.default.weight", (int)n, s->name);
            t = anc_st_find(sf, alt);
        }
        if (!t) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor %s is missing (target_modules names it)", wpath, s->name);
        else if (t->ndim != 2 || t->shape[0] != s->shape[0] || t->shape[1] != s->shape[1])
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor %s has shape [%lld, %lld], expected [%lld, %lld] for this model and r = %d",
                               wpath, s->name, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 1),
                               (long long)s->shape[0], (long long)s->shape[1], lc.r);
        else st = anc_st_read_f32(t, l->params + s->offset, s->n_elems, err);
    }
    if (!st && anc_st_count(sf) != l->n_specs) {
        /* a tensor anchor would ignore (a layer beyond the model, an embedding adapter, ...) */
        for (size_t i = 0; i < anc_st_count(sf); i++) {
            const char *name = anc_st_get(sf, i)->name;
            int known = 0;
            for (size_t j = 0; j < l->n_specs && !known; j++) {
                size_t n = strlen(l->specs[j].name) - strlen(".weight");
                known = !strcmp(name, l->specs[j].name) ||
                        (!strncmp(name, l->specs[j].name, n) && !strcmp(name + n, ".default.weight"));
            }
            if (!known) {
                st = anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tensor %s is not an adapter of this model's targets", wpath, name);
                break;
            }
        }
    }
    anc_st_close(sf);
    free(cpath);
    free(wpath);
    if (st) {
        anc_lora_free(l);
        return st;
    }
    *out = l;
    return ANC_OK;
}

anc_status anc_lora_merge(const anc_lora *l, anc_model *m, anc_error *err) {
    if (l->n_layers != m->cfg.num_layers)
        return anc_error_set(err, ANC_ERR_INVALID, "merge: the adapter has %d layers, the model %d", l->n_layers, m->cfg.num_layers);
    if (m->frozen16)
        return anc_error_set(err, ANC_ERR_INVALID, "merge: a frozen bf16 base has no fp32 weights to merge into; load the model with anc_model_load_hf");
    for (int layer = 0; layer < l->n_layers; layer++) {
        const anc_layer_view *w = &m->w.layers[layer];
        float *W[ANC_LORA_NMOD] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};
        for (int k = 0; k < ANC_LORA_NMOD; k++) {
            const anc_lora_pair *p = anc_lora_get(l, layer, (anc_lora_module)k);
            if (!p->A) continue;
            /* W[out, in] += scale · B[out, r] · A[r, in] */
            anc_gemm_f32(0, 0, p->out, p->in, l->cfg.r, l->scale, p->B, l->cfg.r, p->A, p->in, 1.0f, W[k], p->in);
        }
    }
    anc_model_sync_bf16(m);
    return ANC_OK;
}

anc_status anc_model_load_adapted(anc_model **out, const char *model_dir, const char *adapter_dir, anc_error *err) {
    *out = NULL;
    anc_model *m = NULL;
    anc_lora *l = NULL;
    anc_status st = anc_model_load_hf(&m, model_dir, err);
    if (!st && adapter_dir) {
        if (!(st = anc_lora_load_peft(&l, adapter_dir, &m->cfg, err))) st = anc_lora_merge(l, m, err);
        anc_lora_free(l);
    }
    if (st) {
        anc_model_free(m);
        return st;
    }
    *out = m;
    return ANC_OK;
}

anc_status anc_merge_run(const anc_merge_opts *o, anc_error *err) {
    if (!o->model_dir || !o->adapter_dir || !o->out_dir)
        return anc_error_set(err, ANC_ERR_INVALID, "merge: a base model, an adapter and an output folder are required");
    const char *inputs[2] = {o->model_dir, o->adapter_dir};
    static const char *const what[2] = {"--model", "--adapter"};
    anc_status st = anc_path_refuse_overlap("merge", "--out", o->out_dir, inputs, what, 2, err);
    if (st) return st;
    anc_model *m = NULL;
    if ((st = anc_model_load_adapted(&m, o->model_dir, o->adapter_dir, err))) return st;
    anc_dtype dt = o->dtype == ANC_DT_INVALID ? m->source_dtype : (anc_dtype)o->dtype;
    st = anc_model_save_hf(m, o->out_dir, dt, err);
    anc_model_free(m);
    for (const char *const *f = anc_model_aux_files(); !st && *f; f++) {
        char *src = anc_path_join(o->model_dir, *f), *dst = anc_path_join(o->out_dir, *f);
        if (!src || !dst) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        else if (anc_path_exists(src)) st = anc_copy_file(src, dst, err);
        free(src);
        free(dst);
    }
    return st;
}
