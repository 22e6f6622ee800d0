/* Model lifetime, loading from and saving to Hugging Face directories. */
#include "model/model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "io/safetensors.h"
#include "tensor/gemm.h"

/* A frozen base's fp32 slab: address space reserved without access or
 * commit, then read/write access on the pages of the 1-D tensors only. */
static anc_status reserve_frozen_slab(anc_model *m, anc_error *err) {
    size_t bytes = m->n_params * sizeof(float);
    if (bytes == 0) bytes = sizeof(float);
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot reserve address space for %zu parameters", m->n_params);
    m->params = p;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), base = (uintptr_t)p;
    for (size_t i = 0; i < m->n_specs; i++) {
        if (m->specs[i].ndim != 1) continue;
        uintptr_t lo = base + m->specs[i].offset * sizeof(float);
        uintptr_t hi = lo + m->specs[i].n_elems * sizeof(float);
        lo &= ~(page - 1);
        hi = (hi + page - 1) & ~(page - 1);
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0)
            return anc_error_set(err, ANC_ERR_NOMEM, "cannot map the norm and bias tensors");
    }
    return ANC_OK;
}

static anc_status model_new(anc_model **out, const anc_config *cfg, int frozen16, anc_error *err) {
    *out = NULL;
    anc_status st = anc_config_validate(cfg, "config", err);
    if (st) return st;
    anc_model *m = calloc(1, sizeof *m);
    if (!m) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    m->source_dtype = ANC_DT_F32;
    m->frozen16 = frozen16;
    if ((st = anc_param_layout(cfg, &m->specs, &m->n_specs, &m->n_params, err))) goto fail;
    if (frozen16) {
        if ((st = reserve_frozen_slab(m, err))) goto fail;
        m->params16 = calloc(m->n_params ? m->n_params : 1, sizeof(uint16_t));
        if (!m->params16) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate %zu bf16 parameters (%.1f MB)", m->n_params,
                               m->n_params * 2.0 / 1e6);
            goto fail;
        }
    } else if (!(m->params = calloc(m->n_params, sizeof(float)))) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate %zu parameters (%.1f MB)", m->n_params,
                           m->n_params * 4.0 / 1e6);
        goto fail;
    }
    if ((st = anc_param_view_init(&m->w, cfg, m->params, err))) goto fail;
    m->inv_freq = malloc(sizeof(float) * (size_t)(cfg->head_dim / 2));
    if (!m->inv_freq) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    anc_rope_inv_freq(m->inv_freq, cfg->head_dim, cfg->rope_theta, &cfg->rope_scaling);
    *out = m;
    return ANC_OK;
fail:
    anc_model_free(m);
    return st;
}

anc_status anc_model_create(anc_model **out, const anc_config *cfg, anc_error *err) {
    return model_new(out, cfg, 0, err);
}

anc_status anc_model_create_frozen16(anc_model **out, const anc_config *cfg, anc_error *err) {
    return model_new(out, cfg, 1, err);
}

anc_status anc_model_set_bf16(anc_model *m, int on, anc_error *err) {
    if (m->frozen16) {
        if (on) return ANC_OK;
        return anc_error_set(err, ANC_ERR_INVALID, "this model is a frozen bf16 base: it has no fp32 weights to go back to");
    }
    if (!on) {
        free(m->params16);
        m->params16 = NULL;
        return ANC_OK;
    }
    if (!m->params16 && !(m->params16 = malloc(sizeof(uint16_t) * (m->n_params ? m->n_params : 1))))
        return anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate the bf16 weights (%.1f MB)", m->n_params * 2.0 / 1e6);
    anc_model_sync_bf16(m);
    return ANC_OK;
}

void anc_model_sync_bf16(anc_model *m) {
    if (m->params16 && !m->frozen16) anc_f32_to_bf16_n(m->params16, m->params, m->n_params);
}

void anc_model_embed_row(const anc_model *m, int32_t tok, float *dst) {
    const size_t C = (size_t)m->cfg.hidden_size;
    if (!m->frozen16) {
        memcpy(dst, m->w.embed + (size_t)tok * C, sizeof(float) * C);
        return;
    }
    const uint16_t *src = m->params16 + (size_t)(m->w.embed - m->params) + (size_t)tok * C;
    for (size_t i = 0; i < C; i++) dst[i] = anc_bf16_to_f32(src[i]);
}

