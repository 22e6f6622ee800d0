/* TRL dataset formats through real tokenizers (../shared/fixtures): the
 * prompt/response boundary, BOS/EOS handling and the chat template decide
 * which tokens are scored, so each rule is checked on decoded ids. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

typedef struct fixture {
    anc_tokenizer *tok;
    anc_template *tmpl;
} fixture;

static int load(fixture *f, const char *name) {
    memset(f, 0, sizeof *f);
    char rel[128];
    snprintf(rel, sizeof rel, "tokenizers/%s", name);
    char *dir = tu_shared_fixture(rel);
    if (!dir) return 0;
    anc_error err = {0};
    TU_CHECK(anc_tokenizer_load_dir(&f->tok, dir, &err), &err);
    TU_CHECK(anc_chat_template_resolve(f->tok, NULL, &f->tmpl, &err), &err);
    free(dir);
    return 1;
}

static void unload(fixture *f) {
    anc_tokenizer_free(f->tok);
    anc_template_free(f->tmpl);
}

static anc_status build(fixture *f, const char *jsonl, const anc_dataset_opts *o, anc_pairset *ps, uint8_t **labels,
                        anc_dataset_stats *st, anc_error *err) {
    anc_rows rows;
    anc_status s = anc_rows_parse(&rows, jsonl, strlen(jsonl), "rows.jsonl", err);
    if (s) return s;
    s = anc_dataset_build(f->tok, f->tmpl, &rows, "rows.jsonl", o, 0, ps, labels, st, err);
    anc_rows_free(&rows);
    return s;
}

static char *decode(fixture *f, const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    int32_t *all = malloc(sizeof(int32_t) * (na + nb + 1));
    memcpy(all, a, sizeof(int32_t) * na);
    if (nb) memcpy(all + na, b, sizeof(int32_t) * nb);
    char *text = NULL;
    size_t len = 0;
    anc_error err = {0};
    TU_CHECK(anc_tokenizer_decode(f->tok, all, na + nb, 0, &text, &len, &err), &err);
    free(all);
    return text;
}

static void test_conversational_phi3(void **state) {
    (void)state;
    fixture f;
    if (!load(&f, "phi-3-mini")) skip();
    assert_non_null(f.tmpl);
    const char *rows =
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}], "
        "\"chosen\": [{\"role\": \"assistant\", \"content\": \"4\"}], "
        "\"rejected\": [{\"role\": \"assistant\", \"content\": \"5, I think\"}]}\n"
        /* implicit prompt: message lists sharing the user turn */
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}], "
        "\"rejected\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Go away.\"}]}\n";
    anc_dataset_opts o = {0};
    anc_pairset ps;
    anc_dataset_stats st;
    anc_error err = {0};
    TU_CHECK(build(&f, rows, &o, &ps, NULL, &st, &err), &err);
    assert_int_equal(ps.n, 2);
    assert_int_equal(st.conversational, 2);
    assert_int_equal(st.implicit_prompt, 1);
    /* Phi-3's added tokens strip the whitespace around them (rstrip), so
     * the ids are compared with direct encodings of the rendered texts. */
    const anc_pair *p = &ps.pairs[0];
    int32_t *ids = NULL;
    size_t n = 0;
    const char *ptext = "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n";
    TU_CHECK(anc_tokenizer_encode(f.tok, ptext, strlen(ptext), 0, &ids, &n, &err), &err);
    assert_int_equal(n, p->n_prompt);
    assert_memory_equal(ids, p->prompt, sizeof(int32_t) * n);
    free(ids);
    const char *ctext = "4<|end|>\n<|endoftext|>";
    TU_CHECK(anc_tokenizer_encode(f.tok, ctext, strlen(ctext), 0, &ids, &n, &err), &err);
    assert_int_equal(n, p->n_chosen);
    assert_memory_equal(ids, p->chosen, sizeof(int32_t) * n);
    free(ids);
    /* the completion ends with the template's end-of-turn + eos_token, no extra EOS */
    int32_t end = anc_tokenizer_token_to_id(f.tok, "<|end|>", 7), eos = anc_tokenizer_eos_id(f.tok);
    assert_true(end >= 0);
    assert_int_equal(p->chosen[p->n_chosen - 1], eos);
    assert_int_not_equal(p->chosen[p->n_chosen - 2], eos);
    /* both sides share the same prompt ids; no BOS (the template has none) */
    assert_int_not_equal(p->prompt[0], anc_tokenizer_bos_id(f.tok));
    char *prompt = decode(&f, p->prompt, p->n_prompt, NULL, 0);
    char *whole = decode(&f, p->prompt, p->n_prompt, p->chosen, p->n_chosen);
    char *rej = decode(&f, p->rejected, p->n_rejected, NULL, 0);
    assert_non_null(strstr(rej, "5, I think<|end|>"));
    p = &ps.pairs[1];
    char *p2 = decode(&f, p->prompt, p->n_prompt, NULL, 0);
    assert_non_null(strstr(p2, "Hi<|end|>"));
    assert_non_null(strstr(whole, "<|assistant|>"));
    assert_non_null(strstr(prompt, "What is 2+2?"));
    free(prompt); free(whole); free(rej); free(p2);
    anc_pairset_free(&ps);
    unload(&f);
}

