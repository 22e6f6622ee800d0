/* IFEval text checks (src/eval/ifeval_text.c): hand cases per type (pass,
 * fail, the boundary of each relation, argument errors), then the
 * official GPT-4 fixture: every instruction of these types is checked
 * strictly (response.strip() non-empty and the check passes) and compared
 * with expected_strict_gpt4.jsonl; disagreements are printed and each type
 * must agree on >= 99% of its instructions. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "eval/ifeval.h"

static const anc_ifeval_kind *kind(const char *id) {
    for (const anc_ifeval_kind *k = anc_ifeval_text_kinds; k->id; k++)
        if (!strcmp(k->id, id)) return k;
    fail_msg("no kind %s", id);
    return NULL;
}

/* Verdict of type id on response with kwargs given as JSON text. */
static int run(const char *id, const char *kwargs, const char *prompt, const char *response) {
    json_error_t je;
    json_t *kw = json_loads(kwargs, 0, &je);
    assert_non_null(kw);
    anc_error err = {0};
    int ok = -1;
    TU_CHECK(kind(id)->check(kw, prompt, response, &ok, &err), &err);
    json_decref(kw);
    return ok;
}

static void expect_error(const char *id, const char *kwargs) {
    json_t *kw = json_loads(kwargs, 0, NULL);
    anc_error err = {0};
    int ok = -1;
    assert_int_equal(kind(id)->check(kw, "p", "some text", &ok, &err), ANC_ERR_FORMAT);
    json_decref(kw);
}

static void test_length(void **state) {
    (void)state;
    const char *W = "length_constraints:number_words";
    assert_int_equal(run(W, "{\"relation\":\"at least\",\"num_words\":3}", "", "one two_x, 3"), 1);
    assert_int_equal(run(W, "{\"relation\":\"at least\",\"num_words\":4}", "", "one two_x, 3"), 0);
    assert_int_equal(run(W, "{\"relation\":\"less than\",\"num_words\":3}", "", "don't stop"), 0); /* don t stop */
    assert_int_equal(run(W, "{\"relation\":\"less than\",\"num_words\":4}", "", "don't stop"), 1);
    assert_int_equal(run(W, "{\"relation\":\"at least\",\"num_words\":2}", "", "caf\xc3\xa9 na\xc3\xafve"), 1);
    expect_error(W, "{\"num_words\":3}");
    expect_error(W, "{\"relation\":\"at most\",\"num_words\":3}");

    const char *S = "length_constraints:number_sentences";
    const char *txt = "Mr. Smith went to Washington. He saw the U.S. Capitol! Did he like it? Yes.";
    assert_int_equal(run(S, "{\"relation\":\"at least\",\"num_sentences\":4}", "", txt), 1);
    assert_int_equal(run(S, "{\"relation\":\"at least\",\"num_sentences\":5}", "", txt), 0);
    assert_int_equal(run(S, "{\"relation\":\"less than\",\"num_sentences\":5}", "", txt), 1);
    assert_int_equal(run(S, "{\"relation\":\"less than\",\"num_sentences\":4}", "", txt), 0);
    /* punkt splits after "e.g." (not in its model) and after a list number */
    assert_int_equal(run(S, "{\"relation\":\"less than\",\"num_sentences\":2}", "", "Fruit, e.g. apples."), 0);
    assert_int_equal(run(S, "{\"relation\":\"at least\",\"num_sentences\":4}", "", "Steps:\n1. Go.\n2. Stop."), 1);
    assert_int_equal(run(S, "{\"relation\":\"less than\",\"num_sentences\":2}", "", "He said \"Hi.\""), 1);

    const char *P = "length_constraints:number_paragraphs";
    assert_int_equal(run(P, "{\"num_paragraphs\":2}", "", "a\n***\nb"), 1);
    assert_int_equal(run(P, "{\"num_paragraphs\":2}", "", "***\na\n***\nb\n***"), 1);
    assert_int_equal(run(P, "{\"num_paragraphs\":3}", "", "a\n***\nb"), 0);
    assert_int_equal(run(P, "{\"num_paragraphs\":2}", "", "a\n***\n***\nb"), 0); /* empty middle */
    assert_int_equal(run(P, "{\"num_paragraphs\":1}", "", "no divider"), 1);

    const char *N = "length_constraints:nth_paragraph_first_word";
    const char *t = "Intro here.\n\n\"Second,\" she said.\n\nThird.";
    assert_int_equal(run(N, "{\"num_paragraphs\":3,\"nth_paragraph\":2,\"first_word\":\"second\"}", "", t), 1);
    assert_int_equal(run(N, "{\"num_paragraphs\":3,\"nth_paragraph\":2,\"first_word\":\"Intro\"}", "", t), 0);
    assert_int_equal(run(N, "{\"num_paragraphs\":2,\"nth_paragraph\":2,\"first_word\":\"second\"}", "", t), 0);
    assert_int_equal(run(N, "{\"num_paragraphs\":3,\"nth_paragraph\":1,\"first_word\":\"INTRO\"}", "", t), 1);
    expect_error(N, "{\"num_paragraphs\":2,\"nth_paragraph\":3,\"first_word\":\"x\"}");
}

