/* The serve step (serve.h): its option table and the run (load, serve until
 * stopped, drain). */
#include "flow/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja/chat_template.h"
#include "llm/local.h"
#include "model/lora.h"
#include "model/model.h"
#include "serve/server.h"
#include "tokenizer/tokenizer.h"

#define T anc_serve_opts
const anc_option anc_serve_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, ANC_OPT_REQUIRED, offsetof(T, model), NULL, "DIR", "model folder (weights + tokenizer)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR", "PEFT LoRA adapter merged into --model before serving"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL,
     "matrix products in bf16 with fp32 accumulation (bf16 weight copy beside the fp32 one)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "override the tokenizer's chat template (built-in name or file)"},
    {"served-model-name", ANC_OPT_STR, 0, 0, offsetof(T, served_name), NULL, "NAME",
     "the model id of /v1/models; requests naming another model get 404 (default: the model folder's name)"},
    {"host", ANC_OPT_STR, 0, 0, offsetof(T, host), "127.0.0.1", "ADDR",
     "address to bind (default 127.0.0.1); any non-loopback address needs --api-key-env"},
    {"port", ANC_OPT_COUNT, 0, 0, offsetof(T, port), "8080", "PORT", "port to bind (default 8080; 0 = a free port, printed)"},
    {"api-key-env", ANC_OPT_STR, 0, 0, offsetof(T, api_key_env), NULL, "VAR",
     "environment variable holding the API key; every request must then send Authorization: Bearer KEY (the key is "
     "never logged)"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N",
     "sequences decoded together, from all clients (KV cache slots; default 8)"},
    {"context", ANC_OPT_COUNT, 0, 0, offsetof(T, context), NULL, "N",
     "tokens per sequence, prompt + reply (default: the model's max_position_embeddings, at most 4096)"},
    {"max-body-bytes", ANC_OPT_COUNT, 0, 0, offsetof(T, max_body_bytes), "4194304", "N",
     "larger request bodies get 413 (default 4 MiB)"},
    {"max-prompt-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_prompt_tokens), NULL, "N",
     "longer prompts get 400 context_length_exceeded (default: --context - 1)"},
    {"max-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_tokens), "4096", "N",
     "largest max_tokens a request may ask (400 beyond), and the default; replies also end at --context (default 4096)"},
    {"max-concurrent", ANC_OPT_COUNT, 0, 0, offsetof(T, max_concurrent), "64", "N",
     "generation requests queued or decoding at once; more get 429 with Retry-After (default 64)"},
    {"max-connections", ANC_OPT_COUNT, 0, 0, offsetof(T, max_connections), "256", "N", "open connections at most (default 256)"},
    {"seed", ANC_OPT_INT, 0, 0, offsetof(T, seed), "-1", "S",
     "requests without a seed sample with S xor their serial number (default -1: S from the clock)"},
    {0},
};
#undef T

void anc_serve_opts_init(anc_serve_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_serve_option_table, o, &err); /* the table's literals */
}

/* The folder's last component (without trailing slashes), malloc'd. */
static char *folder_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char *s = malloc(n - b + 1);
    if (s) {
        memcpy(s, dir + b, n - b);
        s[n - b] = '\0';
    }
    return s;
}

static anc_status check_opts(const anc_serve_opts *o, anc_error *err) {
    if (!o->model) return anc_error_set(err, ANC_ERR_INVALID, "serve needs a model (--model DIR)");
    if (o->port > 65535) return anc_error_set(err, ANC_ERR_INVALID, "serve: --port %ld is not in 0..65535", o->port);
    if (o->parallel < 1 || o->max_tokens < 1 || o->max_concurrent < 1 || o->max_connections < 1 || o->max_body_bytes < 1)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "serve: --parallel, --max-tokens, --max-concurrent, --max-connections and --max-body-bytes "
                             "must be >= 1");
    return ANC_OK;
}

typedef struct serve_run {
    anc_model *m;
    anc_tokenizer *tok;
    anc_template *tmpl;
    char *name;
} serve_run;

static void serve_run_free(serve_run *r) {
    anc_template_free(r->tmpl);
    anc_tokenizer_free(r->tok);
    anc_model_free(r->m);
    free(r->name);
}

