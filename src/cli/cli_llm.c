#define _GNU_SOURCE
#include "cli/cli_llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "store/sha256.h"

void cli_llm_args_init(cli_llm_args *a, double temperature, long max_tokens) {
    memset(a, 0, sizeof *a);
    a->temperature = temperature;
    a->max_tokens = max_tokens;
    a->seed = -1;
    a->concurrency = 4;
    a->timeout = 600;
    a->retries = 5;
}

void cli_llm_opts(cli_llm_args *a, const char *role, cli_opt *o) {
    static const char *const roles[][2] = {{"reviser", "reviser-model"}, {"judge", "judge-model"},
                                           {"stronger", "stronger-model"}};
    int slot = !strcmp(role, "reviser") ? 0 : !strcmp(role, "judge") ? 1 : 2;
    a->role = roles[slot][0];
    cli_opt t[CLI_LLM_N_OPTS] = {
        {roles[slot][0], OPT_STR, &a->spec, "SPEC", "backend: http(s)://HOST/v1 (OpenAI-compatible), exec:COMMAND, or local:DIR"},
        {roles[slot][1], OPT_STR, &a->model, "NAME", "model name sent to the backend"},
        {"api-key-env", OPT_STR, &a->api_key_env, "VAR", "environment variable holding the API key (default OPENAI_API_KEY; never logged or stored)"},
        {"temperature", OPT_FLOAT, &a->temperature, "T", "sampling temperature sent to the backend"},
        {"max-tokens", OPT_COUNT, &a->max_tokens, "N", "max_tokens sent to the backend"},
        {"seed", OPT_INT, &a->seed, "S", "seed sent to the backend (default: none)"},
        {"concurrency", OPT_COUNT, &a->concurrency, "N", "requests in flight (default 4)"},
        {"timeout", OPT_FLOAT, &a->timeout, "SEC", "limit per request (default 600)"},
        {"retries", OPT_COUNT, &a->retries, "N", "retries on 408/409/429/5xx and network errors, with backoff (default 5)"},
        {"store", OPT_STR, &a->store, "FILE", "run store (SQLite) that keeps every reply; default OUT.store.db"},
        {"chat-template", OPT_STR, &a->chat_template, "NAME|FILE", "chat template for a local:DIR backend"},
        {"fresh", OPT_FLAG, &a->fresh, NULL, "start this step over: forget its finished items and the settings they were made with (stored replies to identical requests are still reused)"},
    };
    memcpy(o, t, sizeof t);
}

