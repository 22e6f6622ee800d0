/* anchor eval: graders on hand cases (SQuAD normalisation, numeric
 * tolerance, regex, exec), multiple-choice accuracy by log-likelihood on the
 * tiny reference model (pre-tokenised rows) and on stories260K (text rows),
 * each checked against single-sequence forwards computed here, and
 * perplexity against exp(-sum log p / n). */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/jsonl.h"
#include "eval/graders.h"
#include "eval/loglik.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static double grade(const char *spec, const char *response, json_t *ref, double tol) {
    anc_grader g;
    anc_error err = {0};
    TU_CHECK(anc_grader_parse(spec, &g, &err), &err);
    if (tol >= 0) g.tolerance = tol;
    double s = -1;
    TU_CHECK(anc_grade(&g, "the prompt", response, ref, &s, &err), &err);
    json_decref(ref);
    return s;
}

static void check_norm(const char *in, const char *want) {
    char *out = NULL;
    anc_error err = {0};
    TU_CHECK(anc_normalize_answer(in, &out, &err), &err);
    assert_string_equal(out, want);
    free(out);
}

static void test_graders(void **state) {
    (void)state;
    check_norm("The  Cat, sat!", "cat sat");
    check_norm("  An apple a day\tkeeps THE doctor away.  ", "apple day keeps doctor away");
    check_norm("theory", "theory");           /* articles only as whole words */
    check_norm("U.S.A.", "usa");              /* punctuation deleted, not spaced */
    check_norm("", "");
    assert_true(grade("exact", "Paris.", json_string("paris"), -1) == 1.0);
    assert_true(grade("exact", "The Eiffel Tower", json_string("eiffel tower"), -1) == 1.0);
    assert_true(grade("exact", "Paris, France", json_string("Paris"), -1) == 0.0);
    double x;
    assert_true(anc_last_number("The answer is 1,234.5 dollars", &x) && x == 1234.5);
    assert_true(anc_last_number("x = -3e-2.", &x) && fabs(x + 0.03) < 1e-15);
    assert_true(anc_last_number("first 7 then 8-2", &x) && x == 2);
    assert_true(anc_last_number("costs .5 now", &x) && x == 0.5);
    assert_true(!anc_last_number("no digits", &x));
    /* |x - ref| <= tol * max(1, |ref|) */
    assert_true(grade("numeric", "so 100.9", json_integer(100), 0.01) == 1.0);
    assert_true(grade("numeric", "so 101.5", json_integer(100), 0.01) == 0.0);
    assert_true(grade("numeric", "0.509", json_real(0.5), 0.01) == 1.0);
    assert_true(grade("numeric", "0.52", json_real(0.5), 0.01) == 0.0);
    assert_true(grade("numeric", "about 42 or 41", json_string("#### 41"), -1) == 1.0);
    assert_true(grade("numeric", "nothing", json_integer(1), -1) == 0.0);
    assert_true(grade("regex", "The answer is 42.", json_string("\\b42\\b"), -1) == 1.0);
    assert_true(grade("regex", "The answer is 420.", json_string("\\b42\\b"), -1) == 0.0);
    assert_true(grade("exec:grep -q Paris && echo 1 || echo 0", "Paris!", json_string("x"), -1) == 1.0);
    assert_true(grade("exec:grep -q Paris && echo ' 0.25 ' || echo 0", "London", json_string("x"), -1) == 0.0);
    assert_true(grade("exec:grep -q '\"reference\":\"ref\"' && echo 0.25", "y", json_string("ref"), -1) == 0.25);
    anc_grader g;
    anc_error err = {0};
    double s;
    assert_int_equal(anc_grader_parse("fuzzy", &g, &err), ANC_ERR_INVALID);
    TU_CHECK(anc_grader_parse("regex", &g, &err), &err);
    json_t *bad = json_string("(unclosed");
    assert_int_equal(anc_grade(&g, NULL, "x", bad, &s, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "(unclosed"));
    json_decref(bad);
    TU_CHECK(anc_grader_parse("exec:echo maybe", &g, &err), &err);
    assert_int_equal(anc_grade(&g, NULL, "x", NULL, &s, &err), ANC_ERR_FORMAT);
    TU_CHECK(anc_grader_parse("exec:exit 3", &g, &err), &err);
    assert_int_equal(anc_grade(&g, NULL, "x", NULL, &s, &err), ANC_ERR_IO);
}

