/* Internal to the revise step (flow/revise.c, flow/revise_route.c): the
 * items both paths share and the routed path (revise.h describes it). */
#ifndef ANCHOR_FLOW_REVISE_ROUTE_H
#define ANCHOR_FLOW_REVISE_ROUTE_H

#include "eval/graders.h"
#include "flow/revise.h"

/* One draft of the input. */
typedef struct revise_item {
    size_t row;
    char id[96];
    char *input;          /* the {input} text (malloc'd) */
    const char *draft;    /* borrowed from the row */
    const json_t *ref;    /* the row's reference (borrowed; NULL: none) */
    int done;             /* finished by an earlier run */
    json_t *messages;     /* the request of the item's next revision (owned; NULL: none) */
} revise_item;

/* What a revise run works on, for either path. */
typedef struct revise_ctx {
    const anc_revise_opts *o;
    anc_llm_step *s;
    const char *tmpl;         /* reviser template (NULL: the CLAIR authors') */
    revise_item *items;
    size_t n_items;
    const char *prompt_key;   /* the rows' prompt field as written into records */
    const char *reviser_id;
    const anc_flow_hooks *hooks;
} revise_ctx;

/* The route settings of a run, parsed and loaded once. */
typedef struct revise_route_setup {
    int judge;                /* judge:BACKEND, else a grader */
    anc_grader grader;        /* borrows from o->route */
    const char *check;        /* "grader:exact", ..., "judge" (static) */
    const char *judge_spec;   /* BACKEND (borrowed from o->route) */
    char *feedback_tmpl;      /* o->feedback_template's text (NULL: built-in) */
    char *check_tmpl;         /* o->route_template's text (NULL: built-in) */
} revise_route_setup;

/* Parses o->route and the round settings and loads the templates. Errors:
 * ANC_ERR_INVALID naming the option (a bad spec, max_rounds out of range,
 * a route-only option without route), template file errors. */
anc_status revise_route_setup_init(const anc_revise_opts *o, revise_route_setup *r, anc_error *err);
void revise_route_setup_free(revise_route_setup *r);

/* 1 when the check needs each row's reference (exact, numeric, regex). */
int revise_route_needs_ref(const revise_route_setup *r);

/* Adds the route settings that decide the step's results to prov (the
 * extra provenance of anc_llm_step_open): route, route-threshold,
 * route-drop, max-rounds, feedback-template, reference-field, and for a judge
 * route-template, route-model, route-temperature. Returns 0, -1 when out of
 * memory. */
int revise_route_provenance(const anc_revise_opts *o, const revise_route_setup *r, json_t *prov);

/* Runs the routed revision of c's items not done (checks, rounds, records
 * in the store; revise.h) and fills res->route over the whole step and
 * res->items.stats with this run's reviser requests. Item failures are
 * counted, not errors; errors are the store's, the backend's (a batch that
 * could not run) and out of memory. */
anc_status revise_route_run(revise_ctx *c, const revise_route_setup *r, anc_revise_result *res, anc_error *err);

#endif
