/* Routed revision (revise.h, `anchor revise --route`): each draft is checked
 * (a grader, or a judge request through the run store); those that fail are
 * revised, and a revision that still fails goes back with the check's
 * feedback, up to max_rounds revisions. Round by round: one reviser batch
 * for the items needing revision r, then the checks of those revisions; an
 * item is finished (its pair record written) when its answer passes or it
 * had max_rounds revisions. Every round's outcome is its own store item
 * "ID#rN", written once its check finished, so a rerun resumes each item
 * at its last checked round; the replies themselves are in the store's
 * requests, so nothing completed is sent again. */
#define _GNU_SOURCE
#include "flow/revise_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/revise.h"
#include "store/sha256.h"

/* ---- settings ------------------------------------------------------------- */

static const char *grader_check_name(anc_grader_kind k) {
    switch (k) {
    case ANC_GRADER_EXACT: return "grader:exact";
    case ANC_GRADER_REGEX: return "grader:regex";
    case ANC_GRADER_NUMERIC: return "grader:numeric";
    case ANC_GRADER_EXEC: return "grader:exec";
    }
    return "grader:exact";
}

anc_status revise_route_setup_init(const anc_revise_opts *o, revise_route_setup *r, anc_error *err) {
    memset(r, 0, sizeof *r);
    if (!o->route) {
        const char *opt = o->max_rounds != 1 ? "--max-rounds" : o->route_drop ? "--route-drop"
                          : o->feedback_template ? "--feedback-template" : o->route_template ? "--route-template"
                          : o->route_model ? "--route-model" : NULL;
        if (opt) return anc_error_set(err, ANC_ERR_INVALID, "revise: %s needs --route SPEC", opt);
        return ANC_OK;
    }
    if (o->max_rounds < 1 || o->max_rounds > ANC_REVISE_MAX_ROUNDS)
        return anc_error_set(err, ANC_ERR_INVALID, "revise: --max-rounds %ld (expected 1 to %d)", o->max_rounds,
                             ANC_REVISE_MAX_ROUNDS);
    if (!strncmp(o->route, "grader:", 7)) {
        if (anc_grader_parse(o->route + 7, &r->grader, err)) {
            anc_error_prefix(err, "revise --route '%s'", o->route);
            return ANC_ERR_INVALID;
        }
        r->check = grader_check_name(r->grader.kind);
        if (o->route_template || o->route_model)
            return anc_error_set(err, ANC_ERR_INVALID, "revise: %s is for --route judge:BACKEND, not %s",
                                 o->route_template ? "--route-template" : "--route-model", o->route);
    } else if (!strncmp(o->route, "judge:", 6) && o->route[6]) {
        r->judge = 1;
        r->judge_spec = o->route + 6;
        r->check = "judge";
    } else {
        return anc_error_set(err, ANC_ERR_INVALID, "revise --route '%s': expected grader:exact, grader:regex, "
                             "grader:numeric, grader:exec:CMD or judge:BACKEND", o->route);
    }
    anc_status st = o->feedback_template ? anc_clair_feedback_template_load(o->feedback_template, &r->feedback_tmpl, err)
                                         : ANC_OK;
    if (!st && o->route_template) st = anc_clair_check_template_load(o->route_template, &r->check_tmpl, err);
    if (st) revise_route_setup_free(r);
    return st;
}

void revise_route_setup_free(revise_route_setup *r) {
    free(r->feedback_tmpl);
    free(r->check_tmpl);
    memset(r, 0, sizeof *r);
}

int revise_route_needs_ref(const revise_route_setup *r) {
    return !r->judge && r->grader.kind != ANC_GRADER_EXEC;
}

static json_t *template_id(const char *text, const char *builtin) {
    if (!text) return json_string(builtin);
    char hex[ANC_SHA256_HEX];
    anc_sha256_hex(text, strlen(text), hex);
    return json_pack("s+", "sha256:", hex);
}

