/* Memory savers of issue 12, each against the plain engine on the tiny
 * reference models (llama_gqa: untied, GQA; qwen2_tied: q/k/v biases, tied
 * head):
 * - Gradient checkpointing: log-probs, full-model gradients and adapter
 *   gradients are bit-identical to a run without it (fp32 and bf16, LoRA
 *   with dropout on), and it holds fewer activation bytes.
 * - A frozen bf16 base (anc_model_load_hf_frozen16) computes exactly what
 *   the fp32-loaded model in bf16 computes: log-probs, adapter gradients
 *   and decoding logits bit-identical. Its bf16 weights equal the rounding
 *   of the fp32 file and, from a BF16 file, the file's own bits. What it
 *   cannot do (leave bf16, be saved or merged into, train in full) is
 *   refused with an error.
 * - anc_st_drop_pages leaves the tensor readable.
 * - anchor train --use-peft --bf16 (frozen bf16 base): the adapter it
 *   writes is byte-identical with and without --gradient-checkpointing,
 *   and a resumed run ends byte-identical to a straight one.
 * - anchor train refuses, before reading any weights, a run whose memory
 *   plan cannot fit (a ~400B-parameter config), naming what would help;
 *   --no-memory-check goes on to the weights. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "io/safetensors.h"
#include "model/decode.h"
#include "model/lora.h"
#include "model/model.h"

#define NTOK 15

typedef struct {
    int32_t tokens[NTOK];
    int64_t offsets[3];
    uint8_t mask[NTOK];
    float dlogp[NTOK];
    anc_batch b;
} batch;

static void make_batch(batch *tb, int vocab, uint64_t seed) {
    tu_rng r = {seed};
    tb->offsets[0] = 0;
    tb->offsets[1] = 9;
    tb->offsets[2] = NTOK;
    for (int t = 0; t < NTOK; t++) {
        tb->tokens[t] = (int32_t)(tu_rng_uniform(&r) * (float)vocab) % vocab;
        tb->mask[t] = !(t == 0 || t == 9);
        tb->dlogp[t] = tb->mask[t] ? tu_rng_normal(&r) : 0.0f;
    }
    tb->b = (anc_batch){NTOK, tb->tokens, 2, tb->offsets, tb->mask};
}

static char *fixture(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/reference/%s", name);
    return tu_path(ANCHOR_SOURCE_DIR, rel);
}

/* Adapters on all seven projections with a nonzero B, so they matter. */
static anc_lora *make_lora(const anc_model *m, double dropout) {
    anc_lora_config lc;
    anc_lora_config_default(&lc);
    lc.r = 4;
    lc.alpha = 8;
    lc.dropout = dropout;
    lc.targets = ANC_LORA_ALL_LINEAR;
    anc_lora *l = NULL;
    anc_error err = {0};
    TU_CHECK(anc_lora_create(&l, &m->cfg, &lc, &err), &err);
    anc_lora_init(l, 7);
    tu_rng r = {99};
    for (size_t i = 0; i < l->n_params; i++)
        if (l->params[i] == 0.0f) l->params[i] = 0.05f * tu_rng_normal(&r);
    TU_CHECK(anc_lora_alloc_grads(l, &err), &err);
    l->dropout_seed = 5;
    l->dropout_pass = 11;
    l->training = dropout > 0;
    return l;
}

typedef struct {
    float logp[NTOK];
    float *grads;      /* full-model gradients, or NULL */
    float *lora_grads; /* adapter gradients, or NULL */
    size_t act_bytes;
} pass_out;

