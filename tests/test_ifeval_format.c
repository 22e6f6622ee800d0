/* IFEval checks of src/eval/ifeval_format.c (detectable_format,
 * detectable_content, language): hand cases per type (follows and does not
 * follow, kwargs errors), then the official evaluator's strict verdicts on
 * the GPT-4 responses of ../shared/fixtures/ifeval for these types, which
 * must agree on at least 99% of the instructions. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ifeval.h"

static const anc_ifeval_kind *kind(const char *id) {
    for (const anc_ifeval_kind *k = anc_ifeval_format_kinds; k->id; k++)
        if (!strcmp(k->id, id)) return k;
    fail_msg("no type %s in anc_ifeval_format_kinds", id);
    return NULL;
}

/* The check's verdict on response with kwargs given as JSON text. */
static int follows(const char *id, const char *kwargs_json, const char *response) {
    json_error_t jerr;
    json_t *kw = json_loads(kwargs_json, 0, &jerr);
    if (!kw) fail_msg("bad kwargs %s", kwargs_json);
    anc_error err = {0};
    int f = -1;
    TU_CHECK(kind(id)->check(kw, "the prompt", response, &f, &err), &err);
    json_decref(kw);
    assert_true(f == 0 || f == 1);
    return f;
}

static anc_status check_err(const char *id, const char *kwargs_json, const char *response) {
    json_t *kw = json_loads(kwargs_json, 0, NULL);
    assert_non_null(kw);
    anc_error err = {0};
    int f = -1;
    anc_status st = kind(id)->check(kw, "the prompt", response, &f, &err);
    json_decref(kw);
    if (st) assert_true(err.message[0] != '\0');
    return st;
}

static void test_registry(void **state) {
    (void)state;
    size_t n = 0;
    for (const anc_ifeval_kind *k = anc_ifeval_format_kinds; k->id; k++, n++) assert_non_null(k->check);
    assert_int_equal(n, 9);
}

static void test_format_types(void **state) {
    (void)state;
    const char *cr = "detectable_format:constrained_response";
    assert_true(follows(cr, "{}", "  My answer is yes.  "));
    assert_true(follows(cr, "{}", "Well... My answer is maybe. Because."));
    assert_false(follows(cr, "{}", "My answer is Yes."));
    assert_false(follows(cr, "{}", "yes"));

    const char *js = "detectable_format:json_format";
    assert_true(follows(js, "{}", "{\"a\": [1, 2.5, \"x\"]}"));
    assert_true(follows(js, "{}", "\n```json\n{\"a\": 1}\n```\n"));
    assert_true(follows(js, "{}", "```JSON\n[1,2]\n```"));
    assert_true(follows(js, "{}", "```\n\"just a string\"\n```"));
    assert_true(follows(js, "{}", "12345678901234567890123"));  /* big integers parse, as in Python */
    assert_true(follows(js, "{}", " \"\\u0000\" "));
    assert_false(follows(js, "{}", "Here is the JSON: {\"a\": 1}"));
    assert_false(follows(js, "{}", "{\"a\": 1} trailing"));
    assert_false(follows(js, "{}", "```python\n{\"a\": 1}\n```"));  /* "```" goes, "python" stays */
    assert_false(follows(js, "{}", "{'a': 1}"));
    assert_false(follows(js, "{}", ""));
    assert_false(follows(js, "{}", "NaN"));  /* residual: Python's json.loads accepts NaN */

    const char *ms = "detectable_format:multiple_sections";
    const char *three = "SECTION 1\nintro\nSECTION 2\nbody\nSECTION 3\nend";
    assert_true(follows(ms, "{\"section_spliter\": \"SECTION\", \"num_sections\": 3}", three));
    assert_false(follows(ms, "{\"section_spliter\": \"SECTION\", \"num_sections\": 4}", three));
    assert_false(follows(ms, "{\"section_spliter\": \"Section\", \"num_sections\": 1}", three));
    assert_true(follows(ms, "{\"section_spliter\": \" Day \", \"num_sections\": 2}", "Day1 walk. Day 2: rest"));
    assert_false(follows(ms, "{\"section_spliter\": \"Day\", \"num_sections\": 2}", "Day one, Day two"));
    assert_true(follows(ms, "{\"section_spliter\": \"Section\", \"num_sections\": 1}", "Section \u0663 only"));
    assert_int_equal(check_err(ms, "{\"num_sections\": 2}", "x"), ANC_ERR_FORMAT);
    assert_int_equal(check_err(ms, "{\"section_spliter\": \"S\", \"num_sections\": \"2\"}", "x"), ANC_ERR_FORMAT);
    assert_int_equal(check_err(ms, "{\"section_spliter\": \"(\", \"num_sections\": 2}", "x"), ANC_ERR_FORMAT);

    const char *bl = "detectable_format:number_bullet_lists";
    const char *bullets = "Intro\n* one\n  * two\n- three\n**bold** line\n*\n-";
    /* the '*' pattern: "* one", "  * two" and "*\n-" ('*', then the newline
     * as [^*], then "-"), not "**bold**"; the '-' pattern: "- three", "-" */
    assert_true(follows(bl, "{\"num_bullets\": 5}", bullets));
    assert_false(follows(bl, "{\"num_bullets\": 4}", bullets));
    assert_true(follows(bl, "{\"num_bullets\": 2}", "* a\n* b\n"));
    assert_false(follows(bl, "{\"num_bullets\": 3}", "* a\n* b\n"));
    assert_int_equal(check_err(bl, "{}", "* a"), ANC_ERR_FORMAT);

    const char *hl = "detectable_format:number_highlighted_sections";
    assert_true(follows(hl, "{\"num_highlights\": 2}", "*one* and *two*"));
    assert_false(follows(hl, "{\"num_highlights\": 3}", "*one* and *two*"));
    /* "**bold**": the single pattern finds "**" (blank) and "**" (blank),
     * the double pattern finds "**bold**": one highlight */
    assert_true(follows(hl, "{\"num_highlights\": 1}", "**bold**"));
    assert_false(follows(hl, "{\"num_highlights\": 2}", "**bold**"));
    assert_false(follows(hl, "{\"num_highlights\": 1}", "* * and *\u3000*"));  /* blank insides */
    assert_false(follows(hl, "{\"num_highlights\": 1}", "*across\nlines*"));
    assert_int_equal(check_err(hl, "{\"num_highlights\": -1}", "x"), ANC_ERR_FORMAT);

    const char *ti = "detectable_format:title";
    assert_true(follows(ti, "{}", "<<Poem of Joy>>\nverse"));
    assert_true(follows(ti, "{}", "a <<<nested>>> b"));
    assert_false(follows(ti, "{}", "<< >> and <<\n>>"));
    assert_false(follows(ti, "{}", "<Poem> <<>>"));
}

