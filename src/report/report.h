/* The run report (design notes §2 "results -> report -> report.html", §3 run
 * directory): one self-contained HTML page about a run directory, with
 *  - the contrast table (anc_contrast_*) of every preference-pairs dataset:
 *    *.jsonl files whose first row has "chosen" and "rejected";
 *  - the first few pairs of each dataset with a word-level diff from the
 *    rejected draft to the chosen revision (<del> red, <ins> green);
 *  - training curves: every folder (the run directory itself or a subfolder
 *    up to three levels down) holding a metrics.jsonl is one run, named by its
 *    relative path ("." for the run directory); one inline SVG chart per
 *    metric (loss, rewards/chosen, rewards/rejected, rewards/margins,
 *    rewards/accuracies, logps/chosen, logps/rejected) against step, one
 *    line per run, eval_* values as hollow dots, a shared legend;
 *  - a table for every eval*.json / ab*.json object: its numeric top-level
 *    fields (one level of nested objects flattened as "a.b"), short strings,
 *    and [lo, hi] intervals as "lo – hi";
 *  - on top, when there are round-K/ folders (pipeline rounds), a "Rounds"
 *    section: each round's pair datasets, training runs and results.
 * Files are found in the run directory and its subfolders up to three levels
 * down (hidden entries and symbolic links to folders are skipped), in name
 * order. Everything taken from data is HTML-escaped; the page holds no
 * script, no URL and no external reference. Unreadable or malformed inputs
 * do not fail the report: they are listed under "Notes" with file:line and
 * what was expected. Non-finite metric values are skipped in the charts
 * (the trainer's "%.9g" may write nan/inf, which is accepted in place of a
 * JSON number). No global state; the library prints nothing. */
#ifndef ANCHOR_REPORT_REPORT_H
#define ANCHOR_REPORT_REPORT_H

#include <stddef.h>

#include "core/strbuf.h"
#include "core/text.h"
#include "core/error.h"

typedef struct anc_report_options {
    size_t examples;      /* example pairs shown per dataset (anc_report_options_default: 3) */
    const char *title;    /* page title; NULL: "anchor report: <run directory>" */
} anc_report_options;

void anc_report_options_default(anc_report_options *o);

/* What a report found (for the caller's summary line). */
typedef struct anc_report_summary {
    size_t datasets;   /* pairs datasets in the contrast table */
    size_t runs;       /* training runs (metrics.jsonl files) */
    size_t results;    /* eval / A/B tables */
    size_t notes;      /* problems listed under "Notes" */
} anc_report_summary;

/* Appends the report page for run_dir to html. opt may be NULL (defaults);
 * summary may be NULL. Errors: ANC_ERR_IO when run_dir is not a readable
 * directory, ANC_ERR_NOMEM; problems with individual files become notes. */
anc_status anc_report_render(const char *run_dir, const anc_report_options *opt, anc_sbuf *html,
                             anc_report_summary *summary, anc_error *err);

/* Renders the report and writes it atomically to out_path (NULL:
 * "<run_dir>/report.html"). */
anc_status anc_report_write(const char *run_dir, const char *out_path, const anc_report_options *opt,
                            anc_report_summary *summary, anc_error *err);

#endif