static void test_standard_llama2_bos_eos(void **state) {
    (void)state;
    fixture f;
    if (!load(&f, "llama2")) skip();
    const char *rows =
        "{\"prompt\": \"The capital of France is\", \"chosen\": \" Paris.\", \"rejected\": \" Lyon.\"}\n"
        /* the prompt text already starts with <s>: still one BOS */
        "{\"prompt\": \"<s>Hello\", \"chosen\": \" world\", \"rejected\": \" there\"}\n"
        /* implicit prompt where one completion is a prefix of the other */
        "{\"chosen\": \"Question: name a color. Answer: red\", \"rejected\": \"Question: name a color. Answer: red and blue\"}\n";
    anc_dataset_opts o = {0};
    anc_pairset ps;
    anc_dataset_stats st;
    anc_error err = {0};
    TU_CHECK(build(&f, rows, &o, &ps, NULL, &st, &err), &err);
    assert_int_equal(ps.n, 3);
    int32_t bos = anc_tokenizer_bos_id(f.tok), eos = anc_tokenizer_eos_id(f.tok);
    for (size_t i = 0; i < ps.n; i++) {
        const anc_pair *p = &ps.pairs[i];
        assert_int_equal(p->prompt[0], bos);
        assert_true(p->n_prompt < 2 || p->prompt[1] != bos);
        assert_int_equal(p->chosen[p->n_chosen - 1], eos);
        assert_int_equal(p->rejected[p->n_rejected - 1], eos);
        assert_true(p->n_chosen >= 2 && p->n_rejected >= 2);
    }
    const anc_pair *p = &ps.pairs[2];
    char *pr = decode(&f, p->prompt + 1, p->n_prompt - 1, NULL, 0);
    char *c = decode(&f, p->chosen, p->n_chosen - 1, NULL, 0);
    char *r = decode(&f, p->rejected, p->n_rejected - 1, NULL, 0);
    assert_string_equal(pr, "Question: name a color. Answer:");
    assert_string_equal(c, " red");
    assert_string_equal(r, " red and blue");
    free(pr); free(c); free(r);
    anc_pairset_free(&ps);
    unload(&f);
}

