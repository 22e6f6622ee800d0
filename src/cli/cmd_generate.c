/* anchor generate: drafts from a model (the first step of CLAIR). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "cli/gen_partial.h"
#include "core/fileutil.h"
#include "core/hash.h"
#include "data/dataset.h"
#include "llm/local.h"
#include "model/generate.h"
#include "model/lora.h"

typedef struct stop_ctx {
    const anc_tokenizer *tok;
    cli_list *stops;
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

/* The settings that decide the completions, hashed: a partial file of other
 * settings is not continued. */
static uint64_t settings_hash(const char *model, const char *prompts_text, size_t prompts_len, const char *opts) {
    uint64_t h = anc_hash_bytes(ANC_HASH_INIT, model, strlen(model) + 1);
    h = anc_hash_bytes(h, prompts_text, prompts_len);
    return anc_hash_bytes(h, opts, strlen(opts));
}

typedef struct done_ctx {
    gen_partial *gp;
    const size_t *map;   /* sub-request -> request */
} done_ctx;

static void on_done(void *ctx, int req, const anc_gen_result *r) {
    done_ctx *dc = ctx;
    gen_partial_add(dc->gp, dc->map[req], r);
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompts = NULL, *out = NULL, *chat_template = NULL, *adapter = NULL;
    double temperature = 0.7, top_p = 1.0;
    long top_k = 0, max_new = 256, samples = 1, seed = 0, parallel = 8;
    int bf16 = 0;
    cli_list stops = {{0}, 0, 0};
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "model folder (weights + tokenizer)"},
        {"prompts", OPT_STR, &prompts, "FILE", "JSONL rows with \"prompt\" (string or messages), \"messages\", or \"prompt_ids\""},
        {"out", OPT_STR, &out, "FILE", "output JSONL: the row's prompt and id, completion, sample_index, finish_reason, token counts"},
        {"temperature", OPT_FLOAT, &temperature, "T", "sampling temperature; 0 = greedy (default 0.7)"},
        {"top-p", OPT_FLOAT, &top_p, "P", "nucleus sampling (default 1 = off)"},
        {"top-k", OPT_COUNT, &top_k, "K", "top-k sampling (default 0 = off)"},
        {"max-new-tokens", OPT_COUNT, &max_new, "N", "tokens per completion at most (default 256)"},
        {"samples-per-prompt", OPT_COUNT, &samples, "N", "completions per prompt (default 1; 2 for judge pairs)"},
        {"seed", OPT_INT, &seed, "S", "random seed (default 0); each completion has its own stream, so --parallel changes only float rounding (rarely a near-tie token)"},
        {"stop", OPT_LIST, &stops, "STR", "stop when this text appears (repeatable); EOS always stops"},
        {"parallel", OPT_COUNT, &parallel, "N", "sequences decoded together (default 8)"},
        {"chat-template", OPT_STR, &chat_template, "NAME|FILE", "override the tokenizer's chat template"},
        {"bf16", OPT_FLAG, &bf16, NULL, "matrix products in bf16 with fp32 accumulation (bf16 weight copy beside the fp32 one)"},
        {"adapter", OPT_STR, &adapter, "DIR", "PEFT LoRA adapter merged into --model before decoding"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "generate", "--model DIR --prompts FILE --out FILE [options]",
                       "Samples completions with a KV cache, several sequences at once.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model || !prompts || !out) return cli_usage_error("generate", "--model, --prompts and --out are required");
    if (max_new < 1 || samples < 1 || parallel < 1 || temperature < 0)
        return cli_usage_error("generate", "--max-new-tokens, --samples-per-prompt and --parallel must be >= 1, --temperature >= 0");

    anc_error err = {0};
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    anc_template *tmpl = NULL;
    anc_rows rows = {0};
    int code = 0;
    anc_gen_request *reqs = NULL;
    anc_gen_result *res = NULL;
    int32_t **pids = NULL;
    size_t n_req = 0, n_sub = 0, *map = NULL;
    FILE *f = NULL;
    unsigned char *done = NULL;
    anc_gen_request *sub = NULL;
    anc_gen_result *sub_res = NULL;
    gen_partial gp = {0};
    int partial_open = 0;
    if (bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    if (anc_model_load_adapted(&m, model, adapter, &err) || anc_tokenizer_load_dir(&tok, model, &err) ||
        anc_chat_template_resolve(tok, chat_template, &tmpl, &err) || anc_rows_load(&rows, prompts, &err) ||
        (bf16 && anc_model_set_bf16(m, 1, &err))) {
        code = cli_fail("generate", &err);
        goto done;
    }
    n_req = rows.n * (size_t)samples;
    reqs = calloc(n_req ? n_req : 1, sizeof *reqs);
    res = calloc(n_req ? n_req : 1, sizeof *res);
    pids = calloc(rows.n ? rows.n : 1, sizeof *pids);
    for (size_t i = 0; i < rows.n; i++) {
        json_t *row = rows.rows[i];
        json_t *p = json_object_get(row, "prompt");
        if (!p) p = json_object_get(row, "messages");
        size_t n = 0;
        anc_status st;
        if (json_object_get(row, "prompt_ids"))
            st = anc_row_ids(row, "prompt_ids", 0, m->cfg.vocab_size, &pids[i], &n, prompts, rows.lines[i], &err);
        else if (!p)
            st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\", \"messages\" or \"prompt_ids\"", prompts, rows.lines[i]);
        else if ((st = anc_prompt_ids(tok, tmpl, p, &pids[i], &n, &err)))
            anc_error_prefix(&err, "%s:%zu", prompts, rows.lines[i]);
        if (!st && n == 0) st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: the prompt is empty", prompts, rows.lines[i]);
        if (st) {
            code = cli_fail("generate", &err);
            goto done;
        }
        for (long k = 0; k < samples; k++) {
            anc_gen_request *r = &reqs[i * (size_t)samples + (size_t)k];
            r->prompt = pids[i];
            r->n_prompt = (int)n;
            r->stream = i * (uint64_t)samples + (uint64_t)k;
        }
    }
    int32_t stop_list[16];
    stop_ctx sc = {tok, &stops};
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = (int)max_new;
    gc.sampling.temperature = (float)temperature;
    gc.sampling.top_k = (int)top_k;
    gc.sampling.top_p = (float)top_p;
    gc.stop_ids = stop_list;
    gc.n_stop_ids = anc_stop_ids(model, tok, stop_list, 16);
    gc.seed = (uint64_t)seed;
    gc.parallel = (int)parallel;
    gc.stop = stops.n ? stop_on_string : NULL;
    gc.stop_ctx = &sc;
    if (n_req > (size_t)INT32_MAX) {
        anc_error_set(&err, ANC_ERR_INVALID, "%zu prompts x --samples-per-prompt %ld is more than %d completions", rows.n, samples, INT32_MAX);
        code = cli_fail("generate", &err);
        goto done;
    }
    {
        /* completions already finished by an interrupted run with the same settings */
        char *ptext = NULL;
        size_t plen = 0;
        if (anc_read_file(prompts, (size_t)8 << 30, &ptext, &plen, &err)) {
            code = cli_fail("generate", &err);
            goto done;
        }
        char opts_s[512];
        snprintf(opts_s, sizeof opts_s, "t=%.17g p=%.17g k=%ld n=%ld s=%ld seed=%ld tmpl=%s bf16=%d", temperature, top_p, top_k,
                 max_new, samples, seed, chat_template ? chat_template : "", bf16);
        uint64_t sig = settings_hash(model, ptext, plen, opts_s);
        for (int k = 0; k < stops.n; k++) sig = anc_hash_bytes(sig, stops.v[k], strlen(stops.v[k]) + 1);
        if (adapter) sig = anc_hash_bytes(sig ^ 0x41444150ull, adapter, strlen(adapter) + 1);  /* "ADAP" */
        free(ptext);
        done = calloc(n_req ? n_req : 1, 1);
        map = calloc(n_req ? n_req : 1, sizeof *map);
        sub = calloc(n_req ? n_req : 1, sizeof *sub);
        sub_res = calloc(n_req ? n_req : 1, sizeof *sub_res);
        size_t kept = 0;
        int other = 0;
        if (!done || !map || !sub || !sub_res) anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        if (!done || !map || !sub || !sub_res ||
            gen_partial_open(&gp, out, sig, n_req, (int)max_new, m->cfg.vocab_size, res, done, &kept, &other, &err)) {
            code = cli_fail("generate", &err);
            goto done;
        }
        partial_open = 1;
        if (other) fprintf(stderr, "anchor generate: %s was left by a run with other settings; starting over\n", gp.path);
        if (kept)
            fprintf(stderr, "anchor generate: continuing: %zu of %zu completions kept from an interrupted run (%s)\n", kept, n_req,
                    gp.path);
        for (size_t q = 0; q < n_req; q++)
            if (!done[q]) {
                map[n_sub] = q;
                sub[n_sub++] = reqs[q];
            }
    }
    done_ctx dctx = {&gp, map};
    gc.done = on_done;
    gc.done_ctx = &dctx;
    cli_progress prog;
    cli_progress_init(&prog, "generate", "completions");
    if (anc_generate(m, sub, (int)n_sub, &gc, sub_res, cli_progress_cb, &prog, &err)) {
        code = cli_fail("generate", &err);
        goto done;
    }
    cli_progress_done(&prog);
    for (size_t j = 0; j < n_sub; j++) {
        res[map[j]] = sub_res[j];
        sub_res[j].ids = NULL;
    }
    {
        size_t capped = 0;
        for (size_t q = 0; q < n_req; q++) capped += res[q].capped != 0;
        if (capped)
            fprintf(stderr, "anchor generate: note: %zu of %zu completions stopped at the model's context of %d positions "
                            "(max_position_embeddings), before --max-new-tokens %ld\n",
                    capped, n_req, m->cfg.max_position_embeddings, max_new);
    }
    f = fopen(out, "w");
    if (!f) {
        anc_error_set(&err, ANC_ERR_IO, "%s: cannot write", out);
        code = cli_fail("generate", &err);
        goto done;
    }
    long total = 0;
    for (size_t q = 0; q < n_req; q++) {
        size_t i = q / (size_t)samples;
        json_t *row = rows.rows[i];
        char *text = NULL;
        size_t len = 0;
        if (anc_tokenizer_decode(tok, res[q].ids, (size_t)res[q].n, 1, &text, &len, &err)) {
            code = cli_fail("generate", &err);
            goto done;
        }
        const char *reason = res[q].finish == ANC_FINISH_STOP ? "stop" : "length";
        for (int k = 0; k < stops.n; k++) {
            char *hit = strstr(text, stops.v[k]);
            if (hit) {
                *hit = '\0';
                reason = "stop";
            }
        }
        json_t *o = json_object();
        json_t *id = json_object_get(row, "id");
        if (id) json_object_set(o, "id", id);
        const char *keys[] = {"prompt", "messages", "prompt_ids"};
        for (int k = 0; k < 3; k++)
            if (json_object_get(row, keys[k])) json_object_set(o, keys[k], json_object_get(row, keys[k]));
        json_object_set_new(o, "completion", json_string(text));
        json_object_set_new(o, "sample_index", json_integer((json_int_t)(q % (size_t)samples)));
        json_object_set_new(o, "finish_reason", json_string(reason));
        json_object_set_new(o, "prompt_tokens", json_integer(reqs[q].n_prompt));
        json_object_set_new(o, "completion_tokens", json_integer(res[q].n));
        total += res[q].n;
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", line);
        free(line);
        free(text);
        json_decref(o);
    }
    if (fclose(f) != 0) {
        f = NULL;
        anc_error_set(&err, ANC_ERR_IO, "%s: write failed", out);
        code = cli_fail("generate", &err);
        goto done;
    }
    f = NULL;
    gen_partial_close(&gp, 1);
    partial_open = 0;
    fprintf(stderr, "anchor generate: %zu completions, %ld tokens -> %s\n", n_req, total, out);
done:
    if (f) fclose(f);
    if (partial_open) gen_partial_close(&gp, 0);
    if (sub_res) anc_gen_results_free(sub_res, (int)n_sub);
    free(sub_res);
    free(sub);
    free(map);
    free(done);
    if (res) anc_gen_results_free(res, (int)n_req);
    free(res);
    free(reqs);
    for (size_t i = 0; pids && i < rows.n; i++) free(pids[i]);
    free(pids);
    anc_rows_free(&rows);
    anc_template_free(tmpl);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    return code;
}
