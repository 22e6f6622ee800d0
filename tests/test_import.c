/* Tests of preference-data import (src/clair/import.h) and `anchor pairs
 * import`, on the real files in ../shared/fixtures/preference (skipped
 * when absent) and on small synthetic rows for each format's edge cases.
 *
 *  - hh-rlhf (2312 rows, gzip: decompressed with `gzip -dc` into a temp
 *    dir): 2303 pairs, 4 skipped for an empty chosen response (first at line
 *    87), 5 for responses that hold further dialogue turns (first at line
 *    1255); every written pair re-renders to both original transcripts
 *    ("\n\nHuman: " / "\n\nAssistant: " + content), and the row where one
 *    response is a prefix of the other (line 1610) splits at the right turn.
 *    (The pairs also equal TRL's examples/datasets/hh-rlhf-helpful-base.py
 *    extract_dialogue on all 2303 rows; checked once by hand in Python.)
 *  - llama-factory: dpo_en_demo.json (sharegpt, 300 pairs; prompt-length
 *    histogram and system prompts), v1_dpo_demo.jsonl (10 pairs), alpaca rows.
 *  - llama-factory-kto: kto_en_demo.json (300 rows, 150 true / 150 false).
 *  - ultrafeedback: ultrafeedback_binarized-shaped rows, TRL standard rows,
 *    explicit prompt lists, skips (identical, empty, mismatched prompts).
 *  - errors name file:line and what was expected; the JSONL writer; the
 *    stats text helper; the CLI (skipped until main.c dispatches `pairs`). */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/import.h"
#include "data/jsonl.h"

static const char *content_of(const json_t *list, size_t i) {
    return json_string_value(json_object_get(json_array_get(list, i), "content"));
}
static const char *role_of(const json_t *list, size_t i) {
    return json_string_value(json_object_get(json_array_get(list, i), "role"));
}

static void starts_with(const char *s, const char *prefix) {
    if (!s || strncmp(s, prefix, strlen(prefix)) != 0) fail_msg("expected '%s' to start with '%s'", s ? s : "(null)", prefix);
}

/* Imports rows given as text; returns the array and fills sum. */
static json_t *import_text(anc_import_format f, const char *text, anc_import_summary *sum) {
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_parse(&rows, text, strlen(text), "mem.jsonl", &err), &err);
    json_t *out = NULL;
    TU_CHECK(anc_import_rows(f, &rows, NULL, "mem.jsonl", &out, sum, &err), &err);
    anc_rows_free(&rows);
    return out;
}

static json_t *import_file(anc_import_format f, const char *path, anc_import_summary *sum) {
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_load(&rows, path, &err), &err);
    json_t *out = NULL;
    TU_CHECK(anc_import_rows(f, &rows, NULL, path, &out, sum, &err), &err);
    anc_rows_free(&rows);
    return out;
}

/* The error message of importing text, which must fail. */
static void expect_error(anc_import_format f, const char *text, const char *needle) {
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_parse(&rows, text, strlen(text), "bad.jsonl", &err), &err);
    json_t *out = NULL;
    anc_import_summary sum;
    anc_status st = anc_import_rows(f, &rows, NULL, "bad.jsonl", &out, &sum, &err);
    anc_rows_free(&rows);
    assert_int_equal(st, ANC_ERR_FORMAT);
    assert_null(out);
    if (!strstr(err.message, needle)) fail_msg("expected '%s' in error: %s", needle, err.message);
}

static const anc_import_reason *reason(const anc_import_summary *s, const char *prefix) {
    for (size_t i = 0; i < s->n_reasons; i++)
        if (strncmp(s->reasons[i].reason, prefix, strlen(prefix)) == 0) return &s->reasons[i];
    fail_msg("no skip reason starting with '%s'", prefix);
    return NULL;
}