/* forward + backward of m (adapters l or none) with checkpointing ckpt. */
static pass_out run_pass(anc_model *m, anc_lora *l, const batch *tb, int ckpt, int full_grads) {
    pass_out o = {0};
    anc_error err = {0};
    anc_acts *a = anc_acts_create();
    anc_acts_set_checkpointing(a, ckpt);
    m->lora = l;
    if (l) memset(l->grads, 0, sizeof(float) * l->n_params);
    TU_CHECK(anc_model_forward(m, a, &tb->b, o.logp, NULL, NULL, &err), &err);
    if (full_grads) assert_non_null(o.grads = calloc(m->n_params, sizeof(float)));
    TU_CHECK(anc_model_backward(m, a, &tb->b, tb->dlogp, o.grads, &err), &err);
    if (l) {
        assert_non_null(o.lora_grads = malloc(sizeof(float) * l->n_params));
        memcpy(o.lora_grads, l->grads, sizeof(float) * l->n_params);
    }
    o.act_bytes = anc_acts_bytes(a);
    anc_acts_free(a);
    m->lora = NULL;
    return o;
}

static void pass_free(pass_out *o) {
    free(o->grads);
    free(o->lora_grads);
}

static void check_checkpointing(const char *name, int bf16) {
    char *dir = fixture(name);
    anc_model *m = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&m, dir, &err), &err);
    if (bf16) TU_CHECK(anc_model_set_bf16(m, 1, &err), &err);
    batch tb;
    make_batch(&tb, m->cfg.vocab_size, 3);

    /* full fine-tuning */
    pass_out off = run_pass(m, NULL, &tb, 0, 1), on = run_pass(m, NULL, &tb, 1, 1);
    assert_memory_equal(off.logp, on.logp, sizeof off.logp);
    assert_memory_equal(off.grads, on.grads, sizeof(float) * m->n_params);
    assert_true(tu_max_abs(off.grads, m->n_params) > 0);
    assert_true(on.act_bytes < off.act_bytes);
    pass_free(&off);
    pass_free(&on);

    /* LoRA with dropout on a frozen base */
    anc_lora *l = make_lora(m, 0.25);
    off = run_pass(m, l, &tb, 0, 0);
    on = run_pass(m, l, &tb, 1, 0);
    assert_memory_equal(off.logp, on.logp, sizeof off.logp);
    assert_memory_equal(off.lora_grads, on.lora_grads, sizeof(float) * l->n_params);
    assert_true(tu_max_abs(off.lora_grads, l->n_params) > 0);
    pass_free(&off);
    pass_free(&on);
    anc_lora_free(l);
    anc_model_free(m);
    free(dir);
}

static void test_checkpointing_fp32(void **state) {
    (void)state;
    check_checkpointing("llama_gqa", 0);
    check_checkpointing("qwen2_tied", 0);
}

static void test_checkpointing_bf16(void **state) {
    (void)state;
    check_checkpointing("llama_gqa", 1);
    check_checkpointing("qwen2_tied", 1);
}

/* The estimate the memory plan uses shrinks the way the buffers do. */
static void test_checkpointing_estimate(void **state) {
    (void)state;
    char *dir = fixture("llama_gqa");
    anc_model *m = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&m, dir, &err), &err);
    assert_true(anc_model_act_bytes_per_token(&m->cfg, 1) < anc_model_act_bytes_per_token(&m->cfg, 0));
    anc_model_free(m);
    free(dir);
}

/* Decoding logits of a prompt then one more token. */
static void decode_logits(const anc_model *m, const batch *tb, float *logits) {
    anc_kv_cache *kv = NULL;
    anc_error err = {0};
    TU_CHECK(anc_kv_create(&kv, m, 1, 32, &err), &err);
    int slot = 0, n = 9;
    const int32_t *toks = tb->tokens;
    TU_CHECK(anc_decode_step(m, kv, &slot, &toks, &n, 1, logits, &err), &err);
    const int32_t *next = tb->tokens + 9;
    n = 1;
    TU_CHECK(anc_decode_step(m, kv, &slot, &next, &n, 1, logits + m->cfg.vocab_size, &err), &err);
    anc_kv_free(kv);
}

