/* anchor ab --system: the Bradley-Terry fit recovers known strengths; a
 * position-biased exec judge over three planted systems gives their
 * ranking, with intervals covering the planted ratings; ties, a system
 * missing prompts, a system with no comparisons, --pairs-per-prompt and
 * usage errors. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/ab_bt.h"

/* The entry of system name in the leaderboard j. */
static json_t *sys_of(json_t *j, const char *name) {
    json_t *arr = json_object_get(j, "systems"), *s;
    size_t i;
    json_array_foreach(arr, i, s) if (!strcmp(json_string_value(json_object_get(s, "system")), name)) return s;
    fail_msg("no system %s", name);
    return NULL;
}

static double jnum(const json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

/* Expected counts n p_i / (p_i + p_j) satisfy the likelihood equations
 * exactly, so the maximum likelihood is the planted strengths (up to
 * scale). The MM iteration stops when no log-strength moves by more than
 * 1e-9 per sweep; it converges linearly with a rate well below 0.99 here,
 * so the remaining error is < 1e-9 / (1 - 0.99) = 1e-7 in log-strength:
 * a relative tolerance of 1e-6 holds with margin. */
static void test_bt_fit(void **state) {
    (void)state;
    const double p[5] = {0.5, 1, 2, 4, 8};
    double wins[36] = {0}, got[6];
    double g = 1;
    for (int i = 0; i < 5; i++) g *= pow(p[i], 0.2);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j) wins[i * 6 + j] = 100 * p[i] / (p[i] + p[j]);
    /* system 5: no comparisons, no rating */
    anc_error err = {0};
    int iters = 0;
    assert_true(anc_bt_ml_exists(6, wins));
    TU_CHECK(anc_bt_fit(6, wins, 0, got, &iters, &err), &err);
    for (int i = 0; i < 5; i++) assert_true(fabs(got[i] / (p[i] / g) - 1) < 1e-6);
    assert_true(got[5] == 0 && isnan(anc_bt_rating(got[5])));
    assert_true(fabs(anc_bt_rating(got[4]) - anc_bt_rating(got[0]) - 400 * log10(16)) < 1e-3);
    printf("BT fit: %d sweeps, ratings %.2f .. %.2f\n", iters, anc_bt_rating(got[0]), anc_bt_rating(got[4]));
    /* an undefeated system: no maximum likelihood; virtual ties keep it finite */
    double w2[4] = {0, 3, 0, 0};
    assert_false(anc_bt_ml_exists(2, w2));
    TU_CHECK(anc_bt_fit(2, w2, 1, got, NULL, &err), &err);
    assert_true(fabs(got[0] / got[1] - 3.5 / 0.5) < 1e-6);
    /* ties only: equal strengths */
    double w3[4] = {0, 2, 2, 0};
    TU_CHECK(anc_bt_fit(2, w3, 0, got, NULL, &err), &err);
    assert_true(fabs(got[0] - 1) < 1e-9 && fabs(got[1] - 1) < 1e-9);
    double bad[4] = {0, -1, 0, 0};
    assert_int_equal(anc_bt_fit(2, bad, 0, got, NULL, &err), ANC_ERR_INVALID);
}

/* The judge: with probability 1/4 (by a checksum of the request) it
 * answers "A" whatever it sees; otherwise it prefers the RIGHT answer, and
 * ties two answers alike. */
static const char *judge_sh =
    "#!/bin/sh\n"
    "in=$(cat)\n"
    "a=${in#*Start of Response A]}; a=${a%%End of Response A*}\n"
    "b=${in#*Start of Response B]}; b=${b%%End of Response B*}\n"
    "echo x >> \"$1\"\n"
    "h=$(printf '%s' \"$in\" | cksum | cut -d' ' -f1)\n"
    "if [ $((h % 4)) = 0 ]; then v=A; else\n"
    "  case \"$a\" in *RIGHT*) ca=1;; *) ca=0;; esac\n"
    "  case \"$b\" in *RIGHT*) cb=1;; *) cb=0;; esac\n"
    "  if [ $ca -gt $cb ]; then v=A; elif [ $cb -gt $ca ]; then v=B; else v=tie; fi\n"
    "fi\n"
    "printf 'Fine.\\nVerdict: %s\\n' \"$v\"\n";

