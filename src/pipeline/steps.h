/* Per-kind option tables of pipeline steps (internal to src/pipeline and
 * the CLI's `anchor run`). */
#ifndef ANCHOR_PIPELINE_STEPS_H
#define ANCHOR_PIPELINE_STEPS_H

#include "pipeline/pipeline.h"

typedef enum { PT_STR, PT_INT, PT_FLOAT, PT_FLAG, PT_LIST } anc_opt_type;

typedef enum {
    PR_NONE,        /* a plain value */
    PR_IN_FILE,     /* a file the step reads (hashed by content) */
    PR_IN_DIR,      /* a folder the step reads, e.g. a model (hashed by listing) */
    PR_OUT,         /* what the step writes */
    PR_MAYBE_PATH,  /* a name or a file (chat templates): a path when it exists */
    PR_SPEC         /* an LLM spec; local:DIR is resolved and hashed as a folder */
} anc_opt_role;

typedef struct anc_optdef {
    const char *name;   /* '-' spelling */
    unsigned char type; /* anc_opt_type */
    unsigned char role; /* anc_opt_role */
    unsigned char required;
} anc_optdef;

typedef struct anc_kinddef {
    const char *name;
    const anc_optdef *opts;   /* ends with {0} */
    const char *out_opt;      /* option naming the output ("out", "output-dir"); NULL for stats */
    const char *out_ext;      /* default output NAME<ext>; NULL: train -> models/NAME, report -> report.html */
    int uses_model;           /* takes the pipeline's top-level model as its default --model */
} anc_kinddef;

/* The table entry of kind k (NULL when k is out of range). */
const anc_kinddef *anc_kind_def(anc_step_kind k);
/* The kind called name, or -1. */
int anc_kind_from_name(const char *name);
/* The option of kind k called key ('_' and '-' interchangeable), or NULL. */
const anc_optdef *anc_kind_find_opt(anc_step_kind k, const char *key);

#endif