static void test_keywords(void **state) {
    (void)state;
    const char *E = "keywords:existence";
    assert_int_equal(run(E, "{\"keywords\":[\"Apple\",\"pie\"]}", "", "an APPLE spies"), 1);
    assert_int_equal(run(E, "{\"keywords\":[\"apple\",\"cake\"]}", "", "an APPLE pie"), 0);
    expect_error(E, "{}");

    const char *F = "keywords:frequency";
    assert_int_equal(run(F, "{\"keyword\":\" cat \",\"frequency\":3,\"relation\":\"at least\"}", "", "Cat cat CATcat"), 1);
    assert_int_equal(run(F, "{\"keyword\":\"cat\",\"frequency\":5,\"relation\":\"at least\"}", "", "Cat cat CATcat"), 0);
    assert_int_equal(run(F, "{\"keyword\":\"cat\",\"frequency\":4,\"relation\":\"less than\"}", "", "Cat cat CATcat"), 0);
    assert_int_equal(run(F, "{\"keyword\":\"cat\",\"frequency\":5,\"relation\":\"less than\"}", "", "Cat cat CATcat"), 1);

    const char *B = "keywords:forbidden_words";
    assert_int_equal(run(B, "{\"forbidden_words\":[\"cat\"]}", "", "concatenate dogs"), 1);
    assert_int_equal(run(B, "{\"forbidden_words\":[\"dog\",\"cat\"]}", "", "a CAT."), 0);

    const char *L = "keywords:letter_frequency";
    assert_int_equal(run(L, "{\"letter\":\"A\",\"let_frequency\":3,\"let_relation\":\"at least\"}", "", "Aa a b"), 1);
    assert_int_equal(run(L, "{\"letter\":\"a\",\"let_frequency\":4,\"let_relation\":\"at least\"}", "", "Aa a b"), 0);
    assert_int_equal(run(L, "{\"letter\":\"a\",\"let_frequency\":3,\"let_relation\":\"less than\"}", "", "Aa a b"), 0);
    assert_int_equal(run(L, "{\"letter\":\"a\",\"let_frequency\":4,\"let_relation\":\"less than\"}", "", "Aa a b"), 1);
    expect_error(L, "{\"letter\":\"ab\",\"let_frequency\":4,\"let_relation\":\"less than\"}");
}

static void test_case(void **state) {
    (void)state;
    const char *C = "change_case:capital_word_frequency";
    /* WELL-KNOWN one token, DON'T -> DO N'T, "I" counts, 'USA's' -> USA 's */
    const char *t = "WELL-KNOWN facts: DON'T panic, I said. USA's AI/ML 42";
    assert_int_equal(run(C, "{\"capital_frequency\":6,\"capital_relation\":\"at least\"}", "", t), 1);
    assert_int_equal(run(C, "{\"capital_frequency\":7,\"capital_relation\":\"at least\"}", "", t), 0);
    assert_int_equal(run(C, "{\"capital_frequency\":6,\"capital_relation\":\"less than\"}", "", t), 0);
    assert_int_equal(run(C, "{\"capital_frequency\":7,\"capital_relation\":\"less than\"}", "", t), 1);

    const char *U = "change_case:english_capital", *O = "change_case:english_lowercase";
    assert_int_equal(run(U, "{}", "", "HELLO THERE, 42!"), 1);
    assert_int_equal(run(U, "{}", "", "HELLO There"), 0);
    assert_int_equal(run(U, "{}", "", "123"), 0); /* no cased character */
    assert_int_equal(run(U, "{}", "", "YES"), 0);   /* one word: not "en" */
    assert_int_equal(run(U, "{}", "", "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2"), 0); /* ПРИВЕТ */
    assert_int_equal(run(O, "{}", "", "hello there, 42!"), 1);
    assert_int_equal(run(O, "{}", "", "hello There"), 0);
    assert_int_equal(run(O, "{}", "", "hello \xc7\x85"), 0); /* titlecase Dž */
    assert_int_equal(run(O, "{}", "", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), 0);
}

