/* `anchor demo --quick` end to end through the real binary: every step runs
 * (tiny model, sft, drafts, the three datasets through the exec: teacher and
 * the run store, the anchoring advisor, the whole grid, report), the two
 * tables and the advisor's verdict are printed and kept, and a rerun resumes
 * without redoing a step or a teacher call. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DATASETS[] = {"clair", "stronger", "judge"};
static const char *const OBJECTIVES[] = {"sft", "apo_zero", "apo_down", "sigmoid"};

static void test_demo_quick(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    const char *A = tu_cli();
    assert_int_equal(tu_system("cd '%s' && '%s' demo --quick --out run > out.txt 2> err.txt", d, A), 0);
    char *op = tu_path(d, "out.txt"), *ep = tu_path(d, "err.txt");
    char *out = tu_read_file(op, NULL), *errs = tu_read_file(ep, NULL);

    /* both tables, with every dataset and objective */
    assert_non_null(strstr(out, "| dataset"));
    assert_non_null(strstr(out, "pairs/clair.jsonl"));
    assert_non_null(strstr(out, "pairs/judge.jsonl"));
    assert_non_null(strstr(out, "Held-out accuracy"));
    assert_non_null(strstr(out, "CLAIR (minimal revision)"));
    assert_non_null(strstr(out, "On-policy judge"));
    assert_non_null(strstr(out, "APO-zero"));
    assert_non_null(strstr(out, "report.html"));
    assert_int_equal(tu_count_substr(errs, "(done before)"), 0);
    /* the advisor's verdict next to the table: the CLAIR revisions always
     * grade right, so the start model never beats its chosen answers */
    assert_non_null(strstr(out, "advisor: apo_zero (model vs chosen win rate "));

    /* the numbers behind the table: every cell, accuracies are shares */
    json_t *ev = tu_load_json(d, "run/eval-demo.json");
    double start = json_real_value(json_object_get(ev, "start_model.solved"));
    json_t *adv = tu_load_json(d, "run/advise.json");
    assert_string_equal(json_string_value(json_object_get(ev, "advisor.recommendation")), "apo_zero");
    assert_int_equal(json_integer_value(json_object_get(ev, "advisor.n")), 32);
    assert_int_equal(json_integer_value(json_object_get(adv, "wins")), 0);
    assert_true(json_real_value(json_object_get(ev, "advisor.win_rate")) <= 0.5);
    assert_float_equal(json_real_value(json_object_get(ev, "advisor.win_rate")),
                       json_real_value(json_object_get(adv, "win_rate")), 1e-12);
    char *advr = tu_path(d, "run/advise.jsonl");
    assert_int_equal(tu_count_lines(advr), 32);
    free(advr);
    json_decref(adv);
    assert_true(start >= 0 && start <= 1);
    /* the verdicts: each difference is the difference of the two cells'
     * solved rates, inside its interval, and the verdict follows the interval */
    assert_non_null(strstr(out, "Verdicts: paired difference in held-out solved rate"));
    static const char *const vs[][3] = {{"clair", "stronger", "apo_zero"}, {"clair", "judge", "sigmoid"}};
    for (int i = 0; i < 2; i++) {
        char key[128], ka[96], kb[96];
        snprintf(key, sizeof key, "verdict.%s_vs_%s.%s", vs[i][0], vs[i][1], vs[i][2]);
        snprintf(ka, sizeof ka, "%s.%s.solved_mean", vs[i][0], vs[i][2]);
        snprintf(kb, sizeof kb, "%s.%s.solved_mean", vs[i][1], vs[i][2]);
        json_t *v = json_object_get(ev, key);
        assert_non_null(v);
        double diff = json_real_value(json_object_get(v, "diff")), lo = json_real_value(json_object_get(v, "lo")),
               hi = json_real_value(json_object_get(v, "hi"));
        assert_float_equal(diff, json_real_value(json_object_get(ev, ka)) - json_real_value(json_object_get(ev, kb)), 1e-9);
        assert_true(lo <= diff + 1e-12 && diff <= hi + 1e-12);
        const char *verdict = json_string_value(json_object_get(v, "verdict"));
        assert_string_equal(verdict, lo > 0 ? "better" : hi < 0 ? "worse" : "not distinguishable");
    }
    assert_non_null(json_object_get(ev, "verdict.apo_zero_vs_apo_down.clair"));
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 4; o++) {
            char key[96];
            snprintf(key, sizeof key, "%s.%s.solved_mean", DATASETS[i], OBJECTIVES[o]);
            json_t *m = json_object_get(ev, key);
            assert_non_null(m);
            assert_true(json_real_value(m) >= 0 && json_real_value(m) <= 1);
            snprintf(key, sizeof key, "%s.%s.change", DATASETS[i], OBJECTIVES[o]);
            assert_float_equal(json_real_value(json_object_get(ev, key)), json_real_value(m) - start, 1e-9);
            /* each cell trained (metrics logged) and answered every held-out prompt */
            char rel[160];
            snprintf(rel, sizeof rel, "run/runs/%s-%s-seed1/metrics.jsonl", DATASETS[i], OBJECTIVES[o]);
            char *mp = tu_path(d, rel);
            assert_true(tu_count_lines(mp) >= 1);
            free(mp);
            snprintf(rel, sizeof rel, "run/runs/%s-%s-seed1/heldout-answers.jsonl", DATASETS[i], OBJECTIVES[o]);
            char *hp = tu_path(d, rel), *held = tu_path(d, "run/heldout.jsonl");
            assert_int_equal(tu_count_lines(hp), tu_count_lines(held));
            free(hp);
            free(held);
        }
    json_decref(ev);

    /* the datasets: one CLAIR and one stronger pair per draft; the CLAIR
     * revisions are closer to the drafts than the stronger answers */
    char *drafts = tu_path(d, "run/drafts.jsonl"), *clair = tu_path(d, "run/pairs/clair.jsonl"),
         *stronger = tu_path(d, "run/pairs/stronger.jsonl");
    assert_true(tu_count_lines(drafts) > 0);
    assert_int_equal(tu_count_lines(clair), tu_count_lines(drafts));
    assert_int_equal(tu_count_lines(stronger), tu_count_lines(drafts));
    assert_int_equal(tu_system("cd '%s/run' && '%s' stats --json pairs/clair.jsonl pairs/stronger.jsonl > ../stats.json", d, A), 0);
    json_t *st = tu_load_json(d, "stats.json");
    json_t *rows = json_is_array(st) ? st : json_object_get(st, "datasets");
    assert_int_equal(json_array_size(rows), 2);
    double lev_clair = json_real_value(json_object_get(json_array_get(rows, 0), "levenshtein"));
    double lev_strong = json_real_value(json_object_get(json_array_get(rows, 1), "levenshtein"));
    assert_true(lev_clair < lev_strong);
    json_decref(st);

    char *report = tu_path(d, "run/report.html");
    char *html = tu_read_file(report, NULL);
    assert_non_null(strstr(html, "clair"));
    assert_non_null(strstr(html, "<svg"));
    free(html);

    /* anchor ab generating with both models (--model-a/--model-b) agrees with
     * the demo: A's answers are the start model's held-out answers, the
     * grader's means are the table's exact accuracies, wins - losses follows */
    assert_int_equal(tu_system("cd '%s/run' && '%s' ab --model-a start-model --model-b runs/clair-apo_zero-seed1 "
                               "--prompts heldout.jsonl --grader exact --max-new-tokens 32 --out ../ab.jsonl --json "
                               "> ../ab.json 2> ../ab.err", d, A), 0);
    json_t *ab = tu_load_json(d, "ab.json");
    json_t *ev2 = tu_load_json(d, "run/eval-demo.json");
    char *heldp = tu_path(d, "run/heldout.jsonl");
    int n_held = tu_count_lines(heldp);
    free(heldp);
    int n_ab = (int)json_integer_value(json_object_get(ab, "n"));
    assert_int_equal(n_ab, n_held);
    double sa = json_real_value(json_object_get(ab, "mean_score_a")), sb = json_real_value(json_object_get(ab, "mean_score_b"));
    assert_float_equal(sa, json_real_value(json_object_get(ev2, "start_model.exact")), 1e-9);
    assert_float_equal(sb, json_real_value(json_object_get(ev2, "clair.apo_zero.exact_mean")), 1e-9);
    int wins = (int)json_integer_value(json_object_get(ab, "wins")), losses = (int)json_integer_value(json_object_get(ab, "losses"));
    assert_int_equal(wins - losses, (int)lround(n_ab * (sa - sb)));
    json_decref(ab);
    json_decref(ev2);
    char *abp = tu_path(d, "ab.jsonl"), *startp = tu_path(d, "run/start-model/heldout-answers.jsonl");
    char *ab_text = tu_read_file(abp, NULL), *start_text = tu_read_file(startp, NULL);
    int matched = 0;
    for (char *line = strtok(start_text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        assert_non_null(row);
        /* the ab record of this id carries the same answer as response_a */
        char needle[256];
        json_t *want = json_pack("{s:O, s:O}", "id", json_object_get(row, "id"), "a", json_object_get(row, "completion"));
        char *ids = json_dumps(json_object_get(want, "id"), JSON_ENCODE_ANY);
        char *ans = json_dumps(json_object_get(want, "a"), JSON_ENCODE_ANY);
        snprintf(needle, sizeof needle, "\"id\":%s,", ids);
        const char *rec = strstr(ab_text, needle);
        assert_non_null(rec);
        const char *ra = strstr(rec, "\"response_a\":");
        assert_non_null(ra);
        assert_memory_equal(ra + 13, ans, strlen(ans));
        matched++;
        free(ids);
        free(ans);
        json_decref(want);
        json_decref(row);
    }
    assert_int_equal(matched, n_held);
    free(ab_text);
    free(start_text);
    free(abp);
    free(startp);

    /* a rerun resumes: every step is done before, no teacher call is repeated */
    assert_int_equal(tu_system("cd '%s' && '%s' demo --quick --out run > out2.txt 2> err2.txt", d, A), 0);
    char *ep2 = tu_path(d, "err2.txt"), *op2 = tu_path(d, "out2.txt");
    char *errs2 = tu_read_file(ep2, NULL), *out2 = tu_read_file(op2, NULL);
    assert_int_equal(tu_count_substr(errs2, "(done before)"), 25); /* all but the report */
    const char *t1 = strstr(out, "Held-out accuracy"), *t2 = strstr(out2, "Held-out accuracy");
    const char *e1 = strstr(t1, "Wall time"), *e2 = strstr(t2, "Wall time");
    assert_int_equal(e1 - t1, e2 - t2);
    assert_memory_equal(t1, t2, (size_t)(e1 - t1)); /* the same table */

    /* other settings in the same folder are refused, with what to do */
    assert_int_not_equal(tu_system("cd '%s' && '%s' demo --quick --seeds 2 --out run > /dev/null 2> err3.txt", d, A), 0);
    char *ep3 = tu_path(d, "err3.txt");
    char *errs3 = tu_read_file(ep3, NULL);
    assert_non_null(strstr(errs3, "--fresh"));

    free(errs3);
    free(ep3);
    free(errs2);
    free(out2);
    free(ep2);
    free(op2);
    free(report);
    free(drafts);
    free(clair);
    free(stronger);
    free(out);
    free(errs);
    free(op);
    free(ep);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_quick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
