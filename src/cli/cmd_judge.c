/* anchor judge: on-policy judge pairs (the paper's baseline). Two samples
 * per prompt are compared by a judge in both orders; only a consistent
 * verdict makes a pair (chosen = winner). Ties and inconsistent verdicts are
 * counted, never paired. Every reply goes through the run store. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/judge.h"
#include "cli/cli.h"
#include "cli/cli_llm.h"
#include "flow/llm_step.h"
#include "data/jsonl.h"
#include "llm/stored.h"

#define STEP "judge"

typedef struct judge_group {
    char id[96];
    size_t row1, row2;            /* the two samples */
    const char *y1, *y2;
    anc_verdict v[2];             /* [0]: A = y1, [1]: A = y2 */
    int got;
    json_t *messages[2];
} judge_group;

typedef struct judge_run {
    anc_store *store;
    judge_group *groups;
    const size_t *req_group;      /* request index -> group */
    const int *req_order;         /* request index -> 0 / 1 */
    const anc_rows *rows;
    const char *prompt_key;
    const char *judge_id;
    const char *step;             /* the store step of this output's items */
    size_t counts[4];             /* by anc_judge_outcome */
    cli_tally tally;
} judge_run;

static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    judge_run *r = ctx;
    judge_group *g = &r->groups[r->req_group[index]];
    int order = r->req_order[index];
    anc_error err = {0};
    anc_verdict v = ANC_VERDICT_NONE;
    if (st == ANC_OK) anc_judge_parse(reply->text, strlen(reply->text), &v, &err);
    else err = *error;
    g->v[order] = v;
    if (++g->got < 2) return 0;
    if (g->v[0] == ANC_VERDICT_NONE || g->v[1] == ANC_VERDICT_NONE)
        return cli_tally_put(&r->tally, r->store, r->step, g->id, ANC_ITEM_FAILED, NULL, err.message[0] ? err.message : "no verdict");
    anc_judge_outcome o = anc_judge_combine(g->v[0], g->v[1]);
    json_t *rec;
    if (o == ANC_JUDGE_FIRST || o == ANC_JUDGE_SECOND) {
        const json_t *row = r->rows->rows[g->row1];
        rec = anc_pair_record(g->id, json_object_get(row, r->prompt_key), o == ANC_JUDGE_FIRST ? g->y1 : g->y2,
                              o == ANC_JUDGE_FIRST ? g->y2 : g->y1, "judge");
        json_object_set_new(rec, "judge", json_string(r->judge_id));
    } else {
        rec = json_object();
    }
    json_object_set_new(rec, "outcome", json_string(anc_judge_outcome_name(o)));
    json_object_set_new(rec, "verdicts", json_pack("[ss]", anc_verdict_name(g->v[0]), anc_verdict_name(g->v[1])));
    int stop = cli_tally_put(&r->tally, r->store, r->step, g->id, ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    r->counts[o]++;
    return stop;
}

typedef struct count_ctx {
    size_t counts[4];
} count_ctx;

static int count_outcome(void *ctx, const char *item_id, anc_item_status status, const json_t *record, const char *error) {
    (void)item_id; (void)error;
    count_ctx *c = ctx;
    const char *o = status == ANC_ITEM_DONE ? json_string_value(json_object_get(record, "outcome")) : NULL;
    for (int k = 0; o && k < 4; k++)
        if (!strcmp(o, anc_judge_outcome_name((anc_judge_outcome)k))) c->counts[k]++;
    return 0;
}

