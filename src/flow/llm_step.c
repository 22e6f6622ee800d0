/* LLM steps through the run store (llm_step.h): backend, store, item ids and
 * steps, provenance, and counting items as replies arrive. */
#define _GNU_SOURCE
#include "flow/llm_step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sha256.h"

anc_status anc_llm_step_backend(const anc_llm_step_opts *a, anc_llm **llm, anc_chat_model **local, anc_error *err) {
    *llm = NULL;
    *local = NULL;
    anc_llm_options o;
    anc_llm_options_init(&o);
    o.model = a->model;
    o.api_key_env = a->api_key_env;
    o.temperature = a->temperature;
    o.max_tokens = a->max_tokens;
    o.seed = a->seed;
    o.timeout_s = a->timeout;
    o.max_retries = a->retries < 0 ? 0 : (unsigned)a->retries;
    if (a->spec && !strncmp(a->spec, "local:", 6)) {
        anc_status st = anc_chat_model_load(local, a->spec + 6, a->chat_template, err);
        if (st) return st;
        o.local_fn = anc_chat_model_answer;
        o.local_ctx = *local;
    }
    anc_status st = anc_llm_create(llm, a->spec, &o, err);
    if (st) {
        anc_chat_model_free(*local);
        *local = NULL;
    }
    return st;
}

anc_status anc_llm_step_store_open(const anc_llm_step_opts *a, const char *out, anc_store **store, anc_error *err) {
    if (a->store) return anc_store_open(store, a->store, err);
    char *p = NULL;
    if (asprintf(&p, "%s.store.db", out) < 0) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = anc_store_open(store, p, err);
    free(p);
    return st;
}

void anc_item_id(const json_t *row, const char *const *parts, size_t n_parts, char *buf, size_t cap) {
    json_t *id = json_object_get(row, "id");
    if (json_is_string(id)) {
        snprintf(buf, cap, "%s", json_string_value(id));
        return;
    }
    if (json_is_integer(id)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(id));
        return;
    }
    anc_sha256 h;
    anc_sha256_init(&h);
    for (size_t i = 0; i < n_parts; i++) {
        const char *s = parts[i] ? parts[i] : "";
        anc_sha256_update(&h, s, strlen(s) + 1);  /* the NUL separates the parts */
    }
    char hex[ANC_SHA256_HEX];
    anc_sha256_final_hex(&h, hex);
    snprintf(buf, cap, "h:%.32s", hex);
}

/* realpath of the folder holding path (the file itself may not exist yet)
 * joined with its last component; malloc'd, NULL when the folder is missing. */
static char *canonical_file(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return NULL;
    char *real = realpath(dir, NULL);
    free(dir);
    if (!real) return NULL;
    const char *base = slash ? slash + 1 : path;
    char *out = NULL;
    if (asprintf(&out, "%s/%s", strcmp(real, "/") ? real : "", base) < 0) out = NULL;
    free(real);
    return out;
}

char *anc_item_step(const char *kind, const char *out, const char *store_path) {
    char *o = canonical_file(out);
    char *st = store_path ? canonical_file(store_path) : NULL;
    const char *rel = o ? o : out;
    if (o && st) {
        const char *sl = strrchr(st, '/');
        size_t dl = sl ? (size_t)(sl - st) + 1 : 0; /* the store's folder, with its '/' */
        if (dl && !strncmp(o, st, dl)) rel = o + dl;
    }
    char *name = NULL;
    if (asprintf(&name, "%s:%s", kind, rel) < 0) name = NULL;
    free(o);
    free(st);
    return name;
}

json_t *anc_llm_step_provenance(const anc_llm_step_opts *a, const char *role, const anc_llm *llm,
                                const char *template_text, const char *builtin) {
    if (!role) role = "backend";
    char model_key[64];
    snprintf(model_key, sizeof model_key, "%s-model", role);
    json_t *p = json_object();
    if (!p) return NULL;
    json_object_set_new(p, role, json_string(anc_llm_id(llm)));
    json_object_set_new(p, model_key, a->model ? json_string(a->model) : json_null());
    json_object_set_new(p, "temperature", json_real(a->temperature));
    json_object_set_new(p, "max-tokens", json_integer(a->max_tokens));
    json_object_set_new(p, "seed", a->seed >= 0 ? json_integer(a->seed) : json_null());
    if (a->chat_template) json_object_set_new(p, "chat-template", json_string(a->chat_template));
    if (template_text) {
        char hex[ANC_SHA256_HEX];
        anc_sha256 h;
        anc_sha256_init(&h);
        anc_sha256_update(&h, template_text, strlen(template_text));
        anc_sha256_final_hex(&h, hex);
        json_object_set_new(p, "template", json_pack("s+", "sha256:", hex));
    } else {
        json_object_set_new(p, "template", json_string(builtin));
    }
    return p;
}

