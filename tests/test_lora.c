/* LoRA on the tiny llama_gqa model.
 * - A new adapter (B = 0) leaves every log-prob bit-identical.
 * - Adapter gradients equal the chain rule through the merged weights:
 *   with W' = W + s·B·A, dL/dB = s·G·Aᵀ and dL/dA = s·Bᵀ·G, G = dL/dW' from
 *   the full-model backward (itself proved against PyTorch in test_model /
 *   test_train_grads). Tolerance 2e-5 x max|expected| (fp32 rounding of the
 *   two orders of summation; measured 2.3e-6), stated, not tuned.
 * - With dropout the masks of forward and backward agree: central finite
 *   differences on sampled adapter weights, |fd - g| <= 1e-3 x max|g| + 2e-3
 *   (h = 2e-3 in fp32: truncation and rounding; measured 1.6e-3 at max|g| 12.5).
 * - PEFT files round-trip with PEFT's names; unsupported configs refused.
 * - anchor train --use-peft: the base folder unchanged, PEFT files out, loss
 *   falls, resume bit-exact, the reference is the base with adapters off;
 *   anchor merge and --adapter score the same adapted model. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "model/model.h"

static char *model_dir(void) { return tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa"); }

static anc_model *load_model(void) {
    anc_model *m = NULL;
    anc_error err = {0};
    char *dir = model_dir();
    TU_CHECK(anc_model_load_hf(&m, dir, &err), &err);
    free(dir);
    return m;
}

/* Two packed sequences (lengths 9 and 6), every token after the first scored. */
typedef struct {
    int32_t tokens[15];
    int64_t offsets[3];
    uint8_t mask[15];
    float coef[15];
    anc_batch b;
} test_batch;

static void make_batch(test_batch *tb, int vocab, uint64_t seed) {
    tu_rng r = {seed};
    tb->offsets[0] = 0;
    tb->offsets[1] = 9;
    tb->offsets[2] = 15;
    for (int t = 0; t < 15; t++) {
        tb->tokens[t] = (int32_t)(tu_rng_uniform(&r) * (float)vocab) % vocab;
        tb->mask[t] = !(t == 0 || t == 9);
        tb->coef[t] = tb->mask[t] ? tu_rng_normal(&r) : 0.0f;
    }
    tb->b = (anc_batch){15, tb->tokens, 2, tb->offsets, tb->mask};
}

/* J = sum_t coef[t] · log p(token t) */
static double objective(anc_model *m, anc_acts *a, test_batch *tb) {
    float logp[15];
    anc_error err = {0};
    TU_CHECK(anc_model_forward(m, a, &tb->b, logp, NULL, NULL, &err), &err);
    double j = 0;
    for (int t = 0; t < 15; t++) j += (double)tb->coef[t] * logp[t];
    return j;
}

static anc_lora *new_lora(const anc_model *m, int r, double alpha, double dropout, unsigned targets) {
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    lc.r = r;
    lc.alpha = alpha;
    lc.dropout = dropout;
    lc.targets = targets;
    anc_lora *l = NULL;
    anc_error err = {0};
    TU_CHECK(anc_lora_create(&l, &m->cfg, &lc, &err), &err);
    anc_lora_init(l, 11);
    return l;
}

static void test_targets(void **state) {
    (void)state;
    unsigned mask = 0;
    anc_error err = {0};
    const char *a[] = {"q_proj, v_proj", "down_proj"};
    TU_CHECK(anc_lora_parse_targets(a, 2, &mask, &err), &err);
    assert_int_equal(mask, (1u << ANC_LORA_Q) | (1u << ANC_LORA_V) | (1u << ANC_LORA_DOWN));
    const char *b[] = {"all-linear"};
    TU_CHECK(anc_lora_parse_targets(b, 1, &mask, &err), &err);
    assert_int_equal(mask, ANC_LORA_ALL_LINEAR);
    const char *c[] = {"q_proj,lm_head"};
    assert_int_equal(anc_lora_parse_targets(c, 1, &mask, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "'lm_head'"));
    assert_non_null(strstr(err.message, "all-linear"));
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    assert_int_equal(lc.r, 16);
    assert_true(lc.alpha == 32 && lc.dropout == 0.05 && lc.targets == ANC_LORA_DEFAULT_TARGETS);
    lc.dropout = 1.0;
    assert_int_equal(anc_lora_config_check(&lc, &err), ANC_ERR_INVALID);
    lc.dropout = 0;
    lc.r = 0;
    assert_int_equal(anc_lora_config_check(&lc, &err), ANC_ERR_INVALID);
}