/* The server's settings from o and the model. */
static anc_status server_config(const anc_serve_opts *o, serve_run *r, const char *key, anc_server_config *c,
                                anc_error *err) {
    int mpe = r->m->cfg.max_position_embeddings;
    long ctx = o->context ? o->context : (mpe < 4096 ? mpe : 4096);
    if (ctx < 2 || ctx > mpe)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: --context %ld is not in 2..%d (the model's max_position_embeddings)",
                             ctx, mpe);
    long mpt = o->max_prompt_tokens ? o->max_prompt_tokens : ctx - 1;
    if (mpt >= ctx)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: --max-prompt-tokens %ld must be below --context %ld", mpt, ctx);
    memset(c, 0, sizeof *c);
    c->host = o->host;
    c->port = (int)o->port;
    c->api_key = key;
    c->model_name = r->name;
    c->parallel = (int)o->parallel;
    c->context = (int)ctx;
    c->max_body = (size_t)o->max_body_bytes;
    c->max_prompt_tokens = mpt;
    c->max_tokens = o->max_tokens;
    c->max_concurrent = o->max_concurrent;
    c->max_connections = (int)o->max_connections;
    c->seed = o->seed >= 0 ? (uint64_t)o->seed : (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    return ANC_OK;
}

static anc_status load(const anc_serve_opts *o, serve_run *r, anc_error *err) {
    if (anc_model_load_adapted(&r->m, o->model, o->adapter, err) || anc_tokenizer_load_dir(&r->tok, o->model, err) ||
        anc_chat_template_resolve(r->tok, o->chat_template, &r->tmpl, err) || (o->bf16 && anc_model_set_bf16(r->m, 1, err)))
        return err->code;
    r->name = o->served_name && *o->served_name ? strdup(o->served_name) : folder_name(o->model);
    if (!r->name) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return ANC_OK;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

anc_status anc_serve_run(const anc_serve_opts *o, const anc_flow_hooks *hooks, const volatile sig_atomic_t *stop,
                         anc_serve_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (check_opts(o, err)) return err->code;
    const char *key = NULL;
    if (o->api_key_env && *o->api_key_env) {
        key = getenv(o->api_key_env);
        if (!key || !*key)
            return anc_error_set(err, ANC_ERR_INVALID, "serve: --api-key-env %s: the environment variable is not set",
                                 o->api_key_env);
    }
    serve_run r;
    memset(&r, 0, sizeof r);
    anc_server_config sc;
    anc_server *srv = NULL;
    int32_t stops[16];
    anc_status st = load(o, &r, err);
    if (!st) st = server_config(o, &r, key, &sc, err);
    if (!st) {
        int n_stop = anc_stop_ids(o->model, r.tok, stops, 16);
        st = anc_server_start(&srv, r.m, r.tok, r.tmpl, stops, n_stop, &sc, err);
    }
    if (st) {
        serve_run_free(&r);
        return st;
    }
    res->port = anc_server_port(srv);
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    int v6 = strchr(host, ':') != NULL;
    anc_flow_note(hooks, "serving %s: %d sequences decoded together, context %d tokens, %s%s", r.name, sc.parallel,
                  sc.context, key ? "API key required" : "no API key (loopback only)",
                  r.tmpl ? "" : "; no chat template: /v1/completions only");
    anc_flow_note(hooks, "listening on http://%s%s%s:%d/v1", v6 ? "[" : "", host, v6 ? "]" : "", res->port);
    while (!*stop) sleep_ms(50);
    anc_server_stats ss;
    anc_server_get_stats(srv, &ss);
    anc_flow_note(hooks, "stopping: no new connections; %zu request%s in flight finish first", ss.in_flight,
                  ss.in_flight == 1 ? "" : "s");
    anc_server_quiesce(srv);
    while (*stop < 2 && !anc_server_wait_idle(srv, 100)) {
    }
    anc_server_get_stats(srv, &ss);
    if (ss.in_flight)
        anc_flow_note(hooks, "stopping now (a second signal): %zu request%s in flight cut off", ss.in_flight,
                      ss.in_flight == 1 ? "" : "s");
    anc_server_free(srv);
    res->served = ss.served;
    res->refused = ss.refused;
    res->tokens = ss.tokens;
    serve_run_free(&r);
    return ANC_OK;
}
