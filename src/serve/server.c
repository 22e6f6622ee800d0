/* The server's endpoints (server.h): routing, a request's prompts as token
 * ids, its job in the continuous batch, the whole (non-streamed) reply. */
#include "serve/serve_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/deadline.h"
#include "core/strbuf.h"
#include "data/dataset.h"

/* ---- stop strings (the decoding thread) ---- */

typedef struct job_user {
    const anc_tokenizer *tok;
    char *stops[ANC_OAI_MAX_STOP];
    int n_stop;
} job_user;

static void job_user_free(void *p) {
    job_user *u = p;
    if (!u) return;
    for (int i = 0; i < u->n_stop; i++) free(u->stops[i]);
    free(u);
}

/* As `anchor generate`'s stop_on_string: the decoded text of the last 16
 * tokens holds a stop string. */
static int stop_on_string(void *ctx, void *user, const int32_t *ids, int n) {
    (void)ctx;
    job_user *u = user;
    if (!u || !u->n_stop) return 0;
    int from = n > 16 ? n - 16 : 0;
    char *text = NULL;
    size_t len = 0;
    anc_error err = {0};
    if (anc_tokenizer_decode(u->tok, ids + from, (size_t)(n - from), 0, &text, &len, &err)) return 0;
    int hit = 0;
    for (int i = 0; i < u->n_stop && !hit; i++) hit = strstr(text, u->stops[i]) != NULL;
    free(text);
    return hit;
}

char *anc_serve_final_text(const anc_serve_call *c, int q, const char **finish) {
    const anc_sched_seq *sq = &c->job->seqs[q];
    char *text = NULL;
    size_t len = 0;
    anc_error err = {0};
    if (anc_tokenizer_decode(c->s->tok, sq->ids, (size_t)sq->n, 1, &text, &len, &err)) return NULL;
    *finish = sq->stopped ? "stop" : "length";
    for (int k = 0; k < c->n_stop; k++) {
        char *hit = strstr(text, c->stops[k]);
        if (hit) {
            *hit = '\0';
            *finish = "stop";
        }
    }
    return text;
}

/* ---- replies ---- */

static void reply_json(anc_http_reply *rep, int status, json_t *j) {
    rep->status = status;
    rep->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    rep->len = rep->body ? strlen(rep->body) : 0;
    if (!rep->body) rep->status = 500;
    json_decref(j);
}

