/* Shared between the report modules (report.c gathers files and assembles
 * the page; report_pairs.c renders the pairs section; report_train.c the
 * training curves). Not a public interface. */
#ifndef ANCHOR_REPORT_INTERNAL_H
#define ANCHOR_REPORT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "clair/stats.h"

#include "core/strbuf.h"
#include "core/text.h"
#include "core/error.h"

/* Problems found while reading inputs; rendered under "Notes". */
typedef struct rpt_notes {
    char **v;
    size_t n, cap;
    int oom;
} rpt_notes;

/* Adds a printf-formatted note (out of memory is sticky in notes->oom). */
void anc_rpt_note(rpt_notes *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A file found under the run directory. */
typedef struct rpt_file {
    char *rel;    /* path relative to the run directory, '/'-separated */
    char *path;   /* path to open */
} rpt_file;

/* What the "Rounds" section (report_rounds.c) collects from the other
 * sections: per file under a round-K/ folder, its figures. */
enum { RPT_ROUND_PAIRS = 0, RPT_ROUND_RUN, RPT_ROUND_RESULT };
typedef struct rpt_round_item {
    int round, kind;
    char *rel;
    size_t rows;     /* pairs: rows */
    double v[3];     /* pairs: identical share, word Jaccard, Levenshtein; run: loss, accuracy, margin */
    char *text;      /* result: "key value, ..." */
} rpt_round_item;
typedef struct rpt_rounds {
    rpt_round_item *v;
    size_t n, cap;
    int oom;
} rpt_rounds;
/* K for a path "round-K/...", else 0. */
int anc_rpt_round_of(const char *rel);
/* Record a file's figures when rel lies under a round-K/ folder (no-op
 * otherwise; out of memory is sticky in r->oom). */
void anc_rpt_rounds_pairs(rpt_rounds *r, const char *rel, const anc_contrast_stats *s);
void anc_rpt_rounds_run(rpt_rounds *r, const char *rel, double loss, double accuracy, double margin);
void anc_rpt_rounds_result(rpt_rounds *r, const char *rel, const json_t *root);
/* Appends the "Rounds" section (nothing when no round was recorded). */
anc_status anc_rpt_rounds_section(anc_sbuf *out, rpt_rounds *r, anc_error *err);
void anc_rpt_rounds_free(rpt_rounds *r);

/* Appends the "Preference pairs" section for the *.jsonl candidates among
 * files[0..n): datasets whose first row has chosen/rejected. *n_datasets
 * receives how many were shown. */
anc_status anc_rpt_pairs_section(anc_sbuf *out, const rpt_file *files, size_t n, size_t examples, rpt_notes *notes,
                             rpt_rounds *rounds, size_t *n_datasets, anc_error *err);

/* Appends the "Training" section for the metrics.jsonl files among
 * files[0..n). *n_runs receives the number of runs. */
anc_status anc_rpt_train_section(anc_sbuf *out, const rpt_file *files, size_t n, rpt_notes *notes, rpt_rounds *rounds,
                             size_t *n_runs, anc_error *err);

/* 1 when name ends with suffix. */
int anc_rpt_ends_with(const char *name, const char *suffix);
/* The file-name part of a '/'-separated relative path. */
const char *anc_rpt_base(const char *rel);

#endif
