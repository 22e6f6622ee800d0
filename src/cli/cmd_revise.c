/* anchor revise: CLAIR pairs (flow/revise.h does the work). */
#include <stdio.h>

#include "cli/cli.h"

/* The routing block: what the check decided over the step's finished
 * items, and the reviser calls that cost or saved. */
static void print_route(const anc_revise_opts *o, const anc_revise_route *r) {
    fprintf(stderr, "anchor revise: route %s: %zu drafts checked, %zu passed (%s), %zu sent to the reviser", r->check,
            r->checked, r->passed_draft, o->route_drop ? "dropped" : "written as identical pairs", r->routed);
    if (r->routed) {
        fprintf(stderr, "; revised per round:");
        for (size_t k = 0; k < r->rounds; k++) fprintf(stderr, "%s %zu", k ? "," : "", r->revised[k]);
        fprintf(stderr, "; %zu pass after revision, %zu still fail%s", r->passed_revised, r->still_failing,
                r->still_failing ? " (kept, marked \"passed\": false)" : "");
    }
    fprintf(stderr, "\nanchor revise: route %s: reviser calls %zu, calls saved %zu", r->check, r->reviser_calls,
            r->calls_saved);
    if (r->check_requests)
        fprintf(stderr, "; check requests %zu (sent now %zu, reused from the store %zu)", r->check_requests,
                r->check_stats.sent, r->check_stats.cached);
    fputc('\n', stderr);
}

int cli_revise_exec(const anc_revise_opts *o, anc_store *store) {
    cli_hooks h;
    cli_hooks_init(&h, "revise");
    anc_revise_result res;
    anc_error err = {0};
    anc_status st = anc_revise_run(o, store, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    int code = st ? cli_fail("revise", &err) : cli_items_result("revise", o->out, &res.items, NULL);
    if (!st && res.route.used) print_route(o, &res.route);
    anc_revise_result_free(&res);
    return code;
}

int cmd_revise(int argc, char **argv) {
    anc_revise_opts o;
    anc_revise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_revise_option_table, &o, "revise",
                             "--input FILE --reviser SPEC --out pairs.jsonl [--route SPEC [--max-rounds K]] [options]",
                             "Asks the reviser to minimally improve each draft (design 1.2) and writes pairs with\n"
                             "chosen = revision, rejected = draft. A reply without a usable marker is a recorded failure.\n"
                             "Rerunning the same command resumes: finished items are skipped, failed ones retried, stored\n"
                             "replies reused; a rerun with other reviser settings is refused (see --fresh). Several runs\n"
                             "on one store split the items. Exit 3: every item failed.\n"
                             "\n"
                             "--route SPEC checks each draft first: grader:exact|regex|numeric|exec:CMD scores it against\n"
                             "the row's reference (pass: score >= --route-threshold; an exec grader may print\n"
                             "{\"score\": N, \"feedback\": \"text\"}), judge:BACKEND asks a checker whose reply ends with\n"
                             "VERDICT: PASS or VERDICT: FAIL. Passing drafts are not sent: they are written as identical\n"
                             "pairs (source route-pass) or dropped (--route-drop). Each revision is checked too; with\n"
                             "--max-rounds K one that still fails goes back to the reviser with the check's feedback, up\n"
                             "to K revisions; one failing after K is kept, marked \"route\": {\"passed\": false}. Every\n"
                             "record then carries \"route\": {check, passed_draft, rounds, passed}; counts and the calls\n"
                             "saved are printed and kept in the run store.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.input || !o.out || !o.llm.spec) return cli_usage_error("revise", "--input, --out and --reviser are required");
    if (!o.route && (o.max_rounds != 1 || o.route_drop || o.feedback_template || o.route_template || o.route_model))
        return cli_usage_error("revise", "--max-rounds, --route-drop, --feedback-template, --route-template and "
                                         "--route-model need --route SPEC");
    return cli_revise_exec(&o, NULL);
}