int revise_route_provenance(const anc_revise_opts *o, const revise_route_setup *r, json_t *prov) {
    int bad = 0;
    bad |= json_object_set_new(prov, "route", json_string(o->route));
    bad |= json_object_set_new(prov, "route-threshold", json_real(o->route_threshold));
    bad |= json_object_set_new(prov, "route-drop", json_boolean(o->route_drop));
    bad |= json_object_set_new(prov, "max-rounds", json_integer(o->max_rounds));
    bad |= json_object_set_new(prov, "feedback-template", template_id(r->feedback_tmpl, "clair-feedback"));
    bad |= json_object_set_new(prov, "reference-field", o->reference_field ? json_string(o->reference_field) : json_null());
    if (r->judge) {
        bad |= json_object_set_new(prov, "route-template", template_id(r->check_tmpl, "anchor-check"));
        bad |= json_object_set_new(prov, "route-model", o->route_model ? json_string(o->route_model) : json_null());
        bad |= json_object_set_new(prov, "route-temperature", json_real(o->route_temperature));
    }
    return bad ? -1 : 0;
}

/* ---- the run's state ------------------------------------------------------ */

enum { RS_OPEN = 0, RS_FINAL, RS_FAILED };

typedef struct route_state {
    int status;        /* RS_*; items finished by an earlier run take no part */
    int rev;           /* revisions made (0: the answer is the draft) */
    int checked;       /* the answer at rev has been checked */
    int passed;        /* that check passed */
    int passed_draft;  /* the draft's check passed */
    double score;
    char *text;        /* revision rev (NULL at rev 0) */
    char *rationale;   /* revision rev's */
    char *feedback;    /* the last check's (NULL: none) */
    json_t *messages;  /* the request of the current batch */
} route_state;

typedef struct route_run {
    revise_ctx *c;
    const revise_route_setup *r;
    route_state *st;
    size_t *idx;              /* request index -> item index */
    anc_llm_request *reqs;
    anc_llm *judge;
    anc_chat_model *judge_local;
    size_t total, settled, failed;
    int store_failed;
    anc_error store_err;
} route_run;

static const char *answer(const route_run *rr, size_t i) {
    return rr->st[i].text ? rr->st[i].text : rr->c->items[i].draft;
}

static void round_id(const revise_item *it, int round, char *buf, size_t cap) {
    snprintf(buf, cap, "%s#r%d", it->id, round);
}

/* Remembers a store failure inside a batch callback; returns 1 (cancel). */
static int store_fail(route_run *rr, const anc_error *e) {
    if (!rr->store_failed) rr->store_err = *e;
    rr->store_failed = 1;
    return 1;
}

static void progress(route_run *rr) {
    anc_flow_progress p = {"items", rr->settled + rr->failed, rr->failed, rr->total, 0};
    anc_flow_progress_report(rr->c->hooks, &p);
}

/* Records item i as failed (why) in the step; returns what a batch callback
 * returns. */
static int item_fail(route_run *rr, size_t i, const char *why) {
    anc_error e = {0};
    revise_ctx *c = rr->c;
    if (anc_store_item_put(c->s->store, c->s->step, c->items[i].id, ANC_ITEM_FAILED, NULL, why, &e))
        return store_fail(rr, &e);
    rr->st[i].status = RS_FAILED;
    rr->failed++;
    progress(rr);
    return 0;
}

/* Reads item i's finished rounds from the store: the last one sets where
 * the item goes on. */
static anc_status restore(route_run *rr, size_t i, anc_error *err) {
    revise_ctx *c = rr->c;
    route_state *s = &rr->st[i];
    for (int round = 0; round <= (int)c->o->max_rounds; round++) {
        char id[128];
        round_id(&c->items[i], round, id, sizeof id);
        anc_item_status is;
        json_t *rec = NULL;
        if (anc_store_item_get(c->s->store, c->s->step, id, &is, &rec, NULL, err)) return err->code;
        const char *rev = json_string_value(json_object_get(rec, "revision"));
        if (is != ANC_ITEM_DONE || (round > 0 && !rev)) {
            json_decref(rec);
            break;
        }
        const char *rat = json_string_value(json_object_get(rec, "rationale"));
        const char *fb = json_string_value(json_object_get(rec, "feedback"));
        free(s->text);
        free(s->rationale);
        free(s->feedback);
        s->text = rev ? strdup(rev) : NULL;
        s->rationale = rat ? strdup(rat) : NULL;
        s->feedback = fb ? strdup(fb) : NULL;
        s->rev = round;
        s->checked = 1;
        s->passed = json_is_true(json_object_get(rec, "passed"));
        s->score = json_number_value(json_object_get(rec, "score"));
        if (round == 0) s->passed_draft = s->passed;
        json_decref(rec);
        if ((rev && !s->text) || (rat && !s->rationale) || (fb && !s->feedback))
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        if (s->passed) break;
    }
    return ANC_OK;
}