static void test_format_names(void **state) {
    (void)state;
    anc_import_format f;
    anc_error err = {0};
    TU_CHECK(anc_import_format_parse("hh-rlhf", &f, &err), &err);
    assert_int_equal(f, ANC_IMPORT_HH_RLHF);
    TU_CHECK(anc_import_format_parse("llama_factory_kto", &f, &err), &err);
    assert_int_equal(f, ANC_IMPORT_LLAMA_FACTORY_KTO);
    assert_string_equal(anc_import_format_name(ANC_IMPORT_ULTRAFEEDBACK), "ultrafeedback");
    assert_int_equal(anc_import_format_parse("hh", &f, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "expected ultrafeedback, hh-rlhf"));
}

/* "\n\nHuman: a\n\nAssistant: b..." from prompt messages plus a response. */
static char *render_hh(const json_t *prompt, const char *response) {
    anc_sbuf b = {0};
    for (size_t i = 0; i < json_array_size(prompt); i++) {
        anc_sbuf_puts(&b, strcmp(role_of(prompt, i), "user") == 0 ? "\n\nHuman: " : "\n\nAssistant: ");
        anc_sbuf_puts(&b, content_of(prompt, i));
    }
    anc_sbuf_puts(&b, "\n\nAssistant: ");
    anc_sbuf_puts(&b, response);
    return anc_sbuf_take(&b);
}

static void test_hh_rlhf_fixture(void **state) {
    (void)state;
    char *gz = tu_shared_fixture("preference/hh-rlhf-harmless-base-test.jsonl.gz");
    if (!gz) skip();
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "hh.jsonl");
    assert_int_equal(tu_system("gzip -dc '%s' > '%s'", gz, path), 0);
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_load(&rows, path, &err), &err);
    json_t *out = NULL;
    anc_import_summary sum;
    TU_CHECK(anc_import_rows(ANC_IMPORT_HH_RLHF, &rows, NULL, path, &out, &sum, &err), &err);
    assert_int_equal(sum.read, 2312);
    assert_int_equal(sum.written, 2303);
    assert_int_equal(sum.skipped, 9);
    assert_int_equal(sum.n_reasons, 2);
    assert_int_equal(reason(&sum, "empty chosen")->count, 4);
    assert_int_equal(reason(&sum, "empty chosen")->first_line, 87);
    assert_int_equal(reason(&sum, "a response contains further")->count, 5);
    assert_int_equal(reason(&sum, "a response contains further")->first_line, 1255);

    /* first row: 5 prompt turns, alternating from the user */
    json_t *p = json_array_get(out, 0);
    assert_string_equal(json_string_value(json_object_get(p, "id")), "hh-rlhf-1");
    assert_string_equal(json_string_value(json_object_get(p, "source")), "hh-rlhf");
    const json_t *prompt = json_object_get(p, "prompt");
    assert_int_equal(json_array_size(prompt), 5);
    assert_string_equal(content_of(prompt, 0), "what are some pranks with a pen i can do?");
    assert_string_equal(content_of(prompt, 4), "okay some of these do not have anything to do with pens");
    starts_with(content_of(json_object_get(p, "chosen"), 0), "No, sorry!  All of these involve a pen");
    starts_with(content_of(json_object_get(p, "rejected"), 0), "There are lots of funny things you can do with pens");

    /* every pair re-renders to both original transcripts */
    size_t k = 0;
    for (size_t i = 0; i < rows.n; i++) {
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "hh-rlhf-%zu", rows.lines[i]);
        json_t *q = json_array_get(out, k);
        if (!q || strcmp(json_string_value(json_object_get(q, "id")), idbuf) != 0) continue; /* skipped row */
        k++;
        const json_t *pr = json_object_get(q, "prompt");
        /* (turns need not alternate: 4 source transcripts hold two Assistant turns in a row) */
        assert_string_equal(role_of(pr, 0), "user");
        assert_string_equal(role_of(pr, json_array_size(pr) - 1), "user");
        const char *keys[2] = {"chosen", "rejected"};
        for (int s = 0; s < 2; s++) {
            const json_t *resp = json_object_get(q, keys[s]);
            assert_int_equal(json_array_size(resp), 1);
            assert_string_equal(role_of(resp, 0), "assistant");
            char *t = render_hh(pr, content_of(resp, 0));
            const char *orig = json_string_value(json_object_get(rows.rows[i], keys[s]));
            if (strcmp(t, orig) != 0) fail_msg("line %zu %s does not re-render to the transcript", rows.lines[i], keys[s]);
            free(t);
        }
        if (rows.lines[i] == 1610) { /* rejected is a prefix of chosen */
            assert_string_equal(content_of(pr, json_array_size(pr) - 1), "Thanks.");
            assert_string_equal(content_of(json_object_get(q, "rejected"), 0), "You\xe2\x80\x99re welcome.");
            starts_with(content_of(json_object_get(q, "chosen"), 0), "You\xe2\x80\x99re welcome.  I\xe2\x80\x99" "d be happy");
        }
    }
    assert_int_equal(k, 2303);
    json_decref(out);
    anc_rows_free(&rows);
    tu_rmtree(dir);
    free(dir);
    free(path);
    free(gz);
}