static void test_content_types(void **state) {
    (void)state;
    const char *ph = "detectable_content:number_placeholders";
    assert_true(follows(ph, "{\"num_placeholders\": 2}", "Dear [name], at [address]."));
    assert_false(follows(ph, "{\"num_placeholders\": 3}", "Dear [name], at [address]."));
    assert_true(follows(ph, "{\"num_placeholders\": 1}", "[]"));
    assert_false(follows(ph, "{\"num_placeholders\": 1}", "[multi\nline]"));
    assert_int_equal(check_err(ph, "{\"num_placeholders\": null}", "[a]"), ANC_ERR_FORMAT);

    const char *ps = "detectable_content:postscript";
    assert_true(follows(ps, "{\"postscript_marker\": \"P.S.\"}", "Text.\n\np.s. see you"));
    assert_true(follows(ps, "{\"postscript_marker\": \"P.S.\"}", "Text. P. S. more"));
    assert_false(follows(ps, "{\"postscript_marker\": \"P.S.\"}", "Text. PS more"));
    assert_true(follows(ps, "{\"postscript_marker\": \"P.P.S\"}", "Text.\nP.P.S Also"));
    assert_true(follows(ps, "{\"postscript_marker\": \"P.P.S\"}", "Text.\nP. P. S. Also"));
    assert_false(follows(ps, "{\"postscript_marker\": \"P.P.S\"}", "Text.\nP.S. Also"));
    assert_true(follows(ps, "{\"postscript_marker\": \" Note \"}", "End.\nNOTE: bring water"));
    assert_false(follows(ps, "{\"postscript_marker\": \"Note\"}", "End."));
    assert_int_equal(check_err(ps, "{}", "P.S. x"), ANC_ERR_FORMAT);
}

static void test_language(void **state) {
    (void)state;
    const char *rl = "language:response_language";
    const char *en = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch and "
                     "wonders whether the weather will hold until the harvest is finished next week.";
    const char *de = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer von der Veranda "
                     "aus zusieht und sich fragt, ob das Wetter bis zum Ende der Ernte hält.";
    const char *ru = "Быстрая коричневая лиса прыгает через ленивую собаку, пока фермер смотрит с крыльца и "
                     "думает, продержится ли погода до конца уборки урожая.";
    const char *hi = "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर से कूदती है, जबकि किसान बरामदे से देखता है और सोचता है "
                     "कि क्या मौसम फसल की कटाई पूरी होने तक ठीक रहेगा।";
    assert_true(follows(rl, "{\"language\": \"en\"}", en));
    assert_false(follows(rl, "{\"language\": \"de\"}", en));
    assert_true(follows(rl, "{\"language\": \"de\"}", de));
    assert_false(follows(rl, "{\"language\": \"en\"}", de));
    assert_true(follows(rl, "{\"language\": \"ru\"}", ru));
    assert_false(follows(rl, "{\"language\": \"bg\"}", ru));
    assert_true(follows(rl, "{\"language\": \"hi\"}", hi));
    assert_false(follows(rl, "{\"language\": \"en\"}", hi));
    /* English verse that textcat takes for Scots (mapped to en) */
    assert_true(follows(rl, "{\"language\": \"en\"}", "Quaker named *John*,\nIn De Smet, he's the *dawn*,\n"
                                                      "Laughs at his own *yawn*."));
    /* no letters: langdetect cannot detect, which counts as followed */
    assert_true(follows(rl, "{\"language\": \"ko\"}", "12345 ... !!! 42"));
    assert_true(follows(rl, "{\"language\": \"ko\"}", ""));
    assert_int_equal(check_err(rl, "{}", en), ANC_ERR_FORMAT);
}