void anc_serve_reply_error(anc_server *s, anc_http_reply *rep, const anc_oai_error *e) {
    rep->status = e->status;
    rep->body = anc_oai_error_json(e);
    rep->len = rep->body ? strlen(rep->body) : 0;
    if (e->status == 429) rep->retry_after = 1;
    pthread_mutex_lock(&s->mu);
    s->refused++;
    pthread_mutex_unlock(&s->mu);
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* splitmix64's finaliser: ids that differ between server runs. */
static uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void anc_serve_call_end(anc_serve_call *c, int ok) {
    anc_server *s = c->s;
    anc_sched_release(s->sched, c->job);
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    if (ok) s->served++; /* an error reply was counted by anc_serve_reply_error */
    if (s->in_flight == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    free(c);
}

/* ---- prompts ---- */

/* Prompt p of request r as token ids (*ids malloc'd). Encoding is
 * serialised: the tokenizer's word cache is not thread-safe. */
static int prompt_ids(anc_server *s, const anc_oai_request *r, size_t p, int32_t **ids, size_t *n, anc_oai_error *e) {
    *ids = NULL;
    *n = 0;
    const json_t *src = r->kind == ANC_OAI_CHAT ? r->messages : json_array_get(r->prompts, p);
    if (json_is_array(src) && r->kind == ANC_OAI_COMPLETION) {
        size_t k = json_array_size(src);
        if (!(*ids = malloc(sizeof(int32_t) * k))) return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        for (size_t i = 0; i < k; i++) {
            json_int_t v = json_integer_value(json_array_get(src, i));
            if (v < 0 || v >= s->m->cfg.vocab_size) {
                free(*ids);
                *ids = NULL;
                return anc_oai_fail(e, 400, "invalid_request_error", "prompt", "invalid_value",
                                    "Invalid 'prompt': token id %lld is outside the vocabulary of %d.", (long long)v,
                                    s->m->cfg.vocab_size);
            }
            (*ids)[i] = (int32_t)v;
        }
        *n = k;
        return 0;
    }
    anc_error err = {0};
    pthread_mutex_lock(&s->encode_mu);
    anc_status st = anc_prompt_ids(s->tok, r->kind == ANC_OAI_CHAT ? s->tmpl : NULL, src, ids, n, &err);
    pthread_mutex_unlock(&s->encode_mu);
    if (st)
        return anc_oai_fail(e, 400, "invalid_request_error", r->kind == ANC_OAI_CHAT ? "messages" : "prompt", NULL,
                            "The prompt could not be rendered: %s", err.message);
    return 0;
}

/* Fills the job's sequences (prompt p's choice j is sequence p*n + j with
 * random stream p*n + j, as anchor generate numbers them). */
static int fill_job(anc_server *s, const anc_oai_request *r, anc_serve_call *c, anc_oai_error *e) {
    size_t n_prompts = r->kind == ANC_OAI_CHAT ? 1 : json_array_size(r->prompts);
    const char *param = r->kind == ANC_OAI_CHAT ? "messages" : "prompt";
    for (size_t p = 0; p < n_prompts; p++) {
        int32_t *ids = NULL;
        size_t n = 0;
        int st = prompt_ids(s, r, p, &ids, &n, e);
        if (st) return st;
        if (n == 0) {
            free(ids);
            return anc_oai_fail(e, 400, "invalid_request_error", param, "invalid_value", "The prompt encodes to no tokens.");
        }
        if ((long)n > s->cfg.max_prompt_tokens) {
            free(ids);
            return anc_oai_fail(e, 400, "invalid_request_error", param, "context_length_exceeded",
                                "This model's maximum context length is %d tokens, of which prompts may take %ld. "
                                "However, your %s resulted in %zu tokens. Please reduce the length of the %s.",
                                s->cfg.context, s->cfg.max_prompt_tokens, r->kind == ANC_OAI_CHAT ? "messages" : "prompt",
                                n, param);
        }
        c->prompt_tokens += (int64_t)n;
        long want = r->max_tokens > 0 ? r->max_tokens : s->cfg.max_tokens, room = s->cfg.context - (long)n;
        for (int j = 0; j < r->n; j++) {
            anc_sched_seq *q = &c->job->seqs[p * (size_t)r->n + (size_t)j];
            q->prompt = malloc(sizeof(int32_t) * n);
            if (!q->prompt) {
                free(ids);
                return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
            }
            memcpy(q->prompt, ids, sizeof(int32_t) * n);
            q->n_prompt = (int)n;
            q->stream = (uint64_t)(p * (size_t)r->n + (size_t)j);
            q->budget = (int)(want < room ? want : room);
            q->capped = want > room;
        }
        free(ids);
    }
    return 0;
}

/* A new call for r: counted against max_concurrent (429 beyond), its job
 * built and queued. */
static int start_call(anc_server *s, anc_oai_request *r, anc_serve_call **out, anc_oai_error *e) {
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int busy = (long)s->in_flight >= s->cfg.max_concurrent;
    uint64_t serial = ++s->serial;
    if (!busy) s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    if (busy)
        return anc_oai_fail(e, 429, "requests", NULL, "rate_limit_exceeded",
                            "This server decodes at most %ld requests at once (--max-concurrent); retry shortly.",
                            s->cfg.max_concurrent);
    size_t n_prompts = r->kind == ANC_OAI_CHAT ? 1 : json_array_size(r->prompts);
    anc_serve_call *c = calloc(1, sizeof *c);
    job_user *u = calloc(1, sizeof *u);
    if (c) c->s = s;
    if (c && u) c->job = anc_sched_job_new((int)(n_prompts * (size_t)r->n));
    if (!c || !u || !c->job) {
        free(u);
        if (c) anc_serve_call_end(c, 0);
        else {
            pthread_mutex_lock(&s->mu);
            s->in_flight--;
            pthread_mutex_unlock(&s->mu);
        }
        return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    u->tok = s->tok;
    for (int i = 0; i < r->n_stop; i++) { /* moved from the request */
        u->stops[i] = r->stop[i];
        r->stop[i] = NULL;
    }
    u->n_stop = r->n_stop;
    r->n_stop = 0;
    c->job->user = u;
    c->job->user_free = job_user_free;
    c->stops = u->stops;
    c->n_stop = u->n_stop;
    c->kind = r->kind;
    c->created = now_s();
    c->include_usage = r->include_usage;
    snprintf(c->id, sizeof c->id, "%s-%016llx%08llx", r->kind == ANC_OAI_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)mix64(s->cfg.seed + (uint64_t)s->started), (unsigned long long)serial);
    c->job->sampling.temperature = (float)r->temperature;
    c->job->sampling.top_p = (float)r->top_p;
    c->job->sampling.top_k = (int)r->top_k;
    c->job->wake_on_token = r->stream; /* a whole reply waits for the ends only */
    c->job->seed = r->has_seed ? (uint64_t)r->seed : s->cfg.seed ^ (0xBF58476D1CE4E5B9ull * serial);
    int st = fill_job(s, r, c, e);
    anc_error err = {0};
    if (!st && anc_sched_submit(s->sched, c->job, &err))
        st = anc_oai_fail(e, 503, "server_error", NULL, NULL, "%s", err.message);
    if (st) {
        anc_serve_call_end(c, 0);
        return st;
    }
    *out = c;
    return 0;
}

/* Waits for every choice and builds the whole reply; a client that hangs
 * up meanwhile has its job cancelled (its sequences leave the batch). */
static void whole_reply(anc_serve_call *c, const anc_http_request *req, anc_http_reply *rep) {
    anc_sched_job *j = c->job;
    uint64_t version = 0;
    while (!anc_sched_wait(c->s->sched, j, &version, NULL, NULL, 50)) {
        if (anc_http_client_gone(req)) {
            anc_serve_call_end(c, 0);
            rep->status = 499; /* nginx's "client closed request": nobody reads it */
            return;
        }
    }
    if (j->status) {
        anc_oai_error e;
        anc_oai_fail(&e, 500, "server_error", NULL, NULL, "Decoding failed: %s", j->error);
        anc_serve_reply_error(c->s, rep, &e);
        anc_serve_call_end(c, 0);
        return;
    }
    anc_oai_choice *ch = calloc((size_t)j->n_seqs, sizeof *ch);
    char **texts = calloc((size_t)j->n_seqs, sizeof *texts);
    int64_t completion = 0;
    int ok = ch && texts;
    for (int q = 0; ok && q < j->n_seqs; q++) {
        ok = (texts[q] = anc_serve_final_text(c, q, &ch[q].finish_reason)) != NULL;
        ch[q].text = texts[q];
        completion += j->seqs[q].n;
    }
    json_t *o = ok ? anc_oai_reply(c->kind, c->id, c->created, c->s->name, ch, j->n_seqs, c->prompt_tokens, completion)
                   : NULL;
    reply_json(rep, 200, o);
    if (rep->status != 200) {
        free(rep->body);
        anc_oai_error e;
        anc_oai_fail(&e, 500, "server_error", NULL, NULL, "out of memory building the reply");
        anc_serve_reply_error(c->s, rep, &e);
    }
    for (int q = 0; texts && q < j->n_seqs; q++) free(texts[q]);
    free(texts);
    free(ch);
    anc_serve_call_end(c, rep->status == 200);
}

static void generation(anc_server *s, anc_oai_kind kind, const anc_http_request *req, anc_http_reply *rep) {
    anc_oai_request r;
    anc_oai_error e;
    if (anc_oai_parse(req->body, req->body_len, kind, s->cfg.max_tokens, &r, &e)) {
        anc_serve_reply_error(s, rep, &e);
        return;
    }
    int st = 0;
    if (r.model && *r.model && strcmp(r.model, s->name) != 0)
        st = anc_oai_fail(&e, 404, "invalid_request_error", "model", "model_not_found",
                          "The model '%s' does not exist; this server serves '%s'.", r.model, s->name);
    else if (kind == ANC_OAI_CHAT && !s->tmpl)
        st = anc_oai_fail(&e, 400, "invalid_request_error", "messages", NULL,
                          "The model has no chat template; use /v1/completions or start anchor serve with --chat-template.");
    anc_serve_call *c = NULL;
    if (!st) st = start_call(s, &r, &c, &e);
    int stream = r.stream;
    anc_oai_request_free(&r);
    if (st) {
        anc_serve_reply_error(s, rep, &e);
        return;
    }
    if (stream) anc_serve_stream(c, rep);
    else whole_reply(c, req, rep);
}

/* ---- the other endpoints ---- */

static json_t *model_obj(anc_server *s) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", s->name, "object", "model", "created", (json_int_t)s->started,
                     "owned_by", "anchor");
}

