/* The anchoring advisor through the real binary on the demo task: a tiny
 * start model taught the task by sft, its drafts revised by the demo's
 * teacher into CLAIR pairs (anchor revise, exec: backend), and the teacher's
 * grader-judge (exec:, both orders, through the run store) or the numeric
 * grader comparing the model's answers with the chosen ones.
 * - On CLAIR pairs the advisor recommends apo_zero: a revision always grades
 *   right, so the model never beats it.
 * - With the chosen side degraded to a known-wrong answer ("I do not know."
 *   scores 0), the model wins wherever it gets any part right and never
 *   loses: apo_down.
 * - The verdict follows the documented rule from the records; a rerun sends
 *   the judge nothing.
 * - train --loss-type auto records the verdict in train_config.yaml and
 *   metrics.jsonl and trains exactly as the named loss does; auto without a
 *   comparison is a usage error. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/stats.h"

#define TASK "--min-numbers 3 --max-numbers 3 --max-value 9 --conditions 1"

/* The shared folder: start/ (the model), prompts.jsonl (24 prompts with
 * references), clair.jsonl (their CLAIR pairs), judge.sh (the teacher's
 * grader-judge, one line in judge.log per request). */
static int setup(void **state) {
    char *d = tu_tmpdir();
    const char *A = tu_cli();
    int rc = tu_system("cd '%s' && '%s' demo init --out m --hidden 48 --layers 2 --heads 2 --kv-heads 1 "
                       "--intermediate 128 2>/dev/null && '%s' demo data --kind sft --n 600 --seed 11 " TASK
                       " --mistake-rate 0.1 --out sft.jsonl && '%s' demo data --kind prompts --n 24 --seed 3 " TASK
                       " --out prompts.jsonl",
                       d, A, A, A);
    if (!rc)
        rc = tu_system("cd '%s' && '%s' train --model m --data sft.jsonl --loss-type sft --learning-rate 6e-3 "
                       "--per-device-train-batch-size 16 --num-train-epochs 4 --lr-scheduler cosine --output-dir start "
                       ">/dev/null 2>&1",
                       d, A);
    if (!rc)
        rc = tu_system("cd '%s' && '%s' generate --model start --prompts prompts.jsonl --out drafts.jsonl --temperature "
                       "0.7 --seed 1 --max-new-tokens 24 2>/dev/null && '%s' revise --input drafts.jsonl --out clair.jsonl "
                       "--reviser 'exec:%s demo teacher revise' 2>/dev/null",
                       d, A, A, A);
    char *js = tu_path(d, "judge.sh");
    FILE *f = fopen(js, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\necho request >> '%s/judge.log'\nexec '%s' demo teacher judge\n", d, A);
        fclose(f);
    }
    free(js);
    *state = d;
    return rc || !f ? -1 : 0;
}

static int teardown(void **state) {
    tu_rmtree(*state);
    free(*state);
    return 0;
}

static long jint(const json_t *j, const char *k) { return (long)json_integer_value(json_object_get(j, k)); }
static double jnum(const json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

static int judge_requests(const char *d) {
    char *p = tu_path(d, "judge.log");
    int n = tu_count_lines(p);
    free(p);
    return n;
}

/* Writes rel: every CLAIR pair of d with its chosen answer replaced by the
 * known-wrong "I do not know.", as implicit-prompt conversational rows (the
 * prompt is every message of chosen but the last). */
static void write_degraded(const char *d, const char *rel) {
    char *src = tu_path(d, "clair.jsonl"), *dst = tu_path(d, rel);
    char *text = tu_read_file(src, NULL);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *row = json_loads(l, 0, &je);
        assert_non_null(row);
        json_t *user = json_array_get(json_object_get(row, "prompt"), 0);
        json_t *out = json_pack("{s:O, s:[O,{s:s,s:s}], s:[O,O]}", "id", json_object_get(row, "id"), "chosen", user, "role",
                                "assistant", "content", "I do not know.", "rejected", user,
                                json_array_get(json_object_get(row, "rejected"), 0));
        char *s = json_dumps(out, JSON_COMPACT);
        fprintf(f, "%s\n", s);
        free(s);
        json_decref(out);
        json_decref(row);
    }
    fclose(f);
    free(text);
    free(src);
    free(dst);
}

