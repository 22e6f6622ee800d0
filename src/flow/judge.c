/* The judge step (judge.h). */
#include "flow/judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/judge.h"

#define T anc_judge_opts
const anc_option anc_judge_option_table[] = {
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "samples: at least two rows per prompt (anchor generate --samples-per-prompt 2)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "judge pairs (chosen = the consistent winner)"},
    {"template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, template_path), NULL, "FILE",
     "judge prompt with {prompt}, {response_a}, {response_b} and a 'Verdict: A|B|tie' line"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding each sample (default completion)"},
    ANC_LLM_STEP_OPTIONS(T, "judge", ANC_OPT_REQUIRED, "0", "1024"),
    {0},
};
#undef T

void anc_judge_opts_init(anc_judge_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_judge_option_table, o, &err); /* the table's literals */
}

void anc_judge_result_free(anc_judge_result *r) {
    anc_items_result_free(&r->items);
    memset(r, 0, sizeof *r);
}

/* The samples of one prompt: its first two rows are judged in both orders. */
typedef struct judge_group {
    char id[96];
    size_t row1, row2;            /* the two samples */
    const char *y1, *y2;          /* borrowed from the rows */
    anc_verdict v[2];             /* [0]: A = y1, [1]: A = y2 */
    int got;                      /* replies arrived */
    json_t *messages[2];          /* the requests, by order */
} judge_group;

/* The groups of a run and their requests (two per unfinished group). */
typedef struct judge_work {
    judge_group *groups;
    size_t n_groups;
    anc_llm_request *reqs;
    size_t *req_group;            /* request index -> group */
    int *req_order;               /* request index -> 0 / 1 */
    size_t n_req;
} judge_work;

/* The batch callback's context. */
typedef struct judge_run {
    anc_llm_step *s;
    judge_work *w;
    const char *prompt_key;
    const char *judge_id;
    anc_item_tally tally;
} judge_run;

/* The record of a finished group: a pair for a consistent winner, else only
 * the outcome and verdicts (a tie or inconsistent verdicts make no pair). */
static json_t *group_record(const judge_run *r, const judge_group *g, anc_judge_outcome o) {
    json_t *rec;
    if (o == ANC_JUDGE_FIRST || o == ANC_JUDGE_SECOND) {
        const json_t *row = r->s->rows.rows[g->row1];
        rec = anc_pair_record(g->id, json_object_get(row, r->prompt_key), o == ANC_JUDGE_FIRST ? g->y1 : g->y2,
                              o == ANC_JUDGE_FIRST ? g->y2 : g->y1, "judge");
        json_object_set_new(rec, "judge", json_string(r->judge_id));
    } else {
        rec = json_object();
    }
    json_object_set_new(rec, "outcome", json_string(anc_judge_outcome_name(o)));
    json_object_set_new(rec, "verdicts", json_pack("[ss]", anc_verdict_name(g->v[0]), anc_verdict_name(g->v[1])));
    return rec;
}

/* A group is finished (or failed) when both of its replies are in. */
static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    judge_run *r = ctx;
    judge_group *g = &r->w->groups[r->w->req_group[index]];
    int order = r->w->req_order[index];
    anc_error err = {0};
    anc_verdict v = ANC_VERDICT_NONE;
    if (st == ANC_OK) anc_judge_parse(reply->text, strlen(reply->text), &v, &err);
    else err = *error;
    g->v[order] = v;
    if (++g->got < 2) return 0;
    if (g->v[0] == ANC_VERDICT_NONE || g->v[1] == ANC_VERDICT_NONE)
        return anc_item_tally_put(&r->tally, r->s->store, r->s->step, g->id, ANC_ITEM_FAILED, NULL,
                                  err.message[0] ? err.message : "no verdict");
    json_t *rec = group_record(r, g, anc_judge_combine(g->v[0], g->v[1]));
    int stop = anc_item_tally_put(&r->tally, r->s->store, r->s->step, g->id, ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    return stop;
}

