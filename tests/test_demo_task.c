/* The demo task family (demo/task.h) and its tokenizer
 * (demo/tokenizer.h): deterministic generation, grading, the teacher's
 * minimal revisions versus the stronger model's answers, the mistake rate of
 * demonstrations, the exec: reviser reply, and the tokenizer's round trip
 * and chat template. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/revise.h"
#include "clair/stats.h"
#include "demo/task.h"
#include "demo/tokenizer.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

/* "Numbers: 17 4 23 8 15. Odd numbers in increasing order, then their sum." */
static void odd_task(anc_demo_task *t) {
    anc_error err;
    TU_CHECK(anc_demo_task_parse("Numbers: 17 4 23 8 15. Odd numbers in increasing order, then their sum.", t, &err),
             &err);
}

static size_t lev(const char *a, const char *b) {
    size_t d = 0;
    anc_error err;
    TU_CHECK(anc_levenshtein_utf8(a, strlen(a), b, strlen(b), &d, &err), &err);
    return d;
}

static void test_generate_deterministic(void **state) {
    (void)state;
    anc_rng a, b, c;
    anc_rng_seed(&a, 42);
    anc_rng_seed(&b, 42);
    anc_rng_seed(&c, 43);
    int differ = 0, conds[4] = {0}, desc = 0;
    for (int i = 0; i < 1000; i++) {
        anc_demo_task x, y, z;
        anc_demo_task_make(&a, &x);
        anc_demo_task_make(&b, &y);
        anc_demo_task_make(&c, &z);
        assert_string_equal(x.prompt, y.prompt);
        assert_string_equal(x.answer, y.answer);
        differ += strcmp(x.prompt, z.prompt) != 0;
        assert_true(x.n >= 4 && x.n <= 8);
        assert_true(x.n_sel >= 2 && x.n_sel < x.n);
        assert_true(strlen(x.prompt) <= 90);
        assert_true(strlen(x.answer) <= 90);
        conds[x.cond]++;
        desc += x.descending;
        /* the prompt parses back to the same task */
        anc_demo_task p;
        anc_error err;
        TU_CHECK(anc_demo_task_parse(x.prompt, &p, &err), &err);
        assert_string_equal(p.answer, x.answer);
        assert_int_equal(p.sum, x.sum);
        anc_demo_grade_result g;
        anc_demo_grade(&x, x.answer, &g);
        assert_true(g.correct && g.score == 1.0);
    }
    assert_true(differ > 990);
    for (int k = 0; k < 4; k++) assert_true(conds[k] > 150);
    assert_true(desc > 400 && desc < 600);

    anc_demo_task t;
    odd_task(&t);
    assert_string_equal(t.answer, "Odd: 15 17 23. Sum: 55.");
    anc_error err;
    TU_CHECK(anc_demo_task_parse("xx Numbers: 50 12 61  7. Numbers\nbelow 40 in decreasing order, then their sum.", &t,
                                 &err),
             &err);
    assert_string_equal(t.answer, "Below 40: 12 7. Sum: 19.");
    assert_string_equal(t.prompt, "Numbers: 50 12 61 7. Numbers below 40 in decreasing order, then their sum.");
    assert_int_equal(anc_demo_task_parse("Numbers: 2 4. Odd numbers in increasing order, then their sum.", &t, &err),
                     ANC_ERR_INVALID);
    assert_int_equal(anc_demo_task_parse("Numbers: 1 2. Prime numbers in increasing order, then their sum.", &t, &err),
                     ANC_ERR_FORMAT);
    assert_int_equal(anc_demo_task_parse("no task here", &t, &err), ANC_ERR_FORMAT);
    assert_int_equal(anc_demo_task_parse("Numbers: 1 2 3 4 5 6 7 8 9. Odd numbers in increasing order, then their sum.",
                                         &t, &err),
                     ANC_ERR_FORMAT);
}

