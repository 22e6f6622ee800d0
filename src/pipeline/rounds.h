/* Rounds in pipelines: a block of steps repeated N times (iterative
 * CLAIR/APO), flattened into the pipeline's step list before anything else
 * is parsed.
 *
 *   steps:
 *     - rounds: 2            a block: `rounds` (1..100) and `steps`
 *       steps:
 *         - {name: drafts, kind: generate, prompts: p.jsonl}
 *         - {name: pairs, kind: revise, input: "${steps.drafts.out}", ...}
 *         - {name: train, kind: train, data: "${steps.pairs.out}"}
 *     - {name: report, kind: report}
 *
 * Round k's copy of step NAME is the step "rK.NAME"; its default output is
 * in the folder round-K/ of the run directory. Inside a block,
 * ${steps.NAME.out} is the same round's step NAME (else a step outside the
 * block, or "rK.NAME" spelled out); after the block it is the last round's.
 * ${round} is the round's number. The model of generate, train and eval
 * steps of round 1 is the pipeline's `model`; of round k > 1 the output of
 * round k-1's train step (a block with rounds > 1 needs exactly one train
 * step for that, unless every such step names its model). Private to
 * src/pipeline. */
#ifndef ANCHOR_PIPELINE_ROUNDS_H
#define ANCHOR_PIPELINE_ROUNDS_H

#include <stddef.h>
#include <yaml.h>

#include "core/error.h"

/* One step of the flattened list. */
typedef struct anc_pipe_entry {
    yaml_node_t *m;      /* the step's mapping */
    int round;           /* 1-based round of a block step; 0 outside blocks */
    size_t first;        /* index of the first entry of this round's copy of the block (round > 0) */
    size_t n_block;      /* entries in one copy of the block (round > 0) */
} anc_pipe_entry;

/* Flattens the `steps` sequence of path's document: plain steps as they
 * are, each block's steps once per round. *out (malloc'd) and *n are set on
 * success. Errors (ANC_ERR_FORMAT, naming path:line and the key): a block
 * with other keys than rounds and steps, a rounds count outside 1..100, a
 * block without steps, nested blocks, more than 10000 steps in all. */
anc_status anc_pipe_flatten(const char *path, yaml_document_t *doc, yaml_node_t *steps, anc_pipe_entry **out,
                            size_t *n, anc_error *err);

#endif