/* Stores the check of item i's current answer as its round record. */
static int record_check(route_run *rr, size_t i, int passed, double score, char *feedback) {
    route_state *s = &rr->st[i];
    free(s->feedback);
    s->feedback = feedback;
    s->checked = 1;
    s->passed = passed;
    s->score = score;
    if (s->rev == 0) s->passed_draft = passed;
    json_t *rec = json_pack("{si sb sf so}", "round", s->rev, "passed", passed, "score", score, "feedback",
                            feedback ? json_string(feedback) : json_null());
    if (rec && s->rev > 0) {
        json_object_set_new(rec, "revision", json_string(s->text));
        json_object_set_new(rec, "rationale", json_string(s->rationale ? s->rationale : ""));
    }
    char id[128];
    round_id(&rr->c->items[i], s->rev, id, sizeof id);
    anc_error e = {0};
    anc_status st = rec ? anc_store_item_put(rr->c->s->store, rr->c->s->step, id, ANC_ITEM_DONE, rec, NULL, &e)
                        : anc_error_set(&e, ANC_ERR_NOMEM, "out of memory");
    json_decref(rec);
    return st ? store_fail(rr, &e) : 0;
}

/* The route object of a record. */
static json_t *route_obj(const route_run *rr, const route_state *s) {
    return json_pack("{ss sb si sb}", "check", rr->r->check, "passed_draft", s->passed_draft, "rounds", s->rev,
                     "passed", s->passed);
}

/* Writes item i's pair record (or, for a passing draft with route_drop, a
 * record without a pair) once its answer passes or it had every round. */
static int finalize(route_run *rr, size_t i) {
    revise_ctx *c = rr->c;
    route_state *s = &rr->st[i];
    const revise_item *it = &c->items[i];
    const json_t *prompt = json_object_get(c->s->rows.rows[it->row], c->prompt_key);
    json_t *rec;
    if (s->rev == 0 && c->o->route_drop) {
        rec = json_pack("{ss}", "id", it->id);
    } else if (s->rev == 0) {
        rec = anc_pair_record(it->id, prompt, it->draft, it->draft, "route-pass");
    } else {
        rec = anc_pair_record(it->id, prompt, s->text, it->draft, "clair");
        json_object_set_new(rec, "rationale", json_string(s->rationale ? s->rationale : ""));
        json_object_set_new(rec, "reviser", json_string(c->reviser_id));
    }
    json_t *ro = route_obj(rr, s);
    anc_error e = {0};
    anc_status st = rec && ro && !json_object_set_new(rec, "route", ro)
                        ? anc_store_item_put(c->s->store, c->s->step, it->id, ANC_ITEM_DONE, rec, NULL, &e)
                        : anc_error_set(&e, ANC_ERR_NOMEM, "out of memory");
    json_decref(rec);
    if (st) return store_fail(rr, &e);
    s->status = RS_FINAL;
    rr->settled++;
    progress(rr);
    return 0;
}

/* The text the reviser gets when a check said nothing itself. */
static char *default_feedback(const route_run *rr, const route_state *s) {
    char *t = NULL;
    int n = rr->r->judge
                ? asprintf(&t, "The answer does not pass the check (the checker's verdict: FAIL).")
                : asprintf(&t, "The answer does not pass the check (%s scored it %g; it needs at least %g).",
                           rr->r->check, s->score, rr->c->o->route_threshold);
    return n < 0 ? NULL : t;
}

static void stats_add(anc_llm_stored_stats *a, const anc_llm_stored_stats *b) {
    a->cached += b->cached;
    a->sent += b->sent;
    a->duplicates += b->duplicates;
    a->succeeded += b->succeeded;
    a->failed += b->failed;
    a->elsewhere += b->elsewhere;
}

