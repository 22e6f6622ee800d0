/* Backend options shared by the commands that call an LLM (revise, judge,
 * pairs stronger, ab): one spec string plus the usual knobs, turned into an
 * anc_llm (a local:DIR spec loads the model in-process). */
#ifndef ANCHOR_CLI_CLI_LLM_H
#define ANCHOR_CLI_CLI_LLM_H

#include "cli/cli.h"
#include "llm/llm.h"
#include "model/chat.h"
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
} cli_llm_args;

/* Defaults: temperature 0.7 (the CLAIR authors'), max_tokens 4096,
 * concurrency 4, timeout 600 s, 5 retries, OPENAI_API_KEY. */
void cli_llm_args_init(cli_llm_args *a, double temperature, long max_tokens);

/* The option entries for role ("reviser", "judge", "stronger"); fills
 * opts[0..CLI_LLM_N_OPTS) with names like --reviser, --reviser-model,
 * --api-key-env, --temperature, --max-tokens, --seed, --concurrency,
 * --timeout, --retries, --store, --chat-template. Strings are static. */
#define CLI_LLM_N_OPTS 11
void cli_llm_opts(cli_llm_args *a, const char *role, cli_opt *opts);

/* Creates the backend (and, for local:DIR, the in-process model in *local,
 * freed by the caller after the backend). */
anc_status cli_llm_create(const cli_llm_args *a, anc_llm **llm, anc_chat_model **local, anc_error *err);

/* Opens the run store: a->store, or "<out>.store.db" beside the output. */
anc_status cli_store_open(const cli_llm_args *a, const char *out, anc_store **store, anc_error *err);

/* A stable item id for a row: its "id" (string or integer), else a hash of
 * the given parts. Writes into buf (cap >= 80). */
void cli_item_id(const json_t *row, const char *const *parts, size_t n_parts, char *buf, size_t cap);

#endif
