/* Shared pieces of the anchor command-line program: option parsing, usage
 * text, error printing and the progress line. One file per subcommand
 * (cmd_*.c); main.c only dispatches. */
#ifndef ANCHOR_CLI_CLI_H
#define ANCHOR_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/error.h"
#include "flow/flow.h"
#include "flow/llm_step.h"
#include "flow/options.h"
#include "flow/ab.h"
#include "flow/advise.h"
#include "flow/eval.h"
#include "flow/generate.h"
#include "flow/judge.h"
#include "flow/revise.h"
#include "flow/stronger.h"

/* Option kinds are the library's (flow/options.h): OPT_INT any integer that
 * fits a long (seeds); OPT_COUNT a count or size, 0..INT_MAX, so
 * "--max-steps -3" and "--max-new-tokens 99999999999" are refused instead
 * of wrapping. Both store a long. */
typedef anc_option_type cli_opt_kind;
#define OPT_STR ANC_OPT_STR
#define OPT_INT ANC_OPT_INT
#define OPT_COUNT ANC_OPT_COUNT
#define OPT_FLOAT ANC_OPT_FLOAT
#define OPT_FLAG ANC_OPT_FLAG
#define OPT_LIST ANC_OPT_LIST

/* Values of a repeatable option (OPT_LIST): "--loss-type a --loss-type b"
 * or "--loss-type a,b". Values from a config file (or the table's default)
 * are replaced, not extended, by values on the command line. */
#define CLI_LIST_MAX ANC_OPT_LIST_MAX
typedef anc_opt_list cli_list;

typedef struct cli_opt {
    const char *name;      /* "model" for --model; '_' and '-' are interchangeable */
    cli_opt_kind kind;
    void *dest;            /* const char **, long *, double *, int *, cli_list * */
    const char *metavar;   /* "DIR" */
    const char *help;
} cli_opt;

/* Parses v as the integer value of o (OPT_INT or OPT_COUNT) into *out.
 * Returns NULL, or what is wrong ("an integer", "at most 2147483647",
 * "at least 0") for the caller's message. */
const char *cli_parse_int(const cli_opt *o, const char *v, long *out);

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;     /* "--model DIR --data FILE [options]" */
    int (*run)(int argc, char **argv);
} cli_command;

/* Parses argv[1..] (argv[0] is the subcommand) against opts. Positional
 * arguments are collected in *pos (may be NULL: then none allowed).
 * Returns 0 on success, 1 after printing --help, 2 on a usage error
 * (message printed). */
int cli_parse(int argc, char **argv, const cli_opt *opts, const char *cmd, const char *usage,
              const char *description, char ***pos, int *n_pos);
/* Parses argv[1..] against the option table t of a library step, storing
 * into base (an options struct the caller initialised with its defaults); a
 * "config" row reads --config FILE.yaml first so that flags override it.
 * Positional arguments go to *pos (malloc'd array, caller frees; n_pos set)
 * when pos is non-NULL, else are refused; the table's ANC_OPT_POSITIONAL row
 * names them for the pipeline and is no flag. Returns 0, 1 after printing
 * --help, 2 after a usage error. Strings are borrowed from argv (or kept
 * for the life of the process, from a config file). */
int cli_parse_table(int argc, char **argv, const anc_option *t, void *base, const char *cmd, const char *usage,
                    const char *description, char ***pos, int *n_pos);
/* Applies a YAML config file (a mapping of option names, with '_' or '-',
 * to scalars or lists) to opts, before the command line is parsed so that
 * flags override it. Returns 0, or 2 after printing an error naming the
 * file, line and key. Strings are kept for the life of the process. */
int cli_apply_yaml(const char *path, const cli_opt *opts, const char *cmd);
/* Finds "--config FILE" (or --config=FILE) in argv; NULL when absent. */
const char *cli_find_config(int argc, char **argv);

/* Prints "anchor CMD: error: message" to stderr and returns exit code 1. */
int cli_fail(const char *cmd, const anc_error *err);

