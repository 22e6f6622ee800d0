/* Every objective through the whole trainer against PyTorch: one SGD step
 * with learning rate 1, no clipping, no weight decay and the whole batch in
 * one step changes every parameter by exactly -gradient of the batch-mean
 * loss (fixtures: scripts/make_loss_reference.py, float64 autograd over the
 * tiny llama_gqa policy and a perturbed reference). The logged loss and
 * reward metrics must match too.
 * Tolerance: |dp - g| <= 1e-4 x max|g| + 4 ulp(p) per tensor, the float32
 * rounding of p - g included. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static const char *const losses[] = {"apo_zero", "apo_down", "sigmoid", "ipo", "hinge", "robust", "exo_pair",
                                     "nca_pair", "bco_pair", "sppo_hard", "aot", "aot_pair", "discopop",
                                     "sigmoid_norm", "sft", "simpo", "cpo", "orpo", "kto", "apo_zero_unpaired"};

static double json_metric(const char *line, const char *key) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o) fail_msg("bad metrics line: %s", line);
    json_t *v = json_object_get(o, key);
    if (!v) fail_msg("metric %s missing in %s", key, line);
    double x = json_number_value(v);
    json_decref(o);
    return x;
}

static void check_loss(const char *loss, anc_safetensors *exp, json_t *metrics, const char *tmp) {
    int unpaired = !strcmp(loss, "kto") || !strcmp(loss, "apo_zero_unpaired");
    char args[4096];
    snprintf(args, sizeof args,
             "cd '%s' && '%s' train --model '%s/tests/fixtures/reference/llama_gqa' --ref-model '%s/tests/fixtures/loss/ref_model' "
             "--data '%s/tests/fixtures/loss/%s' --loss-type %s --optimizer sgd --learning-rate 1 --max-grad-norm 0 "
             "--lr-scheduler constant --per-device-train-batch-size 4 --max-steps 1 --logging-steps 1 --save-dtype f32 "
             "--output-dir out-%s >/dev/null 2>err-%s.txt",
             tmp, tu_cli(), ANCHOR_SOURCE_DIR, ANCHOR_SOURCE_DIR, ANCHOR_SOURCE_DIR, unpaired ? "unpaired.jsonl" : "pairs.jsonl",
             loss, loss, loss);
    if (tu_system("%s", args) != 0) {
        char ep[512];
        snprintf(ep, sizeof ep, "%s/err-%s.txt", tmp, loss);
        char *e = tu_read_file(ep, NULL);
        fail_msg("%s: anchor train failed: %s", loss, e);
    }
    anc_error err = {0};
    anc_safetensors *before = NULL, *after = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/reference/llama_gqa/model-00001-of-00002.safetensors", ANCHOR_SOURCE_DIR);
    anc_safetensors *b1 = NULL, *b2 = NULL;
    TU_CHECK(anc_st_open(&b1, path, &err), &err);
    snprintf(path, sizeof path, "%s/tests/fixtures/reference/llama_gqa/model-00002-of-00002.safetensors", ANCHOR_SOURCE_DIR);
    TU_CHECK(anc_st_open(&b2, path, &err), &err);
    snprintf(path, sizeof path, "%s/out-%s/model.safetensors", tmp, loss);
    TU_CHECK(anc_st_open(&after, path, &err), &err);
    (void)before;
    double worst = 0;
    size_t checked = 0;
    for (size_t i = 0; i < anc_st_count(after); i++) {
        const anc_st_tensor *ta = anc_st_get(after, i);
        const anc_st_tensor *tb = anc_st_find(b1, ta->name);
        if (!tb) tb = anc_st_find(b2, ta->name);
        assert_non_null(tb);
        char gname[256];
        snprintf(gname, sizeof gname, "%s.grad.%s", loss, ta->name);
        const anc_st_tensor *tg = anc_st_find(exp, gname);
        if (!tg) fail_msg("fixture lacks %s", gname);
        size_t n = ta->n_elems;
        float *pa = malloc(n * 4), *pb = malloc(n * 4), *g = malloc(n * 4);
        TU_CHECK(anc_st_read_f32(ta, pa, n, &err), &err);
        TU_CHECK(anc_st_read_f32(tb, pb, n, &err), &err);
        TU_CHECK(anc_st_read_f32(tg, g, n, &err), &err);
        double gmax = tu_max_abs(g, n);
        for (size_t k = 0; k < n; k++) {
            double dp = (double)pb[k] - (double)pa[k];
            double ulp = 4 * fmax(fabs(pb[k]), fabs(pa[k])) * 1.2e-7;
            double e = fabs(dp - g[k]);
            double bound = 1e-4 * gmax + ulp;
            if (e > bound) fail_msg("%s: %s[%zu]: parameter moved by %.9g, -gradient is %.9g (bound %.3g)", loss, ta->name, k, -dp, -(double)g[k], bound);
            if (gmax > 0 && e / gmax > worst) worst = e / gmax;
        }
        checked += n;
        free(pa); free(pb); free(g);
    }
    assert_int_equal(checked, 24736);
    /* logged loss and rewards (the step-1 line is computed before the update) */
    snprintf(path, sizeof path, "%s/out-%s/metrics.jsonl", tmp, loss);
    char *line = tu_read_file(path, NULL);
    json_t *m = json_object_get(json_object_get(metrics, "losses"), loss);
    assert_non_null(m);
    double want = json_number_value(json_object_get(m, "loss")), got = json_metric(line, "loss");
    if (fabs(got - want) > 1e-5 * fmax(1.0, fabs(want))) fail_msg("%s: logged loss %.9g, PyTorch %.9g", loss, got, want);
    if (!unpaired) {
        double wa = json_number_value(json_object_get(m, "rewards_accuracies")), ga = json_metric(line, "rewards/accuracies");
        assert_true(fabs(wa - ga) < 1e-9);
        double wm = json_number_value(json_object_get(m, "rewards_margins")), gm = json_metric(line, "rewards/margins");
        if (fabs(wm - gm) > 1e-5 * fmax(1.0, fabs(wm))) fail_msg("%s: rewards/margins %.9g, PyTorch %.9g", loss, gm, wm);
    }
    printf("  %-18s loss %.6f (PyTorch %.6f), 24736 parameters moved by -grad within %.1e of max|grad|\n", loss, got, want, worst);
    free(line);
    anc_st_close(after);
    anc_st_close(b1);
    anc_st_close(b2);
}

static void test_every_objective_one_sgd_step(void **state) {
    (void)state;
    anc_error err = {0};
    anc_safetensors *exp = NULL;
    char *p = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/loss/model_grads.safetensors");
    TU_CHECK(anc_st_open(&exp, p, &err), &err);
    free(p);
    p = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/loss/model_metrics.json");
    json_error_t je;
    json_t *metrics = json_load_file(p, 0, &je);
    free(p);
    assert_non_null(metrics);
    char *tmp = tu_tmpdir();
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) check_loss(losses[i], exp, metrics, tmp);
    json_decref(metrics);
    anc_st_close(exp);
    tu_rmtree(tmp);
    free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_objective_one_sgd_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
