/* Tests of the preference objectives (src/train/loss.h).
 *
 *  - fixtures: every case of tests/fixtures/loss/loss_cases.json (written by
 *    scripts/make_loss_reference.py with float64 torch autograd following
 *    TRL) on 6 pairs/rows with varied lengths, label smoothing 0 and 0.1,
 *    beta 0.1 and 0.5, ...: loss, d_chosen, d_rejected, d_prompt_logp, every
 *    metric and bco_pair's running state. Tolerance 1e-6 relative: arrays
 *    |got - want| <= 1e-6 * max|want| over the array, scalars
 *    |got - want| <= 1e-6 * max(|want|, 1e-12); counts exact.
 *  - the model fixture's losses recomputed from its stored sequence log-probs
 *    (F32-rounded, so 1e-5 relative);
 *  - identities at policy == reference: apo_zero and apo_down 1.0 per pair,
 *    DPO log 2;
 *  - central finite differences of every objective in double (the loss is a
 *    double; steps of 2^-14 are exact on the float inputs):
 *    |fd - analytic| <= 1e-5 * max|analytic|;
 *  - scale multiplies loss and gradients, not metrics;
 *  - errors: non-finite inputs name the pair, missing arrays, bad params. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "train/loss.h"

#define REL_TOL 1e-6
#define FD_TOL 1e-5
#define FD_STEP (1.0 / 16384.0)

/* ---- fixture loading ------------------------------------------------------ */

typedef struct {
    const char *name;
    anc_loss_type t;
    anc_loss_params p;
    anc_loss_state state_in, state_out;
    anc_loss_batch b;
    float *cl, *rl, *rcl, *rrl, *kl, *rkl, *pl;
    int32_t *clen, *rlen, *plen;
    uint8_t *label;
    json_t *expected;
} lcase;

static float *jfloats(json_t *o, const char *key, size_t n) {
    json_t *a = json_object_get(o, key);
    if (!a) return NULL;
    assert_true(json_is_array(a) && json_array_size(a) == n);
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)json_number_value(json_array_get(a, i));
    return x;
}

static int32_t *jints(json_t *o, const char *key, size_t n) {
    json_t *a = json_object_get(o, key);
    if (!a) return NULL;
    assert_true(json_is_array(a) && json_array_size(a) == n);
    int32_t *x = malloc(n * sizeof(int32_t));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return x;
}

static double jnum(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!v) fail_msg("fixture: missing %s", key);
    return json_number_value(v);
}

static void case_load(lcase *c, json_t *j) {
    memset(c, 0, sizeof *c);
    c->name = json_string_value(json_object_get(j, "name"));
    int t = anc_loss_from_name(json_string_value(json_object_get(j, "loss_type")));
    assert_true(t >= 0);
    c->t = (anc_loss_type)t;
    json_t *p = json_object_get(j, "params");
    c->p.beta = jnum(p, "beta");
    c->p.label_smoothing = jnum(p, "label_smoothing");
    c->p.simpo_gamma = jnum(p, "simpo_gamma");
    c->p.cpo_alpha = jnum(p, "cpo_alpha");
    c->p.discopop_tau = jnum(p, "discopop_tau");
    c->p.desirable_weight = jnum(p, "desirable_weight");
    c->p.undesirable_weight = jnum(p, "undesirable_weight");
    json_t *s = json_object_get(j, "state_in");
    c->state_in.bco_running_mean = jnum(s, "bco_running_mean");
    c->state_in.bco_count = (int64_t)jnum(s, "bco_count");
    s = json_object_get(j, "state_out");
    c->state_out.bco_running_mean = jnum(s, "bco_running_mean");
    c->state_out.bco_count = (int64_t)jnum(s, "bco_count");
    size_t n = (size_t)json_integer_value(json_object_get(j, "n"));
    json_t *in = json_object_get(j, "inputs");
    c->cl = jfloats(in, "chosen_logp", n);
    c->rl = jfloats(in, "rejected_logp", n);
    c->rcl = jfloats(in, "ref_chosen_logp", n);
    c->rrl = jfloats(in, "ref_rejected_logp", n);
    c->kl = jfloats(in, "kl_logp", n);
    c->rkl = jfloats(in, "ref_kl_logp", n);
    c->pl = jfloats(in, "prompt_logp", n);
    c->clen = jints(in, "chosen_len", n);
    c->rlen = jints(in, "rejected_len", n);
    c->plen = jints(in, "prompt_len", n);
    int32_t *lab = jints(in, "label", n);
    if (lab) {
        c->label = malloc(n);
        assert_non_null(c->label);
        for (size_t i = 0; i < n; i++) c->label[i] = (uint8_t)lab[i];
        free(lab);
    }
    c->b = (anc_loss_batch){.n = n, .chosen_logp = c->cl, .rejected_logp = c->rl, .ref_chosen_logp = c->rcl,
                            .ref_rejected_logp = c->rrl, .chosen_len = c->clen, .rejected_len = c->rlen,
                            .label = c->label, .kl_logp = c->kl, .ref_kl_logp = c->rkl, .prompt_logp = c->pl,
                            .prompt_len = c->plen};
    c->expected = json_object_get(j, "expected");
}

