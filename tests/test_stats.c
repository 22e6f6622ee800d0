/* Tests of the contrast statistics (src/clair/stats.h) and `anchor stats`.
 *
 *  - Levenshtein: the bit-parallel algorithm equals a plain O(nm) DP on
 *    ~1900 random pairs (lengths 0..300, alphabets of 2, 4, 26 symbols and
 *    random code points up to U+10FFFF, and mutated copies sharing prefixes
 *    and suffixes), on every length pair around the 64-bit block boundaries,
 *    and is symmetric; 20K x 20K texts run and give the exact distance when
 *    it is known by construction (k substitutions with fresh symbols, k
 *    deletions); UTF-8 texts count code points, not bytes.
 *  - word splitting (Python str.split() whitespace), Jaccard of word and
 *    token sets, the accumulator's means, medians and identical share, the
 *    table and the JSON.
 *  - the CLI on a small file (skipped when this build's anchor does not
 *    dispatch `stats` yet). */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/stats.h"
#include "clair/text.h"

static size_t dp_levenshtein(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
    size_t *prev = malloc((m + 1) * sizeof *prev), *cur = malloc((m + 1) * sizeof *cur);
    assert_non_null(prev);
    assert_non_null(cur);
    for (size_t j = 0; j <= m; j++) prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[m];
    free(prev);
    free(cur);
    return d;
}

static uint32_t rand_below(tu_rng *r, uint32_t n) {
    uint32_t v = (uint32_t)(tu_rng_uniform(r) * (float)n);
    return v >= n ? n - 1 : v;
}

static uint32_t rand_symbol(tu_rng *r, int alphabet) {
    if (alphabet > 0) return 'a' + rand_below(r, (uint32_t)alphabet);
    uint32_t cp;
    do cp = rand_below(r, 0x110000); while (cp >= 0xD800 && cp <= 0xDFFF);
    return cp;
}

static size_t lev(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
    size_t d = 0;
    anc_error err = {0};
    TU_CHECK(anc_levenshtein(a, n, b, m, &d, &err), &err);
    return d;
}

static void check_pair(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
    size_t want = dp_levenshtein(a, n, b, m), got = lev(a, n, b, m), back = lev(b, m, a, n);
    if (got != want || back != want) fail_msg("Levenshtein of %zu x %zu: got %zu (reversed %zu), DP says %zu", n, m, got, back, want);
}

static void test_levenshtein_random_vs_dp(void **state) {
    (void)state;
    tu_rng r = {0x5eed1234abcdULL};
    uint32_t a[320], b[320];
    const int alphabets[] = {2, 4, 26, 0};
    size_t cases = 0;
    for (int ai = 0; ai < 4; ai++) {
        for (int t = 0; t < 300; t++) {
            size_t n = rand_below(&r, 301), m = rand_below(&r, 301);
            for (size_t i = 0; i < n; i++) a[i] = rand_symbol(&r, alphabets[ai]);
            for (size_t i = 0; i < m; i++) b[i] = rand_symbol(&r, alphabets[ai]);
            check_pair(a, n, b, m);
            cases++;
        }
        /* mutated copies: few edits, long shared prefix/suffix (CLAIR-like) */
        for (int t = 0; t < 150; t++) {
            size_t n = 1 + rand_below(&r, 300), m = 0;
            for (size_t i = 0; i < n; i++) a[i] = rand_symbol(&r, alphabets[ai]);
            for (size_t i = 0; i < n && m < 300; i++) {
                float u = tu_rng_uniform(&r);
                if (u < 0.03f) continue;                                        /* delete */
                if (u < 0.06f) b[m++] = rand_symbol(&r, alphabets[ai]);        /* substitute */
                else b[m++] = a[i];
                if (u > 0.97f && m < 300) b[m++] = rand_symbol(&r, alphabets[ai]); /* insert */
            }
            check_pair(a, n, b, m);
            cases++;
        }
    }
    assert_true(cases >= 1800);
}

static void test_levenshtein_block_boundaries(void **state) {
    (void)state;
    tu_rng r = {42};
    const size_t lens[] = {0, 1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193};
    const size_t nl = sizeof lens / sizeof lens[0];
    uint32_t a[200], b[200];
    for (size_t x = 0; x < nl; x++)
        for (size_t y = 0; y < nl; y++)
            for (int alphabet = 2; alphabet <= 8; alphabet += 6) {
                for (size_t i = 0; i < lens[x]; i++) a[i] = rand_symbol(&r, alphabet);
                for (size_t i = 0; i < lens[y]; i++) b[i] = rand_symbol(&r, alphabet);
                check_pair(a, lens[x], b, lens[y]);
            }
    /* all-equal symbols: the distance is the length difference */
    for (size_t i = 0; i < 200; i++) a[i] = b[i] = 'x';
    assert_int_equal(lev(a, 200, b, 64), 136);
    assert_int_equal(lev(a, 65, b, 129), 64);
    /* completely different symbols: the longer length */
    for (size_t i = 0; i < 200; i++) b[i] = 'y';
    assert_int_equal(lev(a, 130, b, 70), 130);
}

