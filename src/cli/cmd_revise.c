/* anchor revise: CLAIR pairs. A stronger model minimally revises each draft;
 * the pair is (prompt, chosen = revision, rejected = draft). Every reply is
 * committed to the run store before it is used, so an interrupted run loses
 * at most the requests in flight and a rerun repeats no paid request. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clair/revise.h"
#include "cli/cli.h"
#include "cli/cli_llm.h"
#include "cli/cli_pairs_out.h"
#include "data/jsonl.h"
#include "llm/stored.h"

#define STEP "revise"

typedef struct revise_item {
    size_t row;
    char id[96];
    char *input;          /* the {input} text */
    const char *draft;    /* borrowed from the row */
    json_t *messages;     /* the request: one user message */
} revise_item;

typedef struct revise_run {
    anc_store *store;
    revise_item *items;
    const size_t *pending;   /* request index -> item index */
    const anc_rows *rows;
    const char *prompt_field;
    const char *reviser_id;
    const char *step;        /* the store step of this output's items */
    cli_tally tally;
} revise_run;

static int on_reply(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    revise_run *r = ctx;
    revise_item *it = &r->items[r->pending[index]];
    const json_t *row = r->rows->rows[it->row];
    if (st != ANC_OK) return cli_tally_put(&r->tally, r->store, r->step, it->id, ANC_ITEM_FAILED, NULL, error->message);
    anc_error err = {0};
    anc_clair_reply cr;
    if (anc_clair_parse_reply(reply->text, strlen(reply->text), it->draft, &cr, &err) != ANC_OK)
        return cli_tally_put(&r->tally, r->store, r->step, it->id, ANC_ITEM_FAILED, NULL, err.message);
    json_t *rec = cli_pair_record(it->id, json_object_get(row, r->prompt_field), cr.revision, it->draft, "clair");
    json_object_set_new(rec, "rationale", json_string(cr.rationale));
    json_object_set_new(rec, "reviser", json_string(r->reviser_id));
    int stop = cli_tally_put(&r->tally, r->store, r->step, it->id, ANC_ITEM_DONE, rec, NULL);
    json_decref(rec);
    anc_clair_reply_free(&cr);
    return stop;
}