int cmd_judge(int argc, char **argv) {
    const char *input = NULL, *out = NULL, *template_path = NULL, *response_field = "completion";
    cli_llm_args la;
    cli_llm_args_init(&la, 0.0, 1024);
    cli_opt opts[4 + CLI_LLM_N_OPTS + 1];
    cli_opt head[4] = {
        {"input", OPT_STR, &input, "FILE", "samples: at least two rows per prompt (anchor generate --samples-per-prompt 2)"},
        {"out", OPT_STR, &out, "FILE", "judge pairs (chosen = the consistent winner)"},
        {"template", OPT_STR, &template_path, "FILE", "judge prompt with {prompt}, {response_a}, {response_b} and a 'Verdict: A|B|tie' line"},
        {"response-field", OPT_STR, &response_field, "KEY", "field holding each sample (default completion)"},
    };
    memcpy(opts, head, sizeof head);
    cli_llm_opts(&la, "judge", opts + 4);
    memset(&opts[4 + CLI_LLM_N_OPTS], 0, sizeof(cli_opt));
    int rc = cli_parse(argc, argv, opts, "judge", "--input samples.jsonl --judge SPEC --out pairs.jsonl [options]",
                       "Judges two samples per prompt in both orders; consistent verdicts become pairs,\n"
                       "ties and position-inconsistent verdicts are counted and dropped.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!input || !out || !la.spec) return cli_usage_error("judge", "--input, --out and --judge are required");

    anc_error err = {0};
    cli_llm_session ss = {0};
    char *tmpl = NULL;
    judge_group *groups = NULL;
    anc_llm_request *reqs = NULL;
    size_t *req_group = NULL, n_groups = 0, n_req = 0, skipped = 0, singles = 0;
    int *req_order = NULL, code = 0;
    const char **ids = NULL;
    char *step = NULL;
    if ((template_path && anc_judge_template_load(template_path, &tmpl, &err)) || cli_llm_session_open(&ss, input, out, &la, &err)) {
        code = cli_fail("judge", &err);
        goto done;
    }
    if ((code = cli_llm_step_begin("judge", &ss, &la, STEP, out, tmpl, "anchor-pairwise",
                                   json_pack("{ss}", "response-field", response_field), &step)))
        goto done;
    const char *prompt_key = ss.rows.n && !json_object_get(ss.rows.rows[0], "prompt") ? "messages" : "prompt";
    groups = calloc(ss.rows.n + 1, sizeof *groups);
    reqs = calloc(2 * ss.rows.n + 1, sizeof *reqs);
    req_group = calloc(2 * ss.rows.n + 1, sizeof *req_group);
    req_order = calloc(2 * ss.rows.n + 1, sizeof *req_order);
    char **keys = calloc(ss.rows.n + 1, sizeof *keys);
    if (!groups || !reqs || !req_group || !req_order || !keys) {
        free(keys);
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        code = cli_fail("judge", &err);
        goto done;
    }
    /* group ss.rows by id (else by prompt), keeping the first two samples */
    for (size_t i = 0; i < ss.rows.n; i++) {
        json_t *row = ss.rows.rows[i];
        json_t *p = json_object_get(row, prompt_key);
        const char *y = json_string_value(json_object_get(row, response_field));
        if (!p || !y) {
            for (size_t k = 0; k < i; k++) free(keys[k]);
            free(keys);
            anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected \"%s\" and a string \"%s\"", input, ss.rows.lines[i], prompt_key, response_field);
            code = cli_fail("judge", &err);
            goto done;
        }
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char id[96];
        const char *parts[1] = {pj};
        anc_item_id(row, parts, 1, id, sizeof id);
        free(pj);
        keys[i] = strdup(id);
        size_t g = 0;
        while (g < n_groups && strcmp(groups[g].id, id)) g++;
        if (g == n_groups) {
            snprintf(groups[g].id, sizeof groups[g].id, "%s", id);
            groups[g].row1 = i;
            groups[g].y1 = y;
            n_groups++;
        } else if (!groups[g].y2) {
            groups[g].row2 = i;
            groups[g].y2 = y;
        }
    }
    for (size_t k = 0; k < ss.rows.n; k++) free(keys[k]);
    free(keys);
    judge_run run;
    memset(&run, 0, sizeof run);
    for (size_t g = 0; g < n_groups; g++) {
        judge_group *gr = &groups[g];
        if (!gr->y2) { singles++; continue; }
        anc_item_status is;
        if (anc_store_item_get(ss.store, step, gr->id, &is, NULL, NULL, &err)) {
            code = cli_fail("judge", &err);
            goto done;
        }
        if (is == ANC_ITEM_DONE) { skipped++; continue; }
        char *ptext = anc_prompt_text(json_object_get(ss.rows.rows[gr->row1], prompt_key));
        for (int o = 0; o < 2; o++) {
            char *text = NULL;
            anc_status st = ptext ? anc_judge_prompt(tmpl, ptext, o ? gr->y2 : gr->y1, o ? gr->y1 : gr->y2, &text, &err)
                                  : anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: the prompt has no user message", input, ss.rows.lines[gr->row1]);
            if (st) {
                free(ptext);
                code = cli_fail("judge", &err);
                goto done;
            }
            gr->messages[o] = anc_llm_user_message(text);
            free(text);
            reqs[n_req].messages = gr->messages[o];
            reqs[n_req].salt = "judge";
            req_group[n_req] = g;
            req_order[n_req] = o;
            n_req++;
        }
        free(ptext);
    }
    run.store = ss.store;
    run.groups = groups;
    run.req_group = req_group;
    run.req_order = req_order;
    run.rows = &ss.rows;
    run.prompt_key = prompt_key;
    run.judge_id = anc_llm_id(ss.llm);
    run.step = step;
    run.tally.total = n_req / 2;
    anc_llm_stored_stats stats = {0};
    if ((code = cli_llm_run("judge", ss.llm, ss.store, &la, reqs, n_req, on_reply, &run, &run.tally, "prompts", &stats))) goto done;
    ids = malloc(sizeof(char *) * (n_groups + 1));
    for (size_t g = 0; g < n_groups; g++) ids[g] = groups[g].id;
    cli_items_count cnt = {.reused = skipped};
    if (anc_pairs_write_ordered(ss.store, step, ids, n_groups, out, &cnt.written, &cnt.done, &cnt.failed, &err)) {
        code = cli_fail("judge", &err);
        goto done;
    }
    count_ctx cc = {{0}};
    anc_store_item_foreach(ss.store, step, ANC_ITEM_DONE, count_outcome, &cc, &err);
    char detail[256];
    snprintf(detail, sizeof detail, "judged in both orders: %zu consistent, %zu ties, %zu inconsistent (position bias); "
             "%zu prompts with fewer than two samples",
             cc.counts[ANC_JUDGE_FIRST] + cc.counts[ANC_JUDGE_SECOND], cc.counts[ANC_JUDGE_TIE],
             cc.counts[ANC_JUDGE_INCONSISTENT], singles);
    code = cli_items_summary("judge", out, &cnt, detail, ss.store, &stats);
done:
    for (size_t g = 0; groups && g < n_groups; g++) {
        json_decref(groups[g].messages[0]);
        json_decref(groups[g].messages[1]);
    }
    free(ids);
    free(groups);
    free(reqs);
    free(req_group);
    free(req_order);
    free(tmpl);
    free(step);
    cli_llm_session_close(&ss);
    return code;
}