static void test_hh_rlhf_edge_cases(void **state) {
    (void)state;
    anc_import_summary sum;
    const char *text =
        /* 1: responses share their first word: cut back to the turn boundary */
        "{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: I know.\", \"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: I think so.\"}\n"
        /* 2: chosen is a prefix of rejected */
        "{\"chosen\": \"\\n\\nHuman: q\\n\\nAssistant: A\", \"rejected\": \"\\n\\nHuman: q\\n\\nAssistant: AB\"}\n"
        /* 3: no Human turn first */
        "{\"chosen\": \"Question\\n\\nAssistant: x\", \"rejected\": \"Question\\n\\nAssistant: y\"}\n"
        /* 4: nothing shared up to an Assistant turn */
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: b\\n\\nAssistant: y\"}\n"
        /* 5: identical */
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: x\"}\n"
        /* 6: empty rejected; no space after the marker */
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant:\"}\n";
    json_t *out = import_text(ANC_IMPORT_HH_RLHF, text, &sum);
    assert_int_equal(sum.written, 2);
    json_t *p = json_array_get(out, 0);
    assert_string_equal(content_of(json_object_get(p, "prompt"), 0), "hi");
    assert_string_equal(content_of(json_object_get(p, "chosen"), 0), "I know.");
    assert_string_equal(content_of(json_object_get(p, "rejected"), 0), "I think so.");
    p = json_array_get(out, 1);
    assert_string_equal(content_of(json_object_get(p, "chosen"), 0), "A");
    assert_string_equal(content_of(json_object_get(p, "rejected"), 0), "AB");
    assert_int_equal(reason(&sum, "transcript does not start")->first_line, 3);
    assert_int_equal(reason(&sum, "no shared prompt")->first_line, 4);
    assert_int_equal(reason(&sum, "chosen and rejected are identical")->first_line, 5);
    assert_int_equal(reason(&sum, "empty rejected")->first_line, 6);
    json_decref(out);
    expect_error(ANC_IMPORT_HH_RLHF, "{\"chosen\": \"x\", \"rejected\": \"y\"}\n{\"chosen\": [1]}\n",
                 "bad.jsonl:2: expected \"chosen\" and \"rejected\" transcripts as strings");
}

