/* The calls of the public API that have no internal twin (src/api/): train
 * settings by name, the JSON-text forms of the template, dataset and store
 * calls, model info and random creation, and scoring with a NULL scratch.
 * Only <anchor/anchor.h> plus the internal twins the results are compared
 * with. examples/embed.c and tests/embed_install.sh test the installed
 * library; this test runs in every build. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anchor/anchor.h"
#include "store/store.h"

static const char CFG[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 32, \"hidden_size\": 16,"
    " \"intermediate_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
    " \"num_key_value_heads\": 1, \"max_position_embeddings\": 32, \"rms_norm_eps\": 1e-5,"
    " \"tie_word_embeddings\": false}";

static const char ROWS[] =
    "{\"prompt_ids\": [1, 2, 3], \"chosen_ids\": [4, 5], \"rejected_ids\": [6]}\n"
    "{\"prompt_ids\": [1, 7], \"chosen_ids\": [8], \"rejected_ids\": [9, 10]}\n";

static void test_model_info_and_random(void **state) {
    (void)state;
    anc_error err = {0};
    anc_model *a = NULL, *b = NULL;
    assert_int_equal(anc_model_create_random(&a, CFG, strlen(CFG), 3, 0, &err), ANC_OK);
    assert_int_equal(anc_model_create_random(&b, CFG, strlen(CFG), 3, 0.02, &err), ANC_OK);
    anc_model_info info;
    anc_model_get_info(a, &info);
    assert_string_equal(info.architecture, "LlamaForCausalLM");
    assert_string_equal(info.model_type, "llama");
    assert_int_equal(info.vocab_size, 32);
    assert_int_equal(info.num_layers, 1);
    assert_int_equal(info.head_dim, 8);
    /* embed 32x16, lm_head 32x16, q 16x16, k 8x16, v 8x16, o 16x16, 3 x 32x16 MLP, 3 norms of 16 */
    assert_int_equal(info.n_params, 512 + 512 + 256 + 128 + 128 + 256 + 3 * 512 + 3 * 16);
    assert_int_equal(info.source_dtype, ANC_DT_F32);

    anc_pairset ps;
    anc_dataset_stats st;
    assert_int_equal(anc_dataset_parse(ROWS, strlen(ROWS), NULL, NULL, NULL, NULL, 32, &ps, NULL, &st, &err), ANC_OK);
    assert_int_equal(ps.n, 2);
    assert_int_equal(st.pretokenised, 2);
    assert_int_equal(anc_pair_tokens(&ps.pairs[0]), 2 * 3 + 2 + 1);
    float ca[2], ra[2], cb[2], rb[2];
    assert_int_equal(anc_score_pairs(a, NULL, &ps, 0, ca, ra, NULL, NULL, &err), ANC_OK);
    anc_acts *acts = anc_acts_create_forward_only();
    assert_non_null(acts);
    assert_int_equal(anc_score_pairs(b, acts, &ps, 64, cb, rb, NULL, NULL, &err), ANC_OK);
    anc_acts_free(acts);
    for (int i = 0; i < 2; i++) {
        assert_true(isfinite(ca[i]) && ca[i] < 0);
        assert_true(fabsf(ca[i] - cb[i]) < 1e-5f && fabsf(ra[i] - rb[i]) < 1e-5f); /* same seed: same model */
    }
    anc_pairset_free(&ps);
    /* an id outside the vocabulary */
    assert_int_equal(anc_dataset_parse(ROWS, strlen(ROWS), "rows", NULL, NULL, NULL, 6, &ps, NULL, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "rows:1"));
    assert_int_equal(ps.n, 0);
    anc_model_free(a);
    anc_model_free(b);

    anc_model *bad = (anc_model *)1;
    const char *nojson = "{\"architectures\": [\"GPT2LMHeadModel\"]}";
    assert_int_not_equal(anc_model_create_random(&bad, nojson, strlen(nojson), 1, 0, &err), ANC_OK);
    assert_null(bad);
}

