/* anchor's GGUF files in real llama.cpp (node-llama-cpp 3.21.1, its
 * prebuilt CPU build, driven by tests/js/llamacpp_greedy.mjs): greedy
 * decoding from the same prompt ids gives the tokens `anchor generate
 * --temperature 0` gives, token for token for f32 and f16 exports; for
 * q8_0 (llama.cpp also rounds the activations to 8 bits there) anchor's
 * argmax after the prompt and llama.cpp's own first k tokens is llama.cpp's
 * token k at >= 61 of 64 positions (95%, teacher-forced, so one near-tie
 * does not count for every later position; the free-running agreement is
 * printed); llama.cpp tokenizes texts into
 * the ids anchor's tokenizer gives; along llama.cpp's tokens, the
 * log-probabilities of its 8 most likely next tokens (renormalised over
 * those 8) match anchor's within the bounds below; and a GGUF written by llama.cpp's own
 * tools (the shared llama-2-tiny-random.gguf), imported with `anchor
 * convert --from gguf`, decodes in anchor as in llama.cpp.
 *
 * Models: the real stories260K (llama2.c, converted; architecture llama,
 * tied embeddings, GQA, its SentencePiece-style vocabulary) and a random
 * Qwen2-shaped model (q/k/v biases, untied head) with the GPT-2 byte-level
 * tokenizer of phi-2. For f16 and q8_0 anchor decodes the model imported
 * back from the same GGUF (so both sides hold the same rounded weights);
 * the agreement of the f16 export with the original fp32 model is printed.
 * The llama.cpp side keeps its KV cache in f32.
 *
 * Skips with a message when node, scripts/clients/node_modules/node-llama-cpp
 * (scripts/install-clients.sh) or the shared fixtures are absent. */
#define _GNU_SOURCE
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/gguf_model.h"
#include "io/gguf_write.h"
#include "llm/local.h"
#include "model/generate.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#define N_NEW 64
#define Q8_MIN_AGREE 61 /* of 64: >= 95% */
#define TOP_K 8         /* llama.cpp's most likely tokens compared per position */
/* Bounds on |log p anchor - log p llama.cpp| (teacher-forced, llama.cpp's
 * top tokens) with the same weights on both sides. Measured: f32 ~2e-5
 * (summation order); f16 ~8e-3 (llama.cpp rounds activations to f16 for
 * f16 products); q8_0 ~0.26 (activations to 8 bits). A q/k rotary layout
 * that llama.cpp reads differently gives ~4 even where the greedy tokens
 * still agree. */
#define TOL_F32 1e-3
#define TOL_F16 5e-2
#define TOL_Q8 1.0

/* The node_modules folder holding node-llama-cpp, or NULL (skip). */
static char *clients_or_skip(void) {
    char *nm = tu_path(ANCHOR_SOURCE_DIR, "scripts/clients/node_modules");
    char *entry = tu_path(nm, "node-llama-cpp/dist/index.js");
    int ok = tu_system("test -f '%s'", entry) == 0;
    free(entry);
    if (!ok) {
        printf("  skipped: %s/node-llama-cpp is absent (scripts/install-clients.sh installs it)\n", nm);
        free(nm);
        return NULL;
    }
    if (tu_system("node --version >/dev/null 2>&1") != 0) {
        printf("  skipped: node is not installed\n");
        free(nm);
        return NULL;
    }
    return nm;
}

typedef struct gcase {
    const char *label;
    char *gguf;        /* what llama.cpp loads */
    char *anchor_dir;  /* what anchor decodes with */
    const int32_t *prompt;
    int n_prompt;
    int min_agree;     /* positions of N_NEW that must agree; N_NEW: exact, CLI text compared too */
    double max_dlogp;  /* bound on |log p anchor - log p llama.cpp| over llama.cpp's top tokens; 0: printed only */
    const char *const *texts; /* tokenized by both (NULL-terminated; may be NULL) */
} gcase;