static void test_llama_factory_fixtures(void **state) {
    (void)state;
    char *dpo = tu_shared_fixture("preference/dpo_en_demo.json");
    char *v1 = tu_shared_fixture("preference/v1_dpo_demo.jsonl");
    if (!dpo || !v1) {
        free(dpo);
        free(v1);
        skip();
    }
    anc_import_summary sum;
    json_t *out = import_file(ANC_IMPORT_LLAMA_FACTORY, dpo, &sum);
    assert_int_equal(sum.read, 300);
    assert_int_equal(sum.written, 300);
    json_t *p = json_array_get(out, 0);
    const json_t *prompt = json_object_get(p, "prompt");
    assert_int_equal(json_array_size(prompt), 1);
    assert_string_equal(role_of(prompt, 0), "user");
    starts_with(content_of(prompt, 0), "Hi! I'd like to create a new language game simulating the first person");
    starts_with(content_of(json_object_get(p, "chosen"), 0), "That sounds like a fun and engaging idea!");
    assert_string_equal(json_string_value(json_object_get(p, "id")), "llama-factory-1");
    /* prompt lengths: 114 x 1 (human), 80 x 2 (system + human), 1 x 3, 57 x 5, 46 x 7, 1 x 9, 1 x 13 */
    size_t hist[16] = {0}, systems = 0;
    for (size_t i = 0; i < json_array_size(out); i++) {
        const json_t *pr = json_object_get(json_array_get(out, i), "prompt");
        size_t n = json_array_size(pr);
        hist[n < 15 ? n : 15]++;
        systems += strcmp(role_of(pr, 0), "system") == 0;
        assert_string_equal(role_of(pr, n - 1), "user");
        assert_string_equal(role_of(json_object_get(json_array_get(out, i), "chosen"), 0), "assistant");
    }
    assert_int_equal(hist[1], 114);
    assert_int_equal(hist[2], 80);
    assert_int_equal(hist[3], 1);
    assert_int_equal(hist[5], 57);
    assert_int_equal(hist[7], 46);
    assert_int_equal(hist[9], 1);
    assert_int_equal(hist[13], 1);
    assert_int_equal(systems, 80);
    json_decref(out);

    out = import_file(ANC_IMPORT_LLAMA_FACTORY, v1, &sum);
    assert_int_equal(sum.read, 10);
    assert_int_equal(sum.written, 10);
    p = json_array_get(out, 0);
    prompt = json_object_get(p, "prompt");
    assert_int_equal(json_array_size(prompt), 2);
    assert_string_equal(role_of(prompt, 0), "system");
    starts_with(content_of(prompt, 1), "Abdulah Hasanagic este m\xc3\xa2ndrul proprietar");
    starts_with(content_of(json_object_get(p, "chosen"), 0), "Abdulah Hasanagic is the proud owner of AS Company in Gorazde");
    starts_with(content_of(json_object_get(p, "rejected"), 0), " Abdulah Hasanagic is the proud owner of AS Company, a small");
    json_decref(out);
    free(dpo);
    free(v1);
}

static void test_llama_factory_rows(void **state) {
    (void)state;
    anc_import_summary sum;
    const char *text =
        "[{\"instruction\": \"Translate\", \"input\": \"bonjour\", \"chosen\": \"hello\", \"rejected\": \"bye\","
        "  \"system\": \"be brief\", \"history\": [[\"hi\", \"hey\"]]},\n"
        " {\"instruction\": \"Say x\", \"input\": \"\", \"chosen\": \"x\", \"rejected\": \"y\"},\n"
        " {\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}],"
        "  \"chosen\": {\"from\": \"gpt\", \"value\": \"c\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"r\"}},\n"
        " {\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"function_call\", \"value\": \"f\"},"
        "  {\"from\": \"observation\", \"value\": \"o\"}, {\"from\": \"human\", \"value\": \"q2\"}],"
        "  \"chosen\": {\"from\": \"gpt\", \"value\": \"c\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"r\"}},\n"
        " {\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}], \"system\": \"sys\","
        "  \"chosen\": {\"from\": \"gpt\", \"value\": \"c\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"  \"}}]\n";
    json_t *out = import_text(ANC_IMPORT_LLAMA_FACTORY, text, &sum);
    assert_int_equal(sum.read, 5);
    assert_int_equal(sum.written, 2);
    json_t *p = json_array_get(out, 0);
    const json_t *pr = json_object_get(p, "prompt");
    assert_int_equal(json_array_size(pr), 4);
    assert_string_equal(role_of(pr, 0), "system");
    assert_string_equal(content_of(pr, 1), "hi");
    assert_string_equal(role_of(pr, 2), "assistant");
    assert_string_equal(content_of(pr, 3), "Translate\nbonjour");
    assert_string_equal(content_of(json_object_get(p, "chosen"), 0), "hello");
    assert_string_equal(content_of(json_object_get(json_array_get(out, 1), "prompt"), 0), "Say x");
    assert_int_equal(reason(&sum, "conversation ends with an assistant turn")->first_line, 3);
    assert_int_equal(reason(&sum, "tool or function-call")->first_line, 4);
    assert_int_equal(reason(&sum, "empty rejected")->first_line, 5);
    json_decref(out);
    expect_error(ANC_IMPORT_LLAMA_FACTORY, "{\"chosen\": \"a\", \"rejected\": \"b\"}\n",
                 "bad.jsonl:1: not a LLaMA-Factory preference row");
    expect_error(ANC_IMPORT_LLAMA_FACTORY, "{\"conversations\": [{\"from\": \"human\", \"value\": 3}], \"chosen\": \"a\", \"rejected\": \"b\"}\n",
                 "bad.jsonl:1: conversations: content is not text");
}