/* ---- fixture ------------------------------------------------------------ */

static json_t *load_jsonl(const char *rel) {
    char *path = tu_shared_fixture(rel);
    if (!path) return NULL;
    FILE *f = fopen(path, "r");
    free(path);
    assert_non_null(f);
    json_t *rows = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n') continue;
        json_error_t jerr;
        json_t *r = json_loads(line, 0, &jerr);
        if (!r) fail_msg("%s line %d: %s", rel, jerr.line, jerr.text);
        json_array_append_new(rows, r);
    }
    free(line);
    fclose(f);
    return rows;
}

static json_t *row_by_prompt(json_t *rows, const char *prompt) {
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *p = json_string_value(json_object_get(r, "prompt"));
        if (p && !strcmp(p, prompt)) return r;
    }
    return NULL;
}

/* kwargs without the falsy entries (null, false, 0, "", [], {}), as the
 * official evaluator filters them before build_description. */
static json_t *filter_kwargs(json_t *kw) {
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(kw, k, v) {
        if (json_is_null(v) || json_is_false(v)) continue;
        if (json_is_integer(v) && json_integer_value(v) == 0) continue;
        if (json_is_real(v) && json_real_value(v) == 0) continue;
        if (json_is_string(v) && !json_string_length(v)) continue;
        if (json_is_array(v) && !json_array_size(v)) continue;
        if (json_is_object(v) && !json_object_size(v)) continue;
        json_object_set(out, k, v);
    }
    return out;
}

/* response.strip() is non-empty (ASCII and the common Unicode spaces). */
static int nonblank(const char *s) {
    for (; *s; s++)
        if (!strchr(" \t\n\r\v\f", *s)) return 1;
    return 0;
}

static void test_fixture_strict(void **state) {
    (void)state;
    json_t *input = load_jsonl("ifeval/input_data.jsonl");
    json_t *resp = load_jsonl("ifeval/responses_gpt4.jsonl");
    json_t *expect = load_jsonl("ifeval/expected_strict_gpt4.jsonl");
    if (!input || !resp || !expect) {
        json_decref(input);
        json_decref(resp);
        json_decref(expect);
        skip();
    }
    enum { NKINDS = 9 };
    int total[NKINDS] = {0}, agree[NKINDS] = {0};
    size_t i;
    json_t *row;
    json_array_foreach(input, i, row) {
        const char *prompt = json_string_value(json_object_get(row, "prompt"));
        assert_non_null(prompt);
        json_t *r = row_by_prompt(resp, prompt), *e = row_by_prompt(expect, prompt);
        assert_non_null(r);
        assert_non_null(e);
        const char *response = json_string_value(json_object_get(r, "response"));
        assert_non_null(response);
        json_t *ids = json_object_get(row, "instruction_id_list"), *kws = json_object_get(row, "kwargs");
        json_t *verdicts = json_object_get(e, "follow_instruction_list");
        assert_int_equal(json_array_size(verdicts), json_array_size(ids));
        for (size_t j = 0; j < json_array_size(ids); j++) {
            const char *id = json_string_value(json_array_get(ids, j));
            int ki = 0;
            const anc_ifeval_kind *k = anc_ifeval_format_kinds;
            while (k->id && strcmp(k->id, id)) k++, ki++;
            if (!k->id) continue;
            json_t *kw = filter_kwargs(json_array_get(kws, j));
            anc_error err = {0};
            int f = 0;
            if (nonblank(response)) TU_CHECK(k->check(kw, prompt, response, &f, &err), &err);
            json_decref(kw);
            int want = json_is_true(json_array_get(verdicts, j));
            total[ki]++;
            if (f == want) agree[ki]++;
            else
                printf("ifeval disagreement: key %lld %s expected %d got %d\n",
                       (long long)json_integer_value(json_object_get(row, "key")), id, want, f);
        }
    }
    int all = 0, ok = 0;
    for (int ki = 0; ki < NKINDS; ki++) {
        printf("ifeval strict %-48s %3d/%3d\n", anc_ifeval_format_kinds[ki].id, agree[ki], total[ki]);
        all += total[ki];
        ok += agree[ki];
    }
    printf("ifeval strict format types: %d/%d agree (%.2f%%)\n", ok, all, all ? 100.0 * ok / all : 0.0);
    assert_true(all > 200);
    assert_true(ok * 100 >= all * 99);
    json_decref(input);
    json_decref(resp);
    json_decref(expect);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_format_types),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_fixture_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