static anc_status work_alloc(judge_work *w, size_t n_rows, anc_error *err) {
    memset(w, 0, sizeof *w);
    w->groups = calloc(n_rows + 1, sizeof *w->groups);
    w->reqs = calloc(2 * n_rows + 1, sizeof *w->reqs);
    w->req_group = calloc(2 * n_rows + 1, sizeof *w->req_group);
    w->req_order = calloc(2 * n_rows + 1, sizeof *w->req_order);
    if (!w->groups || !w->reqs || !w->req_group || !w->req_order)
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return ANC_OK;
}

static void work_free(judge_work *w) {
    for (size_t g = 0; w->groups && g < w->n_groups; g++) {
        json_decref(w->groups[g].messages[0]);
        json_decref(w->groups[g].messages[1]);
    }
    free(w->groups);
    free(w->reqs);
    free(w->req_group);
    free(w->req_order);
    memset(w, 0, sizeof *w);
}

/* Groups the rows by id (else by prompt), keeping the first two samples of
 * each group, in the order the groups first appear. */
static anc_status group_rows(const anc_judge_opts *o, const anc_llm_step *s, const char *prompt_key, judge_work *w,
                             anc_error *err) {
    for (size_t i = 0; i < s->rows.n; i++) {
        json_t *row = s->rows.rows[i];
        json_t *p = json_object_get(row, prompt_key);
        const char *y = json_string_value(json_object_get(row, o->response_field));
        if (!p || !y)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"%s\" and a string \"%s\"", o->input,
                                 s->rows.lines[i], prompt_key, o->response_field);
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char id[96];
        const char *parts[1] = {pj};
        anc_item_id(row, parts, 1, id, sizeof id);
        free(pj);
        size_t g = 0;
        while (g < w->n_groups && strcmp(w->groups[g].id, id)) g++;
        judge_group *gr = &w->groups[g];
        if (g == w->n_groups) {
            snprintf(gr->id, sizeof gr->id, "%s", id);
            gr->row1 = i;
            gr->y1 = y;
            w->n_groups++;
        } else if (!gr->y2) {
            gr->row2 = i;
            gr->y2 = y;
        }
    }
    return ANC_OK;
}

/* Adds group g's two requests: y1 shown as A, then y2 shown as A. */
static anc_status group_requests(const anc_judge_opts *o, const anc_llm_step *s, const char *tmpl,
                                 const char *prompt_key, judge_work *w, size_t g, anc_error *err) {
    judge_group *gr = &w->groups[g];
    char *ptext = anc_prompt_text(json_object_get(s->rows.rows[gr->row1], prompt_key));
    if (!ptext)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt has no user message", o->input,
                             s->rows.lines[gr->row1]);
    anc_status st = ANC_OK;
    for (int k = 0; k < 2 && !st; k++) {
        char *text = NULL;
        if ((st = anc_judge_prompt(tmpl, ptext, k ? gr->y2 : gr->y1, k ? gr->y1 : gr->y2, &text, err))) break;
        gr->messages[k] = anc_llm_user_message(text);
        free(text);
        w->reqs[w->n_req].messages = gr->messages[k];
        w->reqs[w->n_req].salt = "judge";
        w->req_group[w->n_req] = g;
        w->req_order[w->n_req] = k;
        w->n_req++;
    }
    free(ptext);
    return st;
}

/* The requests of the groups with two samples not finished yet; counts the
 * finished ones (reused) and the groups with one sample (singles). */