static void test_kto(void **state) {
    (void)state;
    char *path = tu_shared_fixture("preference/kto_en_demo.json");
    if (path) {
        anc_import_summary sum;
        json_t *out = import_file(ANC_IMPORT_LLAMA_FACTORY_KTO, path, &sum);
        assert_int_equal(sum.read, 300);
        assert_int_equal(sum.written, 300);
        size_t yes = 0, hist[16] = {0};
        for (size_t i = 0; i < 300; i++) {
            json_t *r = json_array_get(out, i);
            yes += json_is_true(json_object_get(r, "label"));
            assert_true(json_is_boolean(json_object_get(r, "label")));
            const json_t *pr = json_object_get(r, "prompt"), *c = json_object_get(r, "completion");
            assert_int_equal(json_array_size(c), 1);
            assert_string_equal(role_of(c, 0), "assistant");
            assert_string_equal(role_of(pr, json_array_size(pr) - 1), "user");
            hist[json_array_size(pr) < 15 ? json_array_size(pr) : 15]++;
        }
        assert_int_equal(yes, 150);
        /* conversations of 2, 4, 6, 8, 10, 12 messages: 223, 3, 47, 22, 1, 4 */
        assert_int_equal(hist[1], 223);
        assert_int_equal(hist[3], 3);
        assert_int_equal(hist[5], 47);
        assert_int_equal(hist[7], 22);
        assert_int_equal(hist[9], 1);
        assert_int_equal(hist[11], 4);
        json_t *r = json_array_get(out, 0);
        starts_with(content_of(json_object_get(r, "prompt"), 0), "The Federal Trade Commission is going after spyware");
        starts_with(content_of(json_object_get(r, "completion"), 0), "Ooh ooh ah ah! *giggle*");
        assert_null(json_object_get(r, "chosen"));
        json_decref(out);
        free(path);
    }
    anc_import_summary sum;
    const char *text =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}], \"kto_tag\": 0}\n"
        "{\"instruction\": \"i\", \"output\": \"o\", \"label\": true, \"id\": 17}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"label\": true}\n";
    json_t *out = import_text(ANC_IMPORT_LLAMA_FACTORY_KTO, text, &sum);
    assert_int_equal(sum.written, 2);
    assert_true(json_is_false(json_object_get(json_array_get(out, 0), "label")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "id")), "17");
    assert_int_equal(reason(&sum, "conversation does not end with an assistant")->first_line, 3);
    json_decref(out);
    expect_error(ANC_IMPORT_LLAMA_FACTORY_KTO, "{\"messages\": [], \"label\": \"yes\"}\n",
                 "bad.jsonl:1: \"label\" is not a boolean (expected true or false)");
}

