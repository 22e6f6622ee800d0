/* The table of step kinds: each names its command's option table (flow/),
 * which says which options it accepts, their types, which of them are paths
 * read or written, and which are required. The pipeline validates every step
 * against it before anything runs. */
#include <string.h>

#include "flow/ab.h"
#include "flow/advise.h"
#include "flow/data_steps.h"
#include "flow/eval.h"
#include "flow/export.h"
#include "flow/generate.h"
#include "flow/judge.h"
#include "flow/revise.h"
#include "flow/stronger.h"
#include "flow/train.h"
#include "pipeline/steps.h"

static const anc_kinddef kinds[ANC_STEP_N_KINDS] = {
    [ANC_STEP_GENERATE] = {"generate", anc_generate_option_table, "out", ".jsonl", 1},
    [ANC_STEP_REVISE] = {"revise", anc_revise_option_table, "out", ".jsonl", 0},
    [ANC_STEP_JUDGE] = {"judge", anc_judge_option_table, "out", ".jsonl", 0},
    [ANC_STEP_STRONGER] = {"stronger", anc_stronger_option_table, "out", ".jsonl", 0},
    [ANC_STEP_IMPORT] = {"import", anc_import_option_table, "out", ".jsonl", 0},
    [ANC_STEP_STATS] = {"stats", anc_stats_option_table, NULL, ".txt", 0},
    [ANC_STEP_TRAIN] = {"train", anc_train_option_table, "output-dir", NULL, 1},
    [ANC_STEP_EVAL] = {"eval", anc_eval_option_table, "out", ".jsonl", 1},
    [ANC_STEP_AB] = {"ab", anc_ab_option_table, "out", ".jsonl", 0},
    [ANC_STEP_REPORT] = {"report", anc_report_option_table, "out", NULL, 0},
    [ANC_STEP_ADVISE] = {"advise", anc_advise_option_table, "out", ".jsonl", 1},
    [ANC_STEP_EXPORT] = {"export", anc_export_option_table, "gguf", ".gguf", 1},
};

const anc_kinddef *anc_kind_def(anc_step_kind k) {
    return (unsigned)k < ANC_STEP_N_KINDS ? &kinds[k] : NULL;
}

const char *anc_step_kind_name(anc_step_kind k) {
    return (unsigned)k < ANC_STEP_N_KINDS ? kinds[k].name : "?";
}

int anc_kind_from_name(const char *name) {
    for (int k = 0; k < ANC_STEP_N_KINDS; k++)
        if (!strcmp(kinds[k].name, name)) return k;
    return -1;
}

const anc_option *anc_kind_find_opt(anc_step_kind k, const char *key) {
    if ((unsigned)k >= ANC_STEP_N_KINDS) return NULL;
    const anc_option *o = anc_options_find(kinds[k].opts, key);
    return o && !(o->flags & ANC_OPT_CLI_ONLY) ? o : NULL;
}
