/* anchor ab: a position-biased exec: judge judged in both orders recovers
 * the true preference; Wilson intervals against the formula and published
 * values; the paired bootstrap is deterministic and covers the estimate; a
 * rerun asks the judge nothing; grader mode. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/stats.h"

static long jint(const json_t *j, const char *k) { return (long)json_integer_value(json_object_get(j, k)); }

/* The fake judge prefers the response with more 'x' and, with BIAS=a,
 * answers "A" when they have as many: A has more x on 6 prompts, B on 2,
 * and 2 are equal. One order alone would credit A with 8 wins; both orders
 * give 6 wins, 2 losses and 2 inconsistent verdicts (ties). */
static void write_pairs(const char *d) {
    char *pa = tu_path(d, "a.jsonl"), *pb = tu_path(d, "b.jsonl");
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    for (int i = 0; i < 10; i++) {
        const char *ya = i < 6 ? "xxx" : i < 8 ? "x" : "xx";
        fprintf(fa, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"completion\": \"%s answer %d\", \"reference\": %d}\n", i, i, ya, i, i);
    }
    /* B's file is in reverse order (matched by id); tied responses differ in
     * text, else both orders would be one identical request */
    for (int i = 9; i >= 0; i--) {
        const char *yb = i < 6 ? "x" : i < 8 ? "xxx" : "xx";
        fprintf(fb, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"completion\": \"%s %s %d%s\"}\n", i, i, yb,
                i >= 8 ? "reply" : "answer", i, i < 3 ? "0" : "");
    }
    fclose(fa);
    fclose(fb);
    free(pa);
    free(pb);
}

static void test_both_orders_and_resume(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_pairs(d);
    char *log = tu_path(d, "log");
    const char *fmt = "cd '%s' && '%s' ab --a a.jsonl --b b.jsonl --judge 'exec:%s/tool_fake_llm judge %s a' "
                      "--out rec.jsonl --json >sum.json 2>err.txt";
    assert_int_equal(tu_system(fmt, d, tu_cli(), ANCHOR_BINARY_DIR, log), 0);
    json_t *j = tu_load_json(d, "sum.json");
    assert_int_equal(jint(j, "n"), 10);
    assert_int_equal(jint(j, "wins"), 6);
    assert_int_equal(jint(j, "losses"), 2);
    assert_int_equal(jint(j, "ties"), 2);
    double wr = json_real_value(json_object_get(j, "win_rate"));
    assert_true(fabs(wr - 0.7) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(j, "position_consistency")) - 0.8) < 1e-9);
    double lo, hi;
    anc_error err = {0};
    TU_CHECK(anc_wilson_interval(7.0, 10, ANC_Z95, &lo, &hi, &err), &err);
    json_t *w = json_object_get(j, "wilson_95");
    assert_true(fabs(json_real_value(json_array_get(w, 0)) - lo) < 1e-8);
    assert_true(fabs(json_real_value(json_array_get(w, 1)) - hi) < 1e-8);
    json_t *b = json_object_get(j, "bootstrap_95");
    assert_true(json_real_value(json_array_get(b, 0)) <= wr && wr <= json_real_value(json_array_get(b, 1)));
    json_decref(j);
    assert_int_equal(tu_count_lines(log), 20);
    /* per-prompt records: q8 and q9 are the position-biased ties */
    char *rec = tu_path(d, "rec.jsonl");
    assert_int_equal(tu_count_lines(rec), 10);
    char *text = tu_read_file(rec, NULL);
    int inconsistent = 0;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        assert_non_null(o);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *oc = json_string_value(json_object_get(o, "outcome"));
        int i = atoi(id + 1);
        assert_string_equal(oc, i < 6 ? "win" : i < 8 ? "loss" : "tie");
        inconsistent += !json_is_true(json_object_get(o, "consistent"));
        json_decref(o);
    }
    assert_int_equal(inconsistent, 2);
    free(text);
    /* the rerun is answered from the run store: nothing sent, same summary */
    assert_int_equal(tu_system(fmt, d, tu_cli(), ANCHOR_BINARY_DIR, log), 0);
    assert_int_equal(tu_count_lines(log), 20);
    j = tu_load_json(d, "sum.json");
    assert_int_equal(jint(j, "wins"), 6);
    json_decref(j);
    free(rec);
    free(log);
    tu_rmtree(d);
    free(d);
}

