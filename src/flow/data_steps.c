/* Option tables of import, stats and report (data_steps.h). */
#include "flow/data_steps.h"

#define T anc_import_opts
const anc_option anc_import_option_table[] = {
    {"format", ANC_OPT_STR, 0, ANC_OPT_REQUIRED, offsetof(T, format), NULL, "NAME",
     "ultrafeedback | hh-rlhf | llama-factory | llama-factory-kto"},
    {"input", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, input), NULL, "FILE",
     "JSONL or JSON array (a .gz file is read through gzip -dc)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "write pair rows as JSONL here ('-' = stdout); written atomically"},
    {"source", ANC_OPT_STR, 0, 0, offsetof(T, source), NULL, "NAME",
     "value of each row's \"source\" field (default: the format name)"},
    {0},
};
#undef T

#define T anc_stats_opts
const anc_option anc_stats_option_table[] = {
    {"input", ANC_OPT_LIST, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED | ANC_OPT_POSITIONAL, offsetof(T, input), NULL, "FILE",
     "pairs files (the command's positional arguments)"},
    {"json", ANC_OPT_FLAG, 0, 0, offsetof(T, json), NULL, NULL,
     "print JSON (an array with one object per file) instead of the table"},
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR",
     "also the token-set Jaccard, with this model's tokenizer"},
    {0},
};
#undef T

#define T anc_report_opts
const anc_option anc_report_option_table[] = {
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE", "where to write the page (default RUN_DIR/report.html)"},
    {"examples", ANC_OPT_COUNT, 0, 0, offsetof(T, examples), "3", "N",
     "example pairs with word diffs per dataset (default 3; 0: none)"},
    {"title", ANC_OPT_STR, 0, 0, offsetof(T, title), NULL, "TEXT", "page title (default \"anchor report: RUN_DIR\")"},
    {0},
};
#undef T
