/* The ab step (ab.h). */
#include "flow/ab.h"

#include <string.h>

#define T anc_ab_opts
const anc_option anc_ab_option_table[] = {
    {"a", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, a), NULL, "FILE",
     "responses of system A: rows with \"prompt\" (or \"messages\"), the response field, optional \"id\""},
    {"b", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, b), NULL, "FILE", "responses of system B (matched to A by \"id\", else by prompt)"},
    {"model-a", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model_a), NULL, "DIR", "generate A's responses with this model (needs --prompts)"},
    {"model-b", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model_b), NULL, "DIR", "generate B's responses with this model (same settings as A)"},
    {"prompts", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, prompts), NULL, "FILE",
     "prompt rows for --model-a/--model-b (and references for --grader)"},
    {"grader", ANC_OPT_STR, 0, 0, offsetof(T, grader), NULL, "G", "score each side instead of judging: exact | regex | numeric | exec:CMD"},
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
    {0},
};
#undef T

void anc_ab_opts_init(anc_ab_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_ab_option_table, o, &err); /* the table's literals */
}
