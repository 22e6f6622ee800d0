/* The revise step (revise.h): options, the drafts as items, and the plain
 * path (every draft revised once); the routed path is revise_route.c. */
#include "flow/revise.h"

#include <stdlib.h>
#include <string.h>

#include "clair/revise.h"
#include "flow/revise_route.h"

#define T anc_revise_opts
const anc_option anc_revise_option_table[] = {
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "drafts: rows with a prompt and a response (anchor generate's output)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "CLAIR pairs (TRL format + rationale, source, id)"},
    {"template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, template_path), NULL, "FILE",
     "reviser prompt with {input} and {output} (default: the CLAIR authors' prompt)"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding the draft (default completion)"},
    {"prompt-field", ANC_OPT_STR, 0, 0, offsetof(T, prompt_field), "prompt", "KEY",
     "field holding the prompt (default prompt; messages work too)"},
    {"retry-failed", ANC_OPT_FLAG, 0, 0, offsetof(T, retry_failed), NULL, NULL,
     "kept for older scripts: a rerun always retries the items that failed"},
    {"route", ANC_OPT_STR, 0, 0, offsetof(T, route), NULL, "SPEC",
     "check each draft first and revise only those that fail: grader:exact|regex|numeric|exec:CMD (scores the "
     "draft against the row's reference) or judge:BACKEND (one check request per draft, reply ending in "
     "VERDICT: PASS|FAIL)"},
    {"route-threshold", ANC_OPT_FLOAT, 0, 0, offsetof(T, route_threshold), "1", "X",
     "--route grader: a draft passes at score >= X (default 1)"},
    {"route-drop", ANC_OPT_FLAG, 0, 0, offsetof(T, route_drop), NULL, NULL,
     "--route: do not write the drafts that pass (default: identical pairs, source route-pass)"},
    {"route-template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, route_template), NULL, "FILE",
     "--route judge: check prompt with {input} and {output} (default: the built-in check prompt)"},
    {"route-model", ANC_OPT_STR, 0, 0, offsetof(T, route_model), NULL, "NAME",
     "--route judge: model name sent to the check backend (default: --reviser-model)"},
    {"route-temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, route_temperature), "0", "T",
     "--route judge: temperature of the check requests (default 0)"},
    {"reference-field", ANC_OPT_STR, 0, 0, offsetof(T, reference_field), NULL, "KEY",
     "--route grader: reference field of the rows (default \"reference\", else \"answer\")"},
    {"max-rounds", ANC_OPT_COUNT, 0, 0, offsetof(T, max_rounds), "1", "K",
     "--route: a revision that still fails the check goes back to the reviser with the check's feedback, up to K "
     "revisions per draft (default 1, at most 32)"},
    {"feedback-template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, feedback_template), NULL, "FILE",
     "--max-rounds: prompt of rounds 2..K with {revision} and {feedback} (also {input}, {output}; default: the "
     "built-in feedback prompt)"},
    ANC_LLM_STEP_OPTIONS(T, "reviser", ANC_OPT_REQUIRED, "0.7", "4096"),
    {0},
};
#undef T

void anc_revise_opts_init(anc_revise_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_revise_option_table, o, &err); /* the table's literals */
}

void anc_revise_result_free(anc_revise_result *r) {
    anc_items_result_free(&r->items);
    memset(r, 0, sizeof *r);
}

typedef struct revise_run {
    anc_llm_step *s;
    revise_item *items;
    const size_t *pending;   /* request index -> item index */
    const char *prompt_field;
    const char *reviser_id;
    anc_item_tally tally;
} revise_run;

static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    revise_run *r = ctx;
    revise_item *it = &r->items[r->pending[index]];
    const json_t *row = r->s->rows.rows[it->row];
    if (st != ANC_OK)
        return anc_item_tally_put(&r->tally, r->s->store, r->s->step, it->id, ANC_ITEM_FAILED, NULL, error->message);
    anc_error err = {0};
    anc_clair_reply cr;
    if (anc_clair_parse_reply(reply->text, strlen(reply->text), it->draft, &cr, &err) != ANC_OK)
        return anc_item_tally_put(&r->tally, r->s->store, r->s->step, it->id, ANC_ITEM_FAILED, NULL, err.message);
    json_t *rec = anc_pair_record(it->id, json_object_get(row, r->prompt_field), cr.revision, it->draft, "clair");
    json_object_set_new(rec, "rationale", json_string(cr.rationale));
    json_object_set_new(rec, "reviser", json_string(r->reviser_id));
    int stop = anc_item_tally_put(&r->tally, r->s->store, r->s->step, it->id, ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    anc_clair_reply_free(&cr);
    return stop;
}

/* The row's reference: reference_field, else "reference", else "answer". */
static const json_t *row_reference(const anc_revise_opts *o, const json_t *row) {
    if (o->reference_field) return json_object_get(row, o->reference_field);
    const json_t *r = json_object_get(row, "reference");
    return r ? r : json_object_get(row, "answer");
}

/* Fills the items from the rows and whether each is finished; with
 * need_ref, a row not finished without a reference is an error. */