static void test_grader(void **state) {
    (void)state;
    anc_demo_task t;
    odd_task(&t);
    anc_demo_grade_result g;
    anc_demo_grade(&t, "Odd: 15 17 23. Sum: 55.", &g);
    assert_true(g.parse_ok && g.canonical && g.label_correct && g.list_correct && g.sum_correct && g.correct);
    assert_true(g.score == 1.0);
    anc_demo_grade(&t, "  \n Odd:  15 17\t23. Sum: 55. \n", &g); /* extra whitespace */
    assert_true(g.correct && g.score == 1.0);
    anc_demo_grade(&t, "Odd: 15 23. Sum: 55.", &g); /* partly right list */
    assert_true(g.canonical && !g.list_correct && g.sum_correct && !g.correct);
    assert_true(g.score == 0.5);
    anc_demo_grade(&t, "Odd: 23 17 15. Sum: 55.", &g); /* wrong order */
    assert_true(!g.list_correct && g.sum_correct);
    anc_demo_grade(&t, "Odd: 15 17 23. Sum: 56.", &g); /* wrong sum */
    assert_true(g.list_correct && !g.sum_correct && !g.correct && g.score == 0.5);
    anc_demo_grade(&t, "Even: 15 17 23. Sum: 55.", &g); /* wrong label */
    assert_true(g.canonical && !g.label_correct && !g.list_correct && g.sum_correct);
    anc_demo_grade(&t, "Odd: 15 17 23. Sum: 55. Done.", &g); /* trailing text */
    assert_true(g.list_correct && g.sum_correct && !g.correct);
    anc_demo_grade(&t, "Odd: 015 17 23. Sum: 55.", &g); /* leading zero: not canonical */
    assert_false(g.canonical);
    anc_demo_grade(&t, "I do not know.", &g); /* unparseable */
    assert_true(!g.parse_ok && !g.list_correct && !g.sum_correct && !g.correct && g.score == 0.0);
    anc_demo_grade(&t, "", &g);
    assert_false(g.parse_ok);
    anc_demo_grade(&t, NULL, &g);
    assert_false(g.parse_ok);
    anc_demo_grade(&t, "Sum: 55.", &g);
    assert_false(g.parse_ok);
    anc_demo_grade(&t, "The odd numbers are 15, 17 and 23; together 55.", &g); /* free-form */
    assert_true(g.parse_ok && !g.canonical && g.list_correct && g.sum_correct && !g.correct && g.score == 1.0);
    anc_demo_grade(&t, "99999999999 1", &g);
    assert_false(g.parse_ok);
}

static void test_revision_is_minimal(void **state) {
    (void)state;
    anc_error err;
    anc_demo_task t;
    odd_task(&t);
    struct {
        const char *draft, *want;
    } cases[] = {
        {"Odd: 15 19 23. Sum: 55.", "Odd: 15 17 23. Sum: 55."},
        {"Odd: 15 17 23. Sum: 57.", "Odd: 15 17 23. Sum: 55."},
        {"Odd: 15 23. Sum: 38.", "Odd: 15 17 23. Sum: 55."},
        {"Odd: 15 17 8 23. Sum: 55.", "Odd: 15 17 23. Sum: 55."},
        {"Odd: 17 15 23. Sum: 55.", "Odd: 15 17 23. Sum: 55."},
        {"Even: 15 17 23. Sum: 55.", "Odd: 15 17 23. Sum: 55."},
        {"Odd:  15  17 23. Sum: 50. And more", "Odd:  15  17 23. Sum: 55."}, /* spacing kept verbatim */
        {"Odd: 15 17 23. Sum: 55.", "Odd: 15 17 23. Sum: 55."},
        {"The answer is 55", "Odd: 15 17 23. Sum: 55."},
        {"", "Odd: 15 17 23. Sum: 55."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *rev = NULL;
        TU_CHECK(anc_demo_revise(&t, cases[i].draft, &rev, &err), &err);
        assert_string_equal(rev, cases[i].want);
        anc_demo_grade_result g;
        anc_demo_grade(&t, rev, &g);
        assert_true(g.correct);
        free(rev);
    }

    /* Over many tasks: a partly right demonstration is revised with a few
     * edits and graded correct; the stronger answer is right and much
     * farther from the draft. */
    anc_rng r;
    anc_rng_seed(&r, 7);
    double clair_sum = 0, strong_sum = 0;
    int n = 0;
    for (int i = 0; i < 400; i++) {
        anc_demo_task x;
        anc_demo_task_make(&r, &x);
        char *draft = NULL, *rev = NULL, *strong = NULL;
        TU_CHECK(anc_demo_demonstration(&x, &r, 1.0, 0.0, &draft, &err), &err);
        TU_CHECK(anc_demo_revise(&x, draft, &rev, &err), &err);
        TU_CHECK(anc_demo_stronger_answer(&x, &r, &strong, &err), &err);
        anc_demo_grade_result g;
        anc_demo_grade(&x, draft, &g);
        assert_false(g.correct);
        anc_demo_grade(&x, rev, &g);
        assert_true(g.correct);
        assert_string_equal(rev, x.answer);
        anc_demo_grade(&x, strong, &g);
        assert_true(g.parse_ok && g.list_correct && g.sum_correct && g.score == 1.0);
        size_t dc = lev(draft, rev), ds = lev(draft, strong);
        assert_true(dc >= 1 && dc <= 12);
        assert_true(ds > dc);
        clair_sum += (double)dc;
        strong_sum += (double)ds;
        n++;
        free(draft);
        free(rev);
        free(strong);
    }
    assert_true(strong_sum / n > 4.0 * (clair_sum / n));
}

static void test_mistake_rate(void **state) {
    (void)state;
    anc_error err;
    const double rates[] = {0.0, 0.3, 0.7, 1.0};
    for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
        anc_rng r;
        anc_rng_seed(&r, 1234);
        int wrong = 0, list_wrong = 0, sum_wrong = 0;
        for (int i = 0; i < 2000; i++) {
            anc_demo_task x;
            anc_demo_task_make(&r, &x);
            char *a = NULL;
            TU_CHECK(anc_demo_demonstration(&x, &r, rates[k], 0.0, &a, &err), &err);
            anc_demo_grade_result g;
            anc_demo_grade(&x, a, &g);
            assert_true(g.canonical && g.label_correct);
            wrong += !g.correct;
            list_wrong += !g.list_correct;
            sum_wrong += !g.sum_correct;
            free(a);
        }
        double rate = wrong / 2000.0;
        assert_true(rate >= rates[k] - 0.05 && rate <= rates[k] + 0.05);
        if (rates[k] > 0) assert_true(list_wrong > 0 && sum_wrong > 0 && list_wrong < wrong && sum_wrong < wrong);
    }
}