#define NP 80
static void test_planted_systems(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    const double q[3] = {0.85, 0.55, 0.25}, beta = 0.25;
    const char *names[3] = {"good", "fair", "poor"};
    tu_rng rng = {20261207};
    for (int s = 0; s < 3; s++) {
        char fn[16];
        snprintf(fn, sizeof fn, "%s.jsonl", names[s]);
        char *p = tu_path(d, fn);
        FILE *f = fopen(p, "w");
        /* right on exactly round(q * NP) prompts, placed at random */
        int right_at[NP];
        for (int i = 0; i < NP; i++) right_at[i] = i < (int)lround(q[s] * NP);
        for (int i = NP - 1; i > 0; i--) {
            int k = (int)(tu_rng_uniform(&rng) * (float)(i + 1)), t = right_at[i];
            if (k > i) k = i;
            right_at[i] = right_at[k];
            right_at[k] = t;
        }
        /* files in different orders: matched by id */
        for (int k = 0; k < NP; k++) {
            int i = s == 1 ? NP - 1 - k : k;
            int right = right_at[i];
            fprintf(f, "{\"id\": \"q%d\", \"prompt\": \"Question %d\", \"completion\": \"%s says %s %d\"}\n", i, i,
                    names[s], right ? "RIGHT" : "WRONG", i);
        }
        fclose(f);
        free(p);
    }
    char *js = tu_path(d, "judge.sh");
    tu_write_file(js, judge_sh, strlen(judge_sh));
    free(js);
    const char *fmt = "cd '%s' && '%s' ab --system good=good.jsonl --system fair=fair.jsonl --system poor=poor.jsonl "
                      "--judge 'exec:sh %s/judge.sh %s/log' --concurrency 8 --resamples 2000 --out rec.jsonl --json "
                      ">lb.json 2>err.txt";
    assert_int_equal(tu_system(fmt, d, tu_cli(), d, d), 0);
    char *log = tu_path(d, "log");
    assert_int_equal(tu_count_lines(log), 3 * 2 * NP);
    json_t *j = tu_load_json(d, "lb.json");
    assert_int_equal((int)json_integer_value(json_object_get(j, "comparisons")), 3 * NP);
    /* the planted ratings: the BT fit of the expected outcomes. i beats j
     * when i is right, j wrong and the order showing j first is unbiased;
     * otherwise it is a tie (agreeing answers, or a biased order) */
    double w[9] = {0}, st[3], planted[3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (a != b) {
                double win = q[a] * (1 - q[b]) * (1 - beta), loss = q[b] * (1 - q[a]) * (1 - beta);
                w[a * 3 + b] = NP * (win + 0.5 * (1 - win - loss));
            }
    anc_error err = {0};
    TU_CHECK(anc_bt_fit(3, w, 0, st, NULL, &err), &err);
    json_t *arr = json_object_get(j, "systems");
    for (int s = 0; s < 3; s++) {
        planted[s] = anc_bt_rating(st[s]);
        /* ranked in planted order */
        json_t *e = json_array_get(arr, (size_t)s);
        assert_string_equal(json_string_value(json_object_get(e, "system")), names[s]);
        assert_int_equal((int)json_integer_value(json_object_get(e, "rank")), s + 1);
        json_t *ci = json_object_get(e, "ci_95");
        double r = jnum(e, "rating"), lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
        printf("%-5s rating %.1f [%.1f, %.1f], planted %.1f\n", names[s], r, lo, hi, planted[s]);
        assert_true(lo <= r && r <= hi);
        assert_true(lo <= planted[s] && planted[s] <= hi);
        assert_int_equal((int)json_integer_value(json_object_get(e, "comparisons")), 2 * NP);
    }
    /* the best system's interval lies above the worst's */
    assert_true(json_number_value(json_array_get(json_object_get(json_array_get(arr, 0), "ci_95"), 0)) >
                json_number_value(json_array_get(json_object_get(json_array_get(arr, 2), "ci_95"), 1)));
    json_decref(j);
    char *rec = tu_path(d, "rec.jsonl");
    assert_int_equal(tu_count_lines(rec), 3 * NP);
    free(rec);
    /* a rerun is answered from the run store */
    assert_int_equal(tu_system(fmt, d, tu_cli(), d, d), 0);
    assert_int_equal(tu_count_lines(log), 3 * 2 * NP);
    free(log);
    tu_rmtree(d);
    free(d);
}

static void write_graded(const char *d) {
    /* A right everywhere, B on even prompts, C only on q0 and lacks q4, q5;
     * D shares no prompt with anyone */
    const char *sys = "ABC";
    for (int s = 0; s < 3; s++) {
        char fn[16];
        snprintf(fn, sizeof fn, "%c.jsonl", sys[s]);
        char *p = tu_path(d, fn);
        FILE *f = fopen(p, "w");
        for (int i = 0; i < 6; i++) {
            if (s == 2 && i >= 4) continue;
            int ok = s == 0 || (s == 1 && i % 2 == 0) || (s == 2 && i == 0);
            fprintf(f, "{\"id\": \"q%d\", \"prompt\": \"P%d\", \"completion\": \"%s\", \"reference\": \"ok\"}\n", i, i,
                    ok ? "ok" : "no");
        }
        fclose(f);
        free(p);
    }
    char *p = tu_path(d, "D.jsonl");
    const char *t = "{\"id\": \"z0\", \"prompt\": \"Z\", \"completion\": \"ok\", \"reference\": \"ok\"}\n";
    tu_write_file(p, t, strlen(t));
    free(p);
}

static void test_ties_missing_usage(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    write_graded(d);
    const char *all = "--system A=A.jsonl --system B=B.jsonl --system C=C.jsonl --system D=D.jsonl";
    assert_int_equal(tu_system("cd '%s' && '%s' ab %s --grader exact --resamples 500 --out rec.jsonl --json >lb.json 2>err.txt", d, tu_cli(), all), 0);
    json_t *j = tu_load_json(d, "lb.json");
    assert_int_equal((int)json_integer_value(json_object_get(j, "prompts")), 6);
    assert_int_equal((int)json_integer_value(json_object_get(j, "comparisons")), 6 + 4 + 4);
    json_t *a = sys_of(j, "A"), *b = sys_of(j, "B"), *c = sys_of(j, "C"), *dd = sys_of(j, "D");
    /* A vs B: 3 ties (q0, q2, q4), 3 wins; A vs C: a tie (q0) and 3 wins */
    assert_int_equal((int)jnum(a, "wins"), 6);
    assert_int_equal((int)jnum(a, "ties"), 4);
    assert_int_equal((int)jnum(a, "losses"), 0);
    assert_int_equal((int)jnum(c, "comparisons"), 8);
    assert_true(fabs(jnum(json_object_get(a, "win_rate"), "B") - 0.75) < 1e-12);
    assert_true(fabs(jnum(json_object_get(b, "win_rate"), "C") - 2.5 / 4) < 1e-12);
    assert_true(json_is_null(json_object_get(json_object_get(a, "win_rate"), "D")));
    assert_true(jnum(a, "rating") > jnum(b, "rating") && jnum(b, "rating") > jnum(c, "rating"));
    /* D: listed last, no rating */
    assert_ptr_equal(json_array_get(json_object_get(j, "systems"), 3), dd);
    assert_true(json_is_null(json_object_get(dd, "rating")) && json_is_null(json_object_get(dd, "rank")));
    assert_int_equal((int)jnum(dd, "comparisons"), 0);
    json_decref(j);
    char *rec = tu_path(d, "rec.jsonl");
    assert_int_equal(tu_count_lines(rec), 14);
    /* one pair per prompt, drawn with the seed: 6 comparisons, the same twice */
    assert_int_equal(tu_system("cd '%s' && '%s' ab %s --grader exact --pairs-per-prompt 1 --bootstrap-seed 3 --resamples 200 --out rec.jsonl >t1.txt 2>err.txt", d, tu_cli(), all), 0);
    assert_int_equal(tu_count_lines(rec), 6);
    char *r1 = tu_read_file(rec, NULL);
    assert_int_equal(tu_system("cd '%s' && '%s' ab %s --grader exact --pairs-per-prompt 1 --bootstrap-seed 3 --resamples 200 --out rec.jsonl >t2.txt 2>err.txt", d, tu_cli(), all), 0);
    char *r2 = tu_read_file(rec, NULL);
    assert_string_equal(r1, r2);
    assert_int_equal(tu_system("cd '%s' && cmp -s t1.txt t2.txt && grep -q '^  1    A ' t1.txt", d), 0);
    free(r1);
    free(r2);
    free(rec);
    /* usage errors */
    const char *bad[] = {
        "--system A=A.jsonl --grader exact",
        "--system A=A.jsonl --system B=B.jsonl --a A.jsonl --grader exact",
        "--system A=A.jsonl --system B=B.jsonl --model-a m --grader exact",
        "--system A.jsonl --system B=B.jsonl --grader exact",
        "--system =A.jsonl --system B=B.jsonl --grader exact",
        "--system A=A.jsonl --system A=B.jsonl --grader exact",
        "--system A=A.jsonl --system B=B.jsonl --judge exec:true",
        "--a A.jsonl --b B.jsonl --pairs-per-prompt 1 --grader exact",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tu_system("cd '%s' && '%s' ab %s >/dev/null 2>&1", d, tu_cli(), bad[i]) != 2) fail_msg("not a usage error: %s", bad[i]);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bt_fit),
        cmocka_unit_test(test_planted_systems),
        cmocka_unit_test(test_ties_missing_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