/* The outcome counts of the records file rel; each record's chosen answer
 * is that of its data line (data_rel) and the prompt is its prompt. */
static void count_records(const char *d, const char *rel, const char *data_rel, int *wins, int *ties, int *losses) {
    char *p = tu_path(d, rel), *dp = tu_path(d, data_rel);
    char *text = tu_read_file(p, NULL), *data = tu_read_file(dp, NULL);
    json_t *lines = json_array();
    for (char *l = strtok(data, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_array_append_new(lines, json_loads(l, 0, &je));
    }
    *wins = *ties = *losses = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *r = json_loads(l, 0, &je);
        assert_non_null(r);
        const char *oc = json_string_value(json_object_get(r, "outcome"));
        assert_non_null(oc);
        *wins += !strcmp(oc, "win"), *ties += !strcmp(oc, "tie"), *losses += !strcmp(oc, "loss");
        json_t *row = json_array_get(lines, (size_t)jint(r, "line") - 1);
        json_t *ch = json_object_get(row, "chosen");
        json_t *want = json_is_string(ch) ? ch : json_object_get(json_array_get(ch, json_array_size(ch) - 1), "content");
        assert_string_equal(json_string_value(json_object_get(r, "chosen")), json_string_value(want));
        assert_true(json_is_string(json_object_get(r, "model")));
        const char *user = json_string_value(json_object_get(json_array_get(json_object_get(r, "prompt"), 0), "content"));
        assert_non_null(user);
        assert_non_null(strstr(user, "Numbers: "));
        json_decref(r);
    }
    json_decref(lines);
    free(text);
    free(data);
    free(p);
    free(dp);
}

/* The summary follows the rule from the counts: w, Wilson, confident. */
static void check_rule(const json_t *j, int wins, int ties, int losses) {
    int n = wins + ties + losses;
    assert_int_equal(jint(j, "n"), n);
    assert_int_equal(jint(j, "wins"), wins);
    assert_int_equal(jint(j, "ties"), ties);
    assert_int_equal(jint(j, "losses"), losses);
    double w = (wins + 0.5 * ties) / n, lo, hi;
    assert_true(fabs(jnum(j, "win_rate") - w) < 1e-12);
    anc_error err = {0};
    TU_CHECK(anc_wilson_interval(wins + 0.5 * ties, (size_t)n, ANC_Z95, &lo, &hi, &err), &err);
    json_t *wil = json_object_get(j, "wilson"), *boot = json_object_get(j, "bootstrap");
    assert_true(fabs(json_number_value(json_array_get(wil, 0)) - lo) < 1e-9);
    assert_true(fabs(json_number_value(json_array_get(wil, 1)) - hi) < 1e-9);
    double blo = json_number_value(json_array_get(boot, 0)), bhi = json_number_value(json_array_get(boot, 1));
    assert_true(blo <= w + 1e-12 && w <= bhi + 1e-12);
    assert_string_equal(json_string_value(json_object_get(j, "recommendation")), w > 0.5 ? "apo_down" : "apo_zero");
    int confident = (hi < 0.5 || lo > 0.5) && (bhi < 0.5 || blo > 0.5);
    assert_int_equal(json_is_true(json_object_get(j, "confident")), confident);
    assert_non_null(strstr(json_string_value(json_object_get(j, "rule")), "apo_down when w > 0.5"));
}