static void test_new_adapter_is_identity(void **state) {
    (void)state;
    anc_model *m = load_model();
    anc_acts *a = anc_acts_create();
    test_batch tb;
    make_batch(&tb, m->cfg.vocab_size, 5);
    float base[15], adapted[15];
    anc_error err = {0};
    TU_CHECK(anc_model_forward(m, a, &tb.b, base, NULL, NULL, &err), &err);
    anc_lora *l = new_lora(m, 4, 8, 0.1, ANC_LORA_ALL_LINEAR);
    l->training = 1;  /* dropout on: still exact, B is zero */
    m->lora = l;
    TU_CHECK(anc_model_forward(m, a, &tb.b, adapted, NULL, NULL, &err), &err);
    assert_memory_equal(base, adapted, sizeof base);
    /* A drawn as PEFT's kaiming_uniform_(a=sqrt(5)): within 1/sqrt(in), not all zero */
    const anc_lora_pair *p = anc_lora_get(l, 1, ANC_LORA_DOWN);
    double bound = 1.0 / sqrt((double)p->in), amax = tu_max_abs(p->A, (size_t)l->cfg.r * p->in);
    assert_true(amax <= bound && amax > 0.5 * bound);
    assert_true(l->scale == 2.0f);
    m->lora = NULL;
    anc_lora_free(l);
    anc_acts_free(a);
    anc_model_free(m);
}

/* Gradient of the merged model's weight of projection k in layer. */
static const float *weight_of(const anc_param_view *v, int layer, int k) {
    const anc_layer_view *w = &v->layers[layer];
    const float *W[ANC_LORA_NMOD] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};
    return W[k];
}

