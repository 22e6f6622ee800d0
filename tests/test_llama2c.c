/* The real pretrained stories260K (llama2.c v0 checkpoint) imported through
 * anc_llama2c_load: teacher-forced on BOS + llama2.c's own 200 greedy ids,
 * the argmax of every row's logits must reproduce the next id — the
 * imported model computes what llama2.c computes. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/llama2c.h"
#include "model/model.h"

static void test_teacher_forced_greedy(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin");
    char *ids_path = tu_shared_fixture("llama2c/expected_t0_n200_ids.json");
    if (!bin || !ids_path) {
        free(bin);
        free(ids_path);
        skip();
    }
    anc_error err = {0};
    anc_model *m = NULL;
    TU_CHECK(anc_llama2c_load(&m, bin, &err), &err);
    assert_int_equal(m->cfg.hidden_size, 64);
    assert_int_equal(m->cfg.num_layers, 5);
    assert_int_equal(m->cfg.num_kv_heads, 4);
    assert_int_equal(m->cfg.vocab_size, 512);
    assert_int_equal(m->cfg.tie_word_embeddings, 1);

    json_error_t je;
    json_t *root = json_load_file(ids_path, 0, &je);
    assert_non_null(root);
    json_t *gen = json_object_get(root, "generated_ids");
    size_t n_gen = json_array_size(gen);
    assert_int_equal(n_gen, 200);
    int64_t N = (int64_t)n_gen + 1;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)N);
    json_t *bos = json_object_get(root, "bos");
    tokens[0] = bos ? (int32_t)json_integer_value(bos) : 1;
    for (size_t i = 0; i < n_gen; i++) tokens[i + 1] = (int32_t)json_integer_value(json_array_get(gen, i));
    json_decref(root);

    int64_t offsets[2] = {0, N};
    uint8_t *mask = calloc((size_t)N, 1);
    for (int64_t t = 1; t < N; t++) mask[t] = 1;
    anc_batch b = {N, tokens, 1, offsets, mask};
    anc_acts *a = anc_acts_create();
    float seq = 0;
    TU_CHECK(anc_model_forward(m, a, &b, NULL, &seq, NULL, &err), &err);
    int V = m->cfg.vocab_size;
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)(N - 1));
    for (int64_t i = 0; i < N - 1; i++) rows[i] = i;
    float *logits = malloc(sizeof(float) * (size_t)(N - 1) * V);
    TU_CHECK(anc_model_logits_rows(m, a, rows, N - 1, logits, &err), &err);
    int mismatches = 0;
    for (int64_t t = 0; t < N - 1; t++) {
        const float *row = logits + (size_t)t * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        if (best != tokens[t + 1]) {
            if (mismatches < 5) fprintf(stderr, "position %lld: argmax %d, llama2.c chose %d\n", (long long)t, best, tokens[t + 1]);
            mismatches++;
        }
    }
    printf("  stories260K: %lld teacher-forced positions, %d argmax mismatches, log p(greedy text) = %.3f\n",
           (long long)(N - 1), mismatches, seq);
    assert_int_equal(mismatches, 0);
    assert_true(seq < 0);

    /* Converted to a Hugging Face folder and loaded back, it is the same model. */
    char *tmp = tu_tmpdir();
    TU_CHECK(anc_model_save_hf(m, tmp, ANC_DT_F32, &err), &err);
    anc_model *m2 = NULL;
    TU_CHECK(anc_model_load_hf(&m2, tmp, &err), &err);
    assert_int_equal(m2->n_params, m->n_params);
    assert_memory_equal(m2->params, m->params, sizeof(float) * m->n_params);
    anc_model_free(m2);
    tu_rmtree(tmp);
    free(tmp);

    free(rows); free(logits); free(mask); free(tokens); free(bin); free(ids_path);
    anc_acts_free(a);
    anc_model_free(m);
}

static void test_bad_checkpoints(void **state) {
    (void)state;
    char *tmp = tu_tmpdir();
    char *p = tu_path(tmp, "bad.bin");
    anc_error err = {0};
    anc_model *m = NULL;
    /* too short for the header */
    tu_write_file(p, "abc", 3);
    assert_int_equal(anc_llama2c_load(&m, p, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "header"));
    /* nonsense sizes */
    int32_t hdr[7] = {64, 172, 5, 7, 4, 512, 512};
    tu_write_file(p, hdr, sizeof hdr);
    assert_int_equal(anc_llama2c_load(&m, p, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "not a valid llama2.c"));
    /* a valid header but a truncated body */
    hdr[3] = 8;
    tu_write_file(p, hdr, sizeof hdr);
    assert_int_equal(anc_llama2c_load(&m, p, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "implies"));
    assert_null(m);
    /* missing file */
    assert_int_equal(anc_llama2c_load(&m, "/nonexistent/x.bin", &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/x.bin"));
    tu_rmtree(tmp);
    free(tmp);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teacher_forced_greedy),
        cmocka_unit_test(test_bad_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