static void test_clair_pairs_apo_zero_and_resume(void **state) {
    const char *d = *state;
    const char *fmt = "cd '%s' && '%s' advise --model start --data clair.jsonl --judge 'exec:sh %s/judge.sh' --samples 12 "
                      "--max-new-tokens 24 --out rec.jsonl --summary sum.json --json > adv.json 2> adv.err";
    int before = judge_requests(d);
    assert_int_equal(tu_system(fmt, d, tu_cli(), d), 0);
    assert_int_equal(judge_requests(d) - before, 24); /* 12 prompts, both orders */
    json_t *j = tu_load_json(d, "adv.json"), *s = tu_load_json(d, "sum.json");
    assert_true(json_equal(j, s));
    assert_string_equal(json_string_value(json_object_get(j, "recommendation")), "apo_zero");
    assert_int_equal(jint(j, "sampled"), 12);
    assert_int_equal(jint(j, "prompts"), 24);
    int wins, ties, losses;
    count_records(d, "rec.jsonl", "clair.jsonl", &wins, &ties, &losses);
    assert_int_equal(wins, 0); /* a revision always grades right: the model never beats it */
    check_rule(j, wins, ties, losses);
    json_decref(s);
    /* the rerun is answered from the run store (rec.jsonl.store.db): nothing sent, the same verdict */
    assert_int_equal(tu_system(fmt, d, tu_cli(), d), 0);
    assert_int_equal(judge_requests(d) - before, 24);
    json_t *j2 = tu_load_json(d, "adv.json");
    assert_true(json_equal(j, j2));
    char *ep = tu_path(d, "adv.err");
    char *errs = tu_read_file(ep, NULL);
    assert_non_null(strstr(errs, "judge requests sent 0, reused from the store 24"));
    free(errs);
    free(ep);
    /* the table names the verdict, the intervals and the rule */
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data clair.jsonl --judge 'exec:sh %s/judge.sh' "
                               "--samples 12 --max-new-tokens 24 --out rec.jsonl > table.txt 2>/dev/null",
                               d, tu_cli(), d),
                     0);
    assert_int_equal(judge_requests(d) - before, 24);
    char *tp = tu_path(d, "table.txt");
    char *table = tu_read_file(tp, NULL);
    assert_non_null(strstr(table, "advisor: apo_zero ("));
    assert_non_null(strstr(table, "Wilson 95%"));
    assert_non_null(strstr(table, "bootstrap 95%"));
    assert_non_null(strstr(table, "rule: w = model-vs-chosen win rate"));
    free(table);
    free(tp);
    json_decref(j2);
    json_decref(j);
}

static void test_degraded_chosen_apo_down(void **state) {
    const char *d = *state;
    write_degraded(d, "degraded.jsonl");
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data degraded.jsonl --judge 'exec:sh %s/judge.sh' "
                               "--samples 0 --max-new-tokens 24 --out deg.jsonl --json > deg.json 2>/dev/null",
                               d, tu_cli(), d),
                     0);
    json_t *j = tu_load_json(d, "deg.json");
    int wins, ties, losses;
    count_records(d, "deg.jsonl", "degraded.jsonl", &wins, &ties, &losses);
    assert_int_equal(wins + ties + losses, 24);
    assert_int_equal(losses, 0); /* "I do not know." scores 0: it never wins */
    assert_true(wins > 0);       /* the model gets some part right somewhere */
    check_rule(j, wins, ties, losses);
    assert_string_equal(json_string_value(json_object_get(j, "recommendation")), "apo_down");
    json_decref(j);
}

/* The numeric grader against the rows' reference (the last number: the
 * sum): chosen = the reference answer gives apo_zero, chosen = the wrong
 * answer apo_down, with the grader's per-side scores in the records. */
