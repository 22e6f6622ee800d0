/* The generate step (generate.h). */
#include "flow/generate.h"

#include <string.h>

#define T anc_generate_opts
const anc_option anc_generate_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR", "model folder (weights + tokenizer)"},
    {"prompts", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, prompts), NULL, "FILE",
     "JSONL rows with \"prompt\" (string or messages), \"messages\", or \"prompt_ids\""},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "output JSONL: the row's prompt and id, completion, sample_index, finish_reason, token counts"},
    {"temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, temperature), "0.7", "T", "sampling temperature; 0 = greedy (default 0.7)"},
    {"top-p", ANC_OPT_FLOAT, 0, 0, offsetof(T, top_p), "1", "P", "nucleus sampling (default 1 = off)"},
    {"top-k", ANC_OPT_COUNT, 0, 0, offsetof(T, top_k), NULL, "K", "top-k sampling (default 0 = off)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N", "tokens per completion at most (default 256)"},
    {"samples-per-prompt", ANC_OPT_COUNT, 0, 0, offsetof(T, samples_per_prompt), "1", "N",
     "completions per prompt (default 1; 2 for judge pairs)"},
    {"seed", ANC_OPT_INT, 0, 0, offsetof(T, seed), NULL, "S",
     "random seed (default 0); each completion has its own stream, so --parallel changes only float rounding (rarely a near-tie token)"},
    {"stop", ANC_OPT_LIST, 0, 0, offsetof(T, stop), NULL, "STR", "stop when this text appears (repeatable); EOS always stops"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "sequences decoded together (default 8)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "override the tokenizer's chat template"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL,
     "matrix products in bf16 with fp32 accumulation (bf16 weight copy beside the fp32 one)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR", "PEFT LoRA adapter merged into --model before decoding"},
    {0},
};
#undef T

void anc_generate_opts_init(anc_generate_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_generate_option_table, o, &err); /* the table's literals */
}
