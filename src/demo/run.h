/* The demo's experiment runner (`anchor demo`, `make demo`): the paper's
 * experiment offline, in minutes on a laptop CPU.
 *
 * Every step is a real anchor subcommand run as a child process of the
 * given anchor executable (its output in DIR/logs/), so the demo exercises
 * exactly what a user runs: data, a tiny Llama taught the task by sft on a
 * sloppy teacher's demonstrations, drafts, the three preference datasets
 * built by the programmatic teacher through the exec: backend and the run
 * store (CLAIR revisions, stronger-model answers, on-policy judge pairs),
 * their contrast statistics, the anchoring advisor's verdict on the CLAIR
 * pairs (`anchor advise`: apo_zero or apo_down for the start model, in
 * advise.json and under the first table), the grid (dataset x objective x seed cells
 * trained from the start model and graded greedily on held-out prompts),
 * results.md + eval-demo.json and report.html.
 *
 * Steps that finished are recorded in DIR/done/ and skipped on a rerun
 * with the same settings (DIR/demo-config.json), so an interrupted demo
 * resumes. Part of the anchor_demo library, not of libanchor. The runner
 * reports through a callback and returns its tables; it never prints. */
#ifndef ANCHOR_DEMO_RUN_H
#define ANCHOR_DEMO_RUN_H

#include "core/error.h"
#include "demo/blocks.h"

typedef struct anc_demo_run_opts {
    const char *exe; /* the anchor CLI executable the steps run as (required; also the exec: teacher) */
    const char *dir; /* the run directory (required; created) */
    int quick;       /* the quick variant: a smaller model, fewer prompts, one seed */
    int seeds;       /* seeds per grid cell; 0: 3, or 1 with quick */
    int jobs;        /* grid cells trained at once, each child on one BLAS thread when > 1; 0: 2 on 2+ cores, else 1 */
    int fresh;       /* forget the steps a previous run in dir finished */
    int live;        /* also report ANC_DEMO_LIVE events while a step runs (for a terminal) */
} anc_demo_run_opts;

typedef enum anc_demo_event_kind {
    ANC_DEMO_BEGIN, /* the run directory is set up: total steps, grid cells, jobs */
    ANC_DEMO_STEP,  /* a step finished (or was done before): done of total, what, secs, elapsed, eta */
    ANC_DEMO_LIVE   /* a step is running: its log's last line (at most every 0.5 s; only with opts.live) */
} anc_demo_event_kind;

typedef struct anc_demo_event {
    anc_demo_event_kind kind;
    int done, total;      /* steps finished, counting this one for STEP; of all steps */
    int n_cells, jobs;    /* BEGIN: grid cells and how many run at once */
    const char *what;     /* STEP, LIVE: the step (a grid cell's name is followed by its held-out score) */
    int skipped;          /* STEP: done before, not rerun */
    double secs;          /* STEP: how long it took (0 when skipped) */
    double elapsed;       /* seconds since anc_demo_run started */
    double eta;           /* STEP: seconds the grid still needs (from its cells so far), or -1 when unknown */
    const char *log_line; /* LIVE: the last line of the step's log */
} anc_demo_event;

/* Called on the runner's thread; ev and its strings live during the call only. */
typedef void (*anc_demo_report_fn)(void *ctx, const anc_demo_event *ev);

/* What a finished demo hands back (the tables are also in its files). */
typedef struct anc_demo_result {
    int quick, seeds, jobs;          /* the settings the run had */
    double draft_temperature;        /* of the drafts */
    anc_demo_scores start, drafts;   /* the start model on held-out prompts; its drafts */
    char *contrast;                  /* the contrast statistics table (`anchor stats`, logs/contrast.log), malloc'd */
    char *tables;                    /* the held-out accuracy tables in Markdown (results.md), malloc'd */
} anc_demo_result;

/* Runs (or resumes) the whole demo in o->dir; report (may be NULL) gets
 * ctx and the progress events. On success *out holds the results (free
 * with anc_demo_result_free) and dir holds demo-config.json, the data,
 * models, pairs/, runs/, logs/, advise.json, results.md, eval-demo.json and
 * report.html.
 * Errors: ANC_ERR_INVALID when dir holds a run with other settings (the
 * message names --fresh) or for negative seeds/jobs; a failed step
 * (ANC_ERR_IO naming it and its log); I/O and format errors of the files
 * read back; ANC_ERR_NOMEM. Every child started is waited for, on failure
 * too. *out is zeroed on failure. */
anc_status anc_demo_run(const anc_demo_run_opts *o, anc_demo_report_fn report, void *ctx, anc_demo_result *out,
                        anc_error *err);

/* Frees the strings of r and zeroes it; NULL or zeroed is fine. */
void anc_demo_result_free(anc_demo_result *r);

#endif