/* anchor's greedy ids of c (library: what `anchor generate` runs) into ids. */
static int anchor_greedy(const gcase *c, int32_t *ids, int *stopped) {
    anc_error err = {0};
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_model_load_hf(&m, c->anchor_dir, &err), &err);
    TU_CHECK(anc_tokenizer_load_dir(&tok, c->anchor_dir, &err), &err);
    int32_t stop[16];
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = N_NEW;
    gc.stop_ids = stop;
    gc.n_stop_ids = anc_stop_ids(c->anchor_dir, tok, stop, 16);
    anc_gen_request rq = {c->prompt, c->n_prompt, 0};
    anc_gen_result r;
    TU_CHECK(anc_generate(m, &rq, 1, &gc, &r, NULL, NULL, &err), &err);
    memcpy(ids, r.ids, sizeof(int32_t) * (size_t)r.n);
    int n = r.n;
    *stopped = r.finish == ANC_FINISH_STOP;
    anc_gen_results_free(&r, 1);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    return n;
}

/* Teacher-forced agreement: at how many positions k anchor's argmax after
 * the prompt and llama.cpp's first k tokens is llama.cpp's token k (so one
 * near-tie does not make every later position differ). */
static int teacher_forced(const gcase *c, const int32_t *l, int nl, const json_t *top, double *min_gap, double *max_dlogp) {
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_model_load_hf(&m, c->anchor_dir, &err), &err);
    int64_t N = c->n_prompt + nl;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *mask = calloc((size_t)N, 1);
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)nl), offs[2] = {0, N};
    int V = m->cfg.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)nl * (size_t)V);
    memcpy(tokens, c->prompt, sizeof(int32_t) * (size_t)c->n_prompt);
    memcpy(tokens + c->n_prompt, l, sizeof(int32_t) * (size_t)nl);
    for (int k = 0; k < nl; k++) rows[k] = c->n_prompt - 1 + k, mask[c->n_prompt + k] = 1;
    anc_batch b = {N, tokens, 1, offs, mask};
    anc_acts *a = anc_acts_create();
    TU_CHECK(anc_model_forward(m, a, &b, NULL, NULL, NULL, &err), &err);
    TU_CHECK(anc_model_logits_rows(m, a, rows, nl, logits, &err), &err);
    int agree = 0;
    *min_gap = 1e30;
    *max_dlogp = 0;
    for (int k = 0; k < nl; k++) {
        const float *row = logits + (size_t)k * (size_t)V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        float second = -1e30f;
        for (int v = 0; v < V; v++)
            if (v != best && row[v] > second) second = row[v];
        if (row[best] - second < *min_gap) *min_gap = row[best] - second;
        agree += best == l[k];
        /* llama.cpp's most likely tokens: their log-probabilities in anchor,
         * renormalised over the same tokens as llama.cpp's top-k does */
        const json_t *tk = json_array_get(top, (size_t)k);
        double lse = 0;
        for (size_t e = 0; e < json_array_size(tk); e++) {
            json_int_t id = json_integer_value(json_array_get(json_array_get(tk, e), 0));
            if (id >= 0 && id < V) lse += exp((double)row[id] - (double)row[best]);
        }
        lse = log(lse) + (double)row[best];
        for (size_t e = 0; e < json_array_size(tk); e++) {
            const json_t *pr = json_array_get(tk, e);
            json_int_t id = json_integer_value(json_array_get(pr, 0));
            double lp = json_number_value(json_array_get(pr, 1)), d;
            if (id < 0 || id >= V) fail_msg("%s: llama.cpp ranks token %lld", c->label, (long long)id);
            d = fabs(((double)row[id] - lse) - lp);
            if (lp > -20 && d > *max_dlogp) *max_dlogp = d;
        }
    }
    anc_acts_free(a);
    free(logits); free(rows); free(mask); free(tokens);
    anc_model_free(m);
    return agree;
}

