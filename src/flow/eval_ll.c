/* eval, the log-likelihood tasks (eval/loglik.h): multiple choice (acc and
 * acc_norm as lm-evaluation-harness) and perplexity. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "eval/loglik.h"
#include "flow/eval_internal.h"

/* The requests of every choice of every row, and what they borrow. */
typedef struct mc_set {
    anc_ll_request *reqs;
    double *norm;         /* per request: the choice's length (characters; tokens for id rows) */
    size_t n_req, cap;
    int32_t **owned;      /* the id arrays the requests point into */
    size_t n_owned;
    size_t *first;        /* rows + 1: row i's requests are [first[i], first[i + 1]) */
    long *answer;         /* per row */
} mc_set;

static void mc_free(mc_set *s) {
    for (size_t k = 0; k < s->n_owned; k++) free(s->owned[k]);
    free(s->owned);
    free(s->reqs);
    free(s->norm);
    free(s->first);
    free(s->answer);
}

/* Room for nc more requests (and the id arrays they own). */
static anc_status mc_grow(mc_set *s, size_t nc, anc_error *err) {
    if (s->n_req + nc <= s->cap) return ANC_OK;
    s->cap = (s->n_req + nc) * 2;
    anc_ll_request *nr = realloc(s->reqs, s->cap * sizeof *s->reqs);
    double *nn = realloc(s->norm, s->cap * sizeof *s->norm);
    int32_t **no = realloc(s->owned, 2 * s->cap * sizeof *s->owned);
    if (nr) s->reqs = nr;
    if (nn) s->norm = nn;
    if (no) s->owned = no;
    return nr && nn && no ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
}

/* A pre-tokenised row {question_ids, choices_ids, answer}. */
static anc_status mc_row_ids(const eval_env *e, mc_set *s, size_t i, const json_t *ch, size_t nc, anc_error *err) {
    const json_t *row = e->rows.rows[i];
    const char *data = e->o->data;
    size_t line = e->rows.lines[i];
    int vocab = e->m->cfg.vocab_size;
    int32_t *qids = NULL;
    size_t nq = 0;
    anc_status st = anc_row_ids(row, "question_ids", 0, vocab, &qids, &nq, data, line, err);
    if (!st) s->owned[s->n_owned++] = qids;
    if (!st && !nq) st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: question_ids is empty", data, line);
    for (size_t c = 0; c < nc && !st; c++) {
        int32_t *cids = NULL;
        size_t ncid = 0;
        json_t *tmp = json_pack("{s:O}", "ids", json_array_get(ch, c));
        st = anc_row_ids(tmp, "ids", 0, vocab, &cids, &ncid, data, line, err);
        json_decref(tmp);
        if (!st) s->owned[s->n_owned++] = cids;
        if (!st && !ncid) st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: choice %zu is empty", data, line, c);
        s->reqs[s->n_req] = (anc_ll_request){qids, nq, cids, ncid};
        s->norm[s->n_req] = (double)ncid;
        s->n_req++;
    }
    return st;
}

/* A text row {question, choices, answer}: each choice is the continuation
 * " " + choice of the question. */
static anc_status mc_row_text(const eval_env *e, mc_set *s, size_t i, const char *q, const json_t *ch, size_t nc,
                              anc_error *err) {
    const char *data = e->o->data;
    size_t line = e->rows.lines[i];
    for (size_t c = 0; c < nc; c++) {
        const char *cs = json_string_value(json_array_get(ch, c));
        if (!cs) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: choice %zu is not a string", data, line, c);
        size_t lc = strlen(cs);
        char *cont = malloc(lc + 2);
        if (!cont) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        cont[0] = ' ';
        memcpy(cont + 1, cs, lc + 1);
        int32_t *ctx = NULL, *cids = NULL;
        size_t nctx = 0, ncid = 0;
        anc_status st = anc_ll_encode_pair(e->tok, q, cont, &ctx, &nctx, &cids, &ncid, err);
        free(cont);
        if (st) return anc_error_prefix(err, "%s:%zu: choice %zu", data, line, c);
        s->owned[s->n_owned++] = ctx;
        s->owned[s->n_owned++] = cids;
        s->reqs[s->n_req] = (anc_ll_request){ctx, nctx, cids, ncid};
        s->norm[s->n_req] = (double)anc_utf8_chars(cs);
        s->n_req++;
    }
    return ANC_OK;
}

