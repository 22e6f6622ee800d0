/* The eval step (eval.h). */
#include "flow/eval.h"

#include <string.h>

#define T anc_eval_opts
const anc_option anc_eval_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR", "model folder (weights; a tokenizer for text rows)"},
    {"data", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, data), NULL, "FILE",
     "JSONL rows: {prompt, reference|answer}, {question, choices, answer} or {text}"},
    {"task", ANC_OPT_STR, 0, 0, offsetof(T, task), "auto", "T", "auto (default: from the first row) | generate | mc | perplexity"},
    {"grader", ANC_OPT_STR, 0, 0, offsetof(T, grader), "exact", "G",
     "generate: exact (default, SQuAD normalisation) | regex | numeric | exec:CMD"},
    {"pattern", ANC_OPT_STR, 0, 0, offsetof(T, pattern), NULL, "RE", "regex grader: this pattern instead of each row's reference"},
    {"tolerance", ANC_OPT_FLOAT, 0, 0, offsetof(T, tolerance), "1e-6", "T",
     "numeric grader: |x - ref| <= T * max(1, |ref|) (default 1e-6)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N",
     "generate: tokens per response at most (default 256; greedy)"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "generate: sequences decoded together (default 8)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "generate: chat template for message prompts"},
    {"batch-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, batch_tokens), "4096", "N",
     "mc/perplexity: tokens per forward batch (default 4096)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "per-row records (JSONL)"},
    {"json", ANC_OPT_FLAG, 0, 0, offsetof(T, json), NULL, NULL, "print the results as JSON instead of a table"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL, "matrix products in bf16 with fp32 accumulation (as train --bf16)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR", "PEFT LoRA adapter merged into --model before evaluating"},
    {0},
};
#undef T

void anc_eval_opts_init(anc_eval_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_eval_option_table, o, &err); /* the table's literals */
}