static json_t *ids_json(const int32_t *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

/* Runs every case through llama.cpp in one node process (cases of one GGUF
 * share a job); returns each case's result (a new array). */
static json_t *run_llamacpp(const char *clients, const char *dir, const gcase *cs, int n) {
    json_t *jobs = json_array();
    int job_of[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        job_of[i] = -1;
        for (int k = 0; k < i; k++)
            if (!strcmp(cs[k].gguf, cs[i].gguf)) job_of[i] = job_of[k];
        if (job_of[i] >= 0) continue;
        job_of[i] = (int)json_array_size(jobs);
        anc_error err = {0};
        anc_tokenizer *tok = NULL;
        TU_CHECK(anc_tokenizer_load_dir(&tok, cs[i].anchor_dir, &err), &err);
        int32_t stop[16];
        int ns = anc_stop_ids(cs[i].anchor_dir, tok, stop, 16);
        anc_tokenizer_free(tok);
        json_t *texts = json_array();
        for (int k = 0; cs[i].texts && cs[i].texts[k]; k++) json_array_append_new(texts, json_string(cs[i].texts[k]));
        json_array_append_new(jobs, json_pack("{s:s, s:o, s:i, s:o, s:s, s:o}", "model", cs[i].gguf, "prompt",
                                              ids_json(cs[i].prompt, cs[i].n_prompt), "n", N_NEW, "stop", ids_json(stop, ns), "kv",
                                              "f32", "tokenize", texts));
        json_object_set_new(json_array_get(jobs, json_array_size(jobs) - 1), "top", json_integer(TOP_K));
    }
    char *jp = tu_path(dir, "jobs.json"), *op = tu_path(dir, "llamacpp.json"), *ep = tu_path(dir, "llamacpp.err");
    assert_int_equal(json_dump_file(jobs, jp, 0), 0);
    size_t n_jobs = json_array_size(jobs);
    json_decref(jobs);
    char *driver = tu_path(ANCHOR_SOURCE_DIR, "tests/js/llamacpp_greedy.mjs");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = tu_system("node '%s' '%s' '%s' > '%s' 2> '%s'", driver, clients, jp, op, ep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("  llama.cpp (node-llama-cpp) ran %zu jobs in %.1f s\n", n_jobs, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (rc != 0) {
        char *e = tu_read_file(ep, NULL);
        fail_msg("node-llama-cpp failed (%d): %s", rc, e);
    }
    json_error_t je;
    json_t *res = json_load_file(op, 0, &je), *out = json_array();
    if (!json_is_array(res)) fail_msg("bad driver output in %s", op);
    for (int i = 0; i < n; i++) {
        json_t *r = json_array_get(res, (size_t)job_of[i]);
        if (!r) fail_msg("driver output %s lacks job %d", op, job_of[i]);
        json_array_append(out, r);
    }
    json_decref(res);
    free(driver);
    free(jp);
    free(op);
    free(ep);
    return out;
}

/* `anchor generate --temperature 0` of case c: its completion text and
 * token count must be those of llama.cpp's ids. */
static void check_cli(const char *dir, const gcase *c, const int32_t *ids, int n) {
    char *pp = tu_path(dir, "p.jsonl"), *op = tu_path(dir, "o.jsonl");
    json_t *row = json_pack("{s:o}", "prompt_ids", ids_json(c->prompt, c->n_prompt));
    char *line = json_dumps(row, JSON_COMPACT);
    json_decref(row);
    tu_write_file(pp, line, strlen(line));
    free(line);
    assert_int_equal(tu_system("'%s' generate --model '%s' --prompts '%s' --out '%s' --temperature 0 --max-new-tokens %d "
                               ">/dev/null 2>&1", tu_cli(), c->anchor_dir, pp, op, N_NEW), 0);
    json_error_t je;
    json_t *o = json_load_file(op, JSON_DISABLE_EOF_CHECK, &je);
    assert_non_null(o);
    anc_error err = {0};
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_dir(&tok, c->anchor_dir, &err), &err);
    char *text = NULL;
    size_t len = 0;
    TU_CHECK(anc_tokenizer_decode(tok, ids, (size_t)n, 1, &text, &len, &err), &err);
    const char *completion = json_string_value(json_object_get(o, "completion"));
    if (!completion || strcmp(completion, text) != 0)
        fail_msg("%s: anchor generate wrote \"%s\", llama.cpp's ids decode to \"%s\"", c->label, completion ? completion : "?", text);
    assert_int_equal(json_integer_value(json_object_get(o, "completion_tokens")), n);
    free(text);
    anc_tokenizer_free(tok);
    json_decref(o);
    free(pp);
    free(op);
}

/* llama.cpp's tokens of each text of c equal anchor's raw encoding. */
static void check_tokens(const gcase *c, const json_t *res) {
    const json_t *toks = json_object_get(res, "tokens");
    anc_error err = {0};
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_dir(&tok, c->anchor_dir, &err), &err);
    for (size_t k = 0; c->texts && c->texts[k]; k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        TU_CHECK(anc_tokenizer_encode(tok, c->texts[k], strlen(c->texts[k]), 0, &ids, &n, &err), &err);
        const json_t *l = json_array_get(toks, k);
        int same = json_array_size(l) == n;
        for (size_t i = 0; same && i < n; i++) same = json_integer_value(json_array_get(l, i)) == ids[i];
        if (!same) {
            char *s = json_dumps(l, JSON_COMPACT);
            fail_msg("%s: llama.cpp tokenizes \"%s\" as %s; anchor gives %zu ids starting %d", c->label, c->texts[k], s, n,
                     n ? ids[0] : -1);
        }
        free(ids);
    }
    printf("  %s: %zu texts tokenized identically by llama.cpp and anchor\n", c->label, c->texts ? json_array_size(toks) : 0);
    anc_tokenizer_free(tok);
}

static void run_cases(const char *clients, const char *dir, const gcase *cs, int n) {
    json_t *out = run_llamacpp(clients, dir, cs, n);
    for (int i = 0; i < n; i++) {
        const gcase *c = &cs[i];
        const json_t *r = json_array_get(out, (size_t)i), *lids = json_object_get(r, "ids");
        int32_t a[N_NEW], l[N_NEW];
        int stopped = 0, na = anchor_greedy(c, a, &stopped), nl = (int)json_array_size(lids);
        assert_true(nl <= N_NEW);
        for (int k = 0; k < nl; k++) l[k] = (int32_t)json_integer_value(json_array_get(lids, (size_t)k));
        int agree = 0, longest = na > nl ? na : nl, first_diff = -1;
        for (int k = 0; k < longest; k++) {
            int same = k < na && k < nl && a[k] == l[k];
            agree += same;
            if (!same && first_diff < 0) first_diff = k;
        }
        printf("  %-28s llama.cpp %2d tokens, anchor %2d: %d of %d positions agree (first difference at %d)\n", c->label, nl, na,
               agree, N_NEW, first_diff);
        assert_true(na > 0 && nl > 0);
        if (c->min_agree >= N_NEW) {
            double gap, dlp;
            teacher_forced(c, l, nl, json_object_get(r, "top"), &gap, &dlp);
            printf("  %-28s smallest top-1/top-2 logit gap %.4f, max |log p anchor - log p llama.cpp| over llama.cpp's top %d: %.2e\n",
                   "", gap, TOP_K, dlp);
            if (c->max_dlogp > 0 && !(dlp <= c->max_dlogp)) fail_msg("%s: log-probabilities differ by %.3g (at most %g)", c->label, dlp, c->max_dlogp);
            assert_int_equal(na, nl);
            assert_int_equal(first_diff, -1);
            assert_int_equal(json_is_true(json_object_get(r, "stopped")), stopped);
            check_cli(dir, c, l, nl);
        } else {
            double gap, dlp;
            int tf = teacher_forced(c, l, nl, json_object_get(r, "top"), &gap, &dlp), need = c->min_agree * nl / N_NEW;
            printf("  %-28s teacher-forced on llama.cpp's tokens: argmax agrees at %d of %d positions, max |d log p| %.2e\n", "", tf, nl,
                   dlp);
            if (c->max_dlogp > 0 && !(dlp <= c->max_dlogp)) fail_msg("%s: log-probabilities differ by %.3g (at most %g)", c->label, dlp, c->max_dlogp);
            if (tf < need) fail_msg("%s: anchor's argmax agrees with llama.cpp at %d of %d positions (at least %d needed)", c->label, tf, nl, need);
        }
        if (c->texts) check_tokens(c, r);
    }
    json_decref(out);
}

/* anchor export MODEL --type T -> dir/NAME.gguf; and, when hf is set, that
 * GGUF imported back into dir/NAME-hf. */
static char *export_to(const char *dir, const char *model, const char *name, const char *type, char **hf) {
    char *g = NULL;
    assert_true(asprintf(&g, "%s/%s.gguf", dir, name) > 0);
    assert_int_equal(tu_system("'%s' export --model '%s' --gguf '%s' --type %s >/dev/null 2>&1", tu_cli(), model, g, type), 0);
    if (hf) {
        assert_true(asprintf(hf, "%s/%s-hf", dir, name) > 0);
        assert_int_equal(tu_system("'%s' convert --from gguf '%s' --out '%s' >/dev/null 2>&1", tu_cli(), g, *hf), 0);
    }
    return g;
}

static const char *const stories_texts[] = {"Once upon a time, there was a little girl named Lily.",
                                            "She liked to play outside in the park with her dog.", " two  spaces\nand a line", NULL};

static void test_stories260k(void **state) {
    (void)state;
    char *clients = clients_or_skip();
    if (!clients) skip();
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tokbin = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tokbin) {
        free(bin);
        free(tokbin);
        free(clients);
        skip();
    }
    char *d = tu_tmpdir(), *model = tu_path(d, "s260");
    assert_int_equal(tu_system("'%s' convert --from llama2c '%s' --tokenizer '%s' --out '%s' >/dev/null 2>&1", tu_cli(), bin, tokbin, model), 0);
    char *hf16 = NULL, *hf8 = NULL;
    char *g32 = export_to(d, model, "s260-f32", "f32", NULL), *g16 = export_to(d, model, "s260-f16", "f16", &hf16);
    char *g8 = export_to(d, model, "s260-q8_0", "q8_0", &hf8);
    static const int32_t prompt[] = {1, 403, 407, 261, 300}; /* <s> Once upon a ti... */
    gcase cs[] = {
        {"stories260K f32", g32, model, prompt, 5, N_NEW, TOL_F32, stories_texts},
        {"stories260K f16", g16, hf16, prompt, 5, N_NEW, TOL_F16, NULL},
        {"stories260K q8_0", g8, hf8, prompt, 5, Q8_MIN_AGREE, TOL_Q8, NULL},
        {"stories260K f16 vs fp32", g16, model, prompt, 5, 0, 0, NULL}, /* printed, not required */
    };
    run_cases(clients, d, cs, 4);
    tu_rmtree(d);
    free(g32); free(g16); free(g8); free(hf16); free(hf8);
    free(model); free(d); free(bin); free(tokbin); free(clients);
}

