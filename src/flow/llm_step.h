/* What the steps that send items to an LLM through the run store (revise,
 * judge, stronger, and ab's judge) share: the backend options and their
 * table rows, opening the step (rows, store, backend, provenance), counting
 * items as their replies arrive, and the stable ids and store step names of
 * items. */
#ifndef ANCHOR_FLOW_LLM_STEP_H
#define ANCHOR_FLOW_LLM_STEP_H

#include <jansson.h>
#include <stddef.h>

#include "data/jsonl.h"
#include "flow/flow.h"
#include "flow/options.h"
#include "llm/llm.h"
#include "llm/local.h"
#include "llm/stored.h"
#include "store/store.h"

typedef struct anc_llm_step_opts {
    const char *spec;          /* http(s)://.../v1 | exec:COMMAND | local:DIR */
    const char *model;         /* --<role>-model NAME */
    const char *api_key_env;   /* NULL: OPENAI_API_KEY */
    double temperature;
    long max_tokens;
    long seed;                 /* < 0: none sent */
    long concurrency;
    double timeout;
    long retries;
    const char *store;         /* run store path (NULL: "<out>.store.db") */
    const char *chat_template; /* for local:DIR */
    int fresh;                 /* forget the step's finished items and the settings they were made with */
} anc_llm_step_opts;

/* The twelve rows of the backend options of role ("reviser", "judge",
 * "stronger") for a step struct T whose anc_llm_step_opts member is `llm`;
 * req is ANC_OPT_REQUIRED or 0 for the spec; temp and maxtok the default
 * temperature and max_tokens as text. */
#define ANC_LLM_STEP_OPTIONS(T, role, req, temp, maxtok)                                                              \
    {role, ANC_OPT_STR, ANC_ROLE_SPEC, req, offsetof(T, llm.spec), NULL, "SPEC",                                      \
     "backend: http(s)://HOST/v1 (OpenAI-compatible), exec:COMMAND, or local:DIR"},                                   \
    {role "-model", ANC_OPT_STR, 0, 0, offsetof(T, llm.model), NULL, "NAME", "model name sent to the backend"},       \
    {"api-key-env", ANC_OPT_STR, 0, 0, offsetof(T, llm.api_key_env), NULL, "VAR",                                     \
     "environment variable holding the API key (default OPENAI_API_KEY; never logged or stored)"},                    \
    {"temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, llm.temperature), temp, "T",                                     \
     "sampling temperature sent to the backend"},                                                                     \
    {"max-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, llm.max_tokens), maxtok, "N", "max_tokens sent to the backend"},  \
    {"seed", ANC_OPT_INT, 0, 0, offsetof(T, llm.seed), "-1", "S", "seed sent to the backend (default: none)"},        \
    {"concurrency", ANC_OPT_COUNT, 0, 0, offsetof(T, llm.concurrency), "4", "N", "requests in flight (default 4)"},   \
    {"timeout", ANC_OPT_FLOAT, 0, 0, offsetof(T, llm.timeout), "600", "SEC", "limit per request (default 600)"},      \
    {"retries", ANC_OPT_COUNT, 0, 0, offsetof(T, llm.retries), "5", "N",                                              \
     "retries on 408/409/429/5xx and network errors, with backoff (default 5)"},                                      \
    {"store", ANC_OPT_STR, 0, ANC_OPT_CLI_ONLY, offsetof(T, llm.store), NULL, "FILE",                                 \
     "run store (SQLite) that keeps every reply; default OUT.store.db"},                                              \
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, llm.chat_template), NULL, "NAME|FILE",         \
     "chat template for a local:DIR backend"},                                                                        \
    {"fresh", ANC_OPT_FLAG, 0, ANC_OPT_CLI_ONLY, offsetof(T, llm.fresh), NULL, NULL,                                  \
     "start this step over: forget its finished items and the settings they were made with (stored replies to "       \
     "identical requests are still reused)"}

/* Creates the backend of a (for local:DIR also the in-process model in
 * *local, freed by the caller after the backend). */
anc_status anc_llm_step_backend(const anc_llm_step_opts *a, anc_llm **llm, anc_chat_model **local, anc_error *err);

/* Opens the run store a->store, or "<out>.store.db" beside out. */
anc_status anc_llm_step_store_open(const anc_llm_step_opts *a, const char *out, anc_store **store, anc_error *err);

/* The run-store step that keeps a step's item records: "KIND:PATH", PATH
 * being out relative to the folder of the store when it lies inside it (so a
 * moved run directory keeps its items), else absolute. Two steps writing
 * different outputs never share items; two runs writing the same output do.
 * malloc'd (NULL when out of memory). */
