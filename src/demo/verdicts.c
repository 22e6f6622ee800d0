/* The demo's verdicts (verdicts.h). */
#include "demo/verdicts.h"

#include <stdlib.h>
#include <string.h>

#include "eval/stats.h"

#define RESAMPLES 10000

/* How the table names a dataset or objective key. */
static const char *short_name(const char *key) {
    static const char *const map[][2] = {{"clair", "CLAIR"},       {"stronger", "stronger-preferred"},
                                         {"judge", "judge pairs"}, {"sft", "SFT"},
                                         {"apo_zero", "APO-zero"}, {"apo_down", "APO-down"},
                                         {"sigmoid", "DPO"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i][0], key)) return map[i][1];
    return key;
}

static int index_of(const char *const *keys, int n, const char *k) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], k)) return i;
    return -1;
}

/* A comparison: cell (ds_a, obj_a) against (ds_b, obj_b). */
typedef struct comparison {
    const char *a, *b;   /* what differs: two datasets, or two objectives */
    const char *within;  /* what is shared: the objective, or the dataset */
    int by_dataset;      /* 1: a, b are datasets under objective `within` */
} comparison;

static const comparison COMPARISONS[] = {
    {"clair", "stronger", "sft", 1},     {"clair", "stronger", "apo_zero", 1}, {"clair", "stronger", "apo_down", 1},
    {"clair", "stronger", "sigmoid", 1}, {"clair", "judge", "sft", 1},         {"clair", "judge", "apo_zero", 1},
    {"clair", "judge", "apo_down", 1},   {"clair", "judge", "sigmoid", 1},     {"apo_zero", "sigmoid", "clair", 0},
    {"apo_zero", "sft", "clair", 0},     {"apo_zero", "apo_down", "clair", 0},
};

/* The seeds x prompts matrix of one cell (row s: run s). */
static void cell_matrix(const anc_demo_grid *g, int ds, int obj, double *m) {
    for (int s = 0; s < g->seeds; s++)
        memcpy(m + (size_t)s * g->prompts, g->solved[(ds * g->n_obj + obj) * g->seeds + s], g->prompts * sizeof *m);
}

anc_status anc_demo_verdicts(const anc_demo_grid *g, FILE *md, json_t *j, anc_error *err) {
    size_t cells = (size_t)g->seeds * g->prompts;
    double *a = malloc((cells ? cells : 1) * sizeof *a), *b = malloc((cells ? cells : 1) * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    fprintf(md,
            "\nVerdicts: paired difference in held-out solved rate (points), 95%% interval from a bootstrap over\n"
            "the %zu prompts and the %d seed%s (%d resamples); better / worse when the interval excludes 0\n\n"
            "| comparison                                   | difference |  95%% interval | verdict             |\n"
            "|----------------------------------------------|-----------:|---------------:|---------------------|\n",
            g->prompts, g->seeds, g->seeds == 1 ? "" : "s", RESAMPLES);
    anc_status st = ANC_OK;
    for (size_t i = 0; !st && i < sizeof COMPARISONS / sizeof *COMPARISONS; i++) {
        const comparison *c = &COMPARISONS[i];
        const char *const *set = c->by_dataset ? g->ds_keys : g->obj_keys;
        int n_set = c->by_dataset ? g->n_ds : g->n_obj;
        int ia = index_of(set, n_set, c->a), ib = index_of(set, n_set, c->b);
        int iw = c->by_dataset ? index_of(g->obj_keys, g->n_obj, c->within) : index_of(g->ds_keys, g->n_ds, c->within);
        if (ia < 0 || ib < 0 || iw < 0 || !g->prompts) continue;
        cell_matrix(g, c->by_dataset ? ia : iw, c->by_dataset ? iw : ia, a);
        cell_matrix(g, c->by_dataset ? ib : iw, c->by_dataset ? iw : ib, b);
        double diff, lo, hi;
        if ((st = anc_bootstrap_diff_ci(a, b, (size_t)g->seeds, g->prompts, RESAMPLES, 0, 0.05, &diff, &lo, &hi, err)))
            break;
        const char *verdict = lo > 0 ? "better" : hi < 0 ? "worse" : "not distinguishable";
        char label[160];
        snprintf(label, sizeof label, "%s vs %s, %s %s", short_name(c->a), short_name(c->b),
                 c->by_dataset ? "under" : "on", short_name(c->within));
        fprintf(md, "| %-44.44s | %+10.1f | [%+5.1f, %+5.1f] | %-19s |\n", label, 100 * diff, 100 * lo, 100 * hi, verdict);
        char key[160];
        snprintf(key, sizeof key, "verdict.%s_vs_%s.%s", c->a, c->b, c->within);
        json_t *v = json_pack("{s:f, s:f, s:f, s:s}", "diff", diff, "lo", lo, "hi", hi, "verdict", verdict);
        if (!v || json_object_set_new(j, key, v)) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    free(a);
    free(b);
    return st;
}