static void case_free(lcase *c) {
    free(c->cl), free(c->rl), free(c->rcl), free(c->rrl), free(c->kl), free(c->rkl), free(c->pl);
    free(c->clen), free(c->rlen), free(c->plen), free(c->label);
}

static json_t *load_cases(void) {
    char *path = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/loss/loss_cases.json");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) fail_msg("%s:%d: %s", path, je.line, je.text);
    free(path);
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_is_array(cases) && json_array_size(cases) > 0);
    return root;
}

static void check_scalar(const char *label, const char *what, double got, double want, double tol) {
    double m = fabs(want) > 1e-12 ? fabs(want) : 1e-12;
    if (!(fabs(got - want) <= tol * m)) fail_msg("%s: %s = %.17g, want %.17g", label, what, got, want);
}

static void check_array(const char *label, const char *what, const float *got, json_t *want, size_t n) {
    double d = 0, m = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double wi = json_number_value(json_array_get(want, i));
        d = fmax(d, fabs((double)got[i] - wi));
        m = fmax(m, fabs(wi));
    }
    if (!(d <= REL_TOL * m)) fail_msg("%s: %s max abs diff %.3g > %.1g x %.3g", label, what, d, REL_TOL, m);
}

/* ---- (a) fixtures ----------------------------------------------------------- */

static void test_fixture_cases(void **st) {
    (void)st;
    json_t *root = load_cases();
    json_t *cases = json_object_get(root, "cases");
    int seen[ANC_LOSS__COUNT] = {0};
    for (size_t k = 0; k < json_array_size(cases); k++) {
        lcase c;
        case_load(&c, json_array_get(cases, k));
        size_t n = c.b.n;
        float *dc = malloc(n * sizeof(float)), *dr = malloc(n * sizeof(float));
        assert_non_null(dc);
        assert_non_null(dr);
        anc_loss_state state = c.state_in;
        anc_loss_out out;
        anc_error err = {0};
        TU_CHECK(anc_loss_compute(c.t, &c.p, &state, &c.b, 1.0, &out, dc, dr, &err), &err);
        json_t *e = c.expected, *m = json_object_get(e, "metrics");
        check_scalar(c.name, "loss", out.loss, jnum(e, "loss"), REL_TOL);
        check_array(c.name, "d_chosen", dc, json_object_get(e, "d_chosen"), n);
        check_array(c.name, "d_rejected", dr, json_object_get(e, "d_rejected"), n);
        check_scalar(c.name, "d_prompt_logp", out.d_prompt_logp, jnum(e, "d_prompt_logp"), REL_TOL);
        const struct {
            const char *key;
            double got;
        } ms[] = {
            {"rewards_chosen", out.rewards_chosen}, {"rewards_rejected", out.rewards_rejected},
            {"rewards_margins", out.rewards_margins}, {"rewards_accuracies", out.rewards_accuracies},
            {"logps_chosen", out.logps_chosen}, {"logps_rejected", out.logps_rejected},
            {"kl", out.kl}, {"nll", out.nll}, {"log_odds_ratio", out.log_odds_ratio},
            {"log_odds_chosen", out.log_odds_chosen},
        };
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            check_scalar(c.name, ms[i].key, ms[i].got, jnum(m, ms[i].key), REL_TOL);
        assert_int_equal(out.count_chosen, (int64_t)jnum(m, "count_chosen"));
        assert_int_equal(out.count_rejected, (int64_t)jnum(m, "count_rejected"));
        check_scalar(c.name, "bco_running_mean", state.bco_running_mean, c.state_out.bco_running_mean, REL_TOL);
        assert_int_equal(state.bco_count, c.state_out.bco_count);
        seen[c.t]++;
        free(dc);
        free(dr);
        case_free(&c);
    }
    for (int t = 0; t < ANC_LOSS__COUNT; t++)
        if (!seen[t]) fail_msg("no fixture case for %s", anc_loss_name((anc_loss_type)t));
    printf("  %zu fixture cases match (rel tol %.0e)\n", json_array_size(cases), REL_TOL);
    json_decref(root);
}