static void test_reviser_reply(void **state) {
    (void)state;
    anc_error err;
    anc_demo_task t;
    odd_task(&t);
    const char *draft = "Odd: 15 23. Sum: 38.";
    char *reply = NULL;
    TU_CHECK(anc_demo_reviser_reply(t.prompt, draft, &reply, &err), &err);
    anc_clair_reply cr;
    TU_CHECK(anc_clair_parse_reply(reply, strlen(reply), draft, &cr, &err), &err);
    assert_string_equal(cr.revision, "Odd: 15 17 23. Sum: 55.");
    assert_non_null(strstr(cr.rationale, "15 17 23"));
    anc_clair_reply_free(&cr);
    free(reply);

    /* from the whole reviser prompt, as an exec: reviser receives it */
    anc_rng r;
    anc_rng_seed(&r, 99);
    for (int i = 0; i < 200; i++) {
        anc_demo_task x;
        anc_demo_task_make(&r, &x);
        char *d = NULL, *prompt = NULL, *rev = NULL;
        TU_CHECK(anc_demo_demonstration(&x, &r, 0.5, 0.0, &d, &err), &err);
        TU_CHECK(anc_clair_prompt(NULL, x.prompt, d, &prompt, &err), &err);
        TU_CHECK(anc_demo_reviser_reply(prompt, NULL, &reply, &err), &err);
        TU_CHECK(anc_clair_parse_reply(reply, strlen(reply), d, &cr, &err), &err);
        TU_CHECK(anc_demo_revise(&x, d, &rev, &err), &err);
        assert_string_equal(cr.revision, rev);
        assert_string_equal(cr.revision, x.answer);
        if (strcmp(d, x.answer) == 0) assert_string_equal(cr.rationale, "The answer is already correct.");
        anc_clair_reply_free(&cr);
        free(reply);
        free(prompt);
        free(d);
        free(rev);
    }
    assert_int_equal(anc_demo_reviser_reply("hello", NULL, &reply, &err), ANC_ERR_FORMAT);
    assert_null(reply);
    assert_int_equal(anc_demo_reviser_reply("hello", "Odd: 1. Sum: 1.", &reply, &err), ANC_ERR_FORMAT);
}

static void check_roundtrip(anc_tokenizer *tok, const char *s) {
    anc_error err;
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    char *back = NULL;
    TU_CHECK(anc_tokenizer_encode(tok, s, strlen(s), 1, &ids, &n, &err), &err);
    assert_true(n >= 2);
    assert_int_equal(ids[0], 1); /* <s> */
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], anc_tokenizer_unk_id(tok));
    TU_CHECK(anc_tokenizer_decode(tok, ids, n, 1, &back, &len, &err), &err);
    assert_string_equal(back, s);
    assert_true(n < strlen(s) + 1); /* the merges compress */
    free(back);
    free(ids);
}

