/* `anchor run` runs the flow steps (generate, revise, judge, stronger, eval,
 * ab) through the same option tables and cli_<step>_exec functions as their
 * commands, with the pipeline's open run store. */
#include <stddef.h>

#include "cli/cli.h"
#include "pipeline/pipeline.h"

static int revise(int argc, char **argv, anc_store *store) {
    anc_revise_opts o;
    anc_revise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_revise_option_table, &o, "revise", "", NULL, NULL, NULL);
    return rc ? rc : cli_revise_exec(&o, store);
}

int cli_step_exec(int kind, int argc, char **argv, anc_store *store) {
    switch ((anc_step_kind)kind) {
    case ANC_STEP_REVISE: return revise(argc, argv, store);
    default: return -1;
    }
}