static void test_ultrafeedback(void **state) {
    (void)state;
    anc_import_summary sum;
    const char *text =
        /* 1: ultrafeedback_binarized row */
        "{\"prompt\": \"What is 2+2?\", \"prompt_id\": \"abc123\", \"chosen\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"},"
        " {\"role\": \"assistant\", \"content\": \"4\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"},"
        " {\"role\": \"assistant\", \"content\": \"5\"}], \"score_chosen\": 9.0, \"score_rejected\": 2.5}\n"
        /* 2: TRL standard row */
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
        /* 3: explicit conversational prompt, responses as assistant-only lists with content parts */
        "{\"prompt\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"u\"}],"
        " \"chosen\": [{\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"he\"}, {\"type\": \"text\", \"text\": \"llo\"}]}],"
        " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bye\"}]}\n"
        /* 4: identical */
        "{\"prompt\": \"p\", \"chosen\": \"same\", \"rejected\": \"same\"}\n"
        /* 5: different prompts inside the conversations */
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"x\"}],"
        " \"rejected\": [{\"role\": \"user\", \"content\": \"b\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}\n"
        /* 6: no prompt at all */
        "{\"chosen\": \"x\", \"rejected\": \"y\"}\n"
        /* 7: the conversation ends with a user turn */
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"a\"}]}\n"
        /* 8: empty chosen */
        "{\"prompt\": \"p\", \"chosen\": \"\", \"rejected\": \"y\"}\n";
    json_t *out = import_text(ANC_IMPORT_ULTRAFEEDBACK, text, &sum);
    assert_int_equal(sum.read, 8);
    assert_int_equal(sum.written, 3);
    json_t *p = json_array_get(out, 0);
    assert_string_equal(json_string_value(json_object_get(p, "id")), "abc123");
    assert_int_equal(json_array_size(json_object_get(p, "prompt")), 1);
    assert_string_equal(content_of(json_object_get(p, "prompt"), 0), "What is 2+2?");
    assert_string_equal(content_of(json_object_get(p, "chosen"), 0), "4");
    assert_string_equal(content_of(json_object_get(p, "rejected"), 0), "5");
    assert_float_equal(json_real_value(json_object_get(p, "score_chosen")), 9.0, 0);
    p = json_array_get(out, 1);
    assert_string_equal(json_string_value(json_object_get(p, "id")), "ultrafeedback-2");
    assert_string_equal(role_of(json_object_get(p, "prompt"), 0), "user");
    p = json_array_get(out, 2);
    assert_int_equal(json_array_size(json_object_get(p, "prompt")), 2);
    assert_string_equal(content_of(json_object_get(p, "chosen"), 0), "hello");
    assert_int_equal(sum.skipped, 5);
    assert_int_equal(reason(&sum, "chosen and rejected are identical")->first_line, 4);
    assert_int_equal(reason(&sum, "chosen and rejected differ before")->first_line, 5);
    assert_int_equal(reason(&sum, "no prompt")->first_line, 6);
    assert_int_equal(reason(&sum, "a response is not a final assistant")->first_line, 7);
    assert_int_equal(reason(&sum, "empty chosen")->first_line, 8);

    /* JSONL writing: one line per row, key order kept, parses back */
    anc_sbuf b = {0};
    anc_error err = {0};
    TU_CHECK(anc_import_dump_jsonl(out, &b, &err), &err);
    starts_with(anc_sbuf_str(&b), "{\"prompt\":[{\"role\":\"user\",\"content\":\"What is 2+2?\"}],\"chosen\":[{\"role\":\"assistant\"");
    anc_rows back;
    TU_CHECK(anc_rows_parse(&back, anc_sbuf_str(&b), b.len, "written", &err), &err);
    assert_int_equal(back.n, 3);
    assert_int_equal(back.lines[2], 3);
    assert_true(json_equal(back.rows[2], json_array_get(out, 2)));
    anc_rows_free(&back);
    anc_sbuf_free(&b);
    json_decref(out);
    expect_error(ANC_IMPORT_ULTRAFEEDBACK, "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n\n{\"prompt\": \"p\", \"chosen\": 3, \"rejected\": \"r\"}\n",
                 "bad.jsonl:3: \"chosen\" is of the wrong type (expected a string, a message or a list of messages)");
    expect_error(ANC_IMPORT_ULTRAFEEDBACK, "{\"prompt\": \"p\", \"chosen\": [{\"content\": \"x\"}], \"rejected\": \"r\"}\n",
                 "bad.jsonl:1: chosen: message without a string \"role\"");
}