static void test_grader(void **state) {
    const char *d = *state;
    char *pp = tu_path(d, "prompts.jsonl"), *gp = tu_path(d, "graded.jsonl"), *bp = tu_path(d, "graded-bad.jsonl");
    char *text = tu_read_file(pp, NULL);
    FILE *g = fopen(gp, "w"), *b = fopen(bp, "w");
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *row = json_loads(l, 0, &je), *ref = json_object_get(row, "reference");
        json_t *good = json_pack("{s:O, s:O, s:s, s:O}", "prompt", json_object_get(row, "prompt"), "chosen", ref,
                                 "rejected", "Odd: 1. Sum: 1.", "reference", ref);
        json_t *bad = json_deep_copy(good);
        json_object_set_new(bad, "chosen", json_string("I do not know."));
        char *s1 = json_dumps(good, JSON_COMPACT), *s2 = json_dumps(bad, JSON_COMPACT);
        fprintf(g, "%s\n", s1);
        fprintf(b, "%s\n", s2);
        free(s1);
        free(s2);
        json_decref(good);
        json_decref(bad);
        json_decref(row);
    }
    fclose(g);
    fclose(b);
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data graded.jsonl --grader numeric --samples 0 "
                               "--max-new-tokens 24 --out g.jsonl --json > g.json 2>/dev/null && '%s' advise --model start "
                               "--data graded-bad.jsonl --grader numeric --samples 0 --max-new-tokens 24 --out gb.jsonl "
                               "--json > gb.json 2>/dev/null",
                               d, tu_cli(), tu_cli()),
                     0);
    json_t *jg = tu_load_json(d, "g.json"), *jb = tu_load_json(d, "gb.json");
    int w, t, l;
    count_records(d, "g.jsonl", "graded.jsonl", &w, &t, &l);
    assert_int_equal(w, 0); /* the reference scores 1: the model cannot beat it */
    check_rule(jg, w, t, l);
    assert_string_equal(json_string_value(json_object_get(jg, "recommendation")), "apo_zero");
    assert_string_equal(json_string_value(json_object_get(jg, "grader")), "numeric");
    count_records(d, "gb.jsonl", "graded-bad.jsonl", &w, &t, &l);
    assert_int_equal(l, 0);
    assert_true(w > 0);
    check_rule(jb, w, t, l);
    assert_string_equal(json_string_value(json_object_get(jb, "recommendation")), "apo_down");
    /* a model win is a prompt whose right sum the model states */
    char *gbp = tu_path(d, "gb.jsonl");
    char *recs = tu_read_file(gbp, NULL);
    assert_int_equal(tu_count_substr(recs, "\"score_model\":1.0"), w);
    assert_int_equal(tu_count_substr(recs, "\"score_chosen\":0.0"), 24);
    free(recs);
    free(gbp);
    json_decref(jg);
    json_decref(jb);
    free(text);
    free(pp);
    free(gp);
    free(bp);
}

/* The "loss" of the step-2 line of a metrics.jsonl. */
static double last_loss(const char *d, const char *rel, json_t **first) {
    char *p = tu_path(d, rel);
    char *text = tu_read_file(p, NULL);
    double loss = NAN;
    *first = NULL;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        assert_non_null(o);
        if (!*first) *first = json_incref(o);
        if (json_object_get(o, "loss")) loss = jnum(o, "loss");
        json_decref(o);
    }
    free(text);
    free(p);
    return loss;
}