/* A random Qwen2-shaped model with phi-2's GPT-2 tokenizer, saved as an HF folder in dir. */
static char *make_qwen2(const char *dir, const char *tok_dir) {
    const char *cfg = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"vocab_size\": 50295, "
                      "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                      "\"num_key_value_heads\": 2, \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-6, "
                      "\"rope_theta\": 1000000.0, \"tie_word_embeddings\": false, \"bos_token_id\": 50256, "
                      "\"eos_token_id\": 50256}";
    anc_error err = {0};
    anc_model *m = NULL;
    const double bstd = 0.1;
    TU_CHECK(anc_model_create_random(&m, cfg, strlen(cfg), 7, bstd, &err), &err);
    for (size_t l = 0; l < (size_t)m->cfg.num_layers; l++) { /* biases random too: they must survive the export */
        tu_rng r = {l + 11};
        tu_fill_normal(&r, m->w.layers[l].bq, (size_t)(m->cfg.num_heads * m->cfg.head_dim), (float)bstd);
        tu_fill_normal(&r, m->w.layers[l].bk, (size_t)(m->cfg.num_kv_heads * m->cfg.head_dim), (float)bstd);
        tu_fill_normal(&r, m->w.layers[l].bv, (size_t)(m->cfg.num_kv_heads * m->cfg.head_dim), (float)bstd);
    }
    /* The head predicts from the last token's embedding through a random
     * permutation (lm_head row pi(u) = embedding row u): decisive, varied
     * next tokens, which the layers (weights of std bstd, biases too) move
     * with the context. A flat random head gives near-ties that any
     * rounding difference flips. */
    const float estd = 1.0f, hscale = 1.0f;
    int V = m->cfg.vocab_size, C = m->cfg.hidden_size;
    tu_rng rr = {99};
    tu_fill_normal(&rr, m->w.embed, (size_t)V * (size_t)C, estd);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)V);
    for (int v = 0; v < V; v++) perm[v] = v;
    for (int v = V - 1; v > 0; v--) {
        int k = (int)(tu_rng_uniform(&rr) * (float)(v + 1)) % (v + 1), t = perm[v];
        perm[v] = perm[k], perm[k] = t;
    }
    for (int u = 0; u < V; u++)
        for (int k = 0; k < C; k++) m->w.lm_head[(size_t)perm[u] * (size_t)C + (size_t)k] = hscale * m->w.embed[(size_t)u * (size_t)C + (size_t)k];
    free(perm);
    char *model = tu_path(dir, "qwen2");
    TU_CHECK(anc_model_save_hf(m, model, ANC_DT_F32, &err), &err);
    anc_model_free(m);
    assert_int_equal(tu_system("cp '%s/tokenizer.json' '%s/tokenizer_config.json' '%s/'", tok_dir, tok_dir, model), 0);
    return model;
}