static anc_status build_requests(const anc_judge_opts *o, const anc_llm_step *s, const char *tmpl,
                                 const char *prompt_key, judge_work *w, anc_judge_result *res, anc_error *err) {
    for (size_t g = 0; g < w->n_groups; g++) {
        if (!w->groups[g].y2) {
            res->singles++;
            continue;
        }
        anc_item_status is;
        if (anc_store_item_get(s->store, s->step, w->groups[g].id, &is, NULL, NULL, err)) return err->code;
        if (is == ANC_ITEM_DONE) {
            res->items.reused++;
            continue;
        }
        anc_status st = group_requests(o, s, tmpl, prompt_key, w, g, err);
        if (st) return st;
    }
    return ANC_OK;
}

/* Sends the requests through the run store (as anc_llm_step_run does),
 * counting prompts: two requests make one. */
static int count_outcome(void *ctx, const char *item_id, anc_item_status status, const json_t *record,
                         const char *error) {
    (void)item_id;
    (void)error;
    anc_judge_result *r = ctx;
    const char *o = status == ANC_ITEM_DONE ? json_string_value(json_object_get(record, "outcome")) : NULL;
    if (!o) return 0;
    if (!strcmp(o, anc_judge_outcome_name(ANC_JUDGE_FIRST)) || !strcmp(o, anc_judge_outcome_name(ANC_JUDGE_SECOND)))
        r->consistent++;
    else if (!strcmp(o, anc_judge_outcome_name(ANC_JUDGE_TIE)))
        r->ties++;
    else if (!strcmp(o, anc_judge_outcome_name(ANC_JUDGE_INCONSISTENT)))
        r->inconsistent++;
    return 0;
}

/* Writes the pairs in input order and counts the verdicts of the step. */
static anc_status finish(const anc_judge_opts *o, anc_llm_step *s, const judge_work *w, anc_judge_result *res,
                         anc_error *err) {
    const char **ids = malloc((w->n_groups + 1) * sizeof *ids);
    if (!ids) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t g = 0; g < w->n_groups; g++) ids[g] = w->groups[g].id;
    anc_items_result *r = &res->items;
    anc_status st = anc_pairs_write_ordered(s->store, s->step, ids, w->n_groups, o->out, &r->written, &r->done,
                                            &r->failed, err);
    free(ids);
    if (!st) st = anc_store_item_foreach(s->store, s->step, ANC_ITEM_DONE, count_outcome, res, err);
    if (!st && !(r->store_path = strdup(anc_store_path(s->store))))
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return st;
}

anc_status anc_judge_run(const anc_judge_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                         anc_judge_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->input || !o->out || !o->llm.spec)
        return anc_error_set(err, ANC_ERR_INVALID, "judge needs an input, an output and a judge");
    anc_llm_step s = {0};
    judge_work w = {0};
    char *tmpl = NULL;
    anc_status st = o->template_path ? anc_judge_template_load(o->template_path, &tmpl, err) : ANC_OK;
    if (!st) st = anc_llm_step_open(&s, "judge", "judge", o->input, o->out, &o->llm, store, tmpl, "anchor-pairwise",
                                    json_pack("{ss}", "response-field", o->response_field), hooks, err);
    if (st) goto done;
    const char *prompt_key = s.rows.n && !json_object_get(s.rows.rows[0], "prompt") ? "messages" : "prompt";
    if ((st = work_alloc(&w, s.rows.n, err)) || (st = group_rows(o, &s, prompt_key, &w, err)) ||
        (st = build_requests(o, &s, tmpl, prompt_key, &w, res, err)))
        goto done;
    judge_run run;
    memset(&run, 0, sizeof run);
    run.s = &s;
    run.w = &w;
    run.prompt_key = prompt_key;
    run.judge_id = anc_llm_id(s.llm);
    /* two requests (both orders) per prompt; progress counts prompts */
    if (!(st = anc_llm_step_run(&s, &o->llm, w.reqs, w.n_req, w.n_req / 2, on_reply, &run, &run.tally, "prompts", hooks,
                                &res->items.stats, err)))
        st = finish(o, &s, &w, res, err);
done:
    work_free(&w);
    free(tmpl);
    anc_llm_step_close(&s);
    return st;
}
