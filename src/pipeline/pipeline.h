/* YAML pipelines: one file names the steps of a run (generate, revise,
 * judge, stronger, import, stats, train, eval, ab, report, advise) and their options;
 * everything they make lives under one run directory (design.md section 3).
 *
 *   run_dir: DIR        default: the YAML's name without extension, beside it
 *                       (relative to the YAML's folder)
 *   model: DIR          default --model of generate/train/eval (relative to
 *                       the run directory, like every step path)
 *   steps:
 *     - name: drafts    unique, [A-Za-z0-9_.-]
 *       kind: generate
 *       prompts: /data/prompts.jsonl      the subcommand's option names
 *       max_new_tokens: 64                ('_' or '-'); scalars or lists
 *     - name: pairs
 *       kind: revise
 *       input: ${steps.drafts.out}        or simply drafts.jsonl
 *       reviser: exec:./my_reviser
 *     - rounds: 2                        a block of steps repeated (iterative
 *       steps: [...]                     rounds, pipeline/rounds.h)
 *
 * This module parses and validates a pipeline (every error names the file,
 * line and key, before anything runs), resolves paths and step references,
 * builds each step's argv and computes the hashes that decide whether a step
 * is up to date. It never runs a step and never prints: src/cli/cmd_run.c
 * does that. No global state. */
#ifndef ANCHOR_PIPELINE_PIPELINE_H
#define ANCHOR_PIPELINE_PIPELINE_H

#include <stddef.h>

#include "core/error.h"
#include "store/sha256.h"

typedef enum anc_step_kind {
    ANC_STEP_GENERATE = 0,
    ANC_STEP_REVISE,
    ANC_STEP_JUDGE,
    ANC_STEP_STRONGER,
    ANC_STEP_IMPORT,
    ANC_STEP_STATS,
    ANC_STEP_TRAIN,
    ANC_STEP_EVAL,
    ANC_STEP_AB,
    ANC_STEP_REPORT,
    ANC_STEP_ADVISE,
    ANC_STEP_EXPORT,
    ANC_STEP_N_KINDS
} anc_step_kind;

/* "generate", ... (never NULL for a valid kind). */
const char *anc_step_kind_name(anc_step_kind k);

/* One option of a step after resolution. */
typedef struct anc_pipe_opt {
    char *key;        /* canonical option name ('-' spelling), e.g. "max-new-tokens" */
    char **values;    /* one value, or several for a repeatable option; paths resolved */
    size_t n_values;
    int flag;         /* a true/false option: passed as --key=true / --key=false */
    size_t line;      /* line in the pipeline file (0 for defaults the pipeline added) */
} anc_pipe_opt;

typedef struct anc_pipe_step {
    char *name;         /* "rK.NAME" for round K's copy of a rounds block's step NAME */
    int round;          /* its round (1-based); 0 outside rounds blocks */
    anc_step_kind kind;
    size_t line;
    anc_pipe_opt *opts;
    size_t n_opts;
    char *out;          /* what the step makes (file or folder, absolute or run-dir-based) */
    char *out_rel;      /* the same, relative to the run directory */
    char **inputs;      /* files and folders it reads (hashed) */
    size_t n_inputs;
    size_t *deps;       /* indices of earlier steps whose output it reads */
    size_t n_deps;
    char config_hash[ANC_SHA256_HEX]; /* kind + canonical option list (run-dir-relative paths) */
} anc_pipe_step;

typedef struct anc_pipeline {
    char *path;        /* the YAML file */
    char *run_dir;
    char *store_path;  /* run_dir/run.db */
    char *model;       /* may be NULL */
    anc_pipe_step *steps;
    size_t n_steps;
} anc_pipeline;

/* Loads and validates the pipeline at path. run_dir_override (may be NULL)
 * replaces the file's run_dir (relative to the current directory). On error
 * (ANC_ERR_IO, ANC_ERR_FORMAT for bad YAML, unknown kinds or options, missing
 * required options, type errors, duplicate names, references to unknown or
 * later steps) err names "FILE:LINE: key 'K': ..." and *out is untouched
 * (nothing is created on disk either way). Free with anc_pipeline_free. */
anc_status anc_pipeline_load(anc_pipeline *out, const char *path, const char *run_dir_override, anc_error *err);

/* Frees everything of p and zeroes it (NULL is a no-op). */
void anc_pipeline_free(anc_pipeline *p);

/* Index of the step called name, or -1. */
long anc_pipeline_find(const anc_pipeline *p, const char *name);

/* Builds the argv that runs step i in-process: argv[0] is the subcommand
 * ("pairs" for stronger/import, followed by "stronger"/"import"), then
 * "--key" "value" pairs (repeated for lists), the positional arguments of
 * stats (its input files) and report (the run directory), and, for revise,
 * judge, stronger and ab, "--store RUN_DIR/run.db". extra (may be NULL) is
 * appended. *argv (NULL-terminated, every string malloc'd and writable) and
 * *argc are set; free with anc_pipeline_argv_free. */
anc_status anc_pipeline_argv(const anc_pipeline *p, size_t i, const char *const *extra, size_t n_extra,
                             char ***argv, int *argc, anc_error *err);
void anc_pipeline_argv_free(char **argv);

/* Hash of the inputs step i reads, as they are now. A file counts by its
 * content (SHA-256); a folder (a model) by the content of its config.json
 * plus the name, size and modification time of each regular file at its top
 * level (weights are not read: a changed weight file changes its size or
 * mtime); an absent path by its name. Writes 64 hex digits + NUL. */
anc_status anc_pipeline_input_hash(const anc_pipeline *p, size_t i, char hash[ANC_SHA256_HEX], anc_error *err);

/* Writes the resolved plan (run_dir, model, each step's kind, output,
 * dependencies and options) as YAML to path, atomically. */
anc_status anc_pipeline_write_effective(const anc_pipeline *p, const char *path, anc_error *err);

#endif