static void test_gradients_match_merged(void **state) {
    (void)state;
    anc_model *m = load_model(), *merged = load_model();
    anc_acts *a = anc_acts_create(), *am = anc_acts_create();
    anc_error err = {0};
    test_batch tb;
    make_batch(&tb, m->cfg.vocab_size, 9);
    for (int rs = 0; rs < 2; rs++) {
        anc_lora_config lc;
        anc_lora_config_default(&lc);
        lc.r = 3;
        lc.alpha = 6;
        lc.dropout = 0;
        lc.use_rslora = rs;
        lc.targets = ANC_LORA_ALL_LINEAR;
        anc_lora *l = NULL;
        TU_CHECK(anc_lora_create(&l, &m->cfg, &lc, &err), &err);
        anc_lora_init(l, 3);
        assert_true(fabsf(l->scale - (float)(rs ? 6 / sqrt(3.0) : 2.0)) < 1e-6f);
        tu_rng r = {77};
        for (size_t i = 0; i < (size_t)l->n_layers * ANC_LORA_NMOD; i++)
            tu_fill_normal(&r, l->at[i].B, (size_t)l->at[i].out * lc.r, 0.05f);
        TU_CHECK(anc_lora_alloc_grads(l, &err), &err);
        m->lora = l;
        float logp[15], logp_m[15];
        TU_CHECK(anc_model_forward(m, a, &tb.b, logp, NULL, NULL, &err), &err);
        TU_CHECK(anc_model_backward(m, a, &tb.b, tb.coef, NULL, &err), &err);  /* frozen base */

        memcpy(merged->params, m->params, sizeof(float) * m->n_params);
        TU_CHECK(anc_lora_merge(l, merged, &err), &err);
        float *G = calloc(merged->n_params, sizeof(float));
        TU_CHECK(anc_model_forward(merged, am, &tb.b, logp_m, NULL, NULL, &err), &err);
        TU_CHECK(anc_model_backward(merged, am, &tb.b, tb.coef, G, &err), &err);
        tu_assert_close("unmerged vs merged log-probs", logp, logp_m, 15, 1e-5, 1.0);
        anc_param_view gv;
        TU_CHECK(anc_param_view_init(&gv, &merged->cfg, G, &err), &err);
        double worst = 0;
        for (int layer = 0; layer < l->n_layers; layer++)
            for (int k = 0; k < ANC_LORA_NMOD; k++) {
                const anc_lora_pair *p = anc_lora_get(l, layer, (anc_lora_module)k);
                const anc_lora_pair *g = &l->gat[(size_t)layer * ANC_LORA_NMOD + k];
                const float *Gw = weight_of(&gv, layer, k);
                const int R = lc.r, I = p->in, O = p->out;
                float *eA = calloc((size_t)R * I, sizeof(float)), *eB = calloc((size_t)O * R, sizeof(float));
                for (int o = 0; o < O; o++)
                    for (int j = 0; j < R; j++) {
                        double s = 0;
                        for (int i = 0; i < I; i++) s += (double)Gw[(size_t)o * I + i] * p->A[(size_t)j * I + i];
                        eB[(size_t)o * R + j] = (float)(l->scale * s);
                    }
                for (int j = 0; j < R; j++)
                    for (int i = 0; i < I; i++) {
                        double s = 0;
                        for (int o = 0; o < O; o++) s += (double)p->B[(size_t)o * R + j] * Gw[(size_t)o * I + i];
                        eA[(size_t)j * I + i] = (float)(l->scale * s);
                    }
                char label[96];
                snprintf(label, sizeof label, "layer %d %s lora_A grad", layer, anc_lora_module_name((anc_lora_module)k));
                tu_assert_close(label, g->A, eA, (size_t)R * I, 2e-5, 1e-6);
                snprintf(label, sizeof label, "layer %d %s lora_B grad", layer, anc_lora_module_name((anc_lora_module)k));
                tu_assert_close(label, g->B, eB, (size_t)O * R, 2e-5, 1e-6);
                double d = tu_max_abs_diff(g->A, eA, (size_t)R * I) / fmax(tu_max_abs(eA, (size_t)R * I), 1e-6);
                if (d > worst) worst = d;
                d = tu_max_abs_diff(g->B, eB, (size_t)O * R) / fmax(tu_max_abs(eB, (size_t)O * R), 1e-6);
                if (d > worst) worst = d;
                free(eA);
                free(eB);
            }
        printf("  %s: adapter gradients vs chain rule through the merged weights: worst %.2e x max (bound 2e-5)\n",
               rs ? "rsLoRA" : "LoRA", worst);
        anc_param_view_free(&gv);
        free(G);
        m->lora = NULL;
        anc_lora_free(l);
    }
    anc_acts_free(a);
    anc_acts_free(am);
    anc_model_free(m);
    anc_model_free(merged);
}