static void test_levenshtein_20k(void **state) {
    (void)state;
    const size_t N = 20000;
    tu_rng r = {7};
    uint32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (size_t i = 0; i < N; i++) a[i] = 0x4E00 + rand_below(&r, 64); /* 64 CJK ideographs */
    /* 100 substitutions by symbols absent from a, 200 positions apart: each
     * fresh symbol forces one edit and one edit each suffices -> exactly 100 */
    memcpy(b, a, N * sizeof *a);
    for (size_t k = 0; k < 100; k++) b[100 + 200 * k] = 0x1F600 + (uint32_t)k;
    assert_int_equal(lev(a, N, b, N), 100);
    assert_int_equal(lev(b, N, a, N), 100);
    /* 50 deletions: at least the length difference (50), at most 50 */
    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if (i % 400 != 7) c[m++] = a[i];
    assert_int_equal(m, N - 50);
    assert_int_equal(lev(a, N, c, m), 50);
    /* unrelated texts: runs, within the trivial bounds, symmetric */
    for (size_t i = 0; i < N; i++) b[i] = 'a' + rand_below(&r, 4);
    size_t d1 = lev(a, N, b, N - 1234), d2 = lev(b, N - 1234, a, N);
    assert_int_equal(d1, d2);
    assert_int_equal(d1, N); /* no symbol in common */
    for (size_t i = 0; i < N; i++) c[i] = 'a' + rand_below(&r, 4);
    d1 = lev(b, N, c, N);
    assert_true(d1 > 0 && d1 <= N);
    free(a);
    free(b);
    free(c);
}

static void test_levenshtein_utf8(void **state) {
    (void)state;
    anc_error err = {0};
    size_t d;
    TU_CHECK(anc_levenshtein_utf8("kitten", 6, "sitting", 7, &d, &err), &err);
    assert_int_equal(d, 3);
    const char *h1 = "h\xc3\xa9llo", *h2 = "hello"; /* é is 2 bytes, 1 code point */
    TU_CHECK(anc_levenshtein_utf8(h1, strlen(h1), h2, strlen(h2), &d, &err), &err);
    assert_int_equal(d, 1);
    const char *e1 = "a\xf0\x9f\x98\x80" "b", *e2 = "ab"; /* U+1F600 */
    TU_CHECK(anc_levenshtein_utf8(e1, strlen(e1), e2, strlen(e2), &d, &err), &err);
    assert_int_equal(d, 1);
    TU_CHECK(anc_levenshtein_utf8("", 0, "", 0, &d, &err), &err);
    assert_int_equal(d, 0);
    /* invalid bytes count one each */
    TU_CHECK(anc_levenshtein_utf8("\xff\xfe", 2, "", 0, &d, &err), &err);
    assert_int_equal(d, 2);
}

static void test_words_and_chars(void **state) {
    (void)state;
    /* Python: len("  a\tb\u00a0c\u3000d\n\n".split()) == 4 */
    const char *s = "  a\tb\xc2\xa0" "c\xe3\x80\x80" "d\n\n";
    assert_int_equal(anc_text_count_words(s, strlen(s)), 4);
    assert_int_equal(anc_text_count_words("", 0), 0);
    assert_int_equal(anc_text_count_words(" \t\n", 3), 0);
    assert_int_equal(anc_text_count_cps(s, strlen(s)), 11);
    anc_span *w = NULL;
    size_t n = 0;
    anc_error err = {0};
    TU_CHECK(anc_text_split_words(s, strlen(s), &w, &n, &err), &err);
    assert_int_equal(n, 4);
    assert_int_equal(w[2].len, 1);
    assert_memory_equal(w[2].p, "c", 1);
    free(w);
    const char *t = " \xe3\x80\x80 x y \xc2\xa0";
    size_t tl = strlen(t);
    anc_text_trim(&t, &tl);
    assert_int_equal(tl, 3);
    assert_memory_equal(t, "x y", 3);
}

