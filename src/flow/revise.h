/* The revise step (CLAIR): a stronger model minimally revises each draft;
 * the pair is (prompt, chosen = revision, rejected = draft). Every reply is
 * committed to the run store before it is used, so an interrupted run loses
 * at most the requests in flight and a rerun repeats no paid request;
 * finished items are kept, failed ones retried.
 *
 * Routed revision (route set, `anchor revise --route SPEC`): a check decides
 * per draft whether it goes to the reviser at all.
 *
 *   grader:exact|regex|numeric|exec:CMD  a grader of eval/graders.h scores
 *        the draft against the row's reference (reference_field; exec
 *        graders get it when present, and may return feedback); the draft
 *        passes when score >= route_threshold (default 1);
 *   judge:BACKEND  one pointwise check request per answer through the run
 *        store (the prompt of anc_clair_check_template, or route_template),
 *        whose reply must end with the line "VERDICT: PASS" or
 *        "VERDICT: FAIL" (anc_clair_parse_verdict; anything else fails the
 *        item); the text before it is the feedback. The check backend gets
 *        the reviser's knobs except its model (route_model, default the
 *        reviser's) and temperature (route_temperature, default 0).
 *
 * A draft that passes is not sent: it is written as an identical pair
 * (chosen = rejected = the draft, "source": "route-pass"), or not at all
 * with route_drop. A draft that fails is revised (the CLAIR prompt), and the
 * revision is checked too; while it fails and fewer than max_rounds
 * revisions were made, the reviser gets the feedback prompt
 * (anc_clair_feedback_template, or feedback_template) with the previous
 * revision and the check's feedback, and the next reply is the new
 * revision. The pair is (prompt, chosen = last revision, rejected = draft).
 * A revision still failing after max_rounds is kept (the pair is written,
 * marked "passed": false): it is still the reviser's best attempt at the
 * draft, and the mark lets a user filter it.
 *
 * Each written record then carries "route": {"check": "grader:KIND" or
 * "judge", "passed_draft": bool, "rounds": revisions made, "passed": bool};
 * records of a run without route are unchanged. In the store every round is
 * its own request (salt "clair" for round 1, "clair-feedback" for later
 * rounds, "route-check" for judge checks) and its own item "ID#rN" (N = 0 the
 * draft's check, N >= 1 revision N with its check: the revision, rationale,
 * score, passed, feedback), so a rerun after kill -9 resumes each item at its
 * last finished round, sends nothing that completed and runs no check again
 * that finished. The summary of the whole step (anc_revise_route) is also
 * written to the store as item "summary" of step "revise-route:OUT" (see
 * anc_item_step). */
#ifndef ANCHOR_FLOW_REVISE_H
#define ANCHOR_FLOW_REVISE_H

#include "flow/llm_step.h"

/* The most revisions per draft --max-rounds allows. */
#define ANC_REVISE_MAX_ROUNDS 32

typedef struct anc_revise_opts {
    const char *input;          /* drafts: rows with a prompt and a response */
    const char *out;            /* CLAIR pairs (JSONL) */
    const char *template_path;  /* reviser prompt with {input} and {output}; NULL: the CLAIR authors' */
    const char *response_field; /* default "completion" */
    const char *prompt_field;   /* default "prompt" ("messages" works too) */
    int retry_failed;           /* kept for older scripts: failed items are always retried */
    const char *route;          /* grader:exact|regex|numeric|exec:CMD | judge:BACKEND; NULL: every draft is revised */
    double route_threshold;     /* grader checks pass at score >= this (default 1) */
    int route_drop;             /* passing drafts are not written (default: identical pairs) */
    const char *route_template; /* judge check prompt with {input} and {output}; NULL: the built-in one */
    const char *route_model;    /* judge check: model name (NULL: llm.model) */
    double route_temperature;   /* judge check: temperature (default 0) */
    const char *reference_field;/* graders: the row's reference (NULL: "reference", else "answer") */
    long max_rounds;            /* revisions per routed draft, 1..ANC_REVISE_MAX_ROUNDS (default 1) */
    const char *feedback_template; /* prompt of rounds >= 2; NULL: anc_clair_feedback_template() */
    anc_llm_step_opts llm;      /* --reviser SPEC and the backend knobs */
} anc_revise_opts;

/* The option table of revise (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_revise_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_revise_opts_init(anc_revise_opts *o);

/* What routing came to, over all finished items of the output's store step
 * (earlier runs on the same output included, as the pairs are). */
typedef struct anc_revise_route {
    int used;                 /* route was set (the rest is zero otherwise) */
    const char *check;        /* "grader:exact" ... "grader:exec", "judge" (static) */
    size_t checked;           /* drafts checked (finished items) */
    size_t passed_draft;      /* drafts that passed: not sent to the reviser */
    size_t routed;            /* drafts that failed and were revised */
    size_t revised[ANC_REVISE_MAX_ROUNDS]; /* revised[r]: items that got revision r + 1 */
    size_t rounds;            /* entries of revised in use (max_rounds) */
    size_t passed_revised;    /* routed items whose last revision passes */
    size_t still_failing;     /* routed items whose last revision still fails (kept, "passed": false) */
    size_t reviser_calls;     /* reviser requests the finished items needed (sent now, earlier, or reused) */
    size_t calls_saved;       /* reviser requests not made: one per passing draft */
    size_t dropped;           /* passing drafts not written (route_drop) */
    size_t check_requests;    /* judge checks: check requests the finished items needed (0 for graders) */
    anc_llm_stored_stats check_stats; /* judge checks of this run: sent, reused from the store, ... */
} anc_revise_route;

/* The outcome of a revise run: its items as for every stored LLM step (the
 * reviser's request counts of this run summed over rounds) and routing. */
typedef struct anc_revise_result {
    anc_items_result items;
    anc_revise_route route;
} anc_revise_result;
/* Frees what r holds (a zeroed result is fine). */
void anc_revise_result_free(anc_revise_result *r);

/* Revises o->input into o->out (routed as above when o->route is set).
 * store: the run store to use (borrowed; NULL: o->llm.store, else
 * OUT.store.db). Errors: bad rows (file:line; with a grader route that needs
 * a reference, a row without one), a bad route spec, max_rounds out of
 * 1..ANC_REVISE_MAX_ROUNDS or above 1 without route (ANC_ERR_INVALID), other
 * settings than the stored items were made with (ANC_ERR_INVALID, see
 * anc_llm_step_open: the route settings count too), backend and store
 * errors. Items that failed are not an error: an unusable reply, a check
 * reply without its VERDICT line, or a grader that cannot score the answer
 * (an exec grader exiting non-zero or printing something else) fail their
 * item with the reason in the store, and a rerun retries it from its last
 * finished round; res->items counts them (free with anc_revise_result_free). */
anc_status anc_revise_run(const anc_revise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_revise_result *res, anc_error *err);

#endif
