/* Shared pieces of the anchor command-line program: option parsing, usage
 * text, error printing and the progress line. One file per subcommand
 * (cmd_*.c); main.c only dispatches. */
#ifndef ANCHOR_CLI_CLI_H
#define ANCHOR_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* OPT_INT: any integer that fits a long (seeds); OPT_COUNT: a count or size,
 * 0..INT_MAX, so "--max-steps -3" and "--max-new-tokens 99999999999" are
 * refused instead of wrapping. Both store a long. */
typedef enum { OPT_STR, OPT_INT, OPT_COUNT, OPT_FLOAT, OPT_FLAG, OPT_LIST } cli_opt_kind;

/* Values of a repeatable option (OPT_LIST): "--loss-type a --loss-type b"
 * or "--loss-type a,b". Values from a config file are replaced, not
 * extended, by values on the command line. */
#define CLI_LIST_MAX 16
typedef struct cli_list {
    const char *v[CLI_LIST_MAX];
    int n;
    int from_file;
} cli_list;

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
/* Applies a YAML config file (a mapping of option names, with '_' or '-',
 * to scalars or lists) to opts, before the command line is parsed so that
 * flags override it. Returns 0, or 2 after printing an error naming the
 * file, line and key. Strings are kept for the life of the process. */
int cli_apply_yaml(const char *path, const cli_opt *opts, const char *cmd);
/* Finds "--config FILE" (or --config=FILE) in argv; NULL when absent. */
const char *cli_find_config(int argc, char **argv);

/* Prints "anchor CMD: error: message" to stderr and returns exit code 1. */
int cli_fail(const char *cmd, const anc_error *err);
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

/* Subcommands. */
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_convert(int argc, char **argv);
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
int cmd_eval(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