static anc_status collect_items(const anc_revise_opts *o, anc_llm_step *s, int need_ref, revise_item *items,
                                size_t *n_items, size_t *reused, anc_error *err) {
    for (size_t i = 0; i < s->rows.n; i++) {
        json_t *row = s->rows.rows[i];
        json_t *p = json_object_get(row, o->prompt_field);
        if (!p && !strcmp(o->prompt_field, "prompt")) p = json_object_get(row, "messages");
        const char *draft = json_string_value(json_object_get(row, o->response_field));
        char *ptext = p ? anc_prompt_text(p) : NULL;
        if (!ptext || !draft) {
            free(ptext);
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s:%zu: expected a \"%s\" (string or messages with a user turn) and a string \"%s\"",
                                 o->input, s->rows.lines[i], o->prompt_field, o->response_field);
        }
        revise_item *it = &items[*n_items];
        it->row = i;
        it->input = ptext;
        it->draft = draft;
        it->ref = row_reference(o, row);
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        const char *parts[2] = {pj, draft};
        anc_item_id(row, parts, 2, it->id, sizeof it->id);
        free(pj);
        (*n_items)++;
        anc_item_status ist;
        if (anc_store_item_get(s->store, s->step, it->id, &ist, NULL, NULL, err)) return err->code;
        it->done = ist == ANC_ITEM_DONE;
        if (it->done) (*reused)++;
        if (!it->done && need_ref && !json_is_string(it->ref) && !json_is_number(it->ref))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a string or number reference field \"%s\" for "
                                 "--route %s", o->input, s->rows.lines[i],
                                 o->reference_field ? o->reference_field : "reference", o->route);
    }
    return ANC_OK;
}

/* The plain path: one CLAIR request per item not finished. */
static anc_status revise_all(revise_ctx *c, anc_items_result *res, anc_error *err) {
    const anc_revise_opts *o = c->o;
    size_t n = c->n_items ? c->n_items : 1, n_pending = 0;
    anc_llm_request *reqs = calloc(n, sizeof *reqs);
    size_t *pending = calloc(n, sizeof *pending);
    anc_status st = reqs && pending ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n_items && !st; i++) {
        revise_item *it = &c->items[i];
        if (it->done) continue;
        char *text = NULL;
        if ((st = anc_clair_prompt(c->tmpl, it->input, it->draft, &text, err))) break;
        it->messages = anc_llm_user_message(text);
        free(text);
        if (!it->messages) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt or draft is not valid UTF-8", o->input,
                               c->s->rows.lines[it->row]);
            break;
        }
        reqs[n_pending].messages = it->messages;
        reqs[n_pending].salt = "clair";
        pending[n_pending++] = i;
    }
    revise_run run;
    memset(&run, 0, sizeof run);
    run.s = c->s;
    run.items = c->items;
    run.pending = pending;
    run.prompt_field = c->prompt_key;
    run.reviser_id = c->reviser_id;
    if (!st && n_pending)
        anc_flow_note(c->hooks, "%zu items to revise (%zu already finished) with %s", n_pending, res->reused,
                      run.reviser_id);
    if (!st)
        st = anc_llm_step_run(c->s, &o->llm, reqs, n_pending, n_pending, on_reply, &run, &run.tally, "items", c->hooks,
                              &res->stats, err);
    free(reqs);
    free(pending);
    return st;
}

anc_status anc_revise_run(const anc_revise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_revise_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->input || !o->out || !o->llm.spec)
        return anc_error_set(err, ANC_ERR_INVALID, "revise needs an input, an output and a reviser");
    anc_llm_step s = {0};
    revise_route_setup rs;
    char *tmpl = NULL;
    revise_item *items = NULL;
    const char **ids = NULL;
    size_t n_items = 0;
    anc_status st = revise_route_setup_init(o, &rs, err);
    if (!st && o->template_path) st = anc_clair_template_load(o->template_path, &tmpl, err);
    json_t *extra = st ? NULL : json_pack("{ss}", "response-field", o->response_field);
    if (!st && (!extra || (o->route && revise_route_provenance(o, &rs, extra))))
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st) st = anc_llm_step_open(&s, "revise", "reviser", o->input, o->out, &o->llm, store, tmpl, "clair-authors",
                                    extra, hooks, err);
    else json_decref(extra);
    if (st) goto done;
    size_t n = s.rows.n ? s.rows.n : 1;
    items = calloc(n, sizeof *items);
    ids = malloc(n * sizeof *ids);
    if (!items || !ids) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto done;
    }
    int need_ref = o->route && revise_route_needs_ref(&rs);
    if ((st = collect_items(o, &s, need_ref, items, &n_items, &res->items.reused, err))) goto done;
    revise_ctx c = {o, &s, tmpl, items, n_items, NULL, anc_llm_id(s.llm), hooks};
    c.prompt_key = json_object_get(s.rows.n ? s.rows.rows[0] : NULL, o->prompt_field) ||
                           strcmp(o->prompt_field, "prompt") ? o->prompt_field : "messages";
    st = o->route ? revise_route_run(&c, &rs, res, err) : revise_all(&c, &res->items, err);
    if (st) goto done;
    for (size_t i = 0; i < n_items; i++) ids[i] = items[i].id;
    anc_items_result *r = &res->items;
    st = anc_pairs_write_ordered(s.store, s.step, ids, n_items, o->out, &r->written, &r->done, &r->failed, err);
    if (!st && !(r->store_path = strdup(anc_store_path(s.store)))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
done:
    for (size_t i = 0; items && i < n_items; i++) {
        free(items[i].input);
        json_decref(items[i].messages);
    }
    free(items);
    free(ids);
    free(tmpl);
    revise_route_setup_free(&rs);
    anc_llm_step_close(&s);
    return st;
}