static const char *const gpt2_texts[] = {"Hello world, this is a test of 12345 numbers.", "  leading spaces\tand\ttabs\n\n",
                                         "<|endoftext|> special text", "caf\xC3\xA9 na\xC3\xAFve \xF0\x9F\xA6\x99 emoji", NULL};

static void test_qwen2_tiny(void **state) {
    (void)state;
    char *clients = clients_or_skip();
    if (!clients) skip();
    char *tok_dir = tu_shared_fixture("tokenizers/gpt2-phi2");
    if (!tok_dir) {
        free(clients);
        skip();
    }
    char *d = tu_tmpdir(), *model = make_qwen2(d, tok_dir);
    char *hf16 = NULL, *hf8 = NULL;
    char *g32 = export_to(d, model, "q-f32", "f32", NULL), *g16 = export_to(d, model, "q-f16", "f16", &hf16);
    char *g8 = export_to(d, model, "q-q8_0", "q8_0", &hf8);
    static const int32_t prompt[] = {7454, 2402, 257, 640, 11}; /* "Once upon a time," */
    gcase cs[] = {
        {"qwen2 tiny f32", g32, model, prompt, 5, N_NEW, TOL_F32, gpt2_texts},
        {"qwen2 tiny f16", g16, hf16, prompt, 5, N_NEW, TOL_F16, NULL},
        {"qwen2 tiny q8_0", g8, hf8, prompt, 5, Q8_MIN_AGREE, TOL_Q8, NULL},
        {"qwen2 tiny f16 vs fp32", g16, model, prompt, 5, 0, 0, NULL},
    };
    run_cases(clients, d, cs, 4);
    tu_rmtree(d);
    free(g32); free(g16); free(g8); free(hf16); free(hf8);
    free(model); free(d); free(tok_dir); free(clients);
}

