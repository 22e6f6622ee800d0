/* The stronger step (stronger.h). */
#include "flow/stronger.h"

#include <string.h>

#define T anc_stronger_opts
const anc_option anc_stronger_option_table[] = {
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "drafts: rows with a prompt and a response (anchor generate's output)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "pairs: chosen = the stronger model's answer, rejected = the draft"},
    {"response-field", ANC_OPT_STR, 0, 0, offsetof(T, response_field), "completion", "KEY",
     "field holding the draft (default completion)"},
    ANC_LLM_STEP_OPTIONS(T, "stronger", ANC_OPT_REQUIRED, "0.7", "4096"),
    {0},
};
#undef T

void anc_stronger_opts_init(anc_stronger_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_stronger_option_table, o, &err); /* the table's literals */
}