static void test_dropout_finite_differences(void **state) {
    (void)state;
    anc_model *m = load_model();
    anc_acts *a = anc_acts_create();
    anc_error err = {0};
    test_batch tb;
    make_batch(&tb, m->cfg.vocab_size, 21);
    anc_lora *l = new_lora(m, 4, 8, 0.3, ANC_LORA_ALL_LINEAR);
    tu_rng r = {5};
    for (size_t i = 0; i < (size_t)l->n_layers * ANC_LORA_NMOD; i++)
        tu_fill_normal(&r, l->at[i].B, (size_t)l->at[i].out * l->cfg.r, 0.1f);
    TU_CHECK(anc_lora_alloc_grads(l, &err), &err);
    l->training = 1;
    l->dropout_seed = 99;
    l->dropout_pass = 7;
    m->lora = l;
    double j0 = objective(m, a, &tb);
    assert_true(objective(m, a, &tb) == j0);  /* same pass, same masks */
    l->dropout_pass = 8;
    assert_true(objective(m, a, &tb) != j0);  /* another pass, other masks */
    l->dropout_pass = 7;
    objective(m, a, &tb);
    TU_CHECK(anc_model_backward(m, a, &tb.b, tb.coef, NULL, &err), &err);
    /* sample 48 weights across layers, projections, A and B */
    double gmax = tu_max_abs(l->grads, l->n_params), worst = 0;
    const float h = 2e-3f;
    anc_rng pick;
    anc_rng_seed(&pick, 4);
    for (int s = 0; s < 48; s++) {
        size_t i = (size_t)anc_rng_below(&pick, l->n_params);
        float keep = l->params[i];
        l->params[i] = keep + h;
        double jp = objective(m, a, &tb);
        l->params[i] = keep - h;
        double jm = objective(m, a, &tb);
        l->params[i] = keep;
        double fd = (jp - jm) / (2.0 * h), d = fabs(fd - l->grads[i]);
        if (d > worst) worst = d;
        if (d > 1e-3 * gmax + 2e-3) fail_msg("weight %zu: finite difference %.6g, backward %.6g (max|g| %.4g)", i, fd, l->grads[i], gmax);
    }
    printf("  dropout 0.3: 48 finite differences within %.2e of backward (max|g| %.3g, bound 1e-3 x max|g| + 2e-3)\n", worst, gmax);
    m->lora = NULL;
    anc_lora_free(l);
    anc_acts_free(a);
    anc_model_free(m);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char *p = tu_path(dir, name);
    tu_write_file(p, text, strlen(text));
    free(p);
}

