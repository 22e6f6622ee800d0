/* The generate step (generate.h): its option table and the run (prompt rows
 * -> requests, resume from OUT.partial, decoding, the output rows). */
#include "flow/generate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/hash.h"
#include "data/dataset.h"
#include "data/jsonl.h"
#include "flow/gen_partial.h"
#include "llm/local.h"
#include "model/generate.h"
#include "model/lora.h"

#define T anc_generate_opts
const anc_option anc_generate_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR", "model folder (weights + tokenizer)"},
    {"prompts", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, prompts), NULL, "FILE",
     "JSONL rows with \"prompt\" (string or messages), \"messages\", or \"prompt_ids\""},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "output JSONL: the row's prompt and id, completion, sample_index, finish_reason, token counts"},
    {"temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, temperature), "0.7", "T", "sampling temperature; 0 = greedy (default 0.7)"},
    {"top-p", ANC_OPT_FLOAT, 0, 0, offsetof(T, top_p), "1", "P", "nucleus sampling (default 1 = off)"},
    {"top-k", ANC_OPT_COUNT, 0, 0, offsetof(T, top_k), NULL, "K", "top-k sampling (default 0 = off)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N", "tokens per completion at most (default 256)"},
    {"samples-per-prompt", ANC_OPT_COUNT, 0, 0, offsetof(T, samples_per_prompt), "1", "N",
     "completions per prompt (default 1; 2 for judge pairs)"},
    {"seed", ANC_OPT_INT, 0, 0, offsetof(T, seed), NULL, "S",
     "random seed (default 0); each completion has its own stream, so --parallel changes only float rounding (rarely a near-tie token)"},
    {"stop", ANC_OPT_LIST, 0, 0, offsetof(T, stop), NULL, "STR", "stop when this text appears (repeatable); EOS always stops"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "sequences decoded together (default 8)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "override the tokenizer's chat template"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL,
     "matrix products in bf16 with fp32 accumulation (bf16 weight copy beside the fp32 one)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR", "PEFT LoRA adapter merged into --model before decoding"},
    {0},
};
#undef T

void anc_generate_opts_init(anc_generate_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_generate_option_table, o, &err); /* the table's literals */
}

/* ---- the run ---- */

typedef struct stop_ctx {
    const anc_tokenizer *tok;
    const anc_opt_list *stops;
} stop_ctx;

/* Stops when the decoded text of the last few tokens holds a stop string. */
static int stop_on_string(void *ctx, int req, const int32_t *ids, int n) {
    (void)req;
    stop_ctx *sc = ctx;
    if (!sc->stops->n) return 0;
    int from = n > 16 ? n - 16 : 0;
    char *text = NULL;
    size_t len = 0;
    anc_error err = {0};
    if (anc_tokenizer_decode(sc->tok, ids + from, (size_t)(n - from), 0, &text, &len, &err)) return 0;
    int hit = 0;
    for (int i = 0; i < sc->stops->n && !hit; i++) hit = strstr(text, sc->stops->v[i]) != NULL;
    free(text);
    return hit;
}

typedef struct gen_run {
    const anc_generate_opts *o;
    const anc_flow_hooks *hooks;
    anc_model *m;
    anc_tokenizer *tok;
    anc_template *tmpl;
    anc_rows rows;
    size_t n_req;              /* rows x samples */
    anc_gen_request *reqs;     /* n_req; prompts point into pids */
    anc_gen_result *res;       /* n_req */
    int32_t **pids;            /* a row's prompt ids */
    unsigned char *done;       /* n_req: kept from OUT.partial */
    size_t n_sub, *map;        /* the requests still to decode: sub-request -> request */
    anc_gen_request *sub;
    anc_gen_result *sub_res;
    anc_gen_partial gp;
    int partial_open;
} gen_run;

static void *calloc_n(size_t n, size_t size) { return calloc(n ? n : 1, size); }

/* Row i's prompt as token ids: "prompt_ids", else "prompt" or "messages"
 * through the chat template. */
static anc_status row_prompt(gen_run *g, size_t i, size_t *n, anc_error *err) {
    const char *path = g->o->prompts;
    json_t *row = g->rows.rows[i];
    json_t *p = json_object_get(row, "prompt");
    if (!p) p = json_object_get(row, "messages");
    anc_status st;
    if (json_object_get(row, "prompt_ids"))
        st = anc_row_ids(row, "prompt_ids", 0, g->m->cfg.vocab_size, &g->pids[i], n, path, g->rows.lines[i], err);
    else if (!p)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\", \"messages\" or \"prompt_ids\"", path,
                           g->rows.lines[i]);
    else if ((st = anc_prompt_ids(g->tok, g->tmpl, p, &g->pids[i], n, err)))
        anc_error_prefix(err, "%s:%zu", path, g->rows.lines[i]);
    if (!st && *n == 0) st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt is empty", path, g->rows.lines[i]);
    return st;
}