static void test_templates_json(void **state) {
    (void)state;
    anc_error err = {0};
    anc_template *t = NULL;
    const char *src = "{{ greeting }}, {{ names | join(' and ') }}!";
    assert_int_equal(anc_template_compile(&t, src, strlen(src), "t", &err), ANC_OK);
    const char *ctx = "{\"greeting\": \"Hello\", \"names\": [\"Ada\", \"Bob\"]}";
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(anc_template_render_json(t, ctx, strlen(ctx), NULL, &out, &n, &err), ANC_OK);
    assert_string_equal(out, "Hello, Ada and Bob!");
    assert_int_equal(n, strlen(out));
    free(out);
    assert_int_equal(anc_template_render_json(t, "[1]", 3, NULL, &out, NULL, &err), ANC_ERR_FORMAT);
    assert_null(out);
    assert_int_equal(anc_template_render_json(t, "{", 1, NULL, &out, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "template context:1:"));
    anc_template_free(t);

    anc_template *chat = NULL;
    assert_int_equal(anc_chat_template_resolve(NULL, "chatml", &chat, &err), ANC_OK);
    assert_non_null(chat);
    const char *msgs = "[{\"role\": \"user\", \"content\": \"2+2?\"}]";
    assert_int_equal(anc_render_chat_json(chat, NULL, msgs, strlen(msgs), 1, &out, NULL, &err), ANC_OK);
    assert_string_equal(out, "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_equal(anc_render_chat_json(chat, NULL, "{}", 2, 1, &out, NULL, &err), ANC_ERR_FORMAT);
    int32_t *ids = NULL;
    size_t nid = 7;
    assert_int_equal(anc_prompt_ids_json(NULL, chat, "3", 1, &ids, &nid, &err), ANC_ERR_FORMAT);
    assert_null(ids);
    assert_int_equal(nid, 0);
    assert_int_equal(anc_prompt_ids_json(NULL, chat, "[1", 2, &ids, &nid, &err), ANC_ERR_FORMAT);
    anc_template_free(chat);
    assert_non_null(anc_template_builtin(anc_template_builtin_name(0)));
}

static void test_store_json(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "run.db");
    anc_error err = {0};
    anc_store *s = NULL;
    assert_int_equal(anc_store_open(&s, path, &err), ANC_OK);
    /* the key of JSON text is the key of the parsed value, key order aside */
    char k1[ANC_STORE_KEY_HEX], k2[ANC_STORE_KEY_HEX];
    const char *req = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    assert_int_equal(anc_store_request_key_json("exec:x", "s", req, strlen(req), k1, &err), ANC_OK);
    json_t *j = json_pack("{s:[{s:s,s:s}],s:s}", "messages", "role", "user", "content", "x", "model", "m");
    assert_int_equal(anc_store_request_key("exec:x", "s", j, k2, &err), ANC_OK);
    assert_string_equal(k1, k2);
    assert_int_equal(anc_store_request_key_json("exec:x", NULL, "{", 1, k1, &err), ANC_ERR_FORMAT);

    char *text = (char *)1, *rj = (char *)1;
    int found = 1;
    assert_int_equal(anc_store_get_reply_json(s, k2, &text, &rj, &found, &err), ANC_OK);
    assert_int_equal(found, 0);
    assert_null(text);
    assert_null(rj);
    json_t *reply = json_pack("{s:i}", "tokens", 3);
    assert_int_equal(anc_store_put_reply(s, k2, j, "four", reply, 1, &err), ANC_OK);
    assert_int_equal(anc_store_get_reply_json(s, k2, &text, &rj, &found, &err), ANC_OK);
    assert_int_equal(found, 1);
    assert_string_equal(text, "four");
    assert_string_equal(rj, "{\"tokens\":3}");
    free(text);
    free(rj);
    json_decref(reply);
    json_decref(j);

    assert_int_equal(anc_store_item_put_json(s, "step", "a", ANC_ITEM_DONE, "{\"v\": [1, 2]}", NULL, &err), ANC_OK);
    assert_int_equal(anc_store_item_put_json(s, "step", "b", ANC_ITEM_FAILED, NULL, "boom", &err), ANC_OK);
    assert_int_equal(anc_store_item_put_json(s, "step", "c", ANC_ITEM_DONE, "{oops", NULL, &err), ANC_ERR_FORMAT);
    anc_item_status is;
    char *rec = NULL, *e = NULL;
    assert_int_equal(anc_store_item_get_json(s, "step", "a", &is, &rec, &e, &err), ANC_OK);
    assert_int_equal(is, ANC_ITEM_DONE);
    assert_string_equal(rec, "{\"v\":[1,2]}");
    assert_null(e);
    free(rec);
    assert_int_equal(anc_store_item_get_json(s, "step", "b", &is, &rec, &e, &err), ANC_OK);
    assert_int_equal(is, ANC_ITEM_FAILED);
    assert_null(rec);
    assert_string_equal(e, "boom");
    free(e);
    size_t done = 0, failed = 0;
    assert_int_equal(anc_store_item_count(s, "step", &done, &failed, &err), ANC_OK);
    assert_int_equal(done, 1);
    assert_int_equal(failed, 1);
    anc_store_close(s);
    tu_rmtree(dir);
    free(path);
    free(dir);
}