static void test_peft_files(void **state) {
    (void)state;
    anc_model *m = load_model();
    anc_error err = {0};
    anc_lora *l = new_lora(m, 4, 16, 0.05, (1u << ANC_LORA_Q) | (1u << ANC_LORA_V) | (1u << ANC_LORA_UP));
    tu_rng r = {8};
    tu_fill_normal(&r, l->params, l->n_params, 0.1f);
    char *d = tu_tmpdir();
    TU_CHECK(anc_lora_save_peft(l, d, "HuggingFaceTB/SmolLM2-135M-Instruct", &err), &err);
    /* PEFT's names and shapes */
    char *wp = tu_path(d, "adapter_model.safetensors");
    anc_safetensors *sf = NULL;
    TU_CHECK(anc_st_open(&sf, wp, &err), &err);
    assert_int_equal(anc_st_count(sf), 2 * 2 * 3);
    const anc_st_tensor *t = anc_st_find(sf, "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
    assert_non_null(t);
    assert_true(t->dtype == ANC_DT_F32 && t->shape[0] == 4 && t->shape[1] == 32);
    t = anc_st_find(sf, "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight");
    assert_non_null(t);
    assert_true(t->shape[0] == 64 && t->shape[1] == 4);
    t = anc_st_find(sf, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight");
    assert_true(t && t->shape[0] == 16 && t->shape[1] == 4);
    anc_st_close(sf);
    char *cp = tu_path(d, "adapter_config.json");
    json_error_t je;
    json_t *js = json_load_file(cp, 0, &je);
    assert_non_null(js);
    assert_string_equal(json_string_value(json_object_get(js, "peft_type")), "LORA");
    assert_string_equal(json_string_value(json_object_get(js, "task_type")), "CAUSAL_LM");
    assert_int_equal(json_integer_value(json_object_get(js, "r")), 4);
    assert_int_equal(json_integer_value(json_object_get(js, "lora_alpha")), 16);
    assert_true(json_real_value(json_object_get(js, "lora_dropout")) == 0.05);
    json_t *tm = json_object_get(js, "target_modules");
    assert_int_equal(json_array_size(tm), 3);
    assert_string_equal(json_string_value(json_array_get(tm, 0)), "q_proj");
    assert_string_equal(json_string_value(json_object_get(js, "base_model_name_or_path")), "HuggingFaceTB/SmolLM2-135M-Instruct");
    json_decref(js);

    anc_lora *back = NULL;
    TU_CHECK(anc_lora_load_peft(&back, d, &m->cfg, &err), &err);
    assert_int_equal(back->n_params, l->n_params);
    assert_memory_equal(back->params, l->params, sizeof(float) * l->n_params);
    assert_true(back->scale == l->scale && back->cfg.targets == l->cfg.targets && back->cfg.dropout == 0.05);
    anc_lora_free(back);

    /* another model shape: a tensor of the wrong shape is named */
    anc_config other = m->cfg;
    other.hidden_size = 48;
    other.head_dim = 12;
    assert_int_equal(anc_lora_load_peft(&back, d, &other, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "expected [4, 48]"));
    /* more layers than the adapter has: the missing tensor is named */
    other = m->cfg;
    other.num_layers = 3;
    assert_int_equal(anc_lora_load_peft(&back, d, &other, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "layers.2.self_attn.q_proj.lora_A.weight is missing"));

    /* what anchor does not implement is refused, not misread */
    static const char *const refused[][2] = {
        {"\"use_dora\": true", "use_dora"},
        {"\"rank_pattern\": {\"q_proj\": 8}", "rank_pattern"},
        {"\"bias\": \"all\"", "bias"},
        {"\"layers_to_transform\": [0]", "layers_to_transform"},
        {"\"modules_to_save\": [\"lm_head\"]", "modules_to_save"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"v_proj\", \"up_proj\"], %s}",
                 refused[i][0]);
        write_text(d, "adapter_config.json", text);
        assert_int_equal(anc_lora_load_peft(&back, d, &m->cfg, &err), ANC_ERR_UNSUPPORTED);
        assert_non_null(strstr(err.message, refused[i][1]));
    }
    write_text(d, "adapter_config.json", "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"target_modules\": \".*\\\\.(q|v)_proj\"}");
    assert_int_equal(anc_lora_load_peft(&back, d, &m->cfg, &err), ANC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "regular expression"));
    write_text(d, "adapter_config.json", "{\"peft_type\": \"PREFIX_TUNING\"}");
    assert_int_equal(anc_lora_load_peft(&back, d, &m->cfg, &err), ANC_ERR_UNSUPPORTED);
    /* a file holding adapters of modules the config does not name */
    write_text(d, "adapter_config.json", "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\", \"v_proj\"]}");
    assert_int_equal(anc_lora_load_peft(&back, d, &m->cfg, &err), ANC_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "up_proj.lora_A.weight is not an adapter"));
    write_text(d, "adapter_config.json", "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 16, \"target_modules\": \"all-linear\"}");
    assert_int_equal(anc_lora_load_peft(&back, d, &m->cfg, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "k_proj.lora_A.weight is missing"));
    free(cp);
    free(wp);
    tu_rmtree(d);
    free(d);
    anc_lora_free(l);
    anc_model_free(m);
}

/* ---- anchor train --use-peft, end to end ---- */

static void write_pairs(const char *path, int n, uint64_t seed) { tu_write_id_pairs(path, n, seed, 4, 6); }

static double metric(const char *path, int line_no, const char *key) {
    char *text = tu_read_file(path, NULL);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (int i = 1; i < line_no && line; i++) line = strtok_r(NULL, "\n", &save);
    if (!line) fail_msg("%s: no line %d", path, line_no);
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    if (!v) fail_msg("%s line %d: no %s", path, line_no, key);
    double x = json_number_value(v);
    json_decref(o);
    free(text);
    return x;
}

static int train(const char *dir, const char *args) {
    char *model = model_dir();
    int rc = tu_system("cd '%s' && '%s' train --model '%s' --data pairs.jsonl %s >train.out 2>train.err", dir, tu_cli(), model, args);
    free(model);
    return rc;
}

static char *file_bytes(const char *dir, const char *rel, size_t *n) {
    char *p = tu_path(dir, rel);
    char *b = tu_read_file(p, n);
    free(p);
    return b;
}