static void check_frozen(const char *name) {
    char *dir = fixture(name);
    anc_model *ref = NULL, *fz = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&ref, dir, &err), &err);
    /* A frozen base looks its embeddings up in bf16, the fp32 model in fp32
     * (as torch's model.to(bfloat16) vs bf16 autocast): give the fp32 model
     * bf16-valued embeddings, as a BF16 checkpoint has, so both must agree
     * bit for bit. */
    size_t n_embed = (size_t)ref->cfg.vocab_size * (size_t)ref->cfg.hidden_size;
    for (size_t i = 0; i < n_embed; i++) ref->w.embed[i] = anc_bf16_to_f32(anc_f32_to_bf16(ref->w.embed[i]));
    TU_CHECK(anc_model_set_bf16(ref, 1, &err), &err);
    TU_CHECK(anc_model_load_hf_frozen16(&fz, dir, &err), &err);
    assert_true(fz->frozen16);
    assert_int_equal(fz->n_params, ref->n_params);
    /* matrices: the same bf16 bits; 1-D tensors: the same fp32 values */
    for (size_t i = 0; i < ref->n_specs; i++) {
        const anc_param_spec *s = &ref->specs[i];
        if (s->ndim == 2)
            assert_memory_equal(fz->params16 + s->offset, ref->params16 + s->offset, 2 * s->n_elems);
        else
            assert_memory_equal(fz->params + s->offset, ref->params + s->offset, 4 * s->n_elems);
    }
    batch tb;
    make_batch(&tb, ref->cfg.vocab_size, 8);
    anc_lora *l = make_lora(ref, 0.1);
    pass_out a = run_pass(ref, l, &tb, 0, 0), b = run_pass(fz, l, &tb, 0, 0), c = run_pass(fz, l, &tb, 1, 0);
    assert_memory_equal(a.logp, b.logp, sizeof a.logp);
    assert_memory_equal(a.lora_grads, b.lora_grads, sizeof(float) * l->n_params);
    assert_memory_equal(a.lora_grads, c.lora_grads, sizeof(float) * l->n_params);
    pass_free(&a);
    pass_free(&b);
    pass_free(&c);
    anc_lora_free(l);

    size_t V = (size_t)ref->cfg.vocab_size;
    float *la = malloc(sizeof(float) * 2 * V), *lb = malloc(sizeof(float) * 2 * V);
    assert_non_null(la);
    assert_non_null(lb);
    decode_logits(ref, &tb, la);
    decode_logits(fz, &tb, lb);
    assert_memory_equal(la, lb, sizeof(float) * 2 * V);
    free(la);
    free(lb);

    /* refusals */
    char *tmp = tu_tmpdir();
    assert_int_equal(anc_model_save_hf(fz, tmp, ANC_DT_BF16, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "frozen"));
    assert_int_equal(anc_model_set_bf16(fz, 0, &err), ANC_ERR_INVALID);
    l = make_lora(fz, 0);
    assert_int_equal(anc_lora_merge(l, fz, &err), ANC_ERR_INVALID);
    anc_lora_free(l);
    {
        anc_acts *acts = anc_acts_create();
        float *g = calloc(fz->n_params, sizeof(float));
        assert_non_null(g);
        TU_CHECK(anc_model_forward(fz, acts, &tb.b, NULL, NULL, NULL, &err), &err);
        assert_int_equal(anc_model_backward(fz, acts, &tb.b, tb.dlogp, g, &err), ANC_ERR_INVALID);
        free(g);
        anc_acts_free(acts);
    }

    /* a BF16 file is copied bit for bit */
    TU_CHECK(anc_model_save_hf(ref, tmp, ANC_DT_BF16, &err), &err);
    anc_model *fz2 = NULL;
    TU_CHECK(anc_model_load_hf_frozen16(&fz2, tmp, &err), &err);
    char *wpath = tu_path(tmp, "model.safetensors");
    anc_safetensors *st = NULL;
    TU_CHECK(anc_st_open(&st, wpath, &err), &err);
    for (size_t i = 0; i < fz2->n_specs; i++) {
        const anc_param_spec *s = &fz2->specs[i];
        const anc_st_tensor *t = anc_st_find(st, s->name);
        assert_non_null(t);
        assert_int_equal(t->dtype, ANC_DT_BF16);
        if (s->ndim == 2) assert_memory_equal(fz2->params16 + s->offset, t->data, 2 * s->n_elems);
        /* dropped pages read back the same */
        uint16_t first = 0;
        memcpy(&first, t->data, 2);
        anc_st_drop_pages(st, t);
        assert_memory_equal(&first, t->data, 2);
    }
    anc_st_close(st);
    free(wpath);
    anc_model_free(fz2);
    tu_rmtree(tmp);
    free(tmp);
    anc_model_free(fz);
    anc_model_free(ref);
    free(dir);
}