/* Sum of log p of ids[n_ctx..n) given the earlier ids: one sequence alone. */
static double single_loglik(const anc_model *m, const int32_t *ids, size_t n, size_t n_ctx, double *token_sum) {
    anc_acts *a = anc_acts_create();
    uint8_t *mask = calloc(n, 1);
    float *tlp = calloc(n, sizeof *tlp);
    for (size_t t = n_ctx; t < n; t++) mask[t] = 1;
    int64_t offs[2] = {0, (int64_t)n};
    anc_batch b = {(int64_t)n, ids, 1, offs, mask};
    float seq = 0;
    anc_error err = {0};
    TU_CHECK(anc_model_forward(m, a, &b, tlp, &seq, NULL, &err), &err);
    double s = 0;
    for (size_t t = n_ctx; t < n; t++) s += tlp[t];
    if (token_sum) *token_sum = s;
    free(mask);
    free(tlp);
    anc_acts_free(a);
    return s;
}

static json_t *run_eval_json(const char *dir, const char *model, const char *data) {
    assert_int_equal(tu_system("cd '%s' && '%s' eval --model '%s' --data %s --json --out rows.jsonl --batch-tokens 64 >res.json 2>err.txt",
                               dir, tu_cli(), model, data), 0);
    char *p = tu_path(dir, "res.json");
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    free(p);
    return j;
}

