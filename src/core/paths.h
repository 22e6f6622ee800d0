/* Path identity and whole-tree removal: what keeps an output folder from
 * landing on an input (train --output-dir equal to --model, a pipeline step
 * writing into the folder it reads) and what a swapped-in run uses to
 * discard the one it replaced. */
#ifndef ANCHOR_CORE_PATHS_H
#define ANCHOR_CORE_PATHS_H

#include "core/error.h"

typedef enum anc_path_rel {
    ANC_PATH_APART = 0,   /* neither contains the other */
    ANC_PATH_SAME,        /* the same folder */
    ANC_PATH_A_IN_B,      /* a lies inside b */
    ANC_PATH_B_IN_A,      /* b lies inside a */
} anc_path_rel;

/* The absolute form of path with symbolic links of its existing part
 * resolved and ".", ".." and repeated '/' of the rest folded, so that a
 * folder not created yet compares correctly with one that exists. malloc'd
 * (caller frees); NULL with *err set on failure. */
char *anc_path_canonical(const char *path, anc_error *err);

/* How a and b relate as folders (by anc_path_canonical). */
anc_status anc_path_relation(const char *a, const char *b, anc_path_rel *rel, anc_error *err);

/* Refuses (ANC_ERR_INVALID) an output folder `out`, given as option
 * out_opt of command cmd, that is, lies inside or contains any of the n
 * input folders inputs[i] (NULL entries skipped), each given as option
 * in_opts[i]: writing there would replace what the command reads. The
 * message names both folders and both options. */
anc_status anc_path_refuse_overlap(const char *cmd, const char *out_opt, const char *out, const char *const *inputs,
                                   const char *const *in_opts, int n, anc_error *err);

/* Removes path and everything below it, never following symbolic links
 * (a link is removed, not its target). A missing path is fine. */
anc_status anc_rmtree(const char *path, anc_error *err);

#endif
