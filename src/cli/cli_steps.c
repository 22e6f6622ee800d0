/* `anchor run` runs the flow steps (generate, revise, judge, stronger, eval,
 * ab) through the same option tables and cli_<step>_exec functions as their
 * commands, with the pipeline's open run store. argv is what
 * anc_pipeline_argv built (argv[0] the subcommand); its usage checks are the
 * commands' own. */
#include <stddef.h>

#include "cli/cli.h"
#include "pipeline/pipeline.h"

static int revise(int argc, char **argv, anc_store *store) {
    anc_revise_opts o;
    anc_revise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_revise_option_table, &o, "revise", "", NULL, NULL, NULL);
    return rc ? rc : cli_revise_exec(&o, store);
}

static int judge(int argc, char **argv, anc_store *store) {
    anc_judge_opts o;
    anc_judge_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_judge_option_table, &o, "judge", "", NULL, NULL, NULL);
    return rc ? rc : cli_judge_exec(&o, store);
}

/* argv[0] is "pairs" and argv[1] "stronger" (anc_pipeline_argv) */
static int stronger(int argc, char **argv, anc_store *store) {
    anc_stronger_opts o;
    anc_stronger_opts_init(&o);
    int rc = cli_parse_table(argc - 1, argv + 1, anc_stronger_option_table, &o, "pairs stronger", "", NULL, NULL, NULL);
    return rc ? rc : cli_stronger_exec(&o, store);
}

static int generate(int argc, char **argv) {
    anc_generate_opts o;
    anc_generate_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_generate_option_table, &o, "generate", "", NULL, NULL, NULL);
    return rc ? rc : cli_generate_exec(&o);
}

static int ab(int argc, char **argv, anc_store *store) {
    anc_ab_opts o;
    anc_ab_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_ab_option_table, &o, "ab", "", NULL, NULL, NULL);
    if (rc) return rc;
    anc_error err = {0};
    if (anc_ab_opts_check(&o, store, &err)) return cli_usage_error("ab", "%s", err.message);
    return cli_ab_exec(&o, store);
}

static int advise(int argc, char **argv, anc_store *store) {
    anc_advise_opts o;
    anc_advise_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_advise_option_table, &o, "advise", "", NULL, NULL, NULL);
    return rc ? rc : cli_advise_exec(&o, store);
}

/* eval keeps no store; the flow checks its options itself */
static int eval(int argc, char **argv) {
    anc_eval_opts o;
    anc_eval_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_eval_option_table, &o, "eval", "", NULL, NULL, NULL);
    return rc ? rc : cli_eval_exec(&o);
}

int cli_step_exec(int kind, int argc, char **argv, anc_store *store) {
    switch ((anc_step_kind)kind) {
    case ANC_STEP_GENERATE: return generate(argc, argv);
    case ANC_STEP_REVISE: return revise(argc, argv, store);
    case ANC_STEP_JUDGE: return judge(argc, argv, store);
    case ANC_STEP_STRONGER: return stronger(argc, argv, store);
    case ANC_STEP_EVAL: return eval(argc, argv);
    case ANC_STEP_AB: return ab(argc, argv, store);
    case ANC_STEP_ADVISE: return advise(argc, argv, store);
    default: return -1;
    }
}