/* One request per row and sample, each with its own random stream. */
static anc_status build_requests(gen_run *g, anc_error *err) {
    size_t samples = (size_t)g->o->samples_per_prompt;
    g->n_req = g->rows.n * samples;
    g->reqs = calloc_n(g->n_req, sizeof *g->reqs);
    g->res = calloc_n(g->n_req, sizeof *g->res);
    g->pids = calloc_n(g->rows.n, sizeof *g->pids);
    if (!g->reqs || !g->res || !g->pids) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < g->rows.n; i++) {
        size_t n = 0;
        anc_status st = row_prompt(g, i, &n, err);
        if (st) return st;
        for (size_t k = 0; k < samples; k++) {
            anc_gen_request *r = &g->reqs[i * samples + k];
            r->prompt = g->pids[i];
            r->n_prompt = (int)n;
            r->stream = i * (uint64_t)samples + (uint64_t)k;
        }
    }
    return ANC_OK;
}

/* The settings that decide the completions, hashed: a partial file of other
 * settings is not continued. */
static anc_status settings_hash(const anc_generate_opts *o, uint64_t *sig, anc_error *err) {
    char *ptext = NULL;
    size_t plen = 0;
    if (anc_read_file(o->prompts, (size_t)8 << 30, &ptext, &plen, err)) return err->code;
    char opts_s[512];
    snprintf(opts_s, sizeof opts_s, "t=%.17g p=%.17g k=%ld n=%ld s=%ld seed=%ld tmpl=%s bf16=%d", o->temperature,
             o->top_p, o->top_k, o->max_new_tokens, o->samples_per_prompt, o->seed,
             o->chat_template ? o->chat_template : "", o->bf16);
    uint64_t h = anc_hash_bytes(ANC_HASH_INIT, o->model, strlen(o->model) + 1);
    h = anc_hash_bytes(h, ptext, plen);
    h = anc_hash_bytes(h, opts_s, strlen(opts_s));
    for (int k = 0; k < o->stop.n; k++) h = anc_hash_bytes(h, o->stop.v[k], strlen(o->stop.v[k]) + 1);
    if (o->adapter) h = anc_hash_bytes(h ^ 0x41444150ull, o->adapter, strlen(o->adapter) + 1); /* "ADAP" */
    free(ptext);
    *sig = h;
    return ANC_OK;
}

/* Completions already finished by an interrupted run with the same settings
 * come from OUT.partial; the rest become the sub-requests to decode. */
static anc_status resume(gen_run *g, size_t *kept, anc_error *err) {
    uint64_t sig = 0;
    if (settings_hash(g->o, &sig, err)) return err->code;
    g->done = calloc_n(g->n_req, 1);
    g->map = calloc_n(g->n_req, sizeof *g->map);
    g->sub = calloc_n(g->n_req, sizeof *g->sub);
    g->sub_res = calloc_n(g->n_req, sizeof *g->sub_res);
    if (!g->done || !g->map || !g->sub || !g->sub_res) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    int other = 0;
    anc_comm *comm = g->o->comm;
    if (anc_comm_rank(comm) == 0) {
        if (anc_gen_partial_open(&g->gp, g->o->out, sig, g->n_req, (int)g->o->max_new_tokens, g->m->cfg.vocab_size,
                                 g->res, g->done, kept, &other, g->hooks, err))
            return err->code;
        g->partial_open = 1;
        if (other) anc_flow_note(g->hooks, "%s was left by a run with other settings; starting over", g->gp.path);
        if (*kept)
            anc_flow_note(g->hooks, "continuing: %zu of %zu completions kept from an interrupted run (%s)", *kept,
                          g->n_req, g->gp.path);
    }
    /* what rank 0 kept is done for every rank */
    if (anc_comm_bcast(comm, g->done, g->n_req, err)) return err->code;
    size_t todo = 0;
    const size_t W = (size_t)anc_comm_size(comm), R = (size_t)anc_comm_rank(comm);
    for (size_t q = 0; q < g->n_req; q++)
        if (!g->done[q] && todo++ % W == R) {
            g->map[g->n_sub] = q;
            g->sub[g->n_sub++] = g->reqs[q];
        }
    return ANC_OK;
}

static void on_done(void *ctx, int req, const anc_gen_result *r) {
    gen_run *g = ctx;
    if (g->partial_open) anc_gen_partial_add(&g->gp, g->map[req], r);
}

/* Under data parallelism: the other ranks' completions to rank 0 (whose
 * own stay in sub_res), as records of int32 words (request index low,
 * high, n, finish, capped, ids...). */
