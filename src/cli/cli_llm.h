/* Backend options shared by the commands that call an LLM (revise, judge,
 * pairs stronger, ab): one spec string plus the usual knobs, turned into an
 * anc_llm (a local:DIR spec loads the model in-process). */
#ifndef ANCHOR_CLI_CLI_LLM_H
#define ANCHOR_CLI_CLI_LLM_H

#include "cli/cli.h"
#include "data/jsonl.h"
#include "llm/llm.h"
#include "llm/stored.h"
#include "llm/local.h"
#include "store/store.h"

typedef struct cli_llm_args {
    const char *spec;          /* http(s)://.../v1 | exec:COMMAND | local:DIR */
    const char *model;         /* --<role>-model NAME */
    const char *api_key_env;
    double temperature;
    long max_tokens;
    long seed;
    long concurrency;
    double timeout;
    long retries;
    const char *store;         /* run store path (default: beside --out) */
    const char *chat_template; /* for local:DIR */
    int fresh;                 /* --fresh: forget the step's items and settings */
    const char *role;          /* "reviser", "judge", "stronger" (set by cli_llm_opts) */
} cli_llm_args;

/* Defaults: temperature 0.7 (the CLAIR authors'), max_tokens 4096,
 * concurrency 4, timeout 600 s, 5 retries, OPENAI_API_KEY. */
void cli_llm_args_init(cli_llm_args *a, double temperature, long max_tokens);

/* The option entries for role ("reviser", "judge", "stronger"); fills
 * opts[0..CLI_LLM_N_OPTS) with names like --reviser, --reviser-model,
 * --api-key-env, --temperature, --max-tokens, --seed, --concurrency,
 * --timeout, --retries, --store, --chat-template, --fresh. Strings are
 * static. */
#define CLI_LLM_N_OPTS 12
void cli_llm_opts(cli_llm_args *a, const char *role, cli_opt *opts);

/* Creates the backend (and, for local:DIR, the in-process model in *local,
 * freed by the caller after the backend). */
anc_status cli_llm_create(const cli_llm_args *a, anc_llm **llm, anc_chat_model **local, anc_error *err);

/* Opens the run store: a->store, or "<out>.store.db" beside the output. */
anc_status cli_store_open(const cli_llm_args *a, const char *out, anc_store **store, anc_error *err);

/* What every stored LLM step opens: its input rows, the run store and the
 * backend (with an in-process model for local:DIR). */
typedef struct cli_llm_session {
    anc_rows rows;
    anc_store *store;
    anc_llm *llm;
    anc_chat_model *local;
} cli_llm_session;

/* Loads input, opens the store (cli_store_open) and creates the backend;
 * on failure what was opened is closed again. s is zeroed first. */
anc_status cli_llm_session_open(cli_llm_session *s, const char *input, const char *out, const cli_llm_args *a,
                                anc_error *err);
/* Releases everything (a zeroed session is fine). */
void cli_llm_session_close(cli_llm_session *s);

/* Counts and progress of a step that sends items through the run store;
 * embedded in each command's batch-callback context. */
typedef struct cli_tally {
    size_t done, failed, total;
    cli_progress prog;
    int store_failed;          /* an item record could not be written */
    anc_error store_err;
} cli_tally;

/* Writes an item's outcome (DONE with record, or FAILED with error) to the
 * store, counts it and redraws the progress line. Returns what an
 * anc_llm_batch_fn should return: non-zero (stop the batch) when the store
 * write failed, which is then reported by cli_llm_run. */
int cli_tally_put(cli_tally *t, anc_store *store, const char *step, const char *id, anc_item_status status,
                  const json_t *record, const char *error);

/* Runs reqs[0..n) through the run store (anc_llm_run_stored) with a's
 * concurrency and a progress line labelled cmd counting `unit`s. Returns 0,
 * or the exit code after printing the error for cmd. */
int cli_llm_run(const char *cmd, anc_llm *llm, anc_store *store, const cli_llm_args *a, const anc_llm_request *reqs,
                size_t n, anc_llm_batch_fn cb, void *ctx, cli_tally *t, const char *unit, anc_llm_stored_stats *stats);

/* The settings that decide an LLM step's replies, keyed by their option
 * names (so a refusal names the flag to look at): the backend (--reviser
 * etc., as its id), --<role>-model, --temperature, --max-tokens, --seed,
 * --chat-template, and --template as the hash of the step's prompt template
 * (template_text NULL: the built-in one, named builtin). New reference. */
json_t *cli_llm_provenance(const cli_llm_args *a, const anc_llm *llm, const char *template_text,
                           const char *builtin);

/* Checks and records the provenance of step (anc_store_step_provenance).
 * Returns 0, or prints the refusal for cmd with the ways out and returns 1. */
int cli_check_provenance(const char *cmd, anc_store *store, const char *step, const json_t *prov, int fresh,
                         const char *out);

/* The outcome of a stored LLM step's items. */
typedef struct cli_items_count {
    size_t written;  /* pairs written to the output */
    size_t done;     /* items finished (a judged tie is finished but no pair) */
    size_t failed;   /* items whose request or reply failed */
    size_t reused;   /* items finished by an earlier run and not redone */
} cli_items_count;

/* Prints the closing line of a stored LLM step: pairs written, items reused
 * as finished earlier, request counts, then failures said plainly (where the
 * errors are, that a rerun retries them). Returns 0, or CLI_EXIT_ALL_FAILED
 * when items failed and none finished. `detail` (may be NULL) follows the
 * pairs count. */
int cli_items_summary(const char *cmd, const char *out, const cli_items_count *c, const char *detail,
                      const anc_store *store, const anc_llm_stored_stats *stats);

/* What every stored LLM step does once its session is open: names the
 * store step of out's items (*step, caller frees; anc_item_step), checks
 * and records its provenance (cli_llm_provenance + extra, which is stolen
 * and may be NULL) with --fresh, and notes a missing API key. Returns 0 or
 * the exit code after printing the error. */
int cli_llm_step_begin(const char *cmd, cli_llm_session *ss, const cli_llm_args *a, const char *kind, const char *out,
                       const char *template_text, const char *builtin, json_t *extra, char **step);

/* Prints, once, that an HTTP backend sends no API key (the default variable
 * is unset). */
void cli_llm_note_key(const char *cmd, const cli_llm_args *a, const anc_llm *llm);

#endif