/* llama.cpp's own file: imported by anchor, it decodes as llama.cpp decodes it. */
static void test_llama_cpp_file(void **state) {
    (void)state;
    char *clients = clients_or_skip();
    if (!clients) skip();
    char *g = tu_shared_fixture("gguf/llama-2-tiny-random.gguf");
    if (!g) {
        free(clients);
        skip();
    }
    char *d = tu_tmpdir(), *hf = tu_path(d, "l2");
    assert_int_equal(tu_system("'%s' convert --from gguf '%s' --out '%s' >/dev/null 2>&1", tu_cli(), g, hf), 0);
    static const int32_t prompt[] = {1, 15043, 3186, 29892}; /* <s> Hello world, */
    static const char *const texts[] = {"Hello world, this is a test of the tokenizer.", "  two spaces and \xC3\xA9l\xC3\xA8ve 42", NULL};
    gcase cs[] = {{"llama-2-tiny-random (f16)", g, hf, prompt, 4, N_NEW, TOL_F16, texts}};
    run_cases(clients, d, cs, 1);
    tu_rmtree(d);
    free(hf); free(d); free(g); free(clients);
}

/* A vocabulary-only GGUF of the tokenizer folder dir (with the llama
 * hyper-parameters llama.cpp reads before the vocabulary) at path. */