/* ---- model fixture: losses from the stored sequence log-probs ------------- */

static float *st_floats(anc_safetensors *s, const char *name, size_t n) {
    const anc_st_tensor *t = anc_st_find(s, name);
    if (!t) fail_msg("model_grads.safetensors: no %s", name);
    assert_int_equal(t->n_elems, n);
    float *x = malloc(n * sizeof(float));
    anc_error err = {0};
    assert_non_null(x);
    TU_CHECK(anc_st_read_f32(t, x, n, &err), &err);
    return x;
}

/* Lengths of the json array field key in each line of a JSONL file. */
static void jsonl_lens(const char *rel, const char *key, int32_t *len, int minus, size_t n) {
    char *path = tu_path(ANCHOR_SOURCE_DIR, rel);
    char *text = tu_read_file(path, NULL);
    size_t i = 0;
    for (char *line = strtok(text, "\n"); line && i < n; line = strtok(NULL, "\n"), i++) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        len[i] = (int32_t)json_array_size(json_object_get(o, key)) - minus;
        json_decref(o);
    }
    assert_int_equal(i, n);
    free(text);
    free(path);
}

static void test_model_fixture_losses(void **st) {
    (void)st;
    char *path = tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/loss/model_grads.safetensors");
    anc_safetensors *s = NULL;
    anc_error err = {0};
    TU_CHECK(anc_st_open(&s, path, &err), &err);
    enum { N = 4 };
    int32_t clen[N], rlen[N], plen[N], ulen[N];
    uint8_t label[N] = {1, 0, 0, 1}; /* as written by the script */
    jsonl_lens("tests/fixtures/loss/pairs.jsonl", "chosen_ids", clen, 0, N);
    jsonl_lens("tests/fixtures/loss/pairs.jsonl", "rejected_ids", rlen, 0, N);
    jsonl_lens("tests/fixtures/loss/pairs.jsonl", "prompt_ids", plen, 1, N);
    jsonl_lens("tests/fixtures/loss/unpaired.jsonl", "completion_ids", ulen, 0, N);
    float *pc = st_floats(s, "seq.policy_chosen", N), *pr = st_floats(s, "seq.policy_rejected", N);
    float *pp = st_floats(s, "seq.policy_chosen_prompt", N);
    float *rc = st_floats(s, "seq.ref_chosen", N), *rr = st_floats(s, "seq.ref_rejected", N);
    float *pu = st_floats(s, "seq.policy_completion", N), *ru = st_floats(s, "seq.ref_completion", N);
    float *pk = st_floats(s, "seq.policy_kl", N), *rk = st_floats(s, "seq.ref_kl", N);
    anc_loss_params p;
    anc_loss_params_default(&p);
    for (int t = 0; t < ANC_LOSS__COUNT; t++) {
        anc_loss_batch b = {.n = N};
        if (anc_loss_is_unpaired((anc_loss_type)t)) {
            b.chosen_logp = pu, b.ref_chosen_logp = ru, b.chosen_len = ulen, b.label = label;
            b.kl_logp = pk, b.ref_kl_logp = rk;
        } else {
            b.chosen_logp = pc, b.rejected_logp = pr, b.ref_chosen_logp = rc, b.ref_rejected_logp = rr;
            b.chosen_len = clen, b.rejected_len = rlen, b.prompt_logp = pp, b.prompt_len = plen;
        }
        anc_loss_state state = {0};
        anc_loss_out out;
        TU_CHECK(anc_loss_compute((anc_loss_type)t, &p, &state, &b, 1.0, &out, NULL, NULL, &err), &err);
        char name[64];
        snprintf(name, sizeof name, "%s.loss", anc_loss_name((anc_loss_type)t));
        float *want = st_floats(s, name, 1);
        check_scalar(name, "loss", out.loss, want[0], 1e-5);
        free(want);
    }
    free(pc), free(pr), free(pp), free(rc), free(rr), free(pu), free(ru), free(pk), free(rk);
    anc_st_close(s);
    free(path);
}