static void health(anc_server *s, anc_http_reply *rep) {
    anc_sched_stats ss;
    anc_sched_get_stats(s->sched, &ss);
    anc_server_stats st;
    anc_server_get_stats(s, &st);
    reply_json(rep, 200,
               json_pack("{s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:I}", "status", "ok", "model", s->name, "requests_in_flight",
                         (json_int_t)st.in_flight, "sequences_active", ss.active, "sequences_queued",
                         (json_int_t)ss.queued, "requests_served", (json_int_t)st.served, "tokens_generated",
                         (json_int_t)ss.tokens, "decode_steps", (json_int_t)ss.steps));
}

static void route(void *ctx, const anc_http_request *req, anc_http_reply *rep) {
    anc_server *s = ctx;
    const char *u = req->url;
    int get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
    anc_oai_error e;
    if (!strcmp(u, "/v1/chat/completions") || !strcmp(u, "/v1/completions")) {
        if (post) return generation(s, u[4] == 'c' && u[5] == 'h' ? ANC_OAI_CHAT : ANC_OAI_COMPLETION, req, rep);
    } else if (!strcmp(u, "/health")) {
        if (get) return health(s, rep);
    } else if (!strcmp(u, "/v1/models")) {
        if (get) return reply_json(rep, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", model_obj(s)));
    } else if (!strncmp(u, "/v1/models/", 11)) {
        if (get && !strcmp(u + 11, s->name)) return reply_json(rep, 200, model_obj(s));
        if (get) {
            anc_oai_fail(&e, 404, "invalid_request_error", "model", "model_not_found", "The model '%s' does not exist.", u + 11);
            return anc_serve_reply_error(s, rep, &e);
        }
    } else {
        anc_oai_fail(&e, 404, "invalid_request_error", NULL, NULL, "Invalid URL (%s %s)", req->method, u);
        return anc_serve_reply_error(s, rep, &e);
    }
    anc_oai_fail(&e, 405, "invalid_request_error", NULL, NULL, "Method %s is not allowed for %s.", req->method, u);
    anc_serve_reply_error(s, rep, &e);
}

/* ---- life cycle ---- */

anc_status anc_server_start(anc_server **out, const anc_model *m, anc_tokenizer *tok, const anc_template *tmpl,
                            const int32_t *stop_ids, int n_stop, const anc_server_config *cfg, anc_error *err) {
    *out = NULL;
    if (cfg->context < 2 || cfg->context > m->cfg.max_position_embeddings)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: context %d is not in 2..%d (the model's max_position_embeddings)",
                             cfg->context, m->cfg.max_position_embeddings);
    if (cfg->max_prompt_tokens < 1 || cfg->max_prompt_tokens >= cfg->context || cfg->max_tokens < 1 ||
        cfg->max_concurrent < 1 || cfg->max_body < 1)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "serve: expected 1 <= max prompt tokens (%ld) < context (%d), max tokens >= 1, max "
                             "concurrent >= 1 and a body limit >= 1 byte",
                             cfg->max_prompt_tokens, cfg->context);
    anc_server *s = calloc(1, sizeof *s);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->cfg.api_key = NULL;
    s->name = strdup(cfg->model_name && *cfg->model_name ? cfg->model_name : "anchor");
    s->m = m;
    s->tok = tok;
    s->tmpl = tmpl;
    s->started = now_s();
    pthread_mutex_init(&s->encode_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (!s->name) {
        anc_server_free(s);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    /* the threads started here (and libmicrohttpd's, which inherit their
     * creator's mask) take no signals: the program's handlers run on its own
     * threads, e.g. the CLI's SIGTERM flag on the thread polling it */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    anc_sched_config sc = {m, cfg->parallel, cfg->context, stop_ids, n_stop, stop_on_string, s};
    anc_status st = anc_sched_start(&s->sched, &sc, err);
    if (!st) {
        anc_http_config hc = {cfg->host, cfg->port, cfg->api_key, cfg->max_body,
                              cfg->max_connections > 0 ? cfg->max_connections : 256, route, s};
        st = anc_http_start(&s->http, &hc, err);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st) {
        anc_server_free(s);
        return st;
    }
    *out = s;
    return ANC_OK;
}

int anc_server_port(const anc_server *s) { return anc_http_port(s->http); }

void anc_server_get_stats(anc_server *s, anc_server_stats *st) {
    pthread_mutex_lock(&s->mu);
    st->in_flight = s->in_flight;
    st->served = s->served;
    st->refused = s->refused;
    pthread_mutex_unlock(&s->mu);
    st->refused += anc_http_refused(s->http);
    anc_sched_stats ss;
    anc_sched_get_stats(s->sched, &ss);
    st->tokens = ss.tokens;
}

void anc_server_quiesce(anc_server *s) { anc_http_quiesce(s->http); }

int anc_server_wait_idle(anc_server *s, int timeout_ms) {
    if (!anc_http_wait_idle(s->http, timeout_ms)) return 0;
    /* a streamed reply's call ends when libmicrohttpd releases the reply,
     * which may come just after the request counted as complete */
    struct timespec until;
    anc_deadline_after_ms(&until, timeout_ms < 0 ? 365L * 24 * 3600 * 1000 : timeout_ms + 1000L);
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &until) != 0) break;
    int idle = s->in_flight == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void anc_server_free(anc_server *s) {
    if (!s) return;
    anc_http_stop(s->http);   /* connection threads joined: no caller holds a job any more */
    anc_sched_stop(s->sched);
    pthread_mutex_destroy(&s->encode_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s->name);
    free(s);
}