anc_status cli_llm_create(const cli_llm_args *a, anc_llm **llm, anc_chat_model **local, anc_error *err) {
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

anc_status cli_store_open(const cli_llm_args *a, const char *out, anc_store **store, anc_error *err) {
    if (a->store) return anc_store_open(store, a->store, err);
    size_t n = strlen(out) + 16;
    char *p = malloc(n);
    if (!p) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%s.store.db", out);
    anc_status st = anc_store_open(store, p, err);
    free(p);
    return st;
}

int cli_tally_put(cli_tally *t, anc_store *store, const char *step, const char *id, anc_item_status status,
                  const json_t *record, const char *error) {
    anc_error err = {0};
    if (anc_store_item_put(store, step, id, status, record, error, &err) != ANC_OK) {
        t->store_failed = 1;
        t->store_err = err;
        return 1;
    }
    if (status == ANC_ITEM_DONE) t->done++;
    else t->failed++;
    t->prog.failures = t->failed;
    cli_progress_cb(&t->prog, t->done + t->failed, t->total, 0);
    return 0;
}

int cli_llm_run(const char *cmd, anc_llm *llm, anc_store *store, const cli_llm_args *a, const anc_llm_request *reqs,
                size_t n, anc_llm_batch_fn cb, void *ctx, cli_tally *t, const char *unit, anc_llm_stored_stats *stats) {
    cli_progress_init(&t->prog, cmd, unit);
    if (n == 0) return 0;
    anc_error err = {0};
    anc_status st = anc_llm_run_stored(llm, store, reqs, n, (size_t)(a->concurrency > 0 ? a->concurrency : 1), cb, ctx, stats, &err);
    cli_progress_done(&t->prog);
    if (t->store_failed) return cli_fail(cmd, &t->store_err);
    if (st) return cli_fail(cmd, &err);
    return 0;
}

anc_status cli_llm_session_open(cli_llm_session *s, const char *input, const char *out, const cli_llm_args *a,
                                anc_error *err) {
    memset(s, 0, sizeof *s);
    anc_status st = anc_rows_load(&s->rows, input, err);
    if (!st) st = cli_store_open(a, out, &s->store, err);
    if (!st) st = cli_llm_create(a, &s->llm, &s->local, err);
    if (st) cli_llm_session_close(s);
    return st;
}

void cli_llm_session_close(cli_llm_session *s) {
    anc_llm_free(s->llm);
    anc_chat_model_free(s->local);
    anc_store_close(s->store);
    anc_rows_free(&s->rows);
    memset(s, 0, sizeof *s);
}

json_t *cli_llm_provenance(const cli_llm_args *a, const anc_llm *llm, const char *template_text, const char *builtin) {
    const char *role = a->role ? a->role : "backend";
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

int cli_check_provenance(const char *cmd, anc_store *store, const char *step, const json_t *prov, int fresh,
                         const char *out) {
    anc_error err = {0};
    if (!prov) {
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        return cli_fail(cmd, &err);
    }
    if (anc_store_step_provenance(store, step, prov, fresh, &err) == ANC_OK) return 0;
    if (err.code == ANC_ERR_INVALID)
        fprintf(stderr,
                "anchor %s: error: %s\n  the items already made for %s are not reused with other settings: rerun with "
                "--fresh to start this step over with the new ones, or write elsewhere (another --out, or another "
                "--store)\n",
                cmd, err.message, out);
    else
        cli_fail(cmd, &err);
    return 1;
}

int cli_items_summary(const char *cmd, const char *out, const cli_items_count *c, const char *detail,
                      const anc_store *store, const anc_llm_stored_stats *stats) {
    fprintf(stderr, "anchor %s: %zu pairs -> %s%s%s; %zu items reused as finished earlier; requests sent %zu, reused "
            "from the store %zu",
            cmd, c->written, out, detail ? "; " : "", detail ? detail : "", c->reused, stats->sent, stats->cached);
    if (stats->elsewhere) fprintf(stderr, ", answered by another run sharing the store %zu", stats->elsewhere);
    fputc('\n', stderr);
    if (c->failed == 0) return 0;
    size_t total = c->done + c->failed;
    if (c->done == 0) {
        fprintf(stderr, "anchor %s: error: all %zu items failed (exit %d); their errors are in the run store %s; fix "
                "the cause and rerun the same command to retry them\n",
                cmd, total, CLI_EXIT_ALL_FAILED, anc_store_path(store));
        return CLI_EXIT_ALL_FAILED;
    }
    fprintf(stderr, "anchor %s: warning: %zu of %zu items failed; their errors are in the run store %s; rerun the "
            "same command to retry them\n",
            cmd, c->failed, total, anc_store_path(store));
    return 0;
}

void cli_llm_note_key(const char *cmd, const cli_llm_args *a, const anc_llm *llm) {
    if (anc_llm_get_kind(llm) != ANC_LLM_HTTP || anc_llm_has_api_key(llm) || a->api_key_env) return;
    fprintf(stderr, "anchor %s: note: OPENAI_API_KEY is not set; requests go out without an API key (name another "
            "variable with --api-key-env)\n", cmd);
}

int cli_llm_step_begin(const char *cmd, cli_llm_session *ss, const cli_llm_args *a, const char *kind, const char *out,
                       const char *template_text, const char *builtin, json_t *extra, char **step) {
    *step = anc_item_step(kind, out, anc_store_path(ss->store));
    json_t *prov = *step ? cli_llm_provenance(a, ss->llm, template_text, builtin) : NULL;
    if (prov && extra) json_object_update(prov, extra);
    json_decref(extra);
    if (!*step || !prov) {
        json_decref(prov);
        anc_error err;
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        return cli_fail(cmd, &err);
    }
    int code = cli_check_provenance(cmd, ss->store, *step, prov, a->fresh, out);
    json_decref(prov);
    if (!code) cli_llm_note_key(cmd, a, ss->llm);
    return code;
}
