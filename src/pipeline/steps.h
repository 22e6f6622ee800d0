/* The step kinds of a pipeline and their option tables, which are the
 * commands' own (src/flow/): one row per option for both (internal to
 * src/pipeline and the CLI's `anchor run`). */
#ifndef ANCHOR_PIPELINE_STEPS_H
#define ANCHOR_PIPELINE_STEPS_H

#include "flow/options.h"
#include "pipeline/pipeline.h"

typedef struct anc_kinddef {
    const char *name;
    const anc_option *opts;   /* the step's option table (flow/); rows marked ANC_OPT_CLI_ONLY are not keys */
    const char *out_opt;      /* option naming the output ("out", "output-dir"); NULL for stats */
    const char *out_ext;      /* default output NAME<ext>; NULL: train -> models/NAME, report -> report.html */
    int uses_model;           /* takes the pipeline's top-level model as its default --model */
} anc_kinddef;

/* The table entry of kind k (NULL when k is out of range). */
const anc_kinddef *anc_kind_def(anc_step_kind k);
/* The kind called name, or -1. */
int anc_kind_from_name(const char *name);
/* The option of kind k called key ('_' and '-' interchangeable) that a
 * pipeline step may set, or NULL (also for the options the pipeline sets
 * itself, ANC_OPT_CLI_ONLY). */
const anc_option *anc_kind_find_opt(anc_step_kind k, const char *key);

#endif
