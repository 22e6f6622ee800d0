/* anchor ab: compares system A with system B on the same prompts
 * (flow/ab.h does the work; this prints its summary as a table or JSON). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_summary.h"
#include "core/blas.h"

/* The progress lines of ab keep their labels: "model A" and then "model B"
 * while the two models generate ("responses"), "ab" while the judge answers
 * ("prompts"). A line ends where the next phase begins: another unit, or a
 * report of 0 done after the previous phase reached its total. */
typedef struct ab_hooks {
    cli_hooks h;      /* first member: h.hooks.ctx (&h) is also the ab_hooks */
    int sides;        /* generation phases begun */
    size_t last_done, last_total;
} ab_hooks;

static void ab_progress(void *ctx, const anc_flow_progress *p) {
    ab_hooks *a = ctx;
    cli_hooks *h = &a->h;
    const char *unit = p->unit ? p->unit : "items";
    if (!h->started || strcmp(h->prog.unit, unit) || (p->done == 0 && a->last_done == a->last_total)) {
        cli_hooks_done(h);
        const char *label = strcmp(unit, "responses") ? h->cmd : a->sides++ ? "model B" : "model A";
        cli_progress_init(&h->prog, label, unit);
        h->started = 1;
        a->last_done = p->done;
        a->last_total = p->total;
        if (p->done == 0) return; /* the clock starts; nothing is drawn yet */
    }
    a->last_done = p->done;
    a->last_total = p->total;
    h->prog.failures = p->failed;
    cli_progress_cb(&h->prog, p->done, p->total, p->tokens);
}

static json_t *summary_json(const anc_ab_opts *o, const anc_ab_result *r) {
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:[f,f], s:[f,f], s:I, s:f, s:f}", "method",
                          r->graded ? "grader" : "judge", "n", (json_int_t)r->n, "wins", (json_int_t)r->wins, "ties",
                          (json_int_t)r->ties, "losses", (json_int_t)r->losses, "failed", (json_int_t)r->failed,
                          "win_rate", r->win_rate, "wilson_95", r->wilson_lo, r->wilson_hi, "bootstrap_95",
                          r->bootstrap_lo, r->bootstrap_hi, "unmatched", (json_int_t)r->unmatched, "mean_chars_a",
                          r->mean_chars_a, "mean_chars_b", r->mean_chars_b);
    if (r->graded) {
        json_object_set_new(j, "grader", json_string(r->grader));
        json_object_set_new(j, "mean_score_a", json_real(r->mean_score_a));
        json_object_set_new(j, "mean_score_b", json_real(r->mean_score_b));
    } else {
        json_object_set_new(j, "position_consistency", json_real(r->consistency));
        json_object_set_new(j, "judge", json_string(r->judge));
    }
    json_object_set_new(j, "bootstrap_resamples", json_integer(o->resamples));
    json_object_set_new(j, "bootstrap_seed", json_integer(o->bootstrap_seed));
    return j;
}

static void print_table(const anc_ab_opts *o, const anc_ab_result *r) {
    printf("A vs B over %zu prompts (%s)\n", r->n, r->graded ? r->grader : "judge, both orders");
    printf("  %-22s %zu / %zu / %zu\n", "wins / ties / losses", r->wins, r->ties, r->losses);
    printf("  %-22s %.4f\n", "win rate (A)", r->win_rate);
    printf("  %-22s [%.4f, %.4f]\n", "Wilson 95%", r->wilson_lo, r->wilson_hi);
    printf("  %-22s [%.4f, %.4f]  (%ld resamples, seed %ld)\n", "bootstrap 95%", r->bootstrap_lo, r->bootstrap_hi,
           o->resamples, o->bootstrap_seed);
    if (!r->graded) printf("  %-22s %.4f\n", "position consistency", r->consistency);
    else printf("  %-22s %.4f / %.4f\n", "mean score A / B", r->mean_score_a, r->mean_score_b);
    printf("  %-22s %.1f / %.1f\n", "mean chars A / B", r->mean_chars_a, r->mean_chars_b);
    if (r->failed) printf("  %-22s %zu (excluded; rerun to retry)\n", "failed", r->failed);
    if (r->unmatched) printf("  %-22s %zu\n", "unmatched rows", r->unmatched);
}

static json_t *num_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