static void test_frozen_bf16_base(void **state) {
    (void)state;
    check_frozen("llama_gqa");
    check_frozen("qwen2_tied");
    check_frozen("llama3_rope");
}

/* anc_st_read_bf16 rounds like anc_f32_to_bf16 and checks the count. */
static void test_read_bf16(void **state) {
    (void)state;
    char *dir = fixture("llama_gqa");
    char *path = tu_path(dir, "model-00001-of-00002.safetensors");
    anc_safetensors *st = NULL;
    anc_error err = {0};
    TU_CHECK(anc_st_open(&st, path, &err), &err);
    const anc_st_tensor *t = anc_st_get(st, 0);
    float *f = malloc(sizeof(float) * t->n_elems);
    uint16_t *h = malloc(sizeof(uint16_t) * t->n_elems);
    assert_non_null(f);
    assert_non_null(h);
    TU_CHECK(anc_st_read_f32(t, f, t->n_elems, &err), &err);
    TU_CHECK(anc_st_read_bf16(t, h, t->n_elems, &err), &err);
    for (uint64_t i = 0; i < t->n_elems; i++) assert_int_equal(h[i], anc_f32_to_bf16(f[i]));
    assert_int_equal(anc_st_read_bf16(t, h, t->n_elems + 1, &err), ANC_ERR_INVALID);
    free(f);
    free(h);
    anc_st_close(st);
    free(path);
    free(dir);
}

/* n pre-tokenised pairs over the llama_gqa vocabulary (96 ids). */
static void write_pair_rows(const char *path, int n) {
    tu_rng r = {41};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        const char *keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
        for (int k = 0; k < 3; k++) {
            fprintf(f, "%s\"%s\": [", k ? "], " : "{", keys[k]);
            int len = 2 + (int)(tu_rng_uniform(&r) * 5);
            for (int j = 0; j < len; j++) fprintf(f, "%s%d", j ? ", " : "", 3 + (int)(tu_rng_uniform(&r) * 90));
        }
        fprintf(f, "]}\n");
    }
    fclose(f);
}

static char *read_rel(const char *dir, const char *rel, size_t *n) {
    char *p = tu_path(dir, rel);
    char *b = tu_read_file(p, n);
    free(p);
    return b;
}

static void assert_same_file(const char *dir, const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = read_rel(dir, a, &na), *y = read_rel(dir, b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

static void test_train_frozen_bf16(void **state) {
    (void)state;
    char *d = tu_tmpdir(), *model = fixture("llama_gqa");
    char *data = tu_path(d, "pairs.jsonl");
    write_pair_rows(data, 24);
    const char *common = "--use-peft --bf16 --lora-r 4 --lora-alpha 8 --lora-target-modules all-linear --loss-type apo_zero "
                         "--learning-rate 2e-2 --per-device-train-batch-size 8 --max-steps 6 --logging-steps 1 --seed 3 "
                         "--max-tokens 64 --lr-scheduler constant --save-steps 3";
    const char *cli = tu_cli();
    assert_int_equal(tu_system("cd '%s' && '%s' train --model '%s' --data pairs.jsonl %s --output-dir plain 2>plain.err", d, cli, model, common), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' train --model '%s' --data pairs.jsonl %s --gradient-checkpointing --output-dir ckpt 2>ckpt.err",
                               d, cli, model, common), 0);
    assert_same_file(d, "plain/adapter_model.safetensors", "ckpt/adapter_model.safetensors");
    size_t n = 0;
    char *yaml = read_rel(d, "ckpt/train_config.yaml", &n);
    assert_non_null(strstr(yaml, "gradient_checkpointing: true"));
    free(yaml);
    /* the adapter moved (B starts at zero) */
    char *ad = tu_path(d, "ckpt");
    anc_lora *l = NULL;
    anc_model *m = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&m, model, &err), &err);
    TU_CHECK(anc_lora_load_peft(&l, ad, &m->cfg, &err), &err);
    assert_true(tu_max_abs(l->params, l->n_params) > 0);
    anc_lora_free(l);
    anc_model_free(m);
    free(ad);
    /* resume from step 3: the same adapter at step 6 */
    assert_int_equal(tu_system("cd '%s' && cp -r ckpt resumed && rm -rf resumed/checkpoint-6 resumed/adapter_model.safetensors", d), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' train --model '%s' --data pairs.jsonl %s --gradient-checkpointing --output-dir resumed --resume 2>resumed.err",
                               d, cli, model, common), 0);
    assert_same_file(d, "ckpt/adapter_model.safetensors", "resumed/adapter_model.safetensors");
    tu_rmtree(d);
    free(d);
    free(data);
    free(model);
}