/* ---- (b) identities at initialisation ------------------------------------ */

static void test_fresh_identities(void **st) {
    (void)st;
    enum { N = 5 };
    float x[N] = {-12.5f, -3.25f, -40.0f, -7.0f, -0.5f}, y[N] = {-9.0f, -22.0f, -1.5f, -30.25f, -5.0f};
    int32_t lx[N] = {5, 2, 17, 3, 1}, ly[N] = {4, 9, 1, 12, 2};
    anc_loss_batch b = {.n = N, .chosen_logp = x, .rejected_logp = y, .ref_chosen_logp = x,
                        .ref_rejected_logp = y, .chosen_len = lx, .rejected_len = ly};
    anc_loss_params p;
    anc_loss_params_default(&p);
    anc_loss_out out;
    anc_error err = {0};
    float dc[N], dr[N];
    TU_CHECK(anc_loss_compute(ANC_LOSS_APO_ZERO, &p, NULL, &b, 1.0, &out, dc, dr, &err), &err);
    assert_true(fabs(out.loss - 1.0) < 1e-15);
    for (int i = 0; i < N; i++) assert_true(dc[i] < 0 && dr[i] > 0); /* winner up, loser down */
    TU_CHECK(anc_loss_compute(ANC_LOSS_APO_DOWN, &p, NULL, &b, 1.0, &out, dc, dr, &err), &err);
    assert_true(fabs(out.loss - 1.0) < 1e-15);
    for (int i = 0; i < N; i++) assert_true(fabs(dc[i]) < 1e-12 && dr[i] > 0); /* beta/4 - beta/4 */
    TU_CHECK(anc_loss_compute(ANC_LOSS_SIGMOID, &p, NULL, &b, 1.0, &out, dc, dr, &err), &err);
    assert_true(fabs(out.loss - log(2.0)) < 1e-15);
    assert_true(out.rewards_chosen == 0 && out.rewards_margins == 0 && out.rewards_accuracies == 0);
    for (int i = 0; i < N; i++) assert_true(fabs(dc[i] + 0.5 * 0.1 / N) < 1e-9 && fabs(dr[i] - 0.5 * 0.1 / N) < 1e-9);
}

/* ---- (c) finite differences ---------------------------------------------- */

static double loss_at(const lcase *c, const anc_loss_batch *b, const anc_loss_state *s0) {
    anc_loss_state s = *s0;
    anc_loss_out out;
    anc_error err = {0};
    TU_CHECK(anc_loss_compute(c->t, &c->p, &s, b, 1.0, &out, NULL, NULL, &err), &err);
    return out.loss;
}

/* Central differences of the loss in x[i] (x one of b's float arrays). */
static double fd(const lcase *c, anc_loss_batch *b, float *x, size_t i, const anc_loss_state *s0) {
    float x0 = x[i];
    x[i] = (float)(x0 + FD_STEP);
    double hp = (double)x[i] - x0, lp = loss_at(c, b, s0);
    x[i] = (float)(x0 - FD_STEP);
    double hm = x0 - (double)x[i], lm = loss_at(c, b, s0);
    x[i] = x0;
    return (lp - lm) / (hp + hm);
}