/* Ends a batch: a store failure inside it is the batch's error. */
static anc_status batch_end(route_run *rr, anc_status st, anc_error *err) {
    if (rr->store_failed) {
        *err = rr->store_err;
        return err->code ? err->code : ANC_ERR_IO;
    }
    return st;
}

/* ---- checks --------------------------------------------------------------- */

static int on_check(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    route_run *rr = ctx;
    size_t i = rr->idx[index];
    json_decref(rr->st[i].messages);
    rr->st[i].messages = NULL;
    char why[ANC_ERROR_MESSAGE_MAX + 64];
    if (st != ANC_OK) {
        snprintf(why, sizeof why, "route check: %s", error->message);
        return item_fail(rr, i, why);
    }
    anc_error e = {0};
    int passed = 0;
    char *feedback = NULL;
    if (anc_clair_parse_verdict(reply->text, strlen(reply->text), &passed, &feedback, &e)) {
        snprintf(why, sizeof why, "route check (round %d): %s", rr->st[i].rev, e.message);
        return item_fail(rr, i, why);
    }
    if (!*feedback) {
        free(feedback);
        feedback = NULL;
    }
    return record_check(rr, i, passed, passed ? 1.0 : 0.0, feedback);
}

/* Judge checks of the open items whose answer at round is not checked. */
static anc_status check_judge(route_run *rr, int round, anc_revise_result *res, anc_error *err) {
    revise_ctx *c = rr->c;
    size_t n = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        route_state *s = &rr->st[i];
        if (s->status != RS_OPEN || s->rev != round || s->checked) continue;
        char *text = NULL;
        if (anc_clair_check_prompt(rr->r->check_tmpl, c->items[i].input, answer(rr, i), &text, err)) return err->code;
        s->messages = anc_llm_user_message(text);
        free(text);
        if (!s->messages) {
            if (item_fail(rr, i, "route check: the prompt or answer is not valid UTF-8")) return batch_end(rr, 0, err);
            continue;
        }
        rr->reqs[n].messages = s->messages;
        rr->reqs[n].salt = "route-check";
        rr->reqs[n].params = NULL;
        rr->idx[n++] = i;
    }
    if (!n) return ANC_OK;
    anc_llm_stored_stats stats = {0};
    size_t conc = (size_t)(c->o->llm.concurrency > 0 ? c->o->llm.concurrency : 1);
    anc_status st = anc_llm_run_stored(rr->judge, c->s->store, rr->reqs, n, conc, on_check, rr, &stats, err);
    stats_add(&res->route.check_stats, &stats);
    return batch_end(rr, st, err);
}

/* Grader checks (in-process, one after another). */
static anc_status check_grader(route_run *rr, int round, anc_error *err) {
    revise_ctx *c = rr->c;
    for (size_t i = 0; i < c->n_items; i++) {
        route_state *s = &rr->st[i];
        if (s->status != RS_OPEN || s->rev != round || s->checked) continue;
        double score = 0;
        char *feedback = NULL;
        anc_error e = {0};
        if (anc_grade_ex(&rr->r->grader, c->items[i].input, answer(rr, i), c->items[i].ref, &score, &feedback, &e)) {
            char why[ANC_ERROR_MESSAGE_MAX + 64];
            snprintf(why, sizeof why, "route check (round %d): %s", round, e.message);
            if (item_fail(rr, i, why)) break;
            continue;
        }
        if (record_check(rr, i, score >= c->o->route_threshold, score, feedback)) break;
    }
    return batch_end(rr, ANC_OK, err);
}

/* ---- revisions ------------------------------------------------------------ */

static int on_revision(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    route_run *rr = ctx;
    size_t i = rr->idx[index];
    route_state *s = &rr->st[i];
    json_decref(s->messages);
    s->messages = NULL;
    if (st != ANC_OK) return item_fail(rr, i, error->message);
    anc_error e = {0};
    anc_clair_reply cr;
    if (anc_clair_parse_reply(reply->text, strlen(reply->text), rr->c->items[i].draft, &cr, &e) != ANC_OK) {
        char why[ANC_ERROR_MESSAGE_MAX + 64];
        snprintf(why, sizeof why, "revision %d: %s", s->rev + 1, e.message);
        return item_fail(rr, i, why);
    }
    free(s->text);
    free(s->rationale);
    s->text = cr.revision;
    s->rationale = cr.rationale;
    s->rev++;
    s->checked = 0;
    return 0;
}