int cmd_revise(int argc, char **argv) {
    const char *input = NULL, *out = NULL, *template_path = NULL, *response_field = "completion", *prompt_field = "prompt";
    int retry_failed = 0;
    cli_llm_args la;
    cli_llm_args_init(&la, 0.7, 4096);
    cli_opt opts[6 + CLI_LLM_N_OPTS + 1];
    cli_opt head[6] = {
        {"input", OPT_STR, &input, "FILE", "drafts: rows with a prompt and a response (anchor generate's output)"},
        {"out", OPT_STR, &out, "FILE", "CLAIR pairs (TRL format + rationale, source, id)"},
        {"template", OPT_STR, &template_path, "FILE", "reviser prompt with {input} and {output} (default: the CLAIR authors' prompt)"},
        {"response-field", OPT_STR, &response_field, "KEY", "field holding the draft (default completion)"},
        {"prompt-field", OPT_STR, &prompt_field, "KEY", "field holding the prompt (default prompt; messages work too)"},
        {"retry-failed", OPT_FLAG, &retry_failed, NULL, "kept for older scripts: a rerun always retries the items that failed"},
    };
    memcpy(opts, head, sizeof head);
    cli_llm_opts(&la, "reviser", opts + 6);
    memset(&opts[6 + CLI_LLM_N_OPTS], 0, sizeof(cli_opt));
    int rc = cli_parse(argc, argv, opts, "revise", "--input FILE --reviser SPEC --out pairs.jsonl [options]",
                       "Asks the reviser to minimally improve each draft (design 1.2) and writes pairs with\n"
                       "chosen = revision, rejected = draft. A reply without a usable marker is a recorded failure.\n"
                       "Rerunning the same command resumes: finished items are skipped, failed ones retried, stored\n"
                       "replies reused; a rerun with other reviser settings is refused (see --fresh). Several runs\n"
                       "on one store split the items. Exit 3: every item failed.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!input || !out || !la.spec) return cli_usage_error("revise", "--input, --out and --reviser are required");

    anc_error err = {0};
    cli_llm_session ss = {0};
    char *tmpl = NULL;
    revise_item *items = NULL;
    anc_llm_request *reqs = NULL;
    size_t *pending = NULL;
    size_t n_items = 0, n_pending = 0, skipped = 0;
    char *step = NULL;
    int code = 0;
    if ((template_path && anc_clair_template_load(template_path, &tmpl, &err)) || cli_llm_session_open(&ss, input, out, &la, &err)) {
        code = cli_fail("revise", &err);
        goto done;
    }
    (void)retry_failed; /* failed items are always retried now */
    if ((code = cli_llm_step_begin("revise", &ss, &la, STEP, out, tmpl, "clair-authors",
                                   json_pack("{ss}", "response-field", response_field), &step)))
        goto done;
    items = calloc(ss.rows.n ? ss.rows.n : 1, sizeof *items);
    reqs = calloc(ss.rows.n ? ss.rows.n : 1, sizeof *reqs);
    pending = calloc(ss.rows.n ? ss.rows.n : 1, sizeof *pending);
    if (!items || !reqs || !pending) {
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        code = cli_fail("revise", &err);
        goto done;
    }
    for (size_t i = 0; i < ss.rows.n; i++) {
        json_t *row = ss.rows.rows[i];
        json_t *p = json_object_get(row, prompt_field);
        if (!p && !strcmp(prompt_field, "prompt")) p = json_object_get(row, "messages");
        const char *draft = json_string_value(json_object_get(row, response_field));
        char *ptext = p ? anc_prompt_text(p) : NULL;
        if (!ptext || !draft) {
            free(ptext);
            anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected a \"%s\" (string or messages with a user turn) and a string \"%s\"",
                          input, ss.rows.lines[i], prompt_field, response_field);
            code = cli_fail("revise", &err);
            goto done;
        }
        revise_item *it = &items[n_items];
        it->row = i;
        it->input = ptext;
        it->draft = draft;
        char *pj = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        const char *parts[2] = {pj, draft};
        cli_item_id(row, parts, 2, it->id, sizeof it->id);
        free(pj);
        n_items++;
        anc_item_status ist;
        if (anc_store_item_get(ss.store, step, it->id, &ist, NULL, NULL, &err)) {
            code = cli_fail("revise", &err);
            goto done;
        }
        if (ist == ANC_ITEM_DONE) {
            skipped++;
            continue;
        }
        char *text = NULL;
        if (anc_clair_prompt(tmpl, ptext, draft, &text, &err)) {
            code = cli_fail("revise", &err);
            goto done;
        }
        it->messages = anc_llm_user_message(text);
        free(text);
        if (!it->messages) {
            anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: the prompt or draft is not valid UTF-8", input, ss.rows.lines[i]);
            code = cli_fail("revise", &err);
            goto done;
        }
        reqs[n_pending].messages = it->messages;
        reqs[n_pending].salt = "clair";
        pending[n_pending++] = n_items - 1;
    }
    revise_run run;
    memset(&run, 0, sizeof run);
    run.store = ss.store;
    run.items = items;
    run.pending = pending;
    run.rows = &ss.rows;
    run.prompt_field = json_object_get(ss.rows.n ? ss.rows.rows[0] : NULL, prompt_field) || strcmp(prompt_field, "prompt") ? prompt_field : "messages";
    run.reviser_id = anc_llm_id(ss.llm);
    run.step = step;
    run.tally.total = n_pending;
    anc_llm_stored_stats stats = {0};
    if (n_pending)
        fprintf(stderr, "anchor revise: %zu items to revise (%zu already finished) with %s\n", n_pending, skipped, run.reviser_id);
    if ((code = cli_llm_run("revise", ss.llm, ss.store, &la, reqs, n_pending, on_reply, &run, &run.tally, "items", &stats))) goto done;
    cli_items_count cnt = {.reused = skipped};
    const char **ids = malloc(sizeof(char *) * (n_items ? n_items : 1));
    for (size_t i = 0; ids && i < n_items; i++) ids[i] = items[i].id;
    anc_status wst = ids ? cli_pairs_write_ordered(ss.store, step, ids, n_items, out, &cnt.written, &cnt.done,
                                                   &cnt.failed, &err)
                         : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
    free(ids);
    if (wst) {
        code = cli_fail("revise", &err);
        goto done;
    }
    code = cli_items_summary("revise", out, &cnt, NULL, ss.store, &stats);
done:
    for (size_t i = 0; items && i < ss.rows.n; i++) {
        free(items[i].input);
        json_decref(items[i].messages);
    }
    free(items);
    free(reqs);
    free(pending);
    free(tmpl);
    free(step);
    cli_llm_session_close(&ss);
    return code;
}