/* The leaderboard (--system) as JSON: {"systems": [...], ...}. */
static json_t *lb_json(const anc_ab_opts *o, const anc_ab_result *r) {
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_systems; i++) {
        const anc_ab_system *s = &r->systems[i];
        json_t *wr = json_object();
        for (size_t j = 0; j < r->n_systems; j++) {
            const anc_ab_system *t = &r->systems[j];
            if (t->index != s->index) json_object_set_new(wr, t->name, num_or_null(s->win_rate[t->index]));
        }
        json_t *ci = s->rated ? json_pack("[o,o]", num_or_null(s->ci_lo), num_or_null(s->ci_hi)) : json_null();
        json_array_append_new(arr, json_pack("{s:o, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "rank",
                                             s->rated ? json_integer((json_int_t)i + 1) : json_null(), "system", s->name,
                                             "rating", s->rated ? json_real(s->rating) : json_null(), "ci_95", ci,
                                             "comparisons", (json_int_t)s->comparisons, "wins", (json_int_t)s->wins,
                                             "ties", (json_int_t)s->ties, "losses", (json_int_t)s->losses, "win_rate", wr));
    }
    json_t *j = json_pack("{s:o, s:s, s:I, s:I, s:I, s:b}", "systems", arr, "method", r->graded ? "grader" : "judge",
                          "prompts", (json_int_t)r->prompts, "comparisons", (json_int_t)r->comparisons, "failed",
                          (json_int_t)r->failed, "regularized", r->regularized);
    json_object_set_new(j, r->graded ? "grader" : "judge", json_string(r->graded ? r->grader : r->judge));
    json_object_set_new(j, "bootstrap_resamples", json_integer(o->resamples));
    json_object_set_new(j, "bootstrap_seed", json_integer(o->bootstrap_seed));
    return j;
}

/* The leaderboard as a table sorted by rating, with the win rate of each
 * row's system against each column's. */
static void print_lb_table(const anc_ab_opts *o, const anc_ab_result *r) {
    printf("leaderboard of %zu systems over %zu prompts, %zu comparisons (%s)\n", r->n_systems, r->prompts,
           r->comparisons, r->graded ? r->grader : "judge, both orders");
    printf("  Bradley-Terry rating 1000 + 400 log10(strength / geometric mean); bootstrap 95%% over prompts "
           "(%ld resamples, seed %ld)%s\n",
           o->resamples, o->bootstrap_seed, r->regularized ? "; one virtual tie per compared pair" : "");
    printf("  %-4s %-16s %8s %-19s %11s  win rate vs:", "rank", "system", "rating", "95% CI", "comparisons");
    for (size_t j = 0; j < r->n_systems; j++) printf(" %8.8s", r->systems[j].name);
    printf("\n");
    for (size_t i = 0; i < r->n_systems; i++) {
        const anc_ab_system *s = &r->systems[i];
        if (s->rated) printf("  %-4zu %-16s %8.1f [%7.1f, %7.1f] %11zu  %12s", i + 1, s->name, s->rating, s->ci_lo,
                             s->ci_hi, s->comparisons, "");
        else printf("  %-4s %-16s %8s %-19s %11zu  %12s", "-", s->name, "-", "-", s->comparisons, "");
        for (size_t j = 0; j < r->n_systems; j++) {
            double w = s->win_rate[r->systems[j].index];
            if (j == i || isnan(w)) printf(" %8s", "-");
            else printf(" %8.3f", w);
        }
        printf("\n");
    }
    if (r->failed) printf("  %-22s %zu (excluded; rerun to retry)\n", "failed comparisons", r->failed);
}

int cli_ab_exec(const anc_ab_opts *o, anc_store *store) {
    ab_hooks a;
    memset(&a, 0, sizeof a);
    cli_hooks_init(&a.h, "ab");
    a.h.hooks.progress = ab_progress;
    if (o->bf16 && o->model_a) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    anc_ab_result res;
    anc_error err = {0};
    anc_status st = anc_ab_run(o, store, &a.h.hooks, &res, &err);
    cli_hooks_done(&a.h);
    if (res.judged)
        fprintf(stderr, "anchor ab: judge requests sent %zu, reused from the store %zu\n", res.stats.sent,
                res.stats.cached);
    if (!st && o->summary)
        st = cli_write_summary(o->summary, o->systems.n ? lb_json(o, &res) : summary_json(o, &res), &err);
    int code = st ? cli_fail("ab", &err) : 0;
    if (!st && o->json) cli_print_json(o->systems.n ? lb_json(o, &res) : summary_json(o, &res));
    else if (!st && o->systems.n) print_lb_table(o, &res);
    else if (!st) print_table(o, &res);
    anc_ab_result_free(&res);
    return code;
}

int cmd_ab(int argc, char **argv) {
    anc_ab_opts o;
    anc_ab_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_ab_option_table, &o, "ab",
                             "(--a A.jsonl --b B.jsonl | --model-a DIR --model-b DIR --prompts FILE | --system NAME=FILE "
                             "--system NAME=FILE...) (--judge SPEC | --grader G) [options]",
                             "Compares system A with system B on the same prompts. A judge sees every prompt in both\n"
                             "orders (an inconsistent pair of verdicts counts as a tie); a grader scores both\n"
                             "responses and the higher score wins. Reports wins/ties/losses for A, the win rate\n"
                             "(wins + ties/2)/n with a 95% Wilson interval of wins + 0.5 ties out of n and a paired\n"
                             "bootstrap 95% interval (percentile method), position consistency and mean lengths.\n"
                             "With --system (N >= 2), a leaderboard: every pair of systems on every prompt (or\n"
                             "--pairs-per-prompt random pairs), Bradley-Terry ratings with bootstrap 95% intervals.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    anc_error err = {0};
    if (anc_ab_opts_check(&o, NULL, &err)) return cli_usage_error("ab", "%s", err.message);
    return cli_ab_exec(&o, NULL);
}