/* Under mpirun (cli_mpi.c). cli_mpi_start, first thing in main: MPI
 * started when a launcher started more than one process (0, or the exit
 * code when this build has no MPI or the command does not run in
 * parallel); the cores of a machine divided between its ranks; ranks > 0
 * quiet. cli_comm: the job's anc_comm, NULL for one process. cli_errors:
 * where errors go (rank > 0's real stderr). cli_mpi_end(rc): a non-zero
 * rc ends the whole job (MPI_Abort), else MPI is finalised; returns rc. */
struct anc_comm;
int cli_mpi_start(int *argc, char ***argv);
struct anc_comm *cli_comm(void);
FILE *cli_errors(void);
int cli_mpi_end(int rc);
/* Prints a usage error and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress line on stderr (redrawn in place on a terminal, a line every
 * ~10% otherwise): "label  done/total  rate  ETA". */
typedef struct cli_progress {
    const char *label;
    const char *unit;
    double start;
    double last_draw;
    int tty;
    int last_decile;
    size_t failures;   /* shown when non-zero (set by the caller) */
    /* the first report: rates count from it (work reused from a store or
     * a checkpoint arrives at once and is no rate) */
    int seen;
    size_t base_done;
    int64_t base_tokens;
    double base_time;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, const char *unit);
/* anc_progress_fn-compatible callback; ctx is a cli_progress. */
void cli_progress_cb(void *ctx, size_t done, size_t total, int64_t tokens);
void cli_progress_done(cli_progress *p);

double cli_now(void);

/* Prints j (consumed) on stdout as indented JSON, keys in insertion order,
 * and a newline: the --json output of the commands. */
void cli_print_json(json_t *j);

/* The CLI's side of a running flow: notes go to stderr as "anchor CMD:
 * TEXT", progress to a cli_progress line labelled CMD. */
typedef struct cli_hooks {
    const char *cmd;
    cli_progress prog;
    int started;
    anc_flow_hooks hooks;   /* what to pass to anc_<step>_run */
} cli_hooks;
/* Sets h up for cmd; h->hooks points back into h (do not copy h). */
void cli_hooks_init(cli_hooks *h, const char *cmd);
/* Ends the progress line if one was drawn. */
void cli_hooks_done(cli_hooks *h);

/* Exit code of a stored LLM step (revise, judge, pairs stronger) in which
 * every item failed: the step made nothing usable. */
#define CLI_EXIT_ALL_FAILED 3
/* Prints the closing line of a stored LLM step: pairs written, items reused
 * as finished earlier, request counts, then failures said plainly (where the
 * errors are, that a rerun retries them). Returns 0, or CLI_EXIT_ALL_FAILED
 * when items failed and none finished. `detail` (may be NULL) follows the
 * pairs count. */
int cli_items_result(const char *cmd, const char *out, const anc_items_result *r, const char *detail);

/* The steps as the CLI runs them: each calls its flow (anc_<step>_run)
 * with o and, for the LLM steps, the run store (borrowed; NULL: the step
 * opens its own), prints what `anchor <step>` prints and returns its exit
 * code. `anchor <step>` and `anchor run` both call them. */
int cli_generate_exec(const anc_generate_opts *o);
int cli_revise_exec(const anc_revise_opts *o, anc_store *store);
int cli_judge_exec(const anc_judge_opts *o, anc_store *store);
int cli_stronger_exec(const anc_stronger_opts *o, anc_store *store);
int cli_eval_exec(const anc_eval_opts *o);
int cli_ab_exec(const anc_ab_opts *o, anc_store *store);
int cli_advise_exec(const anc_advise_opts *o, anc_store *store);

/* Runs pipeline step kind k in-process from its argv (as built by
 * anc_pipeline_argv, argv[0] the subcommand) through the step's option table
 * and cli_<step>_exec, with the pipeline's store. Returns the exit code, or
 * -1 when k is not a flow step (the caller dispatches it as a command). */
int cli_step_exec(int kind, int argc, char **argv, anc_store *store);

/* Subcommands. */
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_revise(int argc, char **argv);
int cmd_judge(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pairs(int argc, char **argv);
int cmd_pairs_stronger(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_advise(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