static void vocab_gguf(const char *dir, const char *path, size_t *n_vocab) {
    anc_error err = {0};
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_dir(&tok, dir, &err), &err);
    anc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.vocab_size = (int)anc_tokenizer_vocab_size(tok);
    cfg.bos_token_id = cfg.eos_token_id = -1;
    *n_vocab = (size_t)cfg.vocab_size;
    anc_tokenizer_free(tok);
    anc_gguf_writer *w = NULL;
    anc_gguf_vocab_info vi;
    TU_CHECK(anc_gguf_writer_create(&w, 0, &err), &err);
    static const char *const keys[] = {"llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
                                       "llama.attention.head_count", "llama.attention.head_count_kv"};
    static const uint32_t vals[] = {1, 512, 64, 128, 4, 4};
    TU_CHECK(anc_gguf_add_string(w, "general.architecture", "llama", 5, &err), &err);
    for (int k = 0; k < 6; k++) TU_CHECK(anc_gguf_add_u32(w, keys[k], vals[k], &err), &err);
    TU_CHECK(anc_gguf_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &err), &err);
    TU_CHECK(anc_gguf_put_vocab(w, dir, &cfg, NULL, &vi, &err), &err);
    TU_CHECK(anc_gguf_write(w, path, NULL, NULL, NULL, &err), &err);
    anc_gguf_writer_free(w);
}

/* Tokenizers exported by anchor's GGUF writer tokenize in llama.cpp as in anchor: every
 * llama.cpp conformance case (cases.inp), through vocabulary-only GGUFs of
 * the Llama-2 and Phi-3 (SentencePiece-style: scores from the merge ranks),
 * SmolLM2 (pre smollm) and phi-2 (pre gpt-2, user-defined whitespace
 * tokens) tokenizers. */