static void test_train_use_peft(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *data = tu_path(d, "pairs.jsonl");
    write_pairs(data, 48, 17);
    char *model = model_dir();
    size_t nb0, nb1;
    char *base_before = file_bytes(model, "model-00001-of-00002.safetensors", &nb0);
    const char *common = "--use-peft --lora-r 4 --lora-alpha 8 --lora-target-modules all-linear --loss-type apo_zero "
                         "--learning-rate 2e-2 --per-device-train-batch-size 8 --max-steps 12 --logging-steps 1 --seed 5 "
                         "--max-tokens 64 --lr-scheduler constant";
    char args[1024];
    snprintf(args, sizeof args, "%s --output-dir straight --save-steps 6", common);
    assert_int_equal(train(d, args), 0);
    size_t n;
    char *out = file_bytes(d, "train.err", &n);
    /* per layer q 256 + k 192 + v 192 + o 256 + gate, up, down 384 each = 2048; 2 layers */
    assert_non_null(strstr(out, "LoRA: trainable params: 4096 || all params:"));
    free(out);
    /* PEFT's files, no model; the base folder untouched */
    char *p = tu_path(d, "straight/model.safetensors");
    assert_int_not_equal(access(p, F_OK), 0);
    free(p);
    char *ad = file_bytes(d, "straight/adapter_model.safetensors", &n);
    assert_non_null(ad);
    free(ad);
    char *cfg = file_bytes(d, "straight/adapter_config.json", &n);
    assert_non_null(strstr(cfg, "\"peft_type\": \"LORA\""));
    free(cfg);
    char *base_after = file_bytes(model, "model-00001-of-00002.safetensors", &nb1);
    assert_int_equal(nb0, nb1);
    assert_memory_equal(base_before, base_after, nb0);
    free(base_after);
    /* a new adapter starts at the base: APO-zero's loss is 1 at step 1 (fp32: to rounding) and falls */
    char *mp = tu_path(d, "straight/metrics.jsonl");
    double l1 = metric(mp, 1, "loss"), l12 = metric(mp, 12, "loss");
    printf("  --use-peft apo_zero: loss %.6f at step 1, %.4f at step 12; accuracy %.2f\n", l1, l12, metric(mp, 12, "rewards/accuracies"));
    assert_true(fabs(l1 - 1.0) < 1e-5);
    assert_true(l12 < 0.9 * l1);
    assert_true(metric(mp, 12, "rewards/accuracies") >= 0.75);

    /* resume from checkpoint-6 (adapter + AdamW only) is bit-exact */
    assert_int_equal(tu_system("cd '%s' && cp -r straight resumed && rm -rf resumed/checkpoint-12 resumed/adapter_model.safetensors", d), 0);
    assert_int_equal(tu_system("cd '%s' && test -f straight/checkpoint-6/adapter_model.safetensors && test -f straight/checkpoint-6/optimizer.safetensors && ! test -e straight/checkpoint-6/model.safetensors", d), 0);
    snprintf(args, sizeof args, "%s --output-dir resumed --save-steps 6 --resume", common);
    assert_int_equal(train(d, args), 0);
    size_t n1, n2;
    char *w1 = file_bytes(d, "straight/adapter_model.safetensors", &n1), *w2 = file_bytes(d, "resumed/adapter_model.safetensors", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(w1, w2, n1);
    free(w1);
    free(w2);

    /* the reference in memory (--no-precompute-ref) is the base with adapters off: same metrics */
    snprintf(args, sizeof args, "%s --output-dir inmem --no-precompute-ref", common);
    assert_int_equal(train(d, args), 0);
    char *mp2 = tu_path(d, "inmem/metrics.jsonl");
    for (int line = 1; line <= 12; line += 11)
        assert_true(fabs(metric(mp, line, "loss") - metric(mp2, line, "loss")) < 1e-5);

    /* continuing from the adapter: its reference is still the base, so the
     * rewards start where the first run ended, not at 0 */
    snprintf(args, sizeof args, "--adapter straight --loss-type apo_zero --learning-rate 2e-2 --per-device-train-batch-size 8 "
                                "--max-steps 1 --logging-steps 1 --seed 5 --max-tokens 64 --output-dir continued");
    assert_int_equal(train(d, args), 0);
    char *mp3 = tu_path(d, "continued/metrics.jsonl");
    double margin = metric(mp3, 1, "rewards/margins");
    printf("  --adapter: step-1 reward margin %.4f against the base (a fresh adapter: 0)\n", margin);
    assert_true(margin > 0.05);
    assert_true(metric(mp3, 1, "loss") < 0.95);

    /* anchor merge: a plain HF folder whose scores equal the base with --adapter, and differ from the base */
    char *modelq = model_dir();
    assert_int_equal(tu_system("cd '%s' && '%s' merge --model '%s' --adapter straight --out merged 2>merge.err", d, tu_cli(), modelq), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' score --model merged --data pairs.jsonl --out s_merged.jsonl 2>/dev/null && "
                               "'%s' score --model '%s' --adapter straight --data pairs.jsonl --out s_adapter.jsonl 2>/dev/null && "
                               "'%s' score --model '%s' --data pairs.jsonl --out s_base.jsonl 2>/dev/null",
                               d, tu_cli(), tu_cli(), modelq, tu_cli(), modelq), 0);
    size_t na, nm, nbase;
    char *sm = file_bytes(d, "s_merged.jsonl", &nm), *sa = file_bytes(d, "s_adapter.jsonl", &na), *sb = file_bytes(d, "s_base.jsonl", &nbase);
    assert_string_equal(sm, sa);
    assert_string_not_equal(sm, sb);
    free(sm);
    free(sa);
    free(sb);
    assert_int_equal(tu_system("cd '%s' && '%s' merge --model '%s' --adapter straight --out straight/m 2>merge.err", d, tu_cli(), modelq), 1);
    out = file_bytes(d, "merge.err", &n);
    assert_non_null(strstr(out, "lies inside the --adapter folder"));
    free(out);
    free(modelq);

    /* options checked before work: an output folder equal to the adapter, bad r, unknown target */
    snprintf(args, sizeof args, "--adapter straight --output-dir straight --max-steps 1");
    assert_int_equal(train(d, args), 1);
    out = file_bytes(d, "train.err", &n);
    assert_non_null(strstr(out, "--adapter folder"));
    free(out);
    assert_int_not_equal(train(d, "--use-peft --lora-target-modules lm_head --output-dir x --max-steps 1"), 0);
    out = file_bytes(d, "train.err", &n);
    assert_non_null(strstr(out, "'lm_head'"));
    free(out);
    assert_int_equal(train(d, "--lora-r 8 --output-dir x --max-steps 1"), 2);  /* a LoRA option without --use-peft */
    out = file_bytes(d, "train.err", &n);
    assert_non_null(strstr(out, "need --use-peft"));
    free(out);
    /* an adapter's own r/alpha/targets win: a flag that would be ignored is refused */
    assert_int_equal(train(d, "--adapter straight --lora-r 8 --output-dir y --max-steps 1"), 2);
    out = file_bytes(d, "train.err", &n);
    assert_non_null(strstr(out, "adapter_config.json"));
    free(out);
    assert_int_not_equal(train(d, "--use-peft --lora-dropout 1 --output-dir x --max-steps 1"), 0);
    out = file_bytes(d, "train.err", &n);
    assert_non_null(strstr(out, "lora-dropout"));
    free(out);

    free(mp);
    free(mp2);
    free(mp3);
    free(base_before);
    free(model);
    free(data);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_new_adapter_is_identity),
        cmocka_unit_test(test_gradients_match_merged),
        cmocka_unit_test(test_dropout_finite_differences),
        cmocka_unit_test(test_peft_files),
        cmocka_unit_test(test_train_use_peft),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
