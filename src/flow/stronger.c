/* The stronger step (stronger.h). */
#include "flow/stronger.h"

#include <stdlib.h>
#include <string.h>

#define T anc_stronger_opts
const anc_option anc_stronger_option_table[] = {
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "drafts: rows with a prompt and a response (anchor generate's output)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "pairs: chosen = the stronger model's answer, rejected = the draft"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding the draft (default completion)"},
    ANC_LLM_STEP_OPTIONS(T, "stronger", ANC_OPT_REQUIRED, "0.7", "4096"),
    {0},
};
#undef T

void anc_stronger_opts_init(anc_stronger_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_stronger_option_table, o, &err); /* the table's literals */
}

/* The items of a run (one per row) and the requests of those not finished. */
typedef struct stronger_work {
    char (*ids)[96];              /* by row */
    const char **idp;             /* ids[i], for anc_pairs_write_ordered */
    json_t **msgs;                /* by row: the request's messages */
    anc_llm_request *reqs;
    size_t *req_row;              /* request index -> row */
    size_t n_req;
    size_t n_rows;
} stronger_work;

/* The batch callback's context. */
typedef struct stronger_run {
    anc_llm_step *s;
    const stronger_work *w;
    const char *prompt_key, *response_field, *model_id;
    anc_item_tally tally;
} stronger_run;

/* An answer (without trailing spaces and newlines) makes the pair; an
 * error or an empty answer is a failed item. */
static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    stronger_run *r = ctx;
    size_t row_i = r->w->req_row[index];
    const char *id = r->w->ids[row_i];
    const json_t *row = r->s->rows.rows[row_i];
    const char *text = st == ANC_OK ? reply->text : NULL;
    size_t len = text ? strlen(text) : 0;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n')) len--;
    if (!text || len == 0)
        return anc_item_tally_put(&r->tally, r->s->store, r->s->step, id, ANC_ITEM_FAILED, NULL,
                                  text ? "empty answer" : error->message);
    char *answer = strndup(text, len);
    json_t *rec = anc_pair_record(id, json_object_get(row, r->prompt_key), answer,
                                  json_string_value(json_object_get(row, r->response_field)), "stronger");
    json_object_set_new(rec, "stronger", json_string(r->model_id));
    int stop = anc_item_tally_put(&r->tally, r->s->store, r->s->step, id, ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    free(answer);
    return stop;
}

static anc_status work_alloc(stronger_work *w, size_t n_rows, anc_error *err) {
    memset(w, 0, sizeof *w);
    w->n_rows = n_rows;
    w->ids = calloc(n_rows + 1, sizeof *w->ids);
    w->idp = calloc(n_rows + 1, sizeof *w->idp);
    w->msgs = calloc(n_rows + 1, sizeof *w->msgs);
    w->reqs = calloc(n_rows + 1, sizeof *w->reqs);
    w->req_row = calloc(n_rows + 1, sizeof *w->req_row);
    if (!w->ids || !w->idp || !w->msgs || !w->reqs || !w->req_row)
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return ANC_OK;
}

static void work_free(stronger_work *w) {
    for (size_t i = 0; w->msgs && i < w->n_rows; i++) json_decref(w->msgs[i]);
    free(w->ids);
    free(w->idp);
    free(w->msgs);
    free(w->reqs);
    free(w->req_row);
    memset(w, 0, sizeof *w);
}

/* Names every row's item and adds a request for each one not finished yet
 * (counted in *reused otherwise). */
static anc_status build_requests(const anc_stronger_opts *o, const anc_llm_step *s, const char *prompt_key,
                                 stronger_work *w, size_t *reused, anc_error *err) {
    for (size_t i = 0; i < s->rows.n; i++) {
        json_t *row = s->rows.rows[i], *p = json_object_get(row, prompt_key);
        const char *draft = json_string_value(json_object_get(row, o->response_field));
        if (!p || !draft || !(json_is_string(p) || json_is_array(p)))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"%s\" and a string \"%s\"", o->input,
                                 s->rows.lines[i], prompt_key, o->response_field);
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        const char *parts[2] = {pj, draft};
        anc_item_id(row, parts, 2, w->ids[i], sizeof w->ids[i]);
        free(pj);
        w->idp[i] = w->ids[i];
        anc_item_status is;
        if (anc_store_item_get(s->store, s->step, w->ids[i], &is, NULL, NULL, err)) return err->code;
        if (is == ANC_ITEM_DONE) {
            (*reused)++;
            continue;
        }
        /* the stronger model sees the prompt itself: the string as a user
         * message, or the conversation as it is */
        w->msgs[i] = json_is_string(p) ? anc_llm_user_message(json_string_value(p)) : json_incref(p);
        w->reqs[w->n_req].messages = w->msgs[i];
        w->reqs[w->n_req].salt = "stronger";
        w->req_row[w->n_req++] = i;
    }
    return ANC_OK;
}

anc_status anc_stronger_run(const anc_stronger_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                            anc_items_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->input || !o->out || !o->llm.spec)
        return anc_error_set(err, ANC_ERR_INVALID, "stronger needs an input, an output and a stronger model");
    anc_llm_step s = {0};
    stronger_work w = {0};
    anc_status st = anc_llm_step_open(&s, "stronger", "stronger", o->input, o->out, &o->llm, store, NULL,
                                      "prompt-as-is", json_pack("{ss}", "response-field", o->response_field), hooks,
                                      err);
    if (st) goto done;
    const char *prompt_key = s.rows.n && !json_object_get(s.rows.rows[0], "prompt") ? "messages" : "prompt";
    if ((st = work_alloc(&w, s.rows.n, err)) || (st = build_requests(o, &s, prompt_key, &w, &res->reused, err)))
        goto done;
    stronger_run run;
    memset(&run, 0, sizeof run);
    run.s = &s;
    run.w = &w;
    run.prompt_key = prompt_key;
    run.response_field = o->response_field;
    run.model_id = anc_llm_id(s.llm);
    if ((st = anc_llm_step_run(&s, &o->llm, w.reqs, w.n_req, w.n_req, on_reply, &run, &run.tally, "items", hooks, &res->stats,
                               err)))
        goto done;
    st = anc_pairs_write_ordered(s.store, s.step, w.idp, s.rows.n, o->out, &res->written, &res->done, &res->failed,
                                 err);
    if (!st && !(res->store_path = strdup(anc_store_path(s.store))))
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
done:
    work_free(&w);
    anc_llm_step_close(&s);
    return st;
}