static void test_train_auto(void **state) {
    const char *d = *state;
    const char *A = tu_cli();
    const char *common = "--max-steps 2 --per-device-train-batch-size 4 --learning-rate 1e-3 --logging-steps 2";
    write_degraded(d, "degraded.jsonl");
    int before = judge_requests(d);
    assert_int_equal(tu_system("cd '%s' && '%s' train --model start --data clair.jsonl --loss-type auto --advise-judge "
                               "'exec:sh %s/judge.sh' --advise-samples 8 %s --output-dir t-clair > /dev/null 2> t1.err && "
                               "'%s' train --model start --data degraded.jsonl --loss-type auto --advise-judge "
                               "'exec:sh %s/judge.sh' --advise-samples 0 %s --output-dir t-deg >/dev/null 2>&1 && "
                               "'%s' train --model start --data degraded.jsonl --loss-type apo_down %s --output-dir t-down "
                               ">/dev/null 2>&1",
                               d, A, d, common, A, d, common, A, common),
                     0);
    assert_int_equal(judge_requests(d) - before, 16 + 48); /* 8 and all 24 prompts, both orders */
    char *ep = tu_path(d, "t1.err");
    char *errs = tu_read_file(ep, NULL);
    assert_non_null(strstr(errs, "the advisor recommends apo_zero (model vs chosen win rate "));
    free(errs);
    const char *dirs[2] = {"t-clair", "t-deg"}, *want[2] = {"apo_zero", "apo_down"};
    const int n_want[2] = {8, 24};
    for (int i = 0; i < 2; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "%s/train_config.yaml", dirs[i]);
        char *cp = tu_path(d, rel);
        char *cfg = tu_read_file(cp, NULL);
        char lt[64], rec[64];
        snprintf(lt, sizeof lt, "loss_type:\n  - %s\n", want[i]);
        snprintf(rec, sizeof rec, "advisor:\n  recommendation: \"%s\"\n", want[i]);
        assert_non_null(strstr(cfg, lt));
        assert_non_null(strstr(cfg, rec));
        char nl[32];
        snprintf(nl, sizeof nl, "  n: %d\n", n_want[i]);
        assert_non_null(strstr(cfg, nl));
        assert_non_null(strstr(cfg, "  rule: \"w = model-vs-chosen win rate"));
        free(cfg);
        free(cp);
        snprintf(rel, sizeof rel, "%s/train_signature.yaml", dirs[i]);
        char *sp = tu_path(d, rel);
        char *sig = tu_read_file(sp, NULL);
        snprintf(lt, sizeof lt, "loss_type: %s\n", want[i]);
        assert_non_null(strstr(sig, lt));
        free(sig);
        free(sp);
        snprintf(rel, sizeof rel, "%s/metrics.jsonl", dirs[i]);
        json_t *first = NULL;
        double loss = last_loss(d, rel, &first);
        json_t *adv = json_object_get(first, "advisor");
        assert_int_equal(jint(first, "step"), 0);
        assert_string_equal(json_string_value(json_object_get(adv, "recommendation")), want[i]);
        assert_int_equal(jint(adv, "n"), n_want[i]);
        assert_true(isfinite(loss));
        json_decref(first);
        snprintf(rel, sizeof rel, "%s/advise.jsonl", dirs[i]);
        char *ap = tu_path(d, rel);
        assert_int_equal(tu_count_lines(ap), n_want[i]);
        free(ap);
    }
    /* auto trained exactly as --loss-type apo_down does */
    json_t *f1 = NULL, *f2 = NULL;
    double auto_loss = last_loss(d, "t-deg/metrics.jsonl", &f1), down_loss = last_loss(d, "t-down/metrics.jsonl", &f2);
    assert_true(auto_loss == down_loss);
    assert_null(json_object_get(f2, "advisor"));
    json_decref(f1);
    json_decref(f2);
    /* the auto run's train_config.yaml works as --config (its advisor record is not an option) */
    assert_int_equal(tu_system("cd '%s' && '%s' train --config t-deg/train_config.yaml --output-dir t-cfg >/dev/null 2>&1",
                               d, A),
                     0);
    json_t *f3 = NULL;
    assert_true(last_loss(d, "t-cfg/metrics.jsonl", &f3) == down_loss);
    json_decref(f3);
    /* a rerun into the same folder asks the judge nothing */
    assert_int_equal(tu_system("cd '%s' && '%s' train --model start --data clair.jsonl --loss-type auto --advise-judge "
                               "'exec:sh %s/judge.sh' --advise-samples 8 %s --output-dir t-clair > /dev/null 2> t2.err",
                               d, A, d, common),
                     0);
    assert_int_equal(judge_requests(d) - before, 16 + 48);
    char *ep2 = tu_path(d, "t2.err");
    char *errs2 = tu_read_file(ep2, NULL);
    assert_non_null(strstr(errs2, "judge requests sent 0, reused from the store 16"));
    free(errs2);
    free(ep2);
    /* pipelines: an advise step, and train with loss_type auto */
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "model: ../start\nsteps:\n"
             "  - {name: advice, kind: advise, data: ../clair.jsonl, judge: \"exec:sh %s/judge.sh\", samples: 4}\n"
             "  - {name: apo, kind: train, data: ../clair.jsonl, loss_type: auto, advise_judge: \"exec:sh %s/judge.sh\",\n"
             "     advise_samples: 4, max_steps: 1, per_device_train_batch_size: 4}\n",
             d, d);
    char *yp = tu_path(d, "pl.yaml");
    tu_write_file(yp, yaml, strlen(yaml));
    free(yp);
    assert_int_equal(tu_system("cd '%s' && '%s' run pl.yaml >/dev/null 2>pl.err", d, A), 0);
    char *pa = tu_path(d, "pl/advice.jsonl"), *pc = tu_path(d, "pl/models/apo/train_config.yaml");
    assert_int_equal(tu_count_lines(pa), 4);
    char *pcfg = tu_read_file(pc, NULL);
    assert_non_null(strstr(pcfg, "loss_type:\n  - apo_zero\n"));
    free(pcfg);
    free(pa);
    free(pc);
    free(ep);
}