void anc_model_free(anc_model *m) {
    if (!m) return;
    free(m->params16);
    anc_param_view_free(&m->w);
    if (m->frozen16) {
        if (m->params) munmap(m->params, m->n_params ? m->n_params * sizeof(float) : sizeof(float));
    } else {
        free(m->params);
    }
    free(m->specs);
    free(m->inv_freq);
    free(m);
}

/* The weight files of a model directory: the index's shards, or the single
 * model.safetensors. *files is a malloc'd array of malloc'd paths. */
anc_status anc_model_weight_files(const char *dir, char ***files, size_t *n_files, anc_error *err) {
    *files = NULL;
    *n_files = 0;
    char *index = anc_path_join(dir, "model.safetensors.index.json");
    char *single = anc_path_join(dir, "model.safetensors");
    anc_status st = ANC_OK;
    if (!index || !single) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (anc_path_exists(index)) {
        char *text = NULL;
        size_t len = 0;
        if ((st = anc_read_file(index, 256u << 20, &text, &len, err))) goto done;
        json_error_t je;
        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        free(text);
        if (!root) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", index, je.line, je.column, je.text);
            goto done;
        }
        json_t *map = json_object_get(root, "weight_map");
        if (!json_is_object(map)) {
            json_decref(root);
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: expected an object \"weight_map\" {tensor: file}", index);
            goto done;
        }
        size_t cap = json_object_size(map);
        char **list = calloc(cap ? cap : 1, sizeof *list);
        size_t n = 0;
        const char *key;
        json_t *val;
        json_object_foreach(map, key, val) {
            const char *fname = json_string_value(val);
            if (!fname || strchr(fname, '/') || strcmp(fname, "..") == 0) {
                st = anc_error_set(err, ANC_ERR_FORMAT, "%s: weight_map[\"%s\"] must be a file name in the same folder", index, key);
                break;
            }
            int seen = 0;
            for (size_t i = 0; i < n && !seen; i++) {
                const char *base = strrchr(list[i], '/') + 1;
                seen = strcmp(base, fname) == 0;
            }
            if (!seen) list[n++] = anc_path_join(dir, fname);
        }
        json_decref(root);
        if (st) {
            for (size_t i = 0; i < n; i++) free(list[i]);
            free(list);
            goto done;
        }
        *files = list;
        *n_files = n;
    } else if (anc_path_exists(single)) {
        char **list = calloc(1, sizeof *list);
        list[0] = single;
        single = NULL;
        *files = list;
        *n_files = 1;
    } else {
        st = anc_error_set(err, ANC_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json found", dir);
    }
done:
    free(index);
    free(single);
    return st;
}

/* Finds each tensor of the layout in the weight files and checks its dtype
 * and shape, filling found[s]. Runs before the slab is allocated, so a
 * config that promises more than the files hold (2,000,000 layers over
 * 0.9 MB of weights) fails at once instead of after allocating. */
static anc_status match_tensors(const anc_param_spec *specs, size_t n_specs, anc_safetensors **sts, size_t n_files,
                                const char *dir, const anc_st_tensor **found, size_t *found_file, anc_error *err) {
    for (size_t s = 0; s < n_specs; s++) {
        const anc_param_spec *spec = &specs[s];
        const anc_st_tensor *t = NULL;
        size_t fi = 0;
        for (; fi < n_files && !t; fi++) t = anc_st_find(sts[fi], spec->name);
        if (!t)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor \"%s\" is missing from the weight files (%zu file%s)",
                                 dir, spec->name, n_files, n_files == 1 ? "" : "s");
        const char *fname = anc_st_label(sts[fi - 1]);
        if (t->dtype != ANC_DT_F32 && t->dtype != ANC_DT_F16 && t->dtype != ANC_DT_BF16)
            return anc_error_set(err, ANC_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (expected F32, F16 or BF16)",
                                 fname, spec->name, anc_dtype_name(t->dtype));
        int shape_ok = t->ndim == spec->ndim && t->shape[0] == spec->shape[0] &&
                       (spec->ndim == 1 || t->shape[1] == spec->shape[1]);
        if (!shape_ok) {
            char got[128] = "";
            size_t used = 0;
            for (int d = 0; d < t->ndim && used < sizeof got; d++)
                used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            if (spec->ndim == 1)
                return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor \"%s\" has shape [%s], config.json implies [%lld]",
                                     fname, spec->name, got, (long long)spec->shape[0]);
            return anc_error_set(err, ANC_ERR_FORMAT, "%s: tensor \"%s\" has shape [%s], config.json implies [%lld, %lld]",
                                 fname, spec->name, got, (long long)spec->shape[0], (long long)spec->shape[1]);
        }
        found[s] = t;
        found_file[s] = fi - 1;
    }
    return ANC_OK;
}