char *anc_item_step(const char *kind, const char *out, const char *store_path);

/* A stable item id for a row: its "id" (string or integer), else a hash of
 * the given parts. Writes into buf (cap >= 80). */
void anc_item_id(const json_t *row, const char *const *parts, size_t n_parts, char *buf, size_t cap);

/* The settings that decide an LLM step's replies, keyed by their option
 * names (so a refusal names the flag to look at): the backend (role, as its
 * id), ROLE-model, temperature, max-tokens, seed, chat-template, and
 * template as the hash of the step's prompt template (template_text NULL:
 * the built-in one, named builtin). New reference (NULL: out of memory). */
json_t *anc_llm_step_provenance(const anc_llm_step_opts *a, const char *role, const anc_llm *llm,
                                const char *template_text, const char *builtin);

/* An open LLM step: its input rows, the run store (borrowed or owned), the
 * backend (with an in-process model for local:DIR) and the store step of
 * its items. */
typedef struct anc_llm_step {
    anc_rows rows;
    anc_store *store;
    int owns_store;
    anc_llm *llm;
    anc_chat_model *local;
    char *step;            /* anc_item_step(kind, out, store path) */
} anc_llm_step;

/* Opens step `kind` of role: loads input (NULL: no rows), uses store (NULL:
 * opens a's store, anc_llm_step_store_open), creates the backend, names the
 * item step, and checks and records its provenance
 * (anc_llm_step_provenance + extra, which is stolen and may be NULL) with
 * a->fresh: other settings than the items were made with give
 * ANC_ERR_INVALID with the ways out in the message. Notes through hooks
 * that an HTTP backend sends no API key. On failure everything opened is
 * closed again; s is zeroed first. */
anc_status anc_llm_step_open(anc_llm_step *s, const char *kind, const char *role, const char *input, const char *out,
                             const anc_llm_step_opts *a, anc_store *store, const char *template_text,
                             const char *builtin, json_t *extra, const anc_flow_hooks *hooks, anc_error *err);
/* Releases what s owns (a zeroed step is fine). */
void anc_llm_step_close(anc_llm_step *s);

/* The outcome of a stored LLM step's items. */
typedef struct anc_items_result {
    size_t written;  /* pairs written to the output */
    size_t done;     /* items finished (a judged tie is finished but no pair) */
    size_t failed;   /* items whose request or reply failed */
    size_t reused;   /* items finished by an earlier run and not redone */
    anc_llm_stored_stats stats;
    char *store_path; /* the run store used (malloc'd; anc_items_result_free) */
} anc_items_result;
void anc_items_result_free(anc_items_result *r);

/* Counts of a batch as its replies arrive; embedded in each step's batch
 * callback context. */
typedef struct anc_item_tally {
    size_t done, failed, total;
    const anc_flow_hooks *hooks;
    const char *unit;
    int store_failed;          /* an item record could not be written */
    anc_error store_err;
} anc_item_tally;

/* Writes an item's outcome (DONE with record, or FAILED with error) to the
 * store, counts it and reports progress. Returns what an anc_llm_batch_fn
 * should return: non-zero (stop the batch) when the store write failed,
 * which anc_llm_step_run then reports. */
int anc_item_tally_put(anc_item_tally *t, anc_store *store, const char *step, const char *id, anc_item_status status,
                       const json_t *record, const char *error);

/* Runs reqs[0..n) through the run store (anc_llm_run_stored) with a's
 * concurrency, counting `unit`s in t, whose total is set to units (n when
 * each request is one item; judge sends two per prompt). Errors: the
 * batch's, or the store's when an item record could not be written. */
anc_status anc_llm_step_run(anc_llm_step *s, const anc_llm_step_opts *a, const anc_llm_request *reqs, size_t n,
                            size_t units, anc_llm_batch_fn cb, void *ctx, anc_item_tally *t, const char *unit,
                            const anc_flow_hooks *hooks, anc_llm_stored_stats *stats, anc_error *err);

/* {"id", "prompt", "chosen", "rejected", "source"}: with a message-list
 * prompt, chosen and rejected are one assistant message each (TRL's
 * conversational form); with a string prompt, strings. New reference. */
json_t *anc_pair_record(const char *id, const json_t *prompt, const char *chosen, const char *rejected,
                        const char *source);

/* Writes the DONE records of step that hold a pair ("chosen") for ids[0..n)
 * (input order; ids repeated in the input are written once) to out
 * atomically; counts the pairs written, the items done (may be NULL) and the
 * items failed. */
anc_status anc_pairs_write_ordered(anc_store *store, const char *step, const char *const *ids, size_t n,
                                   const char *out, size_t *written, size_t *done, size_t *failed, anc_error *err);

#endif