static void test_grader_mode(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_pairs(d);
    /* numeric grader: reference i; A's last number is i, B's is i0 for i < 3 (wrong; "0" -> 0 is right for i = 0) */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a a.jsonl --b b.jsonl --grader numeric --json >sum.json 2>err.txt", d, tu_cli()), 0);
    json_t *j = tu_load_json(d, "sum.json");
    assert_int_equal(jint(j, "wins"), 2);
    assert_int_equal(jint(j, "ties"), 8);
    assert_int_equal(jint(j, "losses"), 0);
    assert_true(fabs(json_real_value(json_object_get(j, "mean_score_a")) - 1.0) < 1e-12);
    assert_true(fabs(json_real_value(json_object_get(j, "mean_score_b")) - 0.8) < 1e-12);
    json_decref(j);
    /* rows without ids are matched by prompt (string prompts, any order) */
    char *p1 = tu_path(d, "a2.jsonl"), *p2 = tu_path(d, "b2.jsonl");
    const char *ta = "{\"prompt\": \"Q1\", \"completion\": \"Paris\", \"reference\": \"paris\"}\n"
                      "{\"prompt\": \"Q2\", \"completion\": \"Rome\", \"reference\": \"the rome\"}\n"
                      "{\"prompt\": \"Q3\", \"completion\": \"no\", \"reference\": \"Oslo\"}\n";
    tu_write_file(p1, ta, strlen(ta));
    const char *tb = "{\"prompt\": \"Q3\", \"completion\": \"Oslo.\"}\n{\"prompt\": \"Q2\", \"completion\": \"Rome\"}\n"
                      "{\"prompt\": \"Q1\", \"completion\": \"Lyon\"}\n";
    tu_write_file(p2, tb, strlen(tb));
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a a2.jsonl --b b2.jsonl --grader exact --json >sum.json 2>err.txt", d, tu_cli()), 0);
    j = tu_load_json(d, "sum.json");
    assert_int_equal(jint(j, "n"), 3);
    assert_int_equal(jint(j, "wins"), 1);
    assert_int_equal(jint(j, "ties"), 1);
    assert_int_equal(jint(j, "losses"), 1);
    assert_int_equal(jint(j, "unmatched"), 0);
    json_decref(j);
    free(p1);
    free(p2);
    /* usage errors */
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a a.jsonl --grader exact >/dev/null 2>&1", d, tu_cli()), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' ab --a a.jsonl --b b.jsonl --judge exec:true >/dev/null 2>&1", d, tu_cli()), 2);
    tu_rmtree(d);
    free(d);
}

static void wilson_formula(double k, double n, double *lo, double *hi) {
    double z = 1.959963984540054, p = k / n;
    double c = (p + z * z / (2 * n)) / (1 + z * z / n);
    double h = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    *lo = fmax(0, c - h);
    *hi = fmin(1, c + h);
}