/* The requests of every row. */
static anc_status mc_build(const eval_env *e, mc_set *s, anc_error *err) {
    size_t n = e->rows.n;
    s->first = calloc(n + 1, sizeof *s->first);
    s->answer = calloc(n + 1, sizeof *s->answer);
    anc_status st = s->first && s->answer ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        const json_t *row = e->rows.rows[i];
        const json_t *q = json_object_get(row, "question"), *ch = json_object_get(row, "choices");
        const json_t *ans = json_object_get(row, "answer");
        int ids_form = !q;
        if (ids_form) ch = json_object_get(row, "choices_ids");
        size_t nc = json_array_size(ch);
        s->first[i] = s->n_req;
        if ((!ids_form && !json_is_string(q)) || nc < 2 || !json_is_integer(ans) || json_integer_value(ans) < 0 ||
            (size_t)json_integer_value(ans) >= nc)
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s:%zu: expected {question, choices: [2+ strings], answer: index} "
                                 "or {question_ids, choices_ids: [2+ id lists], answer: index}",
                                 e->o->data, e->rows.lines[i]);
        s->answer[i] = (long)json_integer_value(ans);
        if ((st = mc_grow(s, nc, err))) break;
        st = ids_form ? mc_row_ids(e, s, i, ch, nc, err) : mc_row_text(e, s, i, json_string_value(q), ch, nc, err);
    }
    if (!st) s->first[n] = s->n_req;
    return st;
}

/* acc and acc_norm from the log-likelihoods; a record per row when asked. */
static anc_status mc_score(eval_env *e, const mc_set *s, const double *ll, anc_eval_result *res, anc_error *err) {
    size_t acc = 0, acc_norm = 0;
    for (size_t i = 0; i < e->rows.n; i++) {
        size_t f = s->first[i], nc = s->first[i + 1] - f;
        size_t p = anc_mc_argmax(ll + f, NULL, nc), pn = anc_mc_argmax(ll + f, s->norm + f, nc);
        acc += p == (size_t)s->answer[i];
        acc_norm += pn == (size_t)s->answer[i];
        if (!e->o->out) continue;
        json_t *lls = json_array();
        for (size_t c = 0; c < nc; c++) json_array_append_new(lls, json_real(ll[f + c]));
        anc_status st = eval_record(e, json_pack("{s:I, s:I, s:I, s:I, s:o}", "row", (json_int_t)i, "answer",
                                                 (json_int_t)s->answer[i], "pred", (json_int_t)p, "pred_norm",
                                                 (json_int_t)pn, "loglik", lls), err);
        if (st) return st;
    }
    eval_metric(&res->metrics[0], "acc", (double)acc, e->rows.n, 1);
    eval_metric(&res->metrics[1], "acc_norm", (double)acc_norm, e->rows.n, 1);
    res->n_metrics = 2;
    return ANC_OK;
}

anc_status eval_mc(eval_env *e, anc_eval_result *res, anc_error *err) {
    mc_set s;
    memset(&s, 0, sizeof s);
    anc_status st = mc_build(e, &s, err);
    double *ll = st ? NULL : calloc(s.n_req + 1, sizeof *ll);
    if (!st && !ll) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    /* the progress starts (and ends) even when a row was bad, as it always did */
    anc_flow_progress p0 = {"choices", 0, 0, s.n_req, 0};
    anc_flow_progress_report(e->hooks, &p0);
    eval_progress prog = {e->hooks, "choices"};
    if (!st) st = anc_loglik(e->m, s.reqs, s.n_req, e->o->batch_tokens, ll, eval_progress_cb, &prog, err);
    if (!st) st = mc_score(e, &s, ll, res, err);
    free(ll);
    mc_free(&s);
    return st;
}

/* The token ids of row i: its "text" (tokenised, with the tokenizer's BOS
 * when it adds one) or its "text_ids". */
static anc_status text_ids(const eval_env *e, size_t i, int32_t **ids, size_t *len, anc_error *err) {
    const json_t *row = e->rows.rows[i], *t = json_object_get(row, "text");
    const char *data = e->o->data;
    size_t line = e->rows.lines[i];
    anc_status st;
    if (json_is_string(t)) {
        if ((st = anc_prompt_ids(e->tok, NULL, t, ids, len, err))) anc_error_prefix(err, "%s:%zu", data, line);
    } else if (json_object_get(row, "text_ids")) {
        st = anc_row_ids(row, "text_ids", 0, e->m->cfg.vocab_size, ids, len, data, line, err);
    } else {
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a string \"text\" or \"text_ids\"", data, line);
    }
    if (!st && *len < 2)
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected at least 2 tokens, got %zu", data, line, *len);
    return st;
}

anc_status eval_perplexity(eval_env *e, anc_eval_result *res, anc_error *err) {
    size_t n = e->rows.n;
    int32_t **ids = calloc(n, sizeof *ids);
    size_t *lens = calloc(n, sizeof *lens);
    anc_status st = ids && lens ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !st; i++) st = text_ids(e, i, &ids[i], &lens[i], err);
    double nll = 0, ppl = 0;
    size_t ntok = 0;
    if (!st)
        st = anc_perplexity(e->m, (const int32_t *const *)ids, lens, n, e->o->batch_tokens, &nll, &ntok, &ppl, err);
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    if (st) return st;
    res->tokens_scored = ntok;
    res->nll_sum = nll;
    res->mean_nll = nll / (double)ntok;
    res->perplexity = ppl;
    return ANC_OK;
}
