/* anchor revise: CLAIR pairs (flow/revise.h does the work). */
#include "cli/cli.h"

int cli_revise_exec(const anc_revise_opts *o, anc_store *store) {
    cli_hooks h;
    cli_hooks_init(&h, "revise");
    anc_items_result res;
    anc_error err = {0};
    anc_status st = anc_revise_run(o, store, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    int code = st ? cli_fail("revise", &err) : cli_items_result("revise", o->out, &res, NULL);
    anc_items_result_free(&res);
    return code;
}

int cmd_revise(int argc, char **argv) {
    anc_revise_opts o;
    anc_revise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_revise_option_table, &o, "revise",
                             "--input FILE --reviser SPEC --out pairs.jsonl [options]",
                             "Asks the reviser to minimally improve each draft (design 1.2) and writes pairs with\n"
                             "chosen = revision, rejected = draft. A reply without a usable marker is a recorded failure.\n"
                             "Rerunning the same command resumes: finished items are skipped, failed ones retried, stored\n"
                             "replies reused; a rerun with other reviser settings is refused (see --fresh). Several runs\n"
                             "on one store split the items. Exit 3: every item failed.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.input || !o.out || !o.llm.spec) return cli_usage_error("revise", "--input, --out and --reviser are required");
    return cli_revise_exec(&o, NULL);
}