static void test_tokenizers_in_llamacpp(void **state) {
    (void)state;
    char *clients = clients_or_skip();
    if (!clients) skip();
    static const char *const fixtures[] = {"tokenizers/llama2", "tokenizers/phi-3-mini", "tokenizers/smollm2", "tokenizers/gpt2-phi2"};
    char *cases_path = tu_shared_fixture("tokenizer-tests/cases.inp");
    char *dirs[4] = {0};
    for (int i = 0; i < 4; i++) dirs[i] = tu_shared_fixture(fixtures[i]);
    if (!cases_path || !dirs[0] || !dirs[1] || !dirs[2] || !dirs[3]) {
        for (int i = 0; i < 4; i++) free(dirs[i]);
        free(cases_path), free(clients);
        skip();
    }
    char *inp = tu_read_file(cases_path, NULL);
    const char *sep = "\n__ggml_vocab_test__\n";
    json_t *texts = json_array();
    for (char *s = inp, *q; (q = strstr(s, sep)); s = q + strlen(sep)) json_array_append_new(texts, json_stringn(s, (size_t)(q - s)));
    char *d = tu_tmpdir(), *paths[4];
    json_t *jobs = json_array();
    for (int i = 0; i < 4; i++) {
        size_t nv;
        assert_true(asprintf(&paths[i], "%s/vocab%d.gguf", d, i) > 0);
        vocab_gguf(dirs[i], paths[i], &nv);
        json_array_append_new(jobs, json_pack("{s:s, s:b, s:O}", "model", paths[i], "vocab_only", 1, "tokenize", texts));
    }
    char *jp = tu_path(d, "jobs.json"), *op = tu_path(d, "out.json"), *ep = tu_path(d, "err.txt");
    assert_int_equal(json_dump_file(jobs, jp, 0), 0);
    char *driver = tu_path(ANCHOR_SOURCE_DIR, "tests/js/llamacpp_greedy.mjs");
    if (tu_system("node '%s' '%s' '%s' > '%s' 2> '%s'", driver, clients, jp, op, ep) != 0) fail_msg("node failed: %s", tu_read_file(ep, NULL));
    json_error_t je;
    json_t *out = json_load_file(op, 0, &je);
    assert_true(json_is_array(out) && json_array_size(out) == 4);
    for (int i = 0; i < 4; i++) {
        anc_error err = {0};
        anc_tokenizer *tok = NULL;
        TU_CHECK(anc_tokenizer_load_dir(&tok, dirs[i], &err), &err);
        const json_t *toks = json_object_get(json_array_get(out, (size_t)i), "tokens");
        size_t same = 0;
        for (size_t k = 0; k < json_array_size(texts); k++) {
            const json_t *t = json_array_get(texts, k);
            int32_t *ids = NULL;
            size_t n = 0;
            TU_CHECK(anc_tokenizer_encode(tok, json_string_value(t), json_string_length(t), 0, &ids, &n, &err), &err);
            const json_t *l = json_array_get(toks, k);
            int eq = json_array_size(l) == n;
            for (size_t j = 0; eq && j < n; j++) eq = json_integer_value(json_array_get(l, j)) == ids[j];
            if (!eq) {
                char *js = json_dumps(l, JSON_COMPACT);
                fprintf(stderr, "%s case %zu: llama.cpp %s, anchor %zu ids starting %d\n", fixtures[i], k, js, n, n ? ids[0] : -1);
                free(js);
            }
            same += (size_t)eq;
            free(ids);
        }
        printf("  %-22s exported vocabulary: llama.cpp tokenizes %zu of %zu conformance cases as anchor does\n", fixtures[i], same,
               json_array_size(texts));
        assert_int_equal(same, json_array_size(texts));
        anc_tokenizer_free(tok);
    }
    json_decref(out), json_decref(jobs), json_decref(texts);
    tu_rmtree(d);
    for (int i = 0; i < 4; i++) free(dirs[i]), free(paths[i]);
    free(d), free(jp), free(op), free(ep), free(driver), free(inp), free(cases_path), free(clients);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_qwen2_tiny),
        cmocka_unit_test(test_llama_cpp_file),
        cmocka_unit_test(test_tokenizers_in_llamacpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