static void test_mc_ids_and_perplexity(void **state) {
    (void)state;
    char *model = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa");
    anc_model *m = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&m, model, &err), &err);
    char *d = tu_tmpdir();
    tu_rng r = {12345};
    /* 12 questions with 3 choices of random ids; the "answer" is the
     * argmax we compute here for half of them and a wrong one otherwise */
    char *path = tu_path(d, "mc.jsonl");
    FILE *f = fopen(path, "w");
    int want_acc = 0, want_norm = 0;
    for (int q = 0; q < 12; q++) {
        int32_t ids[3][24];
        int nq = 3 + q % 4, nc[3];
        double ll[3], norm[3];
        for (int k = 0; k < nq; k++) ids[0][k] = (int32_t)(tu_rng_uniform(&r) * 96);
        for (int c = 0; c < 3; c++) {
            nc[c] = 1 + (q + c) % 4;
            memcpy(ids[c], ids[0], (size_t)nq * sizeof(int32_t));
            for (int k = 0; k < nc[c]; k++) ids[c][nq + k] = (int32_t)(tu_rng_uniform(&r) * 96);
            ll[c] = single_loglik(m, ids[c], (size_t)(nq + nc[c]), (size_t)nq, NULL);
            norm[c] = nc[c];
        }
        size_t best = anc_mc_argmax(ll, NULL, 3), best_norm = anc_mc_argmax(ll, norm, 3);
        int answer = q % 2 ? (int)best : (int)((best + 1) % 3);
        want_acc += answer == (int)best;
        want_norm += answer == (int)best_norm;
        fprintf(f, "{\"question_ids\": [");
        for (int k = 0; k < nq; k++) fprintf(f, "%s%d", k ? "," : "", ids[0][k]);
        fprintf(f, "], \"choices_ids\": [");
        for (int c = 0; c < 3; c++) {
            fprintf(f, "%s[", c ? "," : "");
            for (int k = 0; k < nc[c]; k++) fprintf(f, "%s%d", k ? "," : "", ids[c][nq + k]);
            fprintf(f, "]");
        }
        fprintf(f, "], \"answer\": %d, \"ll\": [%.9g, %.9g, %.9g]}\n", answer, ll[0], ll[1], ll[2]);
    }
    fclose(f);
    json_t *j = run_eval_json(d, model, "mc.jsonl");
    assert_string_equal(json_string_value(json_object_get(j, "task")), "mc");
    assert_true(fabs(json_real_value(json_object_get(j, "acc")) - want_acc / 12.0) < 1e-12);
    assert_int_equal(want_acc, 6);
    /* acc_norm: per-token averages of random ids on a random model lie
     * within float noise of each other, so the argmax is recomputed from the
     * reported log-likelihoods (which are checked against ours below) */
    double acc_norm = json_real_value(json_object_get(j, "acc_norm"));
    (void)want_norm;
    json_decref(j);
    /* per-choice log-likelihoods from packed batches match single forwards */
    anc_rows in = {0}, outr = {0};
    char *rows_path = tu_path(d, "rows.jsonl");
    TU_CHECK(anc_rows_load(&in, path, &err), &err);
    TU_CHECK(anc_rows_load(&outr, rows_path, &err), &err);
    assert_int_equal(outr.n, 12);
    int norm_correct = 0;
    for (size_t i = 0; i < 12; i++) {
        double got[3], len[3];
        for (size_t c = 0; c < 3; c++) {
            got[c] = json_real_value(json_array_get(json_object_get(outr.rows[i], "loglik"), c));
            len[c] = (double)json_array_size(json_array_get(json_object_get(in.rows[i], "choices_ids"), c));
            double b = json_real_value(json_array_get(json_object_get(in.rows[i], "ll"), c));
            assert_true(fabs(got[c] - b) < 1e-4 * fmax(1, fabs(b)));
        }
        json_int_t ans = json_integer_value(json_object_get(in.rows[i], "answer"));
        norm_correct += (json_int_t)anc_mc_argmax(got, len, 3) == ans;
        assert_int_equal(json_integer_value(json_object_get(outr.rows[i], "pred_norm")), (json_int_t)anc_mc_argmax(got, len, 3));
    }
    assert_true(fabs(acc_norm - norm_correct / 12.0) < 1e-12);
    anc_rows_free(&in);
    anc_rows_free(&outr);

    /* perplexity: exp(-sum log p / n) over every token after the first */
    char *ppath = tu_path(d, "ppl.jsonl");
    f = fopen(ppath, "w");
    double total = 0;
    size_t count = 0;
    for (int t = 0; t < 5; t++) {
        int32_t ids[40];
        int n = 2 + 7 * t;
        for (int k = 0; k < n; k++) ids[k] = (int32_t)(tu_rng_uniform(&r) * 96);
        double s;
        single_loglik(m, ids, (size_t)n, 1, &s);
        total += s;
        count += (size_t)n - 1;
        fprintf(f, "{\"text_ids\": [");
        for (int k = 0; k < n; k++) fprintf(f, "%s%d", k ? "," : "", ids[k]);
        fprintf(f, "]}\n");
    }
    fclose(f);
    j = run_eval_json(d, model, "ppl.jsonl");
    assert_string_equal(json_string_value(json_object_get(j, "task")), "perplexity");
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_scored")), (json_int_t)count);
    double want = exp(-total / (double)count);
    double got = json_real_value(json_object_get(j, "perplexity"));
    assert_true(fabs(got - want) < 1e-4 * want);
    json_decref(j);
    /* --bf16: the same tokens scored, perplexity within the bf16 bound of
     * tests/test_model.c (log-probs within 0.025 x max|logit| per token;
     * this model's logits stay below 6, so mean NLL within 0.15 nats) */
    assert_int_equal(tu_system("cd '%s' && '%s' eval --model '%s' --data ppl.jsonl --json --batch-tokens 64 --bf16 >res16.json 2>err.txt",
                               d, tu_cli(), model), 0);
    {
        char *p16 = tu_path(d, "res16.json");
        json_error_t je16;
        json_t *j16 = json_load_file(p16, 0, &je16);
        assert_non_null(j16);
        double got16 = json_real_value(json_object_get(j16, "perplexity"));
        printf("  perplexity fp32 %.5f, bf16 %.5f\n", got, got16);
        assert_int_equal(json_integer_value(json_object_get(j16, "tokens_scored")), (json_int_t)count);
        assert_true(fabs(log(got16) - log(got)) < 0.15);
        json_decref(j16);
        free(p16);
    }
    /* a row far longer than any batch is dropped unparsed and counted; the rest is the same */
    f = fopen(ppath, "a");
    fprintf(f, "{\"text\": \"");
    for (int k = 0; k < 3 << 20; k++) fputc('a', f);
    fprintf(f, "\"}\n");
    fclose(f);
    j = run_eval_json(d, model, "ppl.jsonl");
    assert_int_equal(json_integer_value(json_object_get(j, "dropped")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_scored")), (json_int_t)count);
    json_decref(j);
    /* a row without the expected fields names file:line */
    f = fopen(ppath, "a");
    fprintf(f, "{\"txt\": \"oops\"}\n");
    fclose(f);
    assert_int_equal(tu_system("cd '%s' && '%s' eval --model '%s' --data ppl.jsonl >/dev/null 2>err.txt", d, tu_cli(), model), 1);
    char *ep = tu_path(d, "err.txt");
    char *et = tu_read_file(ep, NULL);
    assert_non_null(strstr(et, "ppl.jsonl:7"));
    free(et);
    free(ep);
    free(ppath);
    free(rows_path);
    free(path);
    anc_model_free(m);
    tu_rmtree(d);
    free(d);
    free(model);
}

/* Story-like questions on stories260K: one continuation is clearly likely. */
static void test_mc_text_stories(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tokbin = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tokbin) {
        free(bin);
        free(tokbin);
        skip();
    }
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out m >/dev/null 2>&1", d, tu_cli(), bin, tokbin), 0);
    static const char *rows[][4] = {
        {"Once upon a time, there was a little", "girl", "carburetor", "0"},
        {"Lily wanted to play with her", "toys", "taxes", "0"},
        {"The sun was shining and the sky was", "blue", "algebra", "0"},
        {"Tom and his mom went to the", "spreadsheet", "park", "1"},
    };
    char *path = tu_path(d, "mc.jsonl");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 4; i++)
        fprintf(f, "{\"question\": \"%s\", \"choices\": [\"%s\", \"%s\"], \"answer\": %s}\n", rows[i][0], rows[i][1], rows[i][2], rows[i][3]);
    fclose(f);
    char *mdir = tu_path(d, "m");
    json_t *j = run_eval_json(d, mdir, "mc.jsonl");
    /* independently: BOS + ids(question + " " + choice), continuation scored */
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    anc_error err = {0};
    TU_CHECK(anc_model_load_hf(&m, mdir, &err), &err);
    TU_CHECK(anc_tokenizer_load_dir(&tok, mdir, &err), &err);
    int32_t bos = anc_tokenizer_bos_id(tok);
    int correct = 0;
    for (int i = 0; i < 4; i++) {
        double ll[2];
        for (int c = 0; c < 2; c++) {
            char text[256];
            snprintf(text, sizeof text, "%s %s", rows[i][0], rows[i][1 + c]);
            int32_t *q = NULL, *w = NULL;
            size_t nq = 0, nw = 0;
            TU_CHECK(anc_tokenizer_encode(tok, rows[i][0], strlen(rows[i][0]), 0, &q, &nq, &err), &err);
            TU_CHECK(anc_tokenizer_encode(tok, text, strlen(text), 0, &w, &nw, &err), &err);
            assert_true(nw > nq && !memcmp(q, w, nq * sizeof *q));
            int32_t *ids = malloc((nw + 1) * sizeof *ids);
            size_t off = 0;
            if (bos >= 0) ids[off++] = bos;
            memcpy(ids + off, w, nw * sizeof *w);
            ll[c] = single_loglik(m, ids, nw + off, nq + off, NULL);
            free(ids);
            free(q);
            free(w);
        }
        correct += (ll[1] > ll[0] ? 1 : 0) == atoi(rows[i][3]);
    }
    assert_int_equal(correct, 4);
    assert_true(fabs(json_real_value(json_object_get(j, "acc")) - correct / 4.0) < 1e-12);
    json_decref(j);

    /* graded generation: the greedy story continuation is its own reference */
    f = fopen(path, "w");
    fprintf(f, "{\"prompt\": \"Once upon a time\", \"reference\": \"x\"}\n");
    fclose(f);
    assert_int_equal(tu_system("cd '%s' && '%s' generate --model m --prompts mc.jsonl --out gen.jsonl --temperature 0 --max-new-tokens 12 2>/dev/null", d, tu_cli()), 0);
    char *gp = tu_path(d, "gen.jsonl");
    char *gt = tu_read_file(gp, NULL);
    json_error_t je;
    json_t *g = json_loads(gt, 0, &je);
    assert_non_null(g);
    f = fopen(path, "w");
    json_t *row = json_pack("{s:s, s:O}", "prompt", "Once upon a time", "reference", json_object_get(g, "completion"));
    char *line = json_dumps(row, JSON_COMPACT);
    fprintf(f, "%s\n{\"prompt\": \"Once upon a time\", \"reference\": \"a dragon\"}\n", line);
    fclose(f);
    free(line);
    json_decref(row);
    json_decref(g);
    assert_int_equal(tu_system("cd '%s' && '%s' eval --model m --data mc.jsonl --max-new-tokens 12 --json >res.json 2>err.txt", d, tu_cli()), 0);
    char *rp = tu_path(d, "res.json");
    j = json_load_file(rp, 0, &je);
    assert_non_null(j);
    assert_true(fabs(json_real_value(json_object_get(j, "score")) - 0.5) < 1e-12);
    json_decref(j);
    free(rp);
    free(gt);
    free(gp);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    free(mdir);
    free(path);
    free(bin);
    free(tokbin);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graders),
        cmocka_unit_test(test_mc_ids_and_perplexity),
        cmocka_unit_test(test_mc_text_stories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
