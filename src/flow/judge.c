/* The judge step (judge.h). */
#include "flow/judge.h"

#include <string.h>

#define T anc_judge_opts
const anc_option anc_judge_option_table[] = {
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "samples: at least two rows per prompt (anchor generate --samples-per-prompt 2)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "judge pairs (chosen = the consistent winner)"},
    {"template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, template_path), NULL, "FILE",
     "judge prompt with {prompt}, {response_a}, {response_b} and a 'Verdict: A|B|tie' line"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding each sample (default completion)"},
    ANC_LLM_STEP_OPTIONS(T, "judge", ANC_OPT_REQUIRED, "0", "1024"),
    {0},
};
#undef T

void anc_judge_opts_init(anc_judge_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_judge_option_table, o, &err); /* the table's literals */
}