static void test_truncation_and_drops(void **state) {
    (void)state;
    fixture f;
    if (!load(&f, "smollm2")) skip();
    const char *rows =
        "{\"prompt\": \"one two three four five six seven eight\", \"chosen\": \" nine ten\", \"rejected\": \" eleven\"}\n"
        "{\"prompt\": \"a\", \"chosen\": \" b c d e f g h i j k l m n o p\", \"rejected\": \" q\"}\n"
        "{\"prompt_ids\": [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], \"chosen_ids\": [1], \"rejected_ids\": [2]}\n";
    anc_dataset_opts o = {0};
    o.max_prompt_length = 3;
    o.max_length = 6;
    anc_pairset ps;
    anc_dataset_stats st;
    anc_error err = {0};
    TU_CHECK(build(&f, rows, &o, &ps, NULL, &st, &err), &err);
    assert_int_equal(st.rows, 3);
    assert_int_equal(ps.n, 3);
    assert_int_equal(st.truncated, 3);
    assert_int_equal(ps.pairs[0].n_prompt, 3);
    assert_int_equal(st.pretokenised, 1);
    /* keep_end keeps the last prompt tokens */
    assert_int_equal(ps.pairs[2].prompt[0], 12);
    assert_true(ps.pairs[1].n_chosen <= 5);
    anc_pairset_free(&ps);
    o.truncation = ANC_TRUNC_KEEP_START;
    TU_CHECK(build(&f, rows, &o, &ps, NULL, &st, &err), &err);
    assert_int_equal(ps.pairs[2].prompt[0], 5);
    anc_pairset_free(&ps);
    /* a prompt that leaves no room drops the row (counted, never silent) */
    o.max_prompt_length = 0;
    o.max_length = 4;
    TU_CHECK(build(&f, rows, &o, &ps, NULL, &st, &err), &err);
    assert_true(st.dropped >= 1);
    assert_int_equal(st.kept + st.dropped, 3);
    assert_true(st.first_dropped_line >= 1);
    anc_pairset_free(&ps);
    /* a row with more text than the byte limit is dropped untokenized; a BOM is skipped */
    const char *bom = "\xEF\xBB\xBF{\"prompt\": \"a\", \"chosen\": \" b\", \"rejected\": \" c\"}\n"
                      "{\"prompt\": \"a\", \"chosen\": \" bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"rejected\": \" c\"}\n";
    memset(&o, 0, sizeof o);
    o.max_row_bytes = 20;
    TU_CHECK(build(&f, bom, &o, &ps, NULL, &st, &err), &err);
    assert_int_equal(st.rows, 2);
    assert_int_equal(ps.n, 1);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.dropped_bytes, 1);
    assert_int_equal(st.first_dropped_line, 2);
    anc_pairset_free(&ps);
    unload(&f);
    /* the reader leaves lines past its limit unparsed, counted */
    char *d = tu_tmpdir();
    char *p = tu_path(d, "r.jsonl");
    tu_write_file(p, bom, strlen(bom));
    anc_rows lr;
    TU_CHECK(anc_rows_load_limited(&lr, p, 60, &err), &err);
    assert_int_equal(lr.n, 1);
    assert_int_equal(lr.n_too_long, 1);
    assert_int_equal(lr.first_too_long_line, 2);
    anc_rows_free(&lr);
    free(p);
    tu_rmtree(d);
    free(d);
}

static void test_unpaired_and_errors(void **state) {
    (void)state;
    fixture f;
    if (!load(&f, "smollm2")) skip();
    anc_dataset_opts o = {0};
    o.unpaired = 1;
    anc_pairset ps;
    anc_dataset_stats st;
    uint8_t *labels = NULL;
    anc_error err = {0};
    TU_CHECK(build(&f, "{\"prompt\": \"x\", \"completion\": \" y\", \"label\": true}\n{\"prompt\": \"x\", \"completion\": \" z\", \"label\": false}\n",
                   &o, &ps, &labels, &st, &err), &err);
    assert_int_equal(ps.n, 2);
    assert_int_equal(labels[0], 1);
    assert_int_equal(labels[1], 0);
    free(labels);
    anc_pairset_free(&ps);
    assert_int_equal(build(&f, "{\"prompt\": \"x\", \"completion\": \" y\"}\n", &o, &ps, &labels, &st, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "rows.jsonl:1: unpaired rows need a boolean \"label\""));
    o.unpaired = 0;
    assert_int_equal(build(&f, "{\"prompt\": \"x\", \"chosen\": 3, \"rejected\": \"y\"}\n", &o, &ps, NULL, &st, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "rows.jsonl:1:"));
    /* smollm2's folder has no chat template: conversational rows say so */
    assert_int_equal(build(&f, "\n{\"prompt\": [{\"role\": \"user\", \"content\": \"x\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"y\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"z\"}]}\n",
                           &o, &ps, NULL, &st, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "rows.jsonl:2: conversational rows need a chat template"));
    /* ...and a built-in template fixes it */
    anc_template *t = NULL;
    TU_CHECK(anc_chat_template_resolve(f.tok, "chatml", &t, &err), &err);
    anc_template_free(f.tmpl);
    f.tmpl = t;
    TU_CHECK(build(&f, "{\"prompt\": [{\"role\": \"user\", \"content\": \"x\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"y\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"z\"}]}\n",
                   &o, &ps, NULL, &st, &err), &err);
    char *c = decode(&f, ps.pairs[0].chosen, ps.pairs[0].n_chosen, NULL, 0);
    assert_string_equal(c, "y<|im_end|>\n");
    free(c);
    anc_pairset_free(&ps);
    assert_int_equal(anc_chat_template_resolve(f.tok, "/nonexistent/template.jinja", &t, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "neither a built-in name"));
    unload(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversational_phi3),
        cmocka_unit_test(test_standard_llama2_bos_eos),
        cmocka_unit_test(test_truncation_and_drops),
        cmocka_unit_test(test_unpaired_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
