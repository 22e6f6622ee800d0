/* The revise step (revise.h). */
#include "flow/revise.h"

#include <stdlib.h>
#include <string.h>

#include "clair/revise.h"

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
    ANC_LLM_STEP_OPTIONS(T, "reviser", ANC_OPT_REQUIRED, "0.7", "4096"),
    {0},
};
#undef T

void anc_revise_opts_init(anc_revise_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_revise_option_table, o, &err); /* the table's literals */
}

typedef struct revise_item {
    size_t row;
    char id[96];
    char *input;          /* the {input} text */
    const char *draft;    /* borrowed from the row */
    json_t *messages;     /* the request: one user message */
} revise_item;

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

/* Fills items from the rows and, for those not finished yet, their requests. */
static anc_status build_items(const anc_revise_opts *o, anc_llm_step *s, const char *tmpl, revise_item *items,
                              anc_llm_request *reqs, size_t *pending, size_t *n_items, size_t *n_pending,
                              size_t *skipped, anc_error *err) {
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
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        const char *parts[2] = {pj, draft};
        anc_item_id(row, parts, 2, it->id, sizeof it->id);
        free(pj);
        (*n_items)++;
        anc_item_status ist;
        if (anc_store_item_get(s->store, s->step, it->id, &ist, NULL, NULL, err)) return err->code;
        if (ist == ANC_ITEM_DONE) {
            (*skipped)++;
            continue;
        }
        char *text = NULL;
        if (anc_clair_prompt(tmpl, ptext, draft, &text, err)) return err->code;
        it->messages = anc_llm_user_message(text);
        free(text);
        if (!it->messages)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt or draft is not valid UTF-8", o->input,
                                 s->rows.lines[i]);
        reqs[*n_pending].messages = it->messages;
        reqs[*n_pending].salt = "clair";
        pending[(*n_pending)++] = *n_items - 1;
    }
    return ANC_OK;
}

anc_status anc_revise_run(const anc_revise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_items_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->input || !o->out || !o->llm.spec)
        return anc_error_set(err, ANC_ERR_INVALID, "revise needs an input, an output and a reviser");
    anc_llm_step s = {0};
    char *tmpl = NULL;
    revise_item *items = NULL;
    anc_llm_request *reqs = NULL;
    size_t *pending = NULL;
    const char **ids = NULL;
    size_t n_items = 0, n_pending = 0;
    anc_status st = o->template_path ? anc_clair_template_load(o->template_path, &tmpl, err) : ANC_OK;
    if (!st) st = anc_llm_step_open(&s, "revise", "reviser", o->input, o->out, &o->llm, store, tmpl, "clair-authors",
                                    json_pack("{ss}", "response-field", o->response_field), hooks, err);
    if (st) goto done;
    size_t n = s.rows.n ? s.rows.n : 1;
    items = calloc(n, sizeof *items);
    reqs = calloc(n, sizeof *reqs);
    pending = calloc(n, sizeof *pending);
    ids = malloc(n * sizeof *ids);
    if (!items || !reqs || !pending || !ids) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = build_items(o, &s, tmpl, items, reqs, pending, &n_items, &n_pending, &res->reused, err))) goto done;
    revise_run run;
    memset(&run, 0, sizeof run);
    run.s = &s;
    run.items = items;
    run.pending = pending;
    run.prompt_field = json_object_get(s.rows.n ? s.rows.rows[0] : NULL, o->prompt_field) ||
                               strcmp(o->prompt_field, "prompt") ? o->prompt_field : "messages";
    run.reviser_id = anc_llm_id(s.llm);
    if (n_pending)
        anc_flow_note(hooks, "%zu items to revise (%zu already finished) with %s", n_pending, res->reused,
                      run.reviser_id);
    if ((st = anc_llm_step_run(&s, &o->llm, reqs, n_pending, n_pending, on_reply, &run, &run.tally, "items", hooks, &res->stats,
                               err)))
        goto done;
    for (size_t i = 0; i < n_items; i++) ids[i] = items[i].id;
    st = anc_pairs_write_ordered(s.store, s.step, ids, n_items, o->out, &res->written, &res->done, &res->failed, err);
    if (!st && !(res->store_path = strdup(anc_store_path(s.store)))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
done:
    for (size_t i = 0; items && i < s.rows.n; i++) {
        free(items[i].input);
        json_decref(items[i].messages);
    }
    free(items);
    free(reqs);
    free(pending);
    free(ids);
    free(tmpl);
    anc_llm_step_close(&s);
    return st;
}
