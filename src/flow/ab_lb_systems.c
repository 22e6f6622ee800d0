/* ab leaderboard systems that answer the prompts themselves (flow/ab.h):
 * NAME=DIR, a model directory, generates as --model-a does (same settings
 * for every model); NAME=SPEC, a backend (http(s)://HOST/v1, openai,
 * exec:COMMAND, local:DIR; "#MODEL" after an http(s) or openai spec names the
 * model sent), answers each prompt once through the run store, so a rerun
 * asks nothing already answered. Their answers become rows like an answer
 * file's: the --prompts row with the response field set. */
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "eval/gen.h"
#include "flow/ab_internal.h"
#include "llm/stored.h"

int anc_ab_system_is_backend(const char *v) {
    return !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8) || !strncmp(v, "exec:", 5) ||
           !strncmp(v, "local:", 6) || !strcmp(v, "openai") || !strncmp(v, "openai#", 7);
}

ab_sys_kind ab_system_kind(const char *v) {
    if (anc_ab_system_is_backend(v)) return AB_SYS_BACKEND;
    return anc_path_exists(v) && !anc_path_is_file(v) ? AB_SYS_MODEL : AB_SYS_FILE;
}

/* out: one row per prompt row i with answers[i] (rows without an answer are
 * left out), the prompt row copied with the response field added. */
static anc_status answer_rows(const anc_ab_opts *o, const anc_rows *prompts, char *const *answers, anc_rows *out,
                              anc_error *err) {
    memset(out, 0, sizeof *out);
    out->rows = calloc(prompts->n + 1, sizeof *out->rows);
    out->lines = calloc(prompts->n + 1, sizeof *out->lines);
    if (!out->rows || !out->lines) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < prompts->n; i++) {
        if (!answers[i]) continue;
        json_t *r = json_deep_copy(prompts->rows[i]);
        if (!r || json_object_set_new(r, o->response_field, json_string(answers[i]))) {
            json_decref(r);
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the answer is not valid UTF-8", o->prompts,
                                 prompts->lines[i]);
        }
        out->rows[out->n] = r;
        out->lines[out->n++] = prompts->lines[i];
    }
    return ANC_OK;
}

typedef struct backend_run {
    char **answers;
    size_t failed, done, total;
    const anc_flow_hooks *hooks;
} backend_run;

static int on_answer(void *ctx, size_t index, anc_status st, anc_llm_reply *reply, const anc_error *error) {
    backend_run *r = ctx;
    (void)error;
    if (st == ANC_OK && reply->text && reply->text[0]) r->answers[index] = strdup(reply->text);
    else r->failed++;
    anc_flow_progress p = {"answers", ++r->done, r->failed, r->total, 0};
    anc_flow_progress_report(r->hooks, &p);
    return 0;
}

/* The backend of spec with the generation settings (max-new-tokens,
 * gen-temperature, gen-seed) and the judge's transport knobs. */
static anc_status backend_open(const anc_ab_opts *o, const char *spec, anc_llm_step *b, anc_error *err) {
    anc_llm_step_opts a = o->llm;
    char *s = strdup(spec), *hash = NULL;
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (strncmp(s, "exec:", 5) && strncmp(s, "local:", 6) && (hash = strchr(s, '#'))) *hash++ = '\0';
    a.spec = s;
    a.model = hash && *hash ? hash : NULL;
    a.temperature = o->gen_temperature;
    a.max_tokens = o->max_new_tokens;
    a.seed = o->gen_seed;
    a.chat_template = o->model_chat_template;
    anc_status st = anc_llm_step_backend(&a, &b->llm, &b->local, err);
    free(s);
    return st;
}

static anc_status backend_answers(const anc_ab_opts *o, anc_store *store, const char *spec, const anc_rows *prompts,
                                  char **answers, size_t *failed, const anc_flow_hooks *hooks, anc_error *err) {
    anc_llm_step b = {0};
    b.store = store;
    json_t **msgs = calloc(prompts->n + 1, sizeof *msgs);
    anc_llm_request *reqs = calloc(prompts->n + 1, sizeof *reqs);
    anc_status st = !msgs || !reqs ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
    for (size_t i = 0; !st && i < prompts->n; i++) {
        const json_t *p = ab_row_prompt(prompts->rows[i]);
        msgs[i] = json_is_string(p) ? anc_llm_user_message(json_string_value(p)) : json_is_array(p) ? json_incref((json_t *)p) : NULL;
        if (!msgs[i])
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a string \"prompt\" or a \"messages\" list",
                               o->prompts, prompts->lines[i]);
        reqs[i].messages = msgs[i];
        reqs[i].salt = "ab-system";
    }
    if (!st) st = backend_open(o, spec, &b, err);
    backend_run run = {answers, 0, 0, prompts->n, hooks};
    if (!st) {
        anc_flow_progress p0 = {"answers", 0, 0, prompts->n, 0};
        anc_flow_progress_report(hooks, &p0);
        st = anc_llm_run_stored(b.llm, store, reqs, prompts->n,
                                (size_t)(o->llm.concurrency > 0 ? o->llm.concurrency : 1), on_answer, &run, NULL, err);
    }
    *failed = run.failed;
    for (size_t i = 0; msgs && i < prompts->n; i++) json_decref(msgs[i]);
    free(msgs);
    free(reqs);
    b.store = NULL;
    anc_llm_step_close(&b);
    return st;
}

anc_status ab_system_answer(const anc_ab_opts *o, anc_store *store, const char *name, const char *value,
                            const anc_rows *prompts, anc_rows *out, const anc_flow_hooks *hooks, anc_error *err) {
    char **answers = calloc(prompts->n + 1, sizeof *answers);
    if (!answers) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st;
    size_t failed = 0;
    if (ab_system_kind(value) == AB_SYS_MODEL) {
        anc_flow_note(hooks, "system %s: generating %zu answers with %s", name, prompts->n, value);
        free(answers);
        answers = NULL;
        st = ab_generate_answers(o, value, prompts, hooks, &answers, err);
    } else {
        anc_flow_note(hooks, "system %s: %zu prompts to %s", name, prompts->n, value);
        st = backend_answers(o, store, value, prompts, answers, &failed, hooks, err);
        if (!st && failed)
            anc_flow_note(hooks, "system %s: %zu of %zu prompts got no answer (left out; a rerun asks again)", name,
                          failed, prompts->n);
    }
    if (st) anc_error_prefix(err, "system %s", name);
    if (!st) st = answer_rows(o, prompts, answers, out, err);
    anc_eval_texts_free(answers, prompts->n);
    return st;
}
