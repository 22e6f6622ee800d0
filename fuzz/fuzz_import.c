/* libFuzzer target for pair imports (`anchor pairs import`): the bytes are
 * an input file written to a private temp folder, read with anc_rows_load
 * and converted with anc_import_rows in each format (ultrafeedback,
 * hh-rlhf, llama-factory, llama-factory-kto), then written with
 * anc_import_dump_jsonl, as the command does. anc_pair_text (what `anchor
 * stats` and the report read) runs on every input row too.
 * Invariants: failures explain themselves and return nothing; the summary
 * adds up; every written row has an id, the source, a non-empty prompt list
 * and either distinct non-blank chosen/rejected answers or a completion and
 * a boolean label; the JSONL written reads back as the same number of rows;
 * imported pairs build as conversational training rows under chatml (the
 * demo tokenizer), i.e. what import writes, `anchor train` accepts.
 * Seeds: fuzz/corpus/fuzz_import/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clair/import.h"
#include "core/strbuf.h"
#include "core/text.h"
#include "data/dataset.h"
#include "data/jsonl.h"
#include "demo/tokenizer.h"
#include "fuzz_tmp.h"
#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

#define SOURCE "fuzzset"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static anc_tokenizer *g_tok;
static anc_template *g_chatml;

static void teardown(void) {
    anc_template_free(g_chatml);
    anc_tokenizer_free(g_tok);
}

static void setup(void) {
    if (g_tok) return;
    char *json = NULL, *config = NULL;
    anc_error err;
    anc_error_clear(&err);
    if (anc_demo_tokenizer_json(&json, &config, &err) != ANC_OK) abort();
    if (anc_tokenizer_load_text(&g_tok, json, strlen(json), config, strlen(config), "demo", &err) != ANC_OK) abort();
    free(json);
    free(config);
    if (anc_chat_template_resolve(g_tok, "chatml", &g_chatml, &err) != ANC_OK || !g_chatml) abort();
    atexit(teardown);
}

static int blank(const char *s) {
    for (; *s; s++)
        if (!(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')) return 0;
    return 1;
}

static void check_row(const json_t *row, int kto, size_t line) {
    if (!json_is_object(row)) abort();
    if (!json_is_string(json_object_get(row, "id"))) abort();
    const char *src = json_string_value(json_object_get(row, "source"));
    if (!src || strcmp(src, SOURCE) != 0) abort();
    const json_t *prompt = json_object_get(row, "prompt");
    if (!json_is_array(prompt) || json_array_size(prompt) == 0) abort();
    anc_error err;
    anc_error_clear(&err);
    if (kto) {
        if (!json_is_boolean(json_object_get(row, "label"))) abort();
        const json_t *c = json_object_get(row, "completion");
        if (!json_is_array(c) || json_array_size(c) == 0) abort();
        return;
    }
    char *c = NULL, *r = NULL;
    if (anc_pair_text(row, "chosen", &c, "out", line, &err) != ANC_OK) abort();
    if (anc_pair_text(row, "rejected", &r, "out", line, &err) != ANC_OK) abort();
    if (blank(c) || blank(r) || strcmp(c, r) == 0) abort();
    free(c);
    free(r);
}

static void import_as(anc_import_format f, const anc_rows *rows) {
    json_t *out = NULL;
    anc_import_summary sum;
    anc_error err;
    anc_error_clear(&err);
    if (anc_import_rows(f, rows, SOURCE, "input.jsonl", &out, &sum, &err) != ANC_OK) {
        if (out || err.message[0] == '\0') abort();
        return;
    }
    if (!json_is_array(out) || sum.read != rows->n || sum.written + sum.skipped != sum.read) abort();
    if (json_array_size(out) != sum.written || sum.n_reasons > ANC_IMPORT_MAX_REASONS) abort();
    size_t skipped = 0;
    for (size_t r = 0; r < sum.n_reasons; r++) {
        if (!sum.reasons[r].reason || !sum.reasons[r].count || !sum.reasons[r].first_line) abort();
        skipped += sum.reasons[r].count;
    }
    if (skipped != sum.skipped) abort();
    int kto = f == ANC_IMPORT_LLAMA_FACTORY_KTO;
    size_t i;
    json_t *row;
    json_array_foreach(out, i, row) check_row(row, kto, i + 1);

    anc_sbuf text = {0};
    if (anc_import_dump_jsonl(out, &text, &err) != ANC_OK) abort();
    anc_rows back;
    if (anc_rows_parse(&back, anc_sbuf_str(&text), text.len, "out.jsonl", &err) != ANC_OK) abort();
    if (back.n != sum.written) abort();
    for (size_t k = 0; k < back.n; k++)
        if (!json_equal(back.rows[k], json_array_get(out, k))) abort();

    if (back.n) {
        anc_dataset_opts o = {0};
        o.unpaired = kto;
        anc_pairset ps;
        uint8_t *labels = NULL;
        anc_dataset_stats st;
        if (anc_dataset_build(g_tok, g_chatml, &back, "out.jsonl", &o, 0, &ps, kto ? &labels : NULL, &st, &err) != ANC_OK)
            abort(); /* an imported row that training refuses */
        if (ps.n != back.n || st.conversational != back.n) abort();
        anc_pairset_free(&ps);
        free(labels);
    }
    anc_rows_free(&back);
    anc_sbuf_free(&text);
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    char *dir = fz_tmpdir();
    if (!dir) return 0;
    char *path = fz_path(dir, "input.jsonl");
    if (!path || fz_write(path, data, size) != 0) goto done;

    anc_rows rows;
    anc_error err;
    anc_error_clear(&err);
    if (anc_rows_load(&rows, path, &err) != ANC_OK) {
        if (err.message[0] == '\0') abort();
        goto done;
    }
    static const char *names[] = {"ultrafeedback", "hh-rlhf", "llama_factory", "llama-factory-kto"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        anc_import_format f;
        if (anc_import_format_parse(names[k], &f, &err) != ANC_OK) abort();
        if (!anc_import_format_name(f)) abort();
        import_as(f, &rows);
    }
    /* What `anchor stats` and the report read from pair files. */
    for (size_t i = 0; i < rows.n; i++) {
        static const char *keys[] = {"chosen", "rejected"};
        for (size_t k = 0; k < 2; k++) {
            char *t = NULL;
            anc_error_clear(&err);
            if (anc_pair_text(rows.rows[i], keys[k], &t, "input.jsonl", rows.lines[i], &err) == ANC_OK) {
                if (!t) abort();
                free(t);
            } else if (t || err.message[0] == '\0') {
                abort();
            }
        }
    }
    anc_rows_free(&rows);
done:
    free(path);
    fz_rmtree(dir);
    free(dir);
    return 0;
}