static void test_train_refuses_what_cannot_fit(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *data = tu_path(d, "pairs.jsonl");
    write_pair_rows(data, 4);
    char *cfg = tu_path(d, "huge/config.json");
    assert_int_equal(tu_system("mkdir -p '%s/huge'", d), 0);
    const char *json = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 16384, "
                       "\"intermediate_size\": 53248, \"num_hidden_layers\": 126, \"num_attention_heads\": 128, "
                       "\"num_key_value_heads\": 8, \"vocab_size\": 128256, \"rms_norm_eps\": 1e-5, \"rope_theta\": 500000.0, "
                       "\"max_position_embeddings\": 8192, \"tie_word_embeddings\": false}";
    tu_write_file(cfg, json, strlen(json));
    /* a weights file that is not one: reading it would fail differently */
    char *w = tu_path(d, "huge/model.safetensors");
    tu_write_file(w, "not weights", 11);
    const char *cli = tu_cli();
    assert_int_not_equal(tu_system("cd '%s' && '%s' train --model huge --data pairs.jsonl --output-dir out --max-steps 1 2>refused.err", d, cli), 0);
    size_t n = 0;
    char *msg = read_rel(d, "refused.err", &n);
    assert_non_null(strstr(msg, "this run needs about"));
    assert_non_null(strstr(msg, "--use-peft"));
    assert_non_null(strstr(msg, "--gradient-checkpointing"));
    assert_null(strstr(msg, "model.safetensors"));
    free(msg);
    assert_int_not_equal(tu_system("cd '%s' && '%s' train --model huge --data pairs.jsonl --output-dir out2 --max-steps 1 --no-memory-check 2>went.err", d, cli), 0);
    msg = read_rel(d, "went.err", &n);
    assert_null(strstr(msg, "this run needs about"));
    assert_non_null(strstr(msg, "model.safetensors"));
    free(msg);
    free(w);
    free(cfg);
    free(data);
    tu_rmtree(d);
    free(d);
}

/* anchor info plans a model from its config.json alone (before a download). */
static void test_info_from_config_alone(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *shape = tu_path(ANCHOR_SOURCE_DIR, "bench/shapes/llama-3.1-8b.json");
    assert_int_equal(tu_system("cd '%s' && '%s' info --model '%s' --lora-target-modules all-linear >info.out 2>&1", d, tu_cli(), shape), 0);
    size_t n = 0;
    char *out = read_rel(d, "info.out", &n);
    assert_non_null(strstr(out, "weight files    none"));
    assert_non_null(strstr(out, "8030261248"));
    assert_non_null(strstr(out, "LoRA bf16 +ckpt"));
    assert_non_null(strstr(out, "41943040 adapter parameters"));
    free(out);
    free(shape);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpointing_fp32),   cmocka_unit_test(test_checkpointing_bf16),
        cmocka_unit_test(test_checkpointing_estimate), cmocka_unit_test(test_frozen_bf16_base),
        cmocka_unit_test(test_read_bf16), cmocka_unit_test(test_train_frozen_bf16),
        cmocka_unit_test(test_train_refuses_what_cannot_fit), cmocka_unit_test(test_info_from_config_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
