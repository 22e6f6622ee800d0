/* ab: the judge sees every prompt in both orders; its replies go through
 * the run store, so a rerun asks nothing already answered. */
#include <stdlib.h>
#include <string.h>

#include "flow/ab_internal.h"
#include "llm/stored.h"

typedef struct judge_run {
    ab_item *items;
    const size_t *req_item;   /* request index -> item index */
    const int *req_order;     /* request index -> order (ab_item.v) */
    size_t done, total;       /* prompts with both replies */
    const anc_flow_hooks *hooks;
} judge_run;

static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    judge_run *r = ctx;
    ab_item *it = &r->items[r->req_item[index]];
    anc_error err = {0};
    anc_verdict v = ANC_VERDICT_NONE;
    if (st == ANC_OK) anc_judge_parse(reply->text, strlen(reply->text), &v, &err);
    else err = *error;
    it->v[r->req_order[index]] = v;
    if (v == ANC_VERDICT_NONE && !it->error) it->error = strdup(err.message[0] ? err.message : "no verdict");
    if (++it->got == 2) {
        anc_flow_progress p = {"prompts", ++r->done, 0, r->total, 0};
        anc_flow_progress_report(r->hooks, &p);
    }
    return 0;
}

static void set_outcome(ab_item *it) {
    if (it->v[0] == ANC_VERDICT_NONE || it->v[1] == ANC_VERDICT_NONE) {
        it->outcome = AB_FAILED;
        return;
    }
    anc_judge_outcome o = anc_judge_combine(it->v[0], it->v[1]);
    it->consistent = o != ANC_JUDGE_INCONSISTENT;
    it->outcome = o == ANC_JUDGE_FIRST ? AB_WIN : o == ANC_JUDGE_SECOND ? AB_LOSS : AB_TIE;
}

/* The run store (borrowed store, else opened from o) and the backend. */
static anc_status judge_open(const anc_ab_opts *o, anc_store *store, anc_llm_step *j, anc_error *err) {
    memset(j, 0, sizeof *j);
    anc_status st = ANC_OK;
    if (store) j->store = store;
    else if (!(st = anc_llm_step_store_open(&o->llm, o->out, &j->store, err))) j->owns_store = 1;
    if (!st) st = anc_llm_step_backend(&o->llm, &j->llm, &j->local, err);
    if (st) anc_llm_step_close(j);
    return st;
}

/* The two requests of every item: A shown first, then B shown first. */
static anc_status build_requests(const ab_set *s, const char *tmpl, anc_llm_request *reqs, size_t *req_item,
                                 int *req_order, anc_error *err) {
    size_t n_req = 0;
    for (size_t i = 0; i < s->n; i++) {
        ab_item *it = &s->items[i];
        char *ptext = anc_prompt_text(it->prompt);
        for (int o = 0; o < 2; o++) {
            char *text = NULL;
            anc_status st = ptext ? anc_judge_prompt(tmpl, ptext, o ? it->yb : it->ya, o ? it->ya : it->yb, &text, err)
                                  : anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt has no user message", s->src,
                                                  it->line);
            if (!st && !(it->messages[o] = anc_llm_user_message(text)))
                st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the judge prompt is not valid UTF-8", s->src, it->line);
            free(text);
            if (st) {
                free(ptext);
                return st;
            }
            reqs[n_req].messages = it->messages[o];
            reqs[n_req].salt = "ab";
            req_item[n_req] = i;
            req_order[n_req] = o;
            n_req++;
        }
        free(ptext);
    }
    return ANC_OK;
}

/* Sends the requests through the run store and sets the outcomes. */
static anc_status ask(const anc_ab_opts *o, anc_llm_step *j, ab_set *s, const anc_llm_request *reqs,
                      const size_t *req_item, const int *req_order, const anc_flow_hooks *hooks, anc_ab_result *res,
                      anc_error *err) {
    judge_run run = {s->items, req_item, req_order, 0, s->n, hooks};
    anc_flow_progress p0 = {"prompts", 0, 0, s->n, 0};
    anc_flow_progress_report(hooks, &p0);
    size_t n_req = 2 * s->n;
    anc_llm_stored_stats stats = {0};
    anc_status st = n_req ? anc_llm_run_stored(j->llm, j->store, reqs, n_req,
                                               (size_t)(o->llm.concurrency > 0 ? o->llm.concurrency : 1), on_reply,
                                               &run, &stats, err)
                          : ANC_OK;
    if (st) return st;
    for (size_t i = 0; i < s->n; i++) set_outcome(&s->items[i]);
    res->stats = stats;
    res->judged = 1;
    return ANC_OK;
}

anc_status ab_judge(const anc_ab_opts *o, anc_store *store, ab_set *s, const anc_flow_hooks *hooks,
                    anc_ab_result *res, anc_error *err) {
    char *tmpl = NULL;
    anc_llm_step j = {0};
    anc_llm_request *reqs = NULL;
    size_t *req_item = NULL;
    int *req_order = NULL;
    anc_status st = o->template_path ? anc_judge_template_load(o->template_path, &tmpl, err) : ANC_OK;
    if (!st) st = judge_open(o, store, &j, err);
    if (!st && !(res->judge = strdup(anc_llm_id(j.llm)))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st) {
        reqs = calloc(2 * s->n + 1, sizeof *reqs);
        req_item = calloc(2 * s->n + 1, sizeof *req_item);
        req_order = calloc(2 * s->n + 1, sizeof *req_order);
        if (!reqs || !req_item || !req_order) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!st) st = build_requests(s, tmpl, reqs, req_item, req_order, err);
    if (!st) st = ask(o, &j, s, reqs, req_item, req_order, hooks, res, err);
    free(reqs);
    free(req_item);
    free(req_order);
    free(tmpl);
    anc_llm_step_close(&j);
    return st;
}