static void test_startend_combination(void **state) {
    (void)state;
    assert_int_equal(run("punctuation:no_comma", "{}", "", "no commas here"), 1);
    assert_int_equal(run("punctuation:no_comma", "{}", "", "one, two"), 0);

    const char *E = "startend:end_checker";
    assert_int_equal(run(E, "{\"end_phrase\":\"Any other questions?\"}", "", "Text. any other QUESTIONS?\"  \n"), 1);
    assert_int_equal(run(E, "{\"end_phrase\":\"Any other questions?\"}", "", "Any other questions? Yes."), 0);

    const char *Q = "startend:quotation";
    assert_int_equal(run(Q, "{}", "", "  \"quoted\"\n"), 1);
    assert_int_equal(run(Q, "{}", "", "\""), 0);
    assert_int_equal(run(Q, "{}", "", "\"half"), 0);

    const char *R = "combination:repeat_prompt";
    assert_int_equal(run(R, "{\"prompt_to_repeat\":\"Write a Poem. \"}", "ignored", " write a poem. Here it is"), 1);
    assert_int_equal(run(R, "{\"prompt_to_repeat\":\"Write a poem.\"}", "", "Here: write a poem."), 0);
    assert_int_equal(run(R, "{}", "Say hi.", "say hi. hi"), 1);

    const char *T = "combination:two_responses";
    assert_int_equal(run(T, "{}", "", "one\n******\ntwo"), 1);
    assert_int_equal(run(T, "{}", "", "******\none\n******\ntwo\n******"), 1);
    assert_int_equal(run(T, "{}", "", "same\n******\n same "), 0);
    assert_int_equal(run(T, "{}", "", "one\n******\n\n******\ntwo"), 0);
    assert_int_equal(run(T, "{}", "", "one two"), 0);
}

/* ---- fixture ----------------------------------------------------------- */

static json_t *load_lines(const char *rel) {
    char *path = tu_shared_fixture(rel);
    if (!path) return NULL;
    char *text = tu_read_file(path, NULL);
    free(path);
    json_t *arr = json_array();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        if (!row) fail_msg("%s: %s", rel, je.text);
        json_array_append_new(arr, row);
    }
    free(text);
    return arr;
}

/* The official evaluator's kwargs: falsy entries dropped. */
static json_t *filtered(json_t *kw) {
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(kw, k, v) {
        if (json_is_null(v) || json_is_false(v) || (json_is_integer(v) && !json_integer_value(v)) ||
            (json_is_string(v) && !json_string_length(v)) || (json_is_array(v) && !json_array_size(v)))
            continue;
        json_object_set(out, k, v);
    }
    return out;
}

static void test_fixture(void **state) {
    (void)state;
    json_t *inputs = load_lines("ifeval/input_data.jsonl");
    json_t *responses = load_lines("ifeval/responses_gpt4.jsonl");
    json_t *expected = load_lines("ifeval/expected_strict_gpt4.jsonl");
    if (!inputs || !responses || !expected) {
        json_decref(inputs), json_decref(responses), json_decref(expected);
        skip();
    }
    enum { NK = 32 };
    size_t total[NK] = {0}, agree[NK] = {0};
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in) {
        const char *prompt = json_string_value(json_object_get(in, "prompt"));
        const char *response = NULL;
        json_t *exp = NULL, *r;
        size_t j;
        json_array_foreach(responses, j, r)
            if (!strcmp(json_string_value(json_object_get(r, "prompt")), prompt)) response = json_string_value(json_object_get(r, "response"));
        json_array_foreach(expected, j, r)
            if (!strcmp(json_string_value(json_object_get(r, "prompt")), prompt)) exp = r;
        assert_non_null(response);
        assert_non_null(exp);
        json_t *ids = json_object_get(in, "instruction_id_list"), *kws = json_object_get(in, "kwargs");
        json_t *follow = json_object_get(exp, "follow_instruction_list");
        for (size_t k = 0; k < json_array_size(ids); k++) {
            const char *id = json_string_value(json_array_get(ids, k));
            size_t t = 0;
            while (anc_ifeval_text_kinds[t].id && strcmp(anc_ifeval_text_kinds[t].id, id)) t++;
            if (!anc_ifeval_text_kinds[t].id) continue;
            json_t *kw = filtered(json_array_get(kws, k));
            const char *p = response;
            size_t len = strlen(response);
            anc_text_trim(&p, &len);
            int ok = 0;
            anc_error err = {0};
            if (len) TU_CHECK(anc_ifeval_text_kinds[t].check(kw, prompt, response, &ok, &err), &err);
            json_decref(kw);
            int want = json_is_true(json_array_get(follow, k));
            total[t]++;
            if (ok == want) agree[t]++;
            else
                printf("disagree: key %lld %s expected %d got %d\n",
                       (long long)json_integer_value(json_object_get(in, "key")), id, want, ok);
        }
    }
    /* >= 99% per type, except the two langdetect ones (a heuristic there,
     * >= 90%); >= 99% over all the types together */
    int bad = 0;
    size_t all = 0, all_ok = 0;
    for (size_t t = 0; anc_ifeval_text_kinds[t].id; t++) {
        const char *id = anc_ifeval_text_kinds[t].id;
        double a = total[t] ? 100.0 * (double)agree[t] / (double)total[t] : 100.0;
        printf("%-45s %3zu/%3zu  %.1f%%\n", id, agree[t], total[t], a);
        if (a < (strstr(id, "change_case:english_") ? 90.0 : 99.0)) bad = 1;
        all += total[t], all_ok += agree[t];
    }
    printf("all text types %zu/%zu\n", all_ok, all);
    if (100.0 * (double)all_ok < 99.0 * (double)all) bad = 1;
    json_decref(inputs), json_decref(responses), json_decref(expected);
    assert_false(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_case),
        cmocka_unit_test(test_startend_combination),
        cmocka_unit_test(test_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