static anc_status collect(gen_run *g, anc_error *err) {
    anc_comm *comm = g->o->comm;
    int W = anc_comm_size(comm);
    if (W <= 1) return ANC_OK;
    const int root = anc_comm_rank(comm) == 0;
    size_t words = 0, sent = root ? 0 : g->n_sub;
    for (size_t j = 0; j < sent; j++) words += 5 + (size_t)g->sub_res[j].n;
    int32_t *rec = malloc(sizeof(int32_t) * (words ? words : 1));
    size_t *lens = malloc(sizeof(size_t) * (size_t)W);
    if (!rec || !lens) {
        free(rec);
        free(lens);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t j = 0; j < sent; j++) {
        const anc_gen_result *r = &g->sub_res[j];
        uint64_t q = g->map[j];
        rec[at++] = (int32_t)(uint32_t)q;
        rec[at++] = (int32_t)(uint32_t)(q >> 32);
        rec[at++] = r->n;
        rec[at++] = (int32_t)r->finish;
        rec[at++] = r->capped;
        if (r->n) memcpy(rec + at, r->ids, sizeof(int32_t) * (size_t)r->n);
        at += (size_t)r->n;
    }
    void *all = NULL;
    anc_status st = anc_comm_gather_bytes(comm, rec, sizeof(int32_t) * words, &all, lens, err);
    free(rec);
    if (!st && root) {
        size_t total = 0;
        for (int r = 0; r < W; r++) total += lens[r];
        const int32_t *w = all;
        size_t nw = total / sizeof(int32_t);
        for (size_t i = 0; !st && i + 5 <= nw;) {
            uint64_t q = (uint64_t)(uint32_t)w[i] | (uint64_t)(uint32_t)w[i + 1] << 32;
            int32_t n = w[i + 2];
            if (q >= g->n_req || n < 0 || (size_t)n > nw - i - 5) {
                st = anc_error_set(err, ANC_ERR_IO, "a completion from another rank is malformed");
                break;
            }
            anc_gen_result *r = &g->res[q];
            free(r->ids);
            r->ids = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
            if (!r->ids) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
                break;
            }
            r->n = n;
            r->finish = (anc_finish_reason)w[i + 3];
            r->capped = w[i + 4];
            if (n) memcpy(r->ids, w + i + 5, sizeof(int32_t) * (size_t)n);
            i += 5 + (size_t)n;
        }
    }
    free(all);
    free(lens);
    return st;
}

static void on_progress(void *ctx, size_t done, size_t total, int64_t tokens) {
    gen_run *g = ctx;
    anc_flow_progress p = {"completions", done, 0, total, tokens};
    anc_flow_progress_report(g->hooks, &p);
}

/* Decodes the sub-requests (the progress clock starts here) and puts their
 * results in place. */
static anc_status decode(gen_run *g, anc_error *err) {
    const anc_generate_opts *o = g->o;
    int32_t stop_list[16];
    stop_ctx sc = {g->tok, &o->stop};
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = (int)o->max_new_tokens;
    gc.sampling.temperature = (float)o->temperature;
    gc.sampling.top_k = (int)o->top_k;
    gc.sampling.top_p = (float)o->top_p;
    gc.stop_ids = stop_list;
    gc.n_stop_ids = anc_stop_ids(o->model, g->tok, stop_list, 16);
    gc.seed = (uint64_t)o->seed;
    gc.parallel = (int)o->parallel;
    gc.stop = o->stop.n ? stop_on_string : NULL;
    gc.stop_ctx = &sc;
    gc.done = on_done;
    gc.done_ctx = g;
    anc_flow_progress start = {"completions", 0, 0, g->n_sub, 0};
    anc_flow_progress_report(g->hooks, &start);
    if (anc_generate(g->m, g->sub, (int)g->n_sub, &gc, g->sub_res, on_progress, g, err)) return err->code;
    if (collect(g, err)) return err->code;
    for (size_t j = 0; j < g->n_sub; j++) {
        g->res[g->map[j]] = g->sub_res[j];
        g->sub_res[j].ids = NULL;
    }
    return ANC_OK;
}

/* Request q's output row: the prompt row's id and prompt, the completion cut
 * at the first stop string, and its counts. */