static void test_wilson(void **state) {
    (void)state;
    anc_error err = {0};
    double lo, hi, elo, ehi;
    const double cases[][2] = {{0, 10}, {5, 10}, {10, 10}, {3, 7}, {81, 263}, {7.5, 20}, {1, 1}, {0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TU_CHECK(anc_wilson_interval(cases[i][0], (size_t)cases[i][1], ANC_Z95, &lo, &hi, &err), &err);
        wilson_formula(cases[i][0], cases[i][1], &elo, &ehi);
        assert_true(fabs(lo - elo) < 1e-12 && fabs(hi - ehi) < 1e-12);
        assert_true(lo <= cases[i][0] / cases[i][1] + 1e-12 && cases[i][0] / cases[i][1] <= hi + 1e-12);
    }
    /* published values (e.g. Newcombe 1998; Wikipedia's binomial CI tables) */
    TU_CHECK(anc_wilson_interval(0, 10, ANC_Z95, &lo, &hi, &err), &err);
    assert_true(fabs(lo) < 1e-12 && fabs(hi - 0.2775) < 5e-5);
    TU_CHECK(anc_wilson_interval(5, 10, ANC_Z95, &lo, &hi, &err), &err);
    assert_true(fabs(lo - 0.2366) < 5e-5 && fabs(hi - 0.7634) < 5e-5);
    TU_CHECK(anc_wilson_interval(81, 263, ANC_Z95, &lo, &hi, &err), &err);  /* Newcombe's example: 0.2553 to 0.3662 */
    assert_true(fabs(lo - 0.2553) < 5e-5 && fabs(hi - 0.3662) < 5e-5);
    assert_int_equal(anc_wilson_interval(11, 10, ANC_Z95, &lo, &hi, &err), ANC_ERR_INVALID);
    assert_int_equal(anc_wilson_interval(0, 0, ANC_Z95, &lo, &hi, &err), ANC_ERR_INVALID);
}

static void test_bootstrap(void **state) {
    (void)state;
    anc_error err = {0};
    double s[40];
    double mean = 0;
    for (int i = 0; i < 40; i++) {
        s[i] = i % 5 == 0 ? 0.0 : i % 7 == 0 ? 0.5 : 1.0;
        mean += s[i] / 40;
    }
    double lo, hi, lo2, hi2, lo3, hi3;
    TU_CHECK(anc_bootstrap_mean_ci(s, 40, 10000, 0, 0.05, &lo, &hi, &err), &err);
    TU_CHECK(anc_bootstrap_mean_ci(s, 40, 10000, 0, 0.05, &lo2, &hi2, &err), &err);
    TU_CHECK(anc_bootstrap_mean_ci(s, 40, 10000, 1, 0.05, &lo3, &hi3, &err), &err);
    assert_true(lo == lo2 && hi == hi2);
    assert_true(lo < mean && mean < hi);
    assert_true(lo3 < mean && mean < hi3);
    /* close to the normal approximation: sd of the mean */
    double var = 0;
    for (int i = 0; i < 40; i++) var += (s[i] - mean) * (s[i] - mean) / 40;
    double se = sqrt(var / 40);
    assert_true(fabs((hi - lo) - 2 * 1.96 * se) < 0.25 * 2 * 1.96 * se);
    /* constant scores: a point interval */
    double c[5] = {0.5, 0.5, 0.5, 0.5, 0.5};
    TU_CHECK(anc_bootstrap_mean_ci(c, 5, 100, 3, 0.05, &lo, &hi, &err), &err);
    assert_true(lo == 0.5 && hi == 0.5);
    /* the percentile rule */
    double sorted[5] = {1, 2, 3, 4, 5};
    assert_true(fabs(anc_quantile_sorted(sorted, 5, 0.025) - 1.1) < 1e-12);
    assert_true(fabs(anc_quantile_sorted(sorted, 5, 0.975) - 4.9) < 1e-12);
}

/* The two-level (prompts x seeds) paired bootstrap of a difference. */
static void test_bootstrap_diff(void **state) {
    (void)state;
    anc_error err = {0};
    enum { S = 3, P = 200 };
    static double a[S * P], b[S * P], d1[P];
    tu_rng rng = {7};
    for (int s = 0; s < S; s++)
        for (int p = 0; p < P; p++) {
            /* A solves 70% of the prompts, B 60%; the seeds differ a little */
            a[s * P + p] = tu_rng_uniform(&rng) < 0.70 + 0.02 * s;
            b[s * P + p] = tu_rng_uniform(&rng) < 0.60;
        }
    double diff = 0, lo = 0, hi = 0, diff2, lo2, hi2, mean = 0;
    for (int i = 0; i < S * P; i++) mean += (a[i] - b[i]) / (S * P);
    TU_CHECK(anc_bootstrap_diff_ci(a, b, S, P, 4000, 5, 0.05, &diff, &lo, &hi, &err), &err);
    assert_true(fabs(diff - mean) < 1e-12);
    assert_true(lo < diff && diff < hi && lo > 0);
    TU_CHECK(anc_bootstrap_diff_ci(a, b, S, P, 4000, 5, 0.05, &diff2, &lo2, &hi2, &err), &err);
    assert_true(lo == lo2 && hi == hi2);
    /* wider than the prompt-only normal interval of the seed-averaged
     * differences, but not by more than 2x: resampling seeds as well as
     * prompts counts the cells' own noise at both levels, so the interval
     * is conservative (1.63x here) */
    double var = 0;
    for (int p = 0; p < P; p++) {
        double m = 0;
        for (int s = 0; s < S; s++) m += (a[s * P + p] - b[s * P + p]) / S;
        var += (m - mean) * (m - mean) / P;
    }
    double se = sqrt(var / P);
    printf("two-level width %.4f, prompt-only normal width %.4f\n", hi - lo, 2 * 1.96 * se);
    assert_true(hi - lo > 2 * 1.96 * se && hi - lo < 2 * 2 * 1.96 * se);
    /* one seed: the same draws as the bootstrap of the per-prompt differences */
    for (int p = 0; p < P; p++) d1[p] = a[p] - b[p];
    double l1, h1;
    TU_CHECK(anc_bootstrap_diff_ci(a, b, 1, P, 2000, 9, 0.05, &diff, &lo, &hi, &err), &err);
    TU_CHECK(anc_bootstrap_mean_ci(d1, P, 2000, 9, 0.05, &l1, &h1, &err), &err);
    assert_true(lo == l1 && hi == h1);
    /* a constant shift: a point interval at the shift */
    for (int i = 0; i < S * P; i++) b[i] = a[i] - 0.25;
    TU_CHECK(anc_bootstrap_diff_ci(a, b, S, P, 500, 1, 0.05, &diff, &lo, &hi, &err), &err);
    assert_true(fabs(lo - 0.25) < 1e-12 && fabs(hi - 0.25) < 1e-12);
    assert_int_equal(anc_bootstrap_diff_ci(a, b, 0, P, 10, 1, 0.05, &diff, &lo, &hi, &err), ANC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_bootstrap_diff),
        cmocka_unit_test(test_both_orders_and_resume),
        cmocka_unit_test(test_grader_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