void anc_llm_step_close(anc_llm_step *s) {
    anc_llm_free(s->llm);
    anc_chat_model_free(s->local);
    if (s->owns_store) anc_store_close(s->store);
    anc_rows_free(&s->rows);
    free(s->step);
    memset(s, 0, sizeof *s);
}

anc_status anc_llm_step_open(anc_llm_step *s, const char *kind, const char *role, const char *input, const char *out,
                             const anc_llm_step_opts *a, anc_store *store, const char *template_text,
                             const char *builtin, json_t *extra, const anc_flow_hooks *hooks, anc_error *err) {
    memset(s, 0, sizeof *s);
    anc_status st = input ? anc_rows_load(&s->rows, input, err) : ANC_OK;
    if (!st) {
        if (store) s->store = store;
        else if (!(st = anc_llm_step_store_open(a, out, &s->store, err))) s->owns_store = 1;
    }
    if (!st) st = anc_llm_step_backend(a, &s->llm, &s->local, err);
    json_t *prov = NULL;
    if (!st) {
        s->step = anc_item_step(kind, out, anc_store_path(s->store));
        prov = s->step ? anc_llm_step_provenance(a, role, s->llm, template_text, builtin) : NULL;
        if (prov && extra) json_object_update(prov, extra);
        if (!prov) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!st && (st = anc_store_step_provenance(s->store, s->step, prov, a->fresh, err)) == ANC_ERR_INVALID) {
        char why[ANC_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err->message);
        anc_error_set(err, ANC_ERR_INVALID,
                      "%s\n  the items already made for %s are not reused with other settings: rerun with --fresh to "
                      "start this step over with the new ones, or write elsewhere (another --out, or another --store)",
                      why, out);
    }
    json_decref(prov);
    json_decref(extra);
    if (st) {
        anc_llm_step_close(s);
        return st;
    }
    if (anc_llm_get_kind(s->llm) == ANC_LLM_HTTP && !anc_llm_has_api_key(s->llm) && !a->api_key_env)
        anc_flow_note(hooks, "note: OPENAI_API_KEY is not set; requests go out without an API key (name another "
                             "variable with --api-key-env)");
    return ANC_OK;
}

void anc_items_result_free(anc_items_result *r) {
    free(r->store_path);
    memset(r, 0, sizeof *r);
}

int anc_item_tally_put(anc_item_tally *t, anc_store *store, const char *step, const char *id, anc_item_status status,
                       const json_t *record, const char *error) {
    anc_error err = {0};
    if (anc_store_item_put(store, step, id, status, record, error, &err) != ANC_OK) {
        t->store_failed = 1;
        t->store_err = err;
        return 1;
    }
    if (status == ANC_ITEM_DONE) t->done++;
    else t->failed++;
    anc_flow_progress p = {t->unit, t->done + t->failed, t->failed, t->total, 0};
    anc_flow_progress_report(t->hooks, &p);
    return 0;
}

anc_status anc_llm_step_run(anc_llm_step *s, const anc_llm_step_opts *a, const anc_llm_request *reqs, size_t n,
                            size_t units, anc_llm_batch_fn cb, void *ctx, anc_item_tally *t, const char *unit,
                            const anc_flow_hooks *hooks, anc_llm_stored_stats *stats, anc_error *err) {
    t->total = units;
    t->unit = unit;
    t->hooks = hooks;
    if (n == 0) return ANC_OK;
    anc_flow_progress p0 = {unit, 0, 0, units, 0};
    anc_flow_progress_report(hooks, &p0);
    anc_status st = anc_llm_run_stored(s->llm, s->store, reqs, n, (size_t)(a->concurrency > 0 ? a->concurrency : 1),
                                       cb, ctx, stats, err);
    if (t->store_failed) {
        *err = t->store_err;
        return err->code ? err->code : ANC_ERR_IO;
    }
    return st;
}