static anc_status output_row(gen_run *g, size_t q, json_t **out, anc_error *err) {
    const anc_generate_opts *o = g->o;
    json_t *row = g->rows.rows[q / (size_t)o->samples_per_prompt];
    const anc_gen_result *r = &g->res[q];
    char *text = NULL;
    size_t len = 0;
    if (anc_tokenizer_decode(g->tok, r->ids, (size_t)r->n, 1, &text, &len, err)) return err->code;
    const char *reason = r->finish == ANC_FINISH_STOP ? "stop" : "length";
    for (int k = 0; k < o->stop.n; k++) {
        char *hit = strstr(text, o->stop.v[k]);
        if (hit) {
            *hit = '\0';
            reason = "stop";
        }
    }
    json_t *j = json_object();
    json_t *id = json_object_get(row, "id");
    if (id) json_object_set(j, "id", id);
    const char *keys[] = {"prompt", "messages", "prompt_ids"};
    for (int k = 0; k < 3; k++)
        if (json_object_get(row, keys[k])) json_object_set(j, keys[k], json_object_get(row, keys[k]));
    json_object_set_new(j, "completion", json_string(text));
    json_object_set_new(j, "sample_index", json_integer((json_int_t)(q % (size_t)o->samples_per_prompt)));
    json_object_set_new(j, "finish_reason", json_string(reason));
    json_object_set_new(j, "prompt_tokens", json_integer(g->reqs[q].n_prompt));
    json_object_set_new(j, "completion_tokens", json_integer(r->n));
    free(text);
    *out = j;
    return ANC_OK;
}

/* Writes every completion to o->out in request order; *tokens sums them. */
static anc_status write_output(gen_run *g, int64_t *tokens, anc_error *err) {
    const char *out = g->o->out;
    FILE *f = fopen(out, "w");
    if (!f) return anc_error_set(err, ANC_ERR_IO, "%s: cannot write", out);
    for (size_t q = 0; q < g->n_req; q++) {
        json_t *j = NULL;
        if (output_row(g, q, &j, err)) {
            fclose(f);
            return err->code;
        }
        *tokens += g->res[q].n;
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(j);
    }
    if (fclose(f) != 0) return anc_error_set(err, ANC_ERR_IO, "%s: write failed", out);
    return ANC_OK;
}

static anc_status check_opts(const anc_generate_opts *o, anc_error *err) {
    if (!o->model || !o->prompts || !o->out)
        return anc_error_set(err, ANC_ERR_INVALID, "generate needs a model, prompts and an output");
    if (o->max_new_tokens < 1 || o->samples_per_prompt < 1 || o->parallel < 1 || o->temperature < 0)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "generate: max-new-tokens, samples-per-prompt and parallel must be >= 1, temperature >= 0");
    return ANC_OK;
}

static anc_status load(gen_run *g, anc_error *err) {
    const anc_generate_opts *o = g->o;
    if (anc_model_load_adapted(&g->m, o->model, o->adapter, err) || anc_tokenizer_load_dir(&g->tok, o->model, err) ||
        anc_chat_template_resolve(g->tok, o->chat_template, &g->tmpl, err) || anc_rows_load(&g->rows, o->prompts, err) ||
        (o->bf16 && anc_model_set_bf16(g->m, 1, err)))
        return err->code;
    return ANC_OK;
}

static void gen_run_free(gen_run *g) {
    if (g->partial_open) anc_gen_partial_close(&g->gp, 0);
    if (g->sub_res) anc_gen_results_free(g->sub_res, (int)g->n_sub);
    free(g->sub_res);
    free(g->sub);
    free(g->map);
    free(g->done);
    if (g->res) anc_gen_results_free(g->res, (int)g->n_req);
    free(g->res);
    free(g->reqs);
    for (size_t i = 0; g->pids && i < g->rows.n; i++) free(g->pids[i]);
    free(g->pids);
    anc_rows_free(&g->rows);
    anc_template_free(g->tmpl);
    anc_tokenizer_free(g->tok);
    anc_model_free(g->m);
}

anc_status anc_generate_run(const anc_generate_opts *o, const anc_flow_hooks *hooks, anc_generate_result *res,
                            anc_error *err) {
    memset(res, 0, sizeof *res);
    if (check_opts(o, err)) return err->code;
    gen_run g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.hooks = hooks;
    anc_status st = load(&g, err);
    if (!st) st = build_requests(&g, err);
    if (!st && g.n_req > (size_t)INT32_MAX)
        st = anc_error_set(err, ANC_ERR_INVALID, "%zu prompts x --samples-per-prompt %ld is more than %d completions",
                           g.rows.n, o->samples_per_prompt, INT32_MAX);
    if (!st) st = resume(&g, &res->kept, err);
    if (!st) st = decode(&g, err);
    if (!st && anc_comm_rank(o->comm) == 0) {
        /* rank 0 holds every completion */
        for (size_t q = 0; q < g.n_req; q++) res->capped += g.res[q].capped != 0;
        res->context = g.m->cfg.max_position_embeddings;
        res->completions = g.n_req;
        st = write_output(&g, &res->tokens, err);
    }
    /* the others end when rank 0 has written OUT, with its outcome */
    st = anc_comm_agree(o->comm, st, err);
    if (!st) {
        anc_gen_partial_close(&g.gp, 1);
        g.partial_open = 0;
    }
    gen_run_free(&g);
    return st;
}