static void test_jaccard(void **state) {
    (void)state;
    anc_error err = {0};
    double j;
    TU_CHECK(anc_word_jaccard("a b c", 5, "b c d", 5, &j, &err), &err);
    assert_float_equal(j, 0.5, 1e-12);
    TU_CHECK(anc_word_jaccard("a a b", 5, "b  a b\n", 7, &j, &err), &err);
    assert_float_equal(j, 1.0, 1e-12);
    TU_CHECK(anc_word_jaccard("", 0, " ", 1, &j, &err), &err);
    assert_float_equal(j, 1.0, 1e-12);
    TU_CHECK(anc_word_jaccard("x", 1, "", 0, &j, &err), &err);
    assert_float_equal(j, 0.0, 1e-12);
    TU_CHECK(anc_word_jaccard("The cat.", 8, "the cat", 7, &j, &err), &err); /* case and punctuation count */
    assert_float_equal(j, 0.0, 1e-12);
    const int32_t ta[] = {1, 2, 3, 3}, tb[] = {4, 2, 3, 4};
    TU_CHECK(anc_token_jaccard(ta, 4, tb, 4, &j, &err), &err);
    assert_float_equal(j, 0.5, 1e-12);
    TU_CHECK(anc_token_jaccard(NULL, 0, NULL, 0, &j, &err), &err);
    assert_float_equal(j, 1.0, 1e-12);
}

static anc_contrast_stats three_pairs(void) {
    anc_contrast *c = NULL;
    anc_error err = {0};
    TU_CHECK(anc_contrast_create(&c, &err), &err);
    /* chosen chars 5, 11, 3; rejected chars 5, 9, 0; words 1, 2, 1 / 1, 2, 0 */
    TU_CHECK(anc_contrast_add(c, "hello", 5, "hello", 5, &err), &err);
    TU_CHECK(anc_contrast_add(c, "hello world", 11, "hello you", 9, &err), &err);
    TU_CHECK(anc_contrast_add(c, "\xc3\xa9t\xc3\xa9", 5, "", 0, &err), &err);
    const int32_t x[] = {1, 2}, y[] = {2, 3};
    TU_CHECK(anc_contrast_add_tokens(c, x, 2, y, 2, &err), &err);
    anc_contrast_stats s;
    TU_CHECK(anc_contrast_result(c, &s, &err), &err);
    anc_contrast_free(c);
    return s;
}

static void test_accumulator(void **state) {
    (void)state;
    anc_contrast_stats s = three_pairs();
    assert_int_equal(s.rows, 3);
    assert_float_equal(s.chosen_chars.mean, 19.0 / 3, 1e-12);
    assert_float_equal(s.chosen_chars.median, 5, 1e-12);
    assert_float_equal(s.rejected_chars.mean, 14.0 / 3, 1e-12);
    assert_float_equal(s.rejected_chars.median, 5, 1e-12);
    assert_float_equal(s.chosen_words.mean, 4.0 / 3, 1e-12);
    assert_float_equal(s.rejected_words.median, 1, 1e-12);
    /* Jaccard 1, 1/3, 0; Levenshtein 0, 4 ("world" -> "you": w->y, r->u, drop l and d), 3 */
    assert_float_equal(s.jaccard, (1.0 + 1.0 / 3) / 3, 1e-12);
    assert_float_equal(s.levenshtein, 7.0 / 3, 1e-12);
    assert_float_equal(s.identical_share, 1.0 / 3, 1e-12);
    assert_int_equal(s.token_rows, 1);
    assert_float_equal(s.token_jaccard, 1.0 / 3, 1e-12);

    /* even count: median of the middle two; empty dataset all zero */
    anc_contrast *c = NULL;
    anc_error err = {0};
    TU_CHECK(anc_contrast_create(&c, &err), &err);
    anc_contrast_stats e;
    TU_CHECK(anc_contrast_result(c, &e, &err), &err);
    assert_int_equal(e.rows, 0);
    assert_float_equal(e.jaccard, 0, 0);
    TU_CHECK(anc_contrast_add(c, "aa", 2, "a", 1, &err), &err);
    TU_CHECK(anc_contrast_add(c, "aaaaa", 5, "a", 1, &err), &err);
    TU_CHECK(anc_contrast_result(c, &e, &err), &err);
    assert_float_equal(e.chosen_chars.median, 3.5, 1e-12);
    assert_int_equal(e.token_rows, 0);
    anc_contrast_free(c);
}