/* Starts over with fresh settings (the earlier ones had bad values set). */
static anc_status recreate(anc_train_opts **o, const char *model, const char *data,
                                                   const char *out) {
    anc_error err = {0};
    anc_train_opts_free(*o);
    return anc_train_opts_create(o, model, data, out, &err);
}

static void test_train_opts(void **state) {
    (void)state;
    anc_error err = {0};
    anc_train_opts *o = NULL;
    assert_int_equal(anc_train_opts_create(&o, "m", "", "out", &err), ANC_ERR_INVALID);
    assert_null(o);
    char *dir = tu_tmpdir();
    char *model = tu_path(dir, "model"), *data = tu_path(dir, "pairs.jsonl"), *out = tu_path(dir, "out");
    anc_model *m = NULL;
    assert_int_equal(anc_model_create_random(&m, CFG, strlen(CFG), 5, 0, &err), ANC_OK);
    assert_int_equal(anc_model_save_hf(m, model, ANC_DT_F32, &err), ANC_OK);
    anc_model_free(m);
    tu_write_file(data, ROWS, strlen(ROWS));

    assert_int_equal(anc_train_opts_create(&o, model, data, out, &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "no_such_setting", "1", &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "no_such_setting"));
    assert_int_equal(anc_train_opts_set(o, "beta", "zero", &err), ANC_ERR_INVALID);
    assert_int_equal(anc_train_opts_set(o, "max-steps", "-1", &err), ANC_ERR_INVALID);
    assert_int_equal(anc_train_opts_set(o, "bf16", "maybe", &err), ANC_ERR_INVALID);
    assert_int_equal(anc_train_opts_set(o, "config", "x.yaml", &err), ANC_ERR_INVALID); /* the command's */
    /* names and combinations are checked when the run starts, before any work */
    assert_int_equal(anc_train_opts_set(o, "optimizer", "adam9", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown optimizer 'adam9'"));
    assert_int_equal(anc_train_opts_set(o, "optimizer", "adamw", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "loss_type", "apo_zero,nope", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown loss type 'nope'"));
    assert_int_equal(anc_train_opts_set(o, "loss_type", "apo_zero, sft", &err), ANC_OK); /* replaces */
    assert_int_equal(anc_train_opts_set(o, "loss_weights", "1", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "--loss-weights has 1 values for 2 loss types"));
    assert_int_equal(anc_train_opts_set(o, "loss_weights", "1,0.5", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "lora_target_modules", "q_proj", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "--lora-* options need --use-peft"));
    assert_int_equal(anc_train_opts_set(o, "lora_target_modules", "", &err), ANC_OK); /* none again */
    assert_int_equal(anc_train_opts_set(o, "save_dtype", "int8", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "--save-dtype must be f32, bf16 or f16"));
    assert_int_equal(recreate(&o, model, data, out), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "loss_type", "apo_zero,sft", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "loss_weights", "1,0.5", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "learning-rate", "1e-3", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "per_device_train_batch_size", "2", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "max_steps", "2", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "save_steps", "1", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "lr_scheduler_type", "constant", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "no_precompute_ref", "true", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "no-precompute-ref", "false", &err), ANC_OK);
    assert_int_equal(anc_train_opts_set(o, "seed", "7", &err), ANC_OK);
    assert_int_equal(anc_train_run(o, NULL, NULL, &err), ANC_OK);
    anc_train_opts_free(o);
    char *ckpt = NULL;
    assert_int_equal(anc_train_latest_checkpoint(out, &ckpt), 2);
    assert_non_null(ckpt);
    free(ckpt);
    anc_model *trained = NULL;
    assert_int_equal(anc_model_load_hf(&trained, out, &err), ANC_OK);
    anc_model_free(trained);
    char *metrics = tu_path(out, "metrics.jsonl");
    assert_true(tu_count_lines(metrics) >= 1);
    free(metrics);
    tu_rmtree(dir);
    free(model);
    free(data);
    free(out);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_info_and_random),
        cmocka_unit_test(test_templates_json),
        cmocka_unit_test(test_store_json),
        cmocka_unit_test(test_train_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