static anc_status load_hf(anc_model **out, const char *dir, int frozen16, anc_error *err) {
    *out = NULL;
    char *cfg_path = anc_path_join(dir, "config.json");
    anc_config cfg;
    anc_status st = anc_config_load(&cfg, cfg_path, err);
    free(cfg_path);
    if (st) return st;

    char **files = NULL;
    size_t n_files = 0;
    if ((st = anc_model_weight_files(dir, &files, &n_files, err))) return st;
    anc_safetensors **sts = calloc(n_files, sizeof *sts);
    anc_model *m = NULL;
    anc_param_spec *specs = NULL;
    const anc_st_tensor **found = NULL;
    size_t *found_file = NULL;
    size_t n_specs = 0, total = 0;
    if (!sts) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < n_files; i++)
        if ((st = anc_st_open(&sts[i], files[i], err))) goto done;
    if ((st = anc_param_layout(&cfg, &specs, &n_specs, &total, err))) goto done;
    found = calloc(n_specs ? n_specs : 1, sizeof *found);
    found_file = calloc(n_specs ? n_specs : 1, sizeof *found_file);
    if (!found || !found_file) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = match_tensors(specs, n_specs, sts, n_files, dir, found, found_file, err))) goto done;

    if ((st = model_new(&m, &cfg, frozen16, err))) goto done;
    for (size_t s = 0; s < m->n_specs; s++) {
        const anc_param_spec *spec = &m->specs[s];
        if (frozen16 && spec->ndim == 2) st = anc_st_read_bf16(found[s], m->params16 + spec->offset, spec->n_elems, err);
        else st = anc_st_read_f32(found[s], m->params + spec->offset, spec->n_elems, err);
        if (st) goto done;
        anc_st_drop_pages(sts[found_file[s]], found[s]);
    }
    if (m->n_specs) m->source_dtype = found[0]->dtype;
    *out = m;
    m = NULL;
done:
    anc_model_free(m);
    for (size_t i = 0; i < n_files; i++) {
        if (sts) anc_st_close(sts[i]);
        free(files[i]);
    }
    free(found);
    free(found_file);
    free(specs);
    free(sts);
    free(files);
    return st;
}

anc_status anc_model_load_hf(anc_model **out, const char *dir, anc_error *err) { return load_hf(out, dir, 0, err); }

anc_status anc_model_load_hf_frozen16(anc_model **out, const char *dir, anc_error *err) {
    return load_hf(out, dir, 1, err);
}

anc_status anc_model_save_hf(const anc_model *m, const char *dir, anc_dtype dtype, anc_error *err) {
    if (dtype != ANC_DT_F32 && dtype != ANC_DT_F16 && dtype != ANC_DT_BF16)
        return anc_error_set(err, ANC_ERR_INVALID, "save dtype must be f32, f16 or bf16");
    if (m->frozen16)
        return anc_error_set(err, ANC_ERR_INVALID, "%s: a frozen bf16 base is not saved (it is the unchanged start model; save its adapter)", dir);
    anc_status st = anc_mkdirs(dir, err);
    if (st) return st;
    anc_st_write_item *items = calloc(m->n_specs, sizeof *items);
    if (!items) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_specs; i++) {
        items[i].name = m->specs[i].name;
        items[i].dtype = dtype;
        items[i].ndim = m->specs[i].ndim;
        items[i].shape = m->specs[i].shape;
        items[i].data = m->params + m->specs[i].offset;
    }
    static const char *const meta[] = {"format", "pt", NULL};
    char *path = anc_path_join(dir, "model.safetensors");
    /* A stale shard index would take precedence over the new single file. */
    char *stale = anc_path_join(dir, "model.safetensors.index.json");
    if (stale) unlink(stale);
    free(stale);
    st = anc_st_write(path, items, m->n_specs, meta, err);
    free(path);
    free(items);
    if (st) return st;
    char *cfg_path = anc_path_join(dir, "config.json");
    st = anc_config_save(&m->cfg, dtype, cfg_path, err);
    free(cfg_path);
    return st;
}

const char *const *anc_model_aux_files(void) {
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "generation_config.json", "chat_template.jinja", NULL};
    return files;
}
