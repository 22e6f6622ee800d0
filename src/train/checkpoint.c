#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "io/safetensors.h"
#include "train/trainer.h"

/* Removes a checkpoint folder written by anchor (only plain files inside). */
static void remove_ckpt_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = anc_path_join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

anc_status anc_ckpt_save(const char *out, const anc_model *m, const anc_lora *lora, const anc_optim *o,
                         const anc_ckpt_state *s, const char *const *copy_files, anc_error *err) {
    char name[64], tmpname[64];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->step);
    snprintf(tmpname, sizeof tmpname, "checkpoint-%lld.tmp", (long long)s->step);
    char *final = anc_path_join(out, name), *tmp = anc_path_join(out, tmpname);
    char *p = NULL;
    anc_status st = ANC_OK;
    if (!final || !tmp) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    remove_ckpt_dir(tmp);
    if ((st = lora ? anc_lora_save_peft(lora, tmp, NULL, err) : anc_model_save_hf(m, tmp, ANC_DT_F32, err))) goto done;
    for (const char *const *f = copy_files; f && *f; f += 2) {
        if (!anc_path_exists(f[0])) continue;
        p = anc_path_join(tmp, f[1]);
        st = anc_copy_file(f[0], p, err);
        free(p);
        p = NULL;
        if (st) goto done;
    }
    {
        int64_t shape[1] = {(int64_t)o->n};
        anc_st_write_item items[2] = {{"exp_avg", ANC_DT_F32, 1, shape, o->m}, {"exp_avg_sq", ANC_DT_F32, 1, shape, o->v}};
        char step_s[32];
        snprintf(step_s, sizeof step_s, "%lld", (long long)o->step);
        const char *meta[] = {"format", "anchor-optimizer", "step", step_s, NULL};
        p = anc_path_join(tmp, "optimizer.safetensors");
        st = anc_st_write(p, items, o->m ? 2 : 0, meta, err);
        free(p);
        p = NULL;
        if (st) goto done;
    }
    {
        json_t *js = json_object();
        json_object_set_new(js, "global_step", json_integer(s->step));
        json_object_set_new(js, "num_tokens", json_integer(s->tokens));
        char seed_s[32];
        snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)s->seed);
        json_object_set_new(js, "seed", json_string(seed_s));
        json_object_set_new(js, "optimizer_step", json_integer(o->step));
        json_object_set_new(js, "bco_running_mean", json_real(s->loss_state.bco_running_mean));
        json_object_set_new(js, "bco_count", json_integer(s->loss_state.bco_count));
        json_object_set_new(js, "last_grad_norm", json_real(s->last_grad_norm));
        json_t *w = json_array();
        for (int i = 0; i < ANC_CKPT_WINDOW; i++) json_array_append_new(w, json_real(s->window[i]));
        json_object_set_new(js, "log_window", w);
        json_object_set_new(js, "log_window_count", json_integer(s->window_count));
        /* %.17g keeps doubles exact across save/load */
        char *text = json_dumps(js, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        json_decref(js);
        p = anc_path_join(tmp, "trainer_state.json");
        st = text ? anc_write_file_atomic(p, text, strlen(text), err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        free(text);
        free(p);
        p = NULL;
        if (st) goto done;
    }
    p = anc_path_join(tmp, ANC_CKPT_MARKER);
    if ((st = anc_write_file_atomic(p, "ok\n", 3, err))) goto done;
    fsync_dir(tmp);
    remove_ckpt_dir(final);
    if (rename(tmp, final) != 0) {
        st = anc_error_set(err, ANC_ERR_IO, "%s: cannot rename to %s: %s", tmp, final, strerror(errno));
        goto done;
    }
    fsync_dir(out);
done:
    free(p);
    free(final);
    free(tmp);
    return st;
}

