/* Option tables of the steps that only read and write files: import
 * (`anchor pairs import`), stats and report. Their work is in clair/import.h,
 * clair/contrast.h and report/report.h. */
#ifndef ANCHOR_FLOW_DATA_STEPS_H
#define ANCHOR_FLOW_DATA_STEPS_H

#include "flow/options.h"

typedef struct anc_import_opts {
    const char *format;  /* ultrafeedback | hh-rlhf | llama-factory | llama-factory-kto */
    const char *input;
    const char *out;     /* '-' = stdout */
    const char *source;  /* each row's "source" (default: the format name) */
} anc_import_opts;
extern const anc_option anc_import_option_table[];

/* stats: the files are the command's positional arguments and the
 * pipeline's "input" list. */
typedef struct anc_stats_opts {
    anc_opt_list input;
    const char *model;   /* also the token-set Jaccard with this tokenizer */
    int json;
} anc_stats_opts;
extern const anc_option anc_stats_option_table[];

/* report: the run directory is the command's positional argument (the
 * pipeline passes its own). */
typedef struct anc_report_opts {
    const char *out;
    long examples;       /* default 3 */
    const char *title;
} anc_report_opts;
extern const anc_option anc_report_option_table[];

#endif
