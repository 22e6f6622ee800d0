/* anchor pairs stronger: the paper's "stronger preferred" baseline. The
 * stronger model answers each prompt from scratch; the pair is (prompt,
 * chosen = its answer, rejected = the draft). Replies go through the run
 * store like revise's. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_llm.h"
#include "flow/llm_step.h"
#include "data/jsonl.h"
#include "llm/stored.h"

#define STEP "stronger"

typedef struct stronger_run {
    anc_store *store;
    const anc_rows *rows;
    const size_t *req_row;
    char (*ids)[96];
    const char *prompt_key, *response_field, *model_id;
    const char *step;             /* the store step of this output's items */
    cli_tally tally;
} stronger_run;

static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    stronger_run *r = ctx;
    size_t row_i = r->req_row[index];
    const json_t *row = r->rows->rows[row_i];
    const char *text = st == ANC_OK ? reply->text : NULL;
    size_t len = text ? strlen(text) : 0;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n')) len--;
    if (!text || len == 0)
        return cli_tally_put(&r->tally, r->store, r->step, r->ids[row_i], ANC_ITEM_FAILED, NULL, text ? "empty answer" : error->message);
    char *answer = strndup(text, len);
    json_t *rec = anc_pair_record(r->ids[row_i], json_object_get(row, r->prompt_key), answer,
                                  json_string_value(json_object_get(row, r->response_field)), "stronger");
    json_object_set_new(rec, "stronger", json_string(r->model_id));
    int stop = cli_tally_put(&r->tally, r->store, r->step, r->ids[row_i], ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    free(answer);
    return stop;
}

int cmd_pairs_stronger(int argc, char **argv) {
    const char *input = NULL, *out = NULL, *response_field = "completion";
    cli_llm_args la;
    cli_llm_args_init(&la, 0.7, 4096);
    cli_opt opts[3 + CLI_LLM_N_OPTS + 1];
    cli_opt head[3] = {
        {"input", OPT_STR, &input, "FILE", "drafts: rows with a prompt and a response (anchor generate's output)"},
        {"out", OPT_STR, &out, "FILE", "pairs: chosen = the stronger model's answer, rejected = the draft"},
        {"response-field", OPT_STR, &response_field, "KEY", "field holding the draft (default completion)"},
    };
    memcpy(opts, head, sizeof head);
    cli_llm_opts(&la, "stronger", opts + 3);
    memset(&opts[3 + CLI_LLM_N_OPTS], 0, sizeof(cli_opt));
    int rc = cli_parse(argc, argv, opts, "pairs stronger", "--input drafts.jsonl --stronger SPEC --out pairs.jsonl [options]",
                       "The stronger model answers each prompt from scratch (the paper's 'stronger preferred' baseline).",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!input || !out || !la.spec) return cli_usage_error("pairs stronger", "--input, --out and --stronger are required");

    anc_error err = {0};
    cli_llm_session ss = {0};
    anc_llm_request *reqs = NULL;
    json_t **msgs = NULL;
    size_t *req_row = NULL, n_req = 0, skipped = 0;
    char (*ids)[96] = NULL;
    const char **idp = NULL;
    char *step = NULL;
    int code = 0;
    if (cli_llm_session_open(&ss, input, out, &la, &err)) {
        code = cli_fail("pairs stronger", &err);
        goto done;
    }
    if ((code = cli_llm_step_begin("pairs stronger", &ss, &la, STEP, out, NULL, "prompt-as-is",
                                   json_pack("{ss}", "response-field", response_field), &step)))
        goto done;
    const char *prompt_key = ss.rows.n && !json_object_get(ss.rows.rows[0], "prompt") ? "messages" : "prompt";
    reqs = calloc(ss.rows.n + 1, sizeof *reqs);
    msgs = calloc(ss.rows.n + 1, sizeof *msgs);
    req_row = calloc(ss.rows.n + 1, sizeof *req_row);
    ids = calloc(ss.rows.n + 1, sizeof *ids);
    idp = calloc(ss.rows.n + 1, sizeof *idp);
    if (!reqs || !msgs || !req_row || !ids || !idp) {
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        code = cli_fail("pairs stronger", &err);
        goto done;
    }
    for (size_t i = 0; i < ss.rows.n; i++) {
        json_t *row = ss.rows.rows[i], *p = json_object_get(row, prompt_key);
        const char *draft = json_string_value(json_object_get(row, response_field));
        if (!p || !draft || !(json_is_string(p) || json_is_array(p))) {
            anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected \"%s\" and a string \"%s\"", input, ss.rows.lines[i], prompt_key, response_field);
            code = cli_fail("pairs stronger", &err);
            goto done;
        }
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        const char *parts[2] = {pj, draft};
        anc_item_id(row, parts, 2, ids[i], sizeof ids[i]);
        free(pj);
        idp[i] = ids[i];
        anc_item_status is;
        if (anc_store_item_get(ss.store, step, ids[i], &is, NULL, NULL, &err)) {
            code = cli_fail("pairs stronger", &err);
            goto done;
        }
        if (is == ANC_ITEM_DONE) { skipped++; continue; }
        /* the stronger model sees the prompt itself: the string as a user
         * message, or the conversation as it is */
        msgs[i] = json_is_string(p) ? anc_llm_user_message(json_string_value(p)) : json_incref(p);
        reqs[n_req].messages = msgs[i];
        reqs[n_req].salt = "stronger";
        req_row[n_req++] = i;
    }
    stronger_run run;
    memset(&run, 0, sizeof run);
    run.store = ss.store;
    run.rows = &ss.rows;
    run.req_row = req_row;
    run.ids = ids;
    run.prompt_key = prompt_key;
    run.response_field = response_field;
    run.model_id = anc_llm_id(ss.llm);
    run.step = step;
    run.tally.total = n_req;
    anc_llm_stored_stats stats = {0};
    if ((code = cli_llm_run("pairs stronger", ss.llm, ss.store, &la, reqs, n_req, on_reply, &run, &run.tally, "items", &stats))) goto done;
    cli_items_count cnt = {.reused = skipped};
    if (anc_pairs_write_ordered(ss.store, step, idp, ss.rows.n, out, &cnt.written, &cnt.done, &cnt.failed, &err)) {
        code = cli_fail("pairs stronger", &err);
        goto done;
    }
    code = cli_items_summary("pairs stronger", out, &cnt, NULL, ss.store, &stats);
done:
    for (size_t i = 0; msgs && i < ss.rows.n; i++) json_decref(msgs[i]);
    free(msgs);
    free(reqs);
    free(req_row);
    free(ids);
    free(idp);
    free(step);
    cli_llm_session_close(&ss);
    return code;
}
