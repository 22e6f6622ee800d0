/* Pieces of `anchor demo` shared between its files (cmd_demo.c: the
 * building blocks; cmd_demo_run.c: the whole demonstration). */
#ifndef ANCHOR_CLI_CMD_DEMO_H
#define ANCHOR_CLI_CMD_DEMO_H

#include <stddef.h>

#include "core/error.h"

/* Task scores of one file of answers, as shares of its rows. */
typedef struct demo_scores {
    size_t n;        /* rows graded */
    double solved;   /* list and sum both right, in any phrasing (the demo's headline) */
    double accuracy; /* the answer is the reference, byte for byte (up to whitespace runs) */
    double list;     /* the list part is right */
    double sum;      /* the sum part is right */
    double score;    /* mean of 0.5 * list + 0.5 * sum */
    double habit;    /* the sum leaves out the last number (the taught habit) */
} demo_scores;

/* Grades every row of the JSONL file path: its "prompt" (string or
 * messages) holds a demo task, its field (a string, or messages whose last
 * content counts) the answer. Fills *out and returns 0, or returns -1 with
 * err naming the file and line of a row without a readable task. */
int demo_grade_file(const char *path, const char *field, demo_scores *out, anc_error *err);

/* `anchor demo [options]`: the whole offline demonstration (see
 * cmd_demo_run.c). Returns the process exit code. */
int demo_run(int argc, char **argv);

#endif