static void test_table_and_json(void **state) {
    (void)state;
    anc_contrast_stats s[2];
    s[0] = three_pairs();
    memset(&s[1], 0, sizeof s[1]);
    const char *names[] = {"clair.jsonl", "judge.jsonl"};
    anc_sbuf b = {0};
    anc_error err = {0};
    TU_CHECK(anc_contrast_table(names, s, 2, &b, &err), &err);
    const char *t = anc_sbuf_str(&b);
    assert_non_null(strstr(t, "| dataset     | rows |"));
    assert_non_null(strstr(t, "| clair.jsonl |    3 |"));
    assert_non_null(strstr(t, "6.3 / 5.0"));
    assert_non_null(strstr(t, "0.4444"));
    assert_non_null(strstr(t, "33.33%"));
    assert_non_null(strstr(t, "token Jaccard"));
    assert_non_null(strstr(t, "Levenshtein"));
    /* every table line has the same number of code points */
    size_t first = 0;
    for (const char *line = t; *line == '|';) {
        const char *e = strchr(line, '\n');
        size_t w = anc_text_count_cps(line, (size_t)(e - line));
        if (!first) first = w;
        assert_int_equal(w, first);
        line = e + 1;
    }
    anc_sbuf_free(&b);

    json_t *o = anc_contrast_json(&s[0]);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "rows")), 3);
    assert_float_equal(json_real_value(json_object_get(json_object_get(o, "chosen_chars"), "median")), 5.0, 1e-12);
    assert_float_equal(json_real_value(json_object_get(o, "levenshtein")), 7.0 / 3, 1e-12);
    assert_float_equal(json_real_value(json_object_get(o, "token_jaccard")), 1.0 / 3, 1e-12);
    json_decref(o);
    o = anc_contrast_json(&s[1]);
    assert_null(json_object_get(o, "token_jaccard"));
    json_decref(o);
}

static void test_cli_stats(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    if (tu_system("'%s' stats --help >/dev/null 2>&1", tu_cli()) != 0) {
        fprintf(stderr, "note: %s does not dispatch 'stats' yet; skipping\n", tu_cli());
        tu_rmtree(d);
        free(d);
        skip();
    }
    char *f = tu_path(d, "pairs.jsonl");
    const char *rows =
        "{\"prompt\": \"p\", \"chosen\": \"a b c\", \"rejected\": \"a b d\"}\n"
        "\n"
        "{\"prompt\": [{\"role\":\"user\",\"content\":\"p\"}], \"chosen\": [{\"role\":\"user\",\"content\":\"p\"},"
        "{\"role\":\"assistant\",\"content\":\"same\"}], \"rejected\": [{\"role\":\"assistant\",\"content\":\"same\"}],"
        " \"chosen_ids\": [1, 2], \"rejected_ids\": [2, 3]}\n";
    tu_write_file(f, rows, strlen(rows));
    assert_int_equal(tu_system("cd '%s' && '%s' stats pairs.jsonl --json >out.json 2>err.txt", d, tu_cli()), 0);
    char *jp = tu_path(d, "out.json");
    json_error_t je;
    json_t *arr = json_load_file(jp, 0, &je);
    assert_non_null(arr);
    json_t *o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "file")), "pairs.jsonl");
    assert_int_equal(json_integer_value(json_object_get(o, "rows")), 2);
    assert_float_equal(json_real_value(json_object_get(o, "jaccard")), (0.5 + 1.0) / 2, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "levenshtein")), 0.5, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "identical_share")), 0.5, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "token_jaccard")), 1.0 / 3, 1e-9);
    json_decref(arr);
    assert_int_equal(tu_system("cd '%s' && '%s' stats pairs.jsonl >out.txt 2>err.txt", d, tu_cli()), 0);
    char *op = tu_path(d, "out.txt");
    char *out = tu_read_file(op, NULL);
    assert_non_null(strstr(out, "| pairs.jsonl |"));
    free(out);
    /* a row without "rejected": the error names file:line */
    const char *bad = "{\"chosen\": \"x\", \"rejected\": \"y\"}\n{\"chosen\": \"x\"}\n";
    tu_write_file(f, bad, strlen(bad));
    assert_int_equal(tu_system("cd '%s' && '%s' stats pairs.jsonl >out.txt 2>err.txt", d, tu_cli()), 1);
    char *ep = tu_path(d, "err.txt");
    char *errs = tu_read_file(ep, NULL);
    assert_non_null(strstr(errs, "pairs.jsonl:2: \"rejected\" is missing"));
    free(errs);
    assert_int_equal(tu_system("cd '%s' && '%s' stats >out.txt 2>err.txt", d, tu_cli()), 2);
    free(ep);
    free(op);
    free(jp);
    free(f);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levenshtein_random_vs_dp),
        cmocka_unit_test(test_levenshtein_block_boundaries),
        cmocka_unit_test(test_levenshtein_20k),
        cmocka_unit_test(test_levenshtein_utf8),
        cmocka_unit_test(test_words_and_chars),
        cmocka_unit_test(test_jaccard),
        cmocka_unit_test(test_accumulator),
        cmocka_unit_test(test_table_and_json),
        cmocka_unit_test(test_cli_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