static void test_finite_differences(void **st) {
    (void)st;
    json_t *root = load_cases();
    json_t *cases = json_object_get(root, "cases");
    double worst = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        lcase c;
        case_load(&c, json_array_get(cases, k));
        size_t n = c.b.n;
        /* bco_pair: a long history pins the running mean, which TRL detaches */
        anc_loss_state s0 = {c.state_in.bco_running_mean, 1000000000000000LL};
        float *dc = malloc(n * sizeof(float)), *dr = malloc(n * sizeof(float));
        assert_non_null(dc);
        assert_non_null(dr);
        anc_loss_state s = s0;
        anc_loss_out out;
        anc_error err = {0};
        TU_CHECK(anc_loss_compute(c.t, &c.p, &s, &c.b, 1.0, &out, dc, dr, &err), &err);
        double m = 1e-9;
        for (size_t i = 0; i < n; i++) m = fmax(m, fmax(fabs(dc[i]), fabs(dr[i])));
        for (size_t i = 0; i < n; i++) {
            double e = fabs(fd(&c, &c.b, c.cl, i, &s0) - dc[i]);
            if (c.rl) e = fmax(e, fabs(fd(&c, &c.b, c.rl, i, &s0) - dr[i]));
            if (c.t == ANC_LOSS_ORPO) e = fmax(e, fabs(fd(&c, &c.b, c.pl, i, &s0) - out.d_prompt_logp));
            if (!(e <= FD_TOL * m)) fail_msg("%s: pair %zu: fd error %.3g > %.0e x %.3g", c.name, i, e, FD_TOL, m);
            worst = fmax(worst, e / m);
        }
        free(dc);
        free(dr);
        case_free(&c);
    }
    printf("  finite differences: max rel err %.2e over %zu cases\n", worst, json_array_size(cases));
    json_decref(root);
}

/* ---- (d) scale ------------------------------------------------------------ */

static void test_scale(void **st) {
    (void)st;
    json_t *root = load_cases();
    json_t *cases = json_object_get(root, "cases");
    const double scale = -2.5;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        lcase c;
        case_load(&c, json_array_get(cases, k));
        size_t n = c.b.n;
        float *d1 = malloc(2 * n * sizeof(float)), *d2 = malloc(2 * n * sizeof(float));
        assert_non_null(d1);
        assert_non_null(d2);
        anc_loss_state s1 = c.state_in, s2 = c.state_in;
        anc_loss_out o1, o2;
        anc_error err = {0};
        TU_CHECK(anc_loss_compute(c.t, &c.p, &s1, &c.b, 1.0, &o1, d1, d1 + n, &err), &err);
        TU_CHECK(anc_loss_compute(c.t, &c.p, &s2, &c.b, scale, &o2, d2, d2 + n, &err), &err);
        check_scalar(c.name, "scaled loss", o2.loss, scale * o1.loss, 1e-15);
        check_scalar(c.name, "scaled d_prompt", o2.d_prompt_logp, scale * o1.d_prompt_logp, 1e-15);
        for (size_t i = 0; i < 2 * n; i++)
            if (!(fabs(d2[i] - scale * d1[i]) <= 1e-6 * fabs(scale * d1[i]) + 1e-30))
                fail_msg("%s: gradient %zu not scaled: %g vs %g", c.name, i, d2[i], scale * d1[i]);
        assert_true(o1.rewards_chosen == o2.rewards_chosen && o1.logps_rejected == o2.logps_rejected);
        assert_true(o1.nll == o2.nll && o1.kl == o2.kl);
        assert_true(s1.bco_running_mean == s2.bco_running_mean);
        free(d1);
        free(d2);
        case_free(&c);
    }
    json_decref(root);
}

/* ---- (e) errors and names ------------------------------------------------- */

