/* The ab step (ab.h): its options and the run; the jobs are in ab_*.c. */
#include "flow/ab.h"

#include <stdlib.h>
#include <string.h>

#include "eval/gen.h"
#include "flow/ab_internal.h"

#define T anc_ab_opts
const anc_option anc_ab_option_table[] = {
    {"a", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, a), NULL, "FILE",
     "responses of system A: rows with \"prompt\" (or \"messages\"), the response field, optional \"id\""},
    {"b", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, b), NULL, "FILE", "responses of system B (matched to A by \"id\", else by prompt)"},
    {"model-a", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model_a), NULL, "DIR", "generate A's responses with this model (needs --prompts)"},
    {"model-b", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model_b), NULL, "DIR", "generate B's responses with this model (same settings as A)"},
    {"prompts", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, prompts), NULL, "FILE",
     "prompt rows for --model-a/--model-b (and references for --grader)"},
    {"grader", ANC_OPT_STR, 0, 0, offsetof(T, grader), NULL, "G", "score each side instead of judging: exact | regex | numeric | exec:CMD | ifeval | ifeval-loose (share of "
     "the prompt's IFEval instructions followed; --prompts is IFEval's input_data.jsonl)"},
    {"pattern", ANC_OPT_STR, 0, 0, offsetof(T, pattern), NULL, "RE", "regex grader: this pattern instead of each row's reference"},
    {"tolerance", ANC_OPT_FLOAT, 0, 0, offsetof(T, tolerance), "1e-6", "T", "numeric grader: |x - ref| <= T * max(1, |ref|) (default 1e-6)"},
    {"reference-field", ANC_OPT_STR, 0, 0, offsetof(T, reference_field), NULL, "KEY",
     "reference field of the rows (default \"reference\", else \"answer\")"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding each response in --a/--b (default completion)"},
    {"template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, template_path), NULL, "FILE",
     "judge prompt with {prompt}, {response_a}, {response_b} and a 'Verdict: A|B|tie' line"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "per-prompt records (JSONL); the run store defaults to OUT.store.db"},
    {"json", ANC_OPT_FLAG, 0, 0, offsetof(T, json), NULL, NULL, "print the summary as JSON instead of a table"},
    {"summary", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, summary), NULL, "FILE",
     "also write the summary as JSON (what --json prints) to FILE; a pipeline's default is ab-NAME.json"},
    {"resamples", ANC_OPT_COUNT, 0, 0, offsetof(T, resamples), "10000", "N", "bootstrap resamples (default 10000)"},
    {"bootstrap-seed", ANC_OPT_INT, 0, 0, offsetof(T, bootstrap_seed), NULL, "S", "bootstrap seed (default 0)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N", "generation: tokens per response at most (default 256)"},
    {"gen-temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, gen_temperature), NULL, "T", "generation: sampling temperature (default 0 = greedy)"},
    {"gen-seed", ANC_OPT_INT, 0, 0, offsetof(T, gen_seed), NULL, "S", "generation: random seed (default 0)"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "generation: sequences decoded together (default 8)"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL, "generation: matrix products in bf16 with fp32 accumulation"},
    {"model-chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, model_chat_template), NULL, "NAME|FILE",
     "generation: chat template for message prompts"},
    ANC_LLM_STEP_OPTIONS(T, "judge", 0, "0", "1024"),
    {"system", ANC_OPT_LIST, ANC_ROLE_NAMED_FILE, 0, offsetof(T, systems), NULL, "NAME=FILE|DIR|SPEC",
     "leaderboard: one system (repeat for N >= 2): an answer file (rows as --a), a model DIR (generates on --prompts), or "
     "a backend http(s)://HOST/v1[#MODEL] | openai[#MODEL] | exec:CMD | local:DIR (answers --prompts through the run "
     "store); excludes --a/--b/--model-a/--model-b"},
    {"pairs-per-prompt", ANC_OPT_COUNT, 0, 0, offsetof(T, pairs_per_prompt), NULL, "K",
     "leaderboard: judge K random system pairs per prompt (seed --bootstrap-seed; default 0 = all pairs)"},
    {0},
};
#undef T

void anc_ab_opts_init(anc_ab_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_ab_option_table, o, &err); /* the table's literals */
}

anc_status anc_ab_opts_check(const anc_ab_opts *o, const anc_store *store, anc_error *err) {
    if (o->systems.n) {
        anc_status st = ab_lb_check_systems(o, store, err);
        if (st) return st;
    } else if (o->pairs_per_prompt)
        return anc_error_set(err, ANC_ERR_INVALID, "--pairs-per-prompt needs --system");
    int files = o->a || o->b, models = o->model_a || o->model_b;
    if (!o->systems.n && (files == models || (files && !(o->a && o->b)) || (models && !(o->model_a && o->model_b && o->prompts))))
        return anc_error_set(err, ANC_ERR_INVALID, "give either --a and --b, or --model-a, --model-b and --prompts");
    if (!!o->llm.spec == !!o->grader)
        return anc_error_set(err, ANC_ERR_INVALID, "give exactly one of --judge SPEC and --grader G");
    if (o->grader && !strncmp(o->grader, "ifeval", 6) && !o->prompts)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "--grader %s needs --prompts FILE: IFEval's input_data.jsonl (the instructions of each prompt)",
                             o->grader);
    if (o->llm.spec && !o->out && !o->llm.store && !store)
        return anc_error_set(err, ANC_ERR_INVALID, "--judge needs --out or --store (the run store that lets a run resume)");
    if (o->resamples < 1 || o->max_new_tokens < 1 || o->parallel < 1 || o->gen_temperature < 0 || o->tolerance < 0)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "--resamples, --max-new-tokens and --parallel must be >= 1; --gen-temperature, --tolerance >= 0");
    return ANC_OK;
}

void ab_set_free(ab_set *s) {
    for (size_t i = 0; s->items && i < s->n; i++) {
        json_decref(s->items[i].messages[0]);
        json_decref(s->items[i].messages[1]);
        free(s->items[i].error);
    }
    free(s->items);
    anc_eval_texts_free(s->gen_a, s->rp.n);
    anc_eval_texts_free(s->gen_b, s->rp.n);
    anc_rows_free(&s->ra);
    anc_rows_free(&s->rb);
    anc_rows_free(&s->rp);
    memset(s, 0, sizeof *s);
}

void anc_ab_result_free(anc_ab_result *r) {
    free(r->judge);
    for (size_t i = 0; r->systems && i < r->n_systems; i++) {
        free(r->systems[i].name);
        free(r->systems[i].win_rate);
        free(r->systems[i].versus);
    }
    free(r->systems);
    memset(r, 0, sizeof *r);
}

anc_status anc_ab_run(const anc_ab_opts *o, anc_store *store, const anc_flow_hooks *hooks, anc_ab_result *res,
                      anc_error *err) {
    memset(res, 0, sizeof *res);
    anc_status st = anc_ab_opts_check(o, store, err);
    if (st) return st;
    if (o->systems.n) return ab_leaderboard(o, store, hooks, res, err);
    ab_scorer scorer;
    if ((st = ab_scorer_setup(o, &scorer, res, err))) return st;
    ab_set s;
    memset(&s, 0, sizeof s);
    st = o->a ? ab_match_files(o, &s, err) : ab_generate(o, &s, hooks, err);
    if (!st) st = o->grader ? ab_grade(o, &scorer, &s, err) : ab_judge(o, store, &s, hooks, res, err);
    if (!st) st = ab_summarize(o, &s, res, err);
    if (!st && o->out) st = ab_write_records(o, &s, res->graded, err);
    ab_set_free(&s);
    return st;
}
