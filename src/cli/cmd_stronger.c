/* anchor pairs stronger: the stronger-preferred baseline (flow/stronger.h
 * does the work). */
#include "cli/cli.h"

int cli_stronger_exec(const anc_stronger_opts *o, anc_store *store) {
    cli_hooks h;
    cli_hooks_init(&h, "pairs stronger");
    anc_items_result res;
    anc_error err = {0};
    anc_status st = anc_stronger_run(o, store, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    int code = st ? cli_fail("pairs stronger", &err) : cli_items_result("pairs stronger", o->out, &res, NULL);
    anc_items_result_free(&res);
    return code;
}

int cmd_pairs_stronger(int argc, char **argv) {
    anc_stronger_opts o;
    anc_stronger_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_stronger_option_table, &o, "pairs stronger",
                             "--input drafts.jsonl --stronger SPEC --out pairs.jsonl [options]",
                             "The stronger model answers each prompt from scratch (the paper's 'stronger preferred' "
                             "baseline).",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.input || !o.out || !o.llm.spec)
        return cli_usage_error("pairs stronger", "--input, --out and --stronger are required");
    return cli_stronger_exec(&o, NULL);
}
