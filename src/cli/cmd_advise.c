/* anchor advise: which APO variant fits a dataset for a start model
 * (flow/advise.h does the work; this prints the verdict as a table or
 * JSON). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "flow/advise.h"

/* The progress lines keep their phases apart: "advise model" while the
 * model answers ("responses"), "advise" while the judge answers
 * ("prompts"); a line ends where the next unit begins. */
typedef struct advise_hooks {
    cli_hooks h; /* first member: h.hooks.ctx (&h) is also the advise_hooks */
} advise_hooks;

static void advise_progress(void *ctx, const anc_flow_progress *p) {
    advise_hooks *a = ctx;
    cli_hooks *h = &a->h;
    const char *unit = p->unit ? p->unit : "items";
    if (!h->started || strcmp(h->prog.unit, unit)) {
        cli_hooks_done(h);
        cli_progress_init(&h->prog, strcmp(unit, "responses") ? h->cmd : "advise model", unit);
        h->started = 1;
        if (p->done == 0) return; /* the clock starts; nothing is drawn yet */
    }
    h->prog.failures = p->failed;
    cli_progress_cb(&h->prog, p->done, p->total, p->tokens);
}

static void print_table(const anc_advise_opts *o, const anc_advise_result *r) {
    const anc_ab_result *a = &r->ab;
    printf("advisor: %s (%s)\n", r->recommendation, r->confident ? "confident" : "weak evidence");
    printf("  model vs chosen over %zu prompts (%zu sampled of %zu distinct; %s%s)\n", a->n, r->sampled, r->prompts,
           a->graded ? "grader " : "judge, both orders: ", a->graded ? a->grader : a->judge);
    printf("  %-22s %zu / %zu / %zu\n", "wins / ties / losses", a->wins, a->ties, a->losses);
    printf("  %-22s %.4f\n", "win rate (model)", a->win_rate);
    printf("  %-22s [%.4f, %.4f]\n", "Wilson 95%", a->wilson_lo, a->wilson_hi);
    printf("  %-22s [%.4f, %.4f]  (%ld resamples, seed %ld)\n", "bootstrap 95%", a->bootstrap_lo, a->bootstrap_hi,
           o->resamples, o->bootstrap_seed);
    if (a->graded) printf("  %-22s %.4f / %.4f\n", "mean score model/chosen", a->mean_score_a, a->mean_score_b);
    else printf("  %-22s %.4f\n", "position consistency", a->consistency);
    if (a->failed) printf("  %-22s %zu (excluded; rerun to retry)\n", "failed", a->failed);
    printf("  rule: %s\n", r->rule);
}

int cli_advise_exec(const anc_advise_opts *o, anc_store *store) {
    advise_hooks a;
    memset(&a, 0, sizeof a);
    cli_hooks_init(&a.h, "advise");
    a.h.hooks.progress = advise_progress;
    if (o->bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    anc_advise_result res;
    anc_error err = {0};
    anc_status st = anc_advise_run(o, store, &a.h.hooks, &res, &err);
    cli_hooks_done(&a.h);
    if (res.ab.judged)
        fprintf(stderr, "anchor advise: judge requests sent %zu, reused from the store %zu\n", res.ab.stats.sent,
                res.ab.stats.cached);
    int code = st ? cli_fail("advise", &err) : 0;
    if (!st && o->json) {
        json_t *j = anc_advise_result_json(&res);
        if (j) cli_print_json(j);
        else code = cli_fail("advise", (anc_error_set(&err, ANC_ERR_NOMEM, "out of memory"), &err));
    } else if (!st) {
        print_table(o, &res);
    }
    anc_advise_result_free(&res);
    return code;
}

int cmd_advise(int argc, char **argv) {
    anc_advise_opts o;
    anc_advise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_advise_option_table, &o, "advise",
                             "--model DIR --data PAIRS (--judge SPEC | --grader G) [--samples N] [--out FILE] [options]",
                             "The anchoring advisor: which APO variant fits these pairs for this start model. Samples\n"
                             "the model on a seeded random subset of the distinct prompts and compares each answer\n"
                             "with the row's chosen answer as `anchor ab` does: a judge in both orders (through the run\n"
                             "store, so a rerun asks nothing twice) or a grader against the row's reference.\n"
                             "Rule: w = model-vs-chosen win rate (ties half); apo_down when w > 0.5 (the model already\n"
                             "beats the chosen answers), else apo_zero; confident when both 95% intervals of w\n"
                             "(Wilson, paired bootstrap) exclude 0.5, else weak evidence.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    anc_error err = {0};
    if (anc_advise_opts_check(&o, NULL, &err)) return cli_usage_error("advise", "%s", err.message);
    return cli_advise_exec(&o, NULL);
}