/* The weights of a checkpoint: the adapter into lora, else the model. */
static anc_status load_weights(const char *path, anc_model *m, anc_lora *lora, anc_error *err) {
    anc_status st;
    if (lora) {
        anc_lora *loaded = NULL;
        if ((st = anc_lora_load_peft(&loaded, path, &m->cfg, err))) return st;
        if (loaded->n_params != lora->n_params || loaded->cfg.r != lora->cfg.r || loaded->cfg.targets != lora->cfg.targets)
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s: the checkpoint's adapter (r %d, %zu parameters) is not this run's (r %d, %zu parameters)",
                               path, loaded->cfg.r, loaded->n_params, lora->cfg.r, lora->n_params);
        else memcpy(lora->params, loaded->params, sizeof(float) * lora->n_params);
        anc_lora_free(loaded);
        return st;
    }
    anc_model *loaded = NULL;
    if ((st = anc_model_load_hf(&loaded, path, err))) return st;
    if (loaded->n_params != m->n_params)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: checkpoint has %zu parameters, the model %zu", path, loaded->n_params, m->n_params);
    else memcpy(m->params, loaded->params, sizeof(float) * m->n_params);
    anc_model_free(loaded);
    return st;
}

anc_status anc_ckpt_load(const char *path, anc_model *m, anc_lora *lora, anc_optim *o, anc_ckpt_state *s,
                         anc_error *err) {
    anc_status st = load_weights(path, m, lora, err);
    if (st) return st;

    char *p = anc_path_join(path, "optimizer.safetensors");
    anc_safetensors *sf = NULL;
    st = anc_st_open(&sf, p, err);
    free(p);
    if (st) return st;
    if (o->m) {
        const anc_st_tensor *a = anc_st_find(sf, "exp_avg"), *b = anc_st_find(sf, "exp_avg_sq");
        if (!a || !b) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: optimizer.safetensors lacks exp_avg/exp_avg_sq (was it saved with --optimizer sgd?)", path);
        else if ((st = anc_st_read_f32(a, o->m, o->n, err)) == ANC_OK) st = anc_st_read_f32(b, o->v, o->n, err);
    }
    anc_st_close(sf);
    if (st) return st;

    p = anc_path_join(path, "trainer_state.json");
    char *text = NULL;
    size_t len = 0;
    st = anc_read_file(p, 1 << 20, &text, &len, err);
    if (st) { free(p); return st; }
    json_error_t je;
    json_t *js = json_loadb(text, len, 0, &je);
    free(text);
    if (!js) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", p, je.line, je.column, je.text);
        free(p);
        return st;
    }
    memset(s, 0, sizeof *s);
    s->step = json_integer_value(json_object_get(js, "global_step"));
    s->tokens = json_integer_value(json_object_get(js, "num_tokens"));
    const char *seed_s = json_string_value(json_object_get(js, "seed"));
    s->seed = seed_s ? strtoull(seed_s, NULL, 10) : 0;
    o->step = json_integer_value(json_object_get(js, "optimizer_step"));
    s->loss_state.bco_running_mean = json_number_value(json_object_get(js, "bco_running_mean"));
    s->loss_state.bco_count = json_integer_value(json_object_get(js, "bco_count"));
    s->last_grad_norm = json_number_value(json_object_get(js, "last_grad_norm"));
    json_t *w = json_object_get(js, "log_window");
    for (int i = 0; i < ANC_CKPT_WINDOW && i < (int)json_array_size(w); i++) s->window[i] = json_number_value(json_array_get(w, i));
    s->window_count = json_integer_value(json_object_get(js, "log_window_count"));
    if (s->step <= 0) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: missing or invalid global_step", p);
    json_decref(js);
    free(p);
    return st;
}

int64_t anc_train_latest_checkpoint(const char *out, char **path) {
    if (path) *path = NULL;
    DIR *d = opendir(out);
    if (!d) return 0;
    int64_t best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long step;
        char rest[8];
        if (sscanf(e->d_name, "checkpoint-%lld%7s", &step, rest) != 1 || step <= 0) continue;
        char *dir = anc_path_join(out, e->d_name);
        char *marker = dir ? anc_path_join(dir, ANC_CKPT_MARKER) : NULL;
        if (marker && anc_path_exists(marker) && step > best) {
            best = step;
            if (path) {
                free(*path);
                *path = dir;
                dir = NULL;
            }
        }
        free(marker);
        free(dir);
    }
    closedir(d);
    return best;
}