/* The request of item i's revision `round`: the CLAIR prompt for the first,
 * the feedback prompt after. */
static anc_status revision_request(route_run *rr, size_t i, int round, anc_error *err) {
    revise_ctx *c = rr->c;
    const revise_item *it = &c->items[i];
    route_state *s = &rr->st[i];
    char *text = NULL;
    anc_status st;
    if (round == 1) {
        st = anc_clair_prompt(c->tmpl, it->input, it->draft, &text, err);
    } else {
        char *fb = s->feedback && *s->feedback ? NULL : default_feedback(rr, s);
        const char *f = s->feedback && *s->feedback ? s->feedback : fb;
        st = f ? anc_clair_feedback_prompt(rr->r->feedback_tmpl, it->input, it->draft, answer(rr, i), f, &text, err)
               : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        free(fb);
    }
    if (st) return st;
    s->messages = anc_llm_user_message(text);
    free(text);
    return ANC_OK;
}

/* Revision `round` of the open items whose round-1 answer failed its check. */
static anc_status revise_round(route_run *rr, int round, anc_revise_result *res, anc_error *err) {
    revise_ctx *c = rr->c;
    size_t n = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        route_state *s = &rr->st[i];
        if (s->status != RS_OPEN || s->rev != round - 1 || !s->checked || s->passed) continue;
        if (revision_request(rr, i, round, err)) return err->code;
        if (!s->messages) {
            if (item_fail(rr, i, "the prompt, draft or revision is not valid UTF-8")) return batch_end(rr, 0, err);
            continue;
        }
        rr->reqs[n].messages = s->messages;
        rr->reqs[n].salt = round == 1 ? "clair" : "clair-feedback";
        rr->reqs[n].params = NULL;
        rr->idx[n++] = i;
    }
    if (!n) return ANC_OK;
    if (round > 1) anc_flow_note(c->hooks, "round %d: %zu revisions still fail the check and go back with its feedback",
                                 round, n);
    anc_llm_stored_stats stats = {0};
    size_t conc = (size_t)(c->o->llm.concurrency > 0 ? c->o->llm.concurrency : 1);
    anc_status st = anc_llm_run_stored(c->s->llm, c->s->store, rr->reqs, n, conc, on_revision, rr, &stats, err);
    stats_add(&res->items.stats, &stats);
    return batch_end(rr, st, err);
}

/* ---- the summary ---------------------------------------------------------- */

static int count_route(void *ctx, const char *item_id, anc_item_status status, const json_t *record,
                       const char *error) {
    (void)item_id;
    (void)error;
    anc_revise_route *r = ctx;
    const json_t *ro = status == ANC_ITEM_DONE ? json_object_get(record, "route") : NULL;
    if (!json_is_object(ro)) return 0;
    r->checked++;
    if (json_is_true(json_object_get(ro, "passed_draft"))) {
        r->passed_draft++;
        r->check_requests += r->used == 2;
        if (!json_object_get(record, "chosen")) r->dropped++;
        return 0;
    }
    long long rounds = json_integer_value(json_object_get(ro, "rounds"));
    r->routed++;
    for (long long k = 0; k < rounds && k < ANC_REVISE_MAX_ROUNDS; k++) r->revised[k]++;
    r->reviser_calls += (size_t)(rounds > 0 ? rounds : 0);
    r->check_requests += r->used == 2 ? (size_t)(rounds > 0 ? rounds : 0) + 1 : 0;
    if (json_is_true(json_object_get(ro, "passed"))) r->passed_revised++;
    else r->still_failing++;
    return 0;
}

/* Counts the step's finished items and stores the summary as item "summary"
 * of step "revise-route:OUT". */