static void expect_error(anc_status want, const char *needle, anc_loss_type t, const anc_loss_params *p,
                         anc_loss_state *s, const anc_loss_batch *b) {
    anc_loss_out out;
    anc_error err = {0};
    float d[8];
    anc_status got = anc_loss_compute(t, p, s, b, 1.0, &out, d, d, &err);
    if (got != want)
        fail_msg("%s: status %s, want %s (%s)", anc_loss_name(t), anc_status_name(got), anc_status_name(want),
                 err.message);
    if (needle && !strstr(err.message, needle)) fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_errors(void **st) {
    (void)st;
    enum { N = 5 };
    float x[N] = {-3, -4, -5, -6, -7}, y[N] = {-6, -5, -4, -3, -2}, rx[N] = {-3, -3, -3, -3, -3};
    float ry[N] = {-4, -4, -4, -4, -4}, bad[N] = {-1, -2, -3, NAN, -5}, inf[N] = {-1, INFINITY, -3, -4, -5};
    int32_t len[N] = {2, 3, 4, 5, 6}, zlen[N] = {2, 3, 0, 5, 6}, plen[N] = {1, 1, 1, 1, 1};
    uint8_t lab[N] = {1, 0, 1, 0, 1};
    anc_loss_params p;
    anc_loss_params_default(&p);
    anc_loss_batch ok = {.n = N, .chosen_logp = x, .rejected_logp = y, .ref_chosen_logp = rx,
                         .ref_rejected_logp = ry, .chosen_len = len, .rejected_len = len, .label = lab,
                         .kl_logp = x, .ref_kl_logp = rx, .prompt_logp = x, .prompt_len = plen};
    anc_loss_batch b = ok;
    b.chosen_logp = bad;
    expect_error(ANC_ERR_NUMERIC, "pair 3", ANC_LOSS_SIGMOID, &p, NULL, &b);
    expect_error(ANC_ERR_NUMERIC, "pair 3", ANC_LOSS_ORPO, &p, NULL, &b);
    expect_error(ANC_ERR_NUMERIC, "row 3", ANC_LOSS_KTO, &p, NULL, &b);
    b = ok, b.ref_rejected_logp = inf;
    expect_error(ANC_ERR_NUMERIC, "pair 1: ref_rejected_logp", ANC_LOSS_APO_ZERO, &p, NULL, &b);
    b = ok, b.kl_logp = inf;
    expect_error(ANC_ERR_NUMERIC, "row 1: kl_logp", ANC_LOSS_KTO, &p, NULL, &b);
    b = ok, b.prompt_logp = bad;
    expect_error(ANC_ERR_NUMERIC, "pair 3: prompt_logp", ANC_LOSS_ORPO, &p, NULL, &b);
    /* missing reference arrays for every reference-based objective */
    for (int t = 0; t < ANC_LOSS__COUNT; t++) {
        if (!anc_loss_needs_ref((anc_loss_type)t)) continue;
        anc_loss_state s = {0};
        b = ok, b.ref_chosen_logp = NULL;
        expect_error(ANC_ERR_INVALID, "ref_chosen_logp is missing", (anc_loss_type)t, &p, &s, &b);
        if (!anc_loss_is_unpaired((anc_loss_type)t)) {
            b = ok, b.ref_rejected_logp = NULL;
            expect_error(ANC_ERR_INVALID, "ref_rejected_logp is missing", (anc_loss_type)t, &p, &s, &b);
        }
    }
    /* reference-free objectives need none */
    b = ok, b.ref_chosen_logp = b.ref_rejected_logp = NULL;
    anc_loss_out out;
    anc_error err = {0};
    for (anc_loss_type t = ANC_LOSS_SFT; t <= ANC_LOSS_ORPO; t++)
        TU_CHECK(anc_loss_compute(t, &p, NULL, &b, 1.0, &out, NULL, NULL, &err), &err);
    b = ok, b.rejected_logp = NULL;
    expect_error(ANC_ERR_INVALID, "rejected_logp is missing", ANC_LOSS_SIGMOID, &p, NULL, &b);
    b = ok, b.prompt_logp = NULL;
    expect_error(ANC_ERR_INVALID, "prompt_logp is missing", ANC_LOSS_ORPO, &p, NULL, &b);
    b = ok, b.label = NULL;
    expect_error(ANC_ERR_INVALID, "label", ANC_LOSS_APO_ZERO_UNPAIRED, &p, NULL, &b);
    b = ok, b.kl_logp = NULL;
    expect_error(ANC_ERR_INVALID, "kl_logp", ANC_LOSS_KTO, &p, NULL, &b);
    b = ok, b.rejected_len = zlen;
    expect_error(ANC_ERR_INVALID, "pair 2: rejected_len", ANC_LOSS_IPO, &p, NULL, &b);
    b = ok, b.chosen_len = NULL;
    expect_error(ANC_ERR_INVALID, "chosen_len", ANC_LOSS_SFT, &p, NULL, &b);
    b = ok, b.n = 0;
    expect_error(ANC_ERR_INVALID, "empty", ANC_LOSS_SIGMOID, &p, NULL, &b);
    /* orpo: an average log-prob of 0 has no odds */
    float zero[N] = {-1, -1, 0, -1, -1};
    b = ok, b.rejected_logp = zero;
    expect_error(ANC_ERR_NUMERIC, "pair 2", ANC_LOSS_ORPO, &p, NULL, &b);
    /* bco_pair needs its state, and a failed call leaves it alone */
    expect_error(ANC_ERR_INVALID, "state", ANC_LOSS_BCO_PAIR, &p, NULL, &ok);
    anc_loss_state s = {0.25, 7};
    b = ok, b.chosen_logp = bad;
    expect_error(ANC_ERR_NUMERIC, "pair 3", ANC_LOSS_BCO_PAIR, &p, &s, &b);
    assert_true(s.bco_running_mean == 0.25 && s.bco_count == 7);
    /* bad parameters */
    anc_loss_params q = p;
    q.beta = 0;
    expect_error(ANC_ERR_INVALID, "beta", ANC_LOSS_SIGMOID, &q, NULL, &ok);
    q = p, q.label_smoothing = 0.5;
    expect_error(ANC_ERR_INVALID, "0.5", ANC_LOSS_ROBUST, &q, NULL, &ok);
    q = p, q.discopop_tau = 0;
    expect_error(ANC_ERR_INVALID, "tau", ANC_LOSS_DISCOPOP, &q, NULL, &ok);
    expect_error(ANC_ERR_INVALID, "unknown", (anc_loss_type)ANC_LOSS__COUNT, &p, NULL, &ok);
    /* a gradient beyond float range is reported, not passed on */
    float huge[1] = {3e38f}, nhuge[1] = {-3e38f};
    b = ok, b.n = 1, b.chosen_logp = huge, b.ref_chosen_logp = nhuge;
    expect_error(ANC_ERR_NUMERIC, "pair 0: gradient", ANC_LOSS_SPPO_HARD, &p, NULL, &b);
    /* discopop far in its exponential tail stays finite (TRL's float32 gives NaN there) */
    float far[N] = {-9000, -9000, -9000, -9000, -9000};
    b = ok, b.chosen_logp = far;
    q = p, q.beta = 1.0;
    TU_CHECK(anc_loss_compute(ANC_LOSS_DISCOPOP, &q, NULL, &b, 1.0, &out, NULL, NULL, &err), &err);
    assert_true(isfinite(out.loss) && out.loss > 8000);
}

static void test_names(void **st) {
    (void)st;
    for (int t = 0; t < ANC_LOSS__COUNT; t++) {
        const char *nm = anc_loss_name((anc_loss_type)t);
        assert_non_null(nm);
        assert_int_equal(anc_loss_from_name(nm), t);
    }
    assert_int_equal(anc_loss_from_name("dpo"), ANC_LOSS_SIGMOID);
    assert_int_equal(anc_loss_from_name("aot_unpaired"), ANC_LOSS_AOT_PAIR);
    assert_int_equal(anc_loss_from_name("nope"), -1);
    assert_int_equal(anc_loss_from_name(NULL), -1);
    assert_null(anc_loss_name(ANC_LOSS__COUNT));
    assert_true(anc_loss_needs_ref(ANC_LOSS_APO_ZERO) && anc_loss_needs_ref(ANC_LOSS_KTO));
    assert_false(anc_loss_needs_ref(ANC_LOSS_ORPO) || anc_loss_needs_ref(ANC_LOSS_SFT));
    assert_true(anc_loss_is_unpaired(ANC_LOSS_KTO) && anc_loss_is_unpaired(ANC_LOSS_APO_ZERO_UNPAIRED));
    assert_false(anc_loss_is_unpaired(ANC_LOSS_SIGMOID));
    assert_true(anc_loss_is_batch_coupled(ANC_LOSS_AOT) && anc_loss_is_batch_coupled(ANC_LOSS_BCO_PAIR));
    assert_false(anc_loss_is_batch_coupled(ANC_LOSS_APO_ZERO));
    anc_loss_params p;
    anc_loss_params_default(&p);
    assert_true(p.beta == 0.1 && p.label_smoothing == 0 && p.simpo_gamma == 0.5 && p.cpo_alpha == 1.0);
    assert_true(p.discopop_tau == 0.05 && p.desirable_weight == 1.0 && p.undesirable_weight == 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_cases),    cmocka_unit_test(test_model_fixture_losses),
        cmocka_unit_test(test_fresh_identities), cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_scale),            cmocka_unit_test(test_errors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
