/* Where a training run writes, so that a rerun cannot leave a finished run
 * mixed. A run into an empty --output-dir writes there directly. A fresh run
 * into a folder that already holds a run writes everything (checkpoints,
 * metrics, model, config) into <output-dir>/.anchor-next and swaps it in
 * only when it has finished: the previous run's files stay untouched until
 * then, so a failure (disk full, a non-finite loss, kill -9) leaves them
 * whole. The swap is journaled (a ".complete" mark, then moves), and an
 * interrupted swap is finished by the next open. Reference log-prob caches
 * (ref_logps-*) are keyed by content and live in <output-dir> itself. */
#ifndef ANCHOR_TRAIN_RUN_DIR_H
#define ANCHOR_TRAIN_RUN_DIR_H

#include "core/error.h"

typedef struct anc_run_dir {
    char *final;   /* the --output-dir */
    char *work;    /* where this run writes: final or final/.anchor-next */
    int staged;    /* 1 when work is the staging folder */
} anc_run_dir;

/* Prepares output_dir (created when missing) for a run. resume: continue
 * the newest run there, which is the staged one when a rerun was
 * interrupted. Otherwise a staged run left by an earlier failure is
 * discarded and a new one staged when output_dir holds a run. */
anc_status anc_run_dir_open(anc_run_dir *rd, const char *output_dir, int resume, anc_error *err);

/* Called once the run's files are all written in rd->work: a staged run
 * replaces the previous run's files (those named like a run's products or
 * like one of the new files; anything else in output_dir stays). */
anc_status anc_run_dir_commit(anc_run_dir *rd, anc_error *err);

void anc_run_dir_free(anc_run_dir *rd);

#endif