static void test_tokenizer(void **state) {
    (void)state;
    anc_error err;
    char *json = NULL, *config = NULL;
    TU_CHECK(anc_demo_tokenizer_json(&json, &config, &err), &err);
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_text(&tok, json, strlen(json), config, strlen(config), "demo", &err), &err);
    /* 4 specials + 51 characters + word prefixes + 90 two-digit numbers + 99 spaced numbers */
    assert_true(anc_tokenizer_vocab_size(tok) < 320);
    assert_true(anc_tokenizer_token_to_id(tok, " 7", 2) > 0);
    assert_true(anc_tokenizer_token_to_id(tok, " 42", 3) > 0);
    {
        int32_t *ids = NULL;
        size_t n = 0;
        TU_CHECK(anc_tokenizer_encode(tok, "Odd: 3 17. Sum: 20.", 19, 0, &ids, &n, &err), &err);
        /* "Odd" ":" " 3" " 17" ". Sum" ":" " 20" "." */
        assert_int_equal(n, 8);
        assert_int_equal(ids[2], anc_tokenizer_token_to_id(tok, " 3", 2));
        assert_int_equal(ids[3], anc_tokenizer_token_to_id(tok, " 17", 3));
        free(ids);
    }
    assert_int_equal(anc_tokenizer_token_to_id(tok, "<pad>", 5), 0);
    assert_int_equal(anc_tokenizer_bos_id(tok), 1);
    assert_int_equal(anc_tokenizer_eos_id(tok), 2);
    assert_int_equal(anc_tokenizer_pad_id(tok), 0);
    assert_int_equal(anc_tokenizer_unk_id(tok), 3);
    assert_int_equal(anc_tokenizer_add_bos(tok), 1);
    assert_true(anc_tokenizer_is_special(tok, 1));
    assert_true(anc_tokenizer_token_to_id(tok, "Numbers", 7) > 0);

    anc_rng r;
    anc_rng_seed(&r, 5);
    for (int i = 0; i < 500; i++) {
        anc_demo_task x;
        anc_demo_task_make(&r, &x);
        char *strong = NULL, *demo = NULL, *reply = NULL;
        TU_CHECK(anc_demo_stronger_answer(&x, &r, &strong, &err), &err);
        TU_CHECK(anc_demo_demonstration(&x, &r, 0.5, 0.0, &demo, &err), &err);
        TU_CHECK(anc_demo_reviser_reply(x.prompt, "junk", &reply, &err), &err);
        check_roundtrip(tok, x.prompt);
        check_roundtrip(tok, x.answer);
        check_roundtrip(tok, strong);
        check_roundtrip(tok, demo);
        /* the reasoning line, minus the braces of its markers */
        char *nl = strchr(reply, '\n');
        *nl = 0;
        check_roundtrip(tok, reply + strlen("{teacher_reasoning}: "));
        free(strong);
        free(demo);
        free(reply);
    }

    /* the chat template: prompt rendering is a prefix of the conversation's */
    const char *src = anc_tokenizer_chat_template(tok, NULL);
    assert_non_null(src);
    anc_template *tp = NULL;
    TU_CHECK(anc_template_compile(&tp, src, strlen(src), "demo", &err), &err);
    json_t *prompt_ctx = json_pack("{s:[{s:s, s:s}], s:b, s:s, s:s}", "messages", "role", "user", "content",
                                   "Numbers: 1 2 3 4. Odd numbers in increasing order, then their sum.",
                                   "add_generation_prompt", 1, "bos_token", "<s>", "eos_token", "</s>");
    json_t *conv_ctx = json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:b, s:s, s:s}", "messages", "role", "user", "content",
                                 "Numbers: 1 2 3 4. Odd numbers in increasing order, then their sum.", "role",
                                 "assistant", "content", "Odd: 1 3. Sum: 4.", "add_generation_prompt", 0,
                                 "bos_token", "<s>", "eos_token", "</s>");
    char *p_out = NULL, *c_out = NULL;
    TU_CHECK(anc_template_render(tp, prompt_ctx, NULL, &p_out, NULL, &err), &err);
    TU_CHECK(anc_template_render(tp, conv_ctx, NULL, &c_out, NULL, &err), &err);
    assert_string_equal(p_out, "<s>Q: Numbers: 1 2 3 4. Odd numbers in increasing order, then their sum.\nA: ");
    assert_string_equal(c_out,
                        "<s>Q: Numbers: 1 2 3 4. Odd numbers in increasing order, then their sum.\nA: Odd: 1 3. "
                        "Sum: 4.</s>");
    assert_int_equal(strncmp(p_out, c_out, strlen(p_out)), 0);
    /* the rendering tokenizes with <s> and </s> as single special tokens */
    int32_t *ids = NULL;
    size_t n = 0;
    TU_CHECK(anc_tokenizer_encode(tok, c_out, strlen(c_out), 0, &ids, &n, &err), &err);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[n - 1], 2);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 3);
    free(ids);
    free(p_out);
    free(c_out);
    json_decref(prompt_ctx);
    json_decref(conv_ctx);
    anc_template_free(tp);
    anc_tokenizer_free(tok);
    free(json);
    free(config);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_deterministic),
        cmocka_unit_test(test_grader),
        cmocka_unit_test(test_revision_is_minimal),
        cmocka_unit_test(test_mistake_rate),
        cmocka_unit_test(test_reviser_reply),
        cmocka_unit_test(test_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