static void test_pair_text(void **state) {
    (void)state;
    const char *text =
        "{\"chosen\": \"plain\", \"rejected\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"ans\"},"
        " {\"role\": \"user\", \"content\": \"thanks\"}]}\n"
        "{\"chosen\": {\"from\": \"gpt\", \"value\": \"v\"}, \"rejected_messages\": [{\"role\": \"assistant\","
        " \"content\": [{\"type\": \"text\", \"value\": \"p1\"}, {\"type\": \"text\", \"value\": \"p2\"}]}]}\n"
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"q\"}], \"rejected\": 5}\n";
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_parse(&rows, text, strlen(text), "t.jsonl", &err), &err);
    char *s = NULL;
    TU_CHECK(anc_pair_text(rows.rows[0], "chosen", &s, "t.jsonl", 1, &err), &err);
    assert_string_equal(s, "plain");
    free(s);
    TU_CHECK(anc_pair_text(rows.rows[0], "rejected", &s, "t.jsonl", 1, &err), &err);
    assert_string_equal(s, "ans");
    free(s);
    TU_CHECK(anc_pair_text(rows.rows[1], "chosen", &s, "t.jsonl", 2, &err), &err);
    assert_string_equal(s, "v");
    free(s);
    TU_CHECK(anc_pair_text(rows.rows[1], "rejected", &s, "t.jsonl", 2, &err), &err);
    assert_string_equal(s, "p1p2");
    free(s);
    assert_int_equal(anc_pair_text(rows.rows[2], "chosen", &s, "t.jsonl", 3, &err), ANC_ERR_FORMAT);
    assert_string_equal(err.message, "t.jsonl:3: \"chosen\" has no assistant message");
    assert_int_equal(anc_pair_text(rows.rows[2], "rejected", &s, "t.jsonl", 3, &err), ANC_ERR_FORMAT);
    assert_null(s);
    anc_rows_free(&rows);
}

static void test_cli_pairs_import(void **state) {
    (void)state;
    if (tu_system("'%s' pairs import --help >/dev/null 2>&1", tu_cli()) != 0) {
        fprintf(stderr, "note: %s does not dispatch 'pairs' yet; skipping\n", tu_cli());
        skip();
    }
    char *gz = tu_shared_fixture("preference/hh-rlhf-harmless-base-test.jsonl.gz");
    if (!gz) skip();
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && '%s' pairs import --format hh-rlhf --input '%s' --out hh.jsonl >out.txt 2>err.txt",
                               d, tu_cli(), gz), 0);
    char *ep = tu_path(d, "err.txt"), *hp = tu_path(d, "hh.jsonl");
    char *errs = tu_read_file(ep, NULL);
    assert_non_null(strstr(errs, "read 2312 rows"));
    assert_non_null(strstr(errs, "wrote 2303 pairs to hh.jsonl; skipped 9"));
    assert_non_null(strstr(errs, "4  empty chosen response (first at"));
    assert_non_null(strstr(errs, ".jsonl.gz:87)"));
    free(errs);
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_load(&rows, hp, &err), &err);
    assert_int_equal(rows.n, 2303);
    anc_rows_free(&rows);
    /* the written pairs feed `anchor stats` */
    assert_int_equal(tu_system("cd '%s' && '%s' stats hh.jsonl >out.txt 2>err.txt", d, tu_cli()), 0);
    /* usage errors */
    assert_int_equal(tu_system("cd '%s' && '%s' pairs import --format nope --input x --out y >out.txt 2>err.txt", d, tu_cli()), 2);
    errs = tu_read_file(ep, NULL);
    assert_non_null(strstr(errs, "unknown import format 'nope'"));
    free(errs);
    assert_int_equal(tu_system("cd '%s' && '%s' pairs frobnicate >out.txt 2>err.txt", d, tu_cli()), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' pairs import --format hh-rlhf --input missing.jsonl.gz --out y >out.txt 2>err.txt",
                               d, tu_cli()), 1);
    free(ep);
    free(hp);
    tu_rmtree(d);
    free(d);
    free(gz);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_hh_rlhf_fixture),
        cmocka_unit_test(test_hh_rlhf_edge_cases),
        cmocka_unit_test(test_llama_factory_fixtures),
        cmocka_unit_test(test_llama_factory_rows),
        cmocka_unit_test(test_kto),
        cmocka_unit_test(test_ultrafeedback),
        cmocka_unit_test(test_pair_text),
        cmocka_unit_test(test_cli_pairs_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