static anc_status summarize(route_run *rr, anc_revise_route *r, anc_error *err) {
    revise_ctx *c = rr->c;
    r->used = rr->r->judge ? 2 : 1; /* 2 while counting: judge checks are requests */
    anc_status st = anc_store_item_foreach(c->s->store, c->s->step, ANC_ITEM_DONE, count_route, r, err);
    r->used = 1;
    r->check = rr->r->check;
    r->rounds = (size_t)c->o->max_rounds;
    r->calls_saved = r->passed_draft;
    if (st) return st;
    json_t *rev = json_array();
    for (size_t k = 0; k < r->rounds; k++) json_array_append_new(rev, json_integer((json_int_t)r->revised[k]));
    json_t *sum = json_pack("{ss ss sI sI sI so sI sI sI sI sI sI}", "check", r->check, "route", c->o->route,
                            "checked", (json_int_t)r->checked, "passed_draft", (json_int_t)r->passed_draft,
                            "routed", (json_int_t)r->routed, "revised_per_round", rev, "passed_revised",
                            (json_int_t)r->passed_revised, "still_failing", (json_int_t)r->still_failing,
                            "reviser_calls", (json_int_t)r->reviser_calls, "calls_saved", (json_int_t)r->calls_saved,
                            "dropped", (json_int_t)r->dropped, "check_requests", (json_int_t)r->check_requests);
    char *step = anc_item_step("revise-route", c->o->out, anc_store_path(c->s->store));
    st = sum && step ? anc_store_item_put(c->s->store, step, "summary", ANC_ITEM_DONE, sum, NULL, err)
                     : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    json_decref(sum);
    free(step);
    return st;
}

/* ---- the run -------------------------------------------------------------- */

static anc_status open_judge(route_run *rr, anc_error *err) {
    const anc_revise_opts *o = rr->c->o;
    anc_llm_step_opts jo = o->llm;
    jo.spec = rr->r->judge_spec;
    jo.model = o->route_model ? o->route_model : o->llm.model;
    jo.temperature = o->route_temperature;
    anc_status st = anc_llm_step_backend(&jo, &rr->judge, &rr->judge_local, err);
    if (st) anc_error_prefix(err, "--route %s", o->route);
    return st;
}

/* Rounds 0..max_rounds over the open items (round 0 checks the drafts). */
static anc_status run_rounds(route_run *rr, anc_revise_result *res, anc_error *err) {
    revise_ctx *c = rr->c;
    int k = (int)c->o->max_rounds;
    anc_status st = ANC_OK;
    for (int round = 0; round <= k && !st; round++) {
        if (round > 0 && (st = revise_round(rr, round, res, err))) break;
        st = rr->r->judge ? check_judge(rr, round, res, err) : check_grader(rr, round, err);
        for (size_t i = 0; i < c->n_items && !st; i++) {
            route_state *s = &rr->st[i];
            if (s->status == RS_OPEN && s->checked && (s->passed || s->rev >= k) && finalize(rr, i))
                st = batch_end(rr, ANC_OK, err);
        }
    }
    return st;
}

anc_status revise_route_run(revise_ctx *c, const revise_route_setup *r, anc_revise_result *res, anc_error *err) {
    route_run rr;
    memset(&rr, 0, sizeof rr);
    rr.c = c;
    rr.r = r;
    size_t n = c->n_items ? c->n_items : 1;
    rr.st = calloc(n, sizeof *rr.st);
    rr.idx = calloc(n, sizeof *rr.idx);
    rr.reqs = calloc(n, sizeof *rr.reqs);
    anc_status st = rr.st && rr.idx && rr.reqs ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n_items && !st; i++) {
        if (c->items[i].done) rr.st[i].status = RS_FINAL;
        else if (!(st = restore(&rr, i, err))) rr.total++;
    }
    if (!st && rr.total && r->judge) st = open_judge(&rr, err);
    if (!st && rr.total) {
        anc_flow_note(c->hooks, "%zu items to route (%zu already finished): check %s, reviser %s, up to %ld revisions "
                      "each", rr.total, res->items.reused, r->check, c->reviser_id, c->o->max_rounds);
        progress(&rr);
        st = run_rounds(&rr, res, err);
    }
    if (!st) st = summarize(&rr, &res->route, err);
    for (size_t i = 0; rr.st && i < c->n_items; i++) {
        free(rr.st[i].text);
        free(rr.st[i].rationale);
        free(rr.st[i].feedback);
        json_decref(rr.st[i].messages);
    }
    free(rr.st);
    free(rr.idx);
    free(rr.reqs);
    anc_llm_free(rr.judge);
    anc_chat_model_free(rr.judge_local);
    return st;
}