static void test_usage_errors(void **state) {
    const char *d = *state;
    const char *A = tu_cli();
    /* auto without a comparison, with two, or advise options without auto: usage errors naming the way out */
    assert_int_equal(tu_system("cd '%s' && '%s' train --model start --data clair.jsonl --loss-type auto --output-dir u1 "
                               "> /dev/null 2> u1.err", d, A), 2);
    char *p = tu_path(d, "u1.err");
    char *e = tu_read_file(p, NULL);
    assert_non_null(strstr(e, "--loss-type auto needs --advise-judge SPEC or --advise-grader G"));
    free(e);
    free(p);
    char *u1 = tu_path(d, "u1");
    assert_false(tu_system("test -e '%s'", u1) == 0); /* nothing was written */
    free(u1);
    assert_int_equal(tu_system("cd '%s' && '%s' train --model start --data clair.jsonl --loss-type auto --advise-grader "
                               "exact --advise-judge exec:true --output-dir u1 > /dev/null 2>&1", d, A), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' train --model start --data clair.jsonl --loss-type apo_zero "
                               "--advise-grader exact --output-dir u1 > /dev/null 2>&1", d, A), 2);
    /* advise: the model and data, one comparison, a store for a judge */
    assert_int_equal(tu_system("cd '%s' && '%s' advise --data clair.jsonl --grader exact >/dev/null 2>&1", d, A), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data clair.jsonl >/dev/null 2>&1", d, A), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data clair.jsonl --grader exact --judge exec:true "
                               "--out x.jsonl >/dev/null 2>&1", d, A), 2);
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data clair.jsonl --judge exec:true >/dev/null 2>&1",
                               d, A), 2);
    /* rows without what the advisor needs: errors naming the file and line */
    char *bp = tu_path(d, "bad-rows.jsonl");
    const char *rows = "{\"prompt\": \"Numbers: 1 2 3.\", \"chosen\": \"Odd: 1 3. Sum: 4.\", \"rejected\": \"x\"}\n"
                       "{\"prompt_ids\": [1, 2], \"chosen_ids\": [3], \"rejected_ids\": [4]}\n";
    tu_write_file(bp, rows, strlen(rows));
    free(bp);
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data bad-rows.jsonl --grader exec:true "
                               ">/dev/null 2> b.err", d, A), 1);
    p = tu_path(d, "b.err");
    e = tu_read_file(p, NULL);
    assert_non_null(strstr(e, "bad-rows.jsonl:2: expected \"prompt\""));
    free(e);
    free(p);
    /* a grader that needs a reference names the row without one */
    assert_int_equal(tu_system("cd '%s' && '%s' advise --model start --data clair.jsonl --grader numeric >/dev/null 2> c.err",
                               d, A), 1);
    p = tu_path(d, "c.err");
    e = tu_read_file(p, NULL);
    assert_non_null(strstr(e, "clair.jsonl:"));
    assert_non_null(strstr(e, "expected a reference field \"reference\" for --grader numeric"));
    free(e);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clair_pairs_apo_zero_and_resume),
        cmocka_unit_test(test_degraded_chosen_apo_down),
        cmocka_unit_test(test_grader),
        cmocka_unit_test(test_train_auto),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
