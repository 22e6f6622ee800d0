/* Completions of the generate step kept as they finish in OUT.partial, so a
 * killed run keeps them and a rerun with the same settings continues with
 * the rest (each request has its own random stream, so the final file is
 * the one an uninterrupted run writes). The first line names the settings
 * by a hash; each further line is {"q": request, "ids": [...], "finish":
 * 0|1, "capped": 0|1}. A torn last line is dropped. */
#ifndef ANCHOR_FLOW_GEN_PARTIAL_H
#define ANCHOR_FLOW_GEN_PARTIAL_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "flow/flow.h"
#include "model/generate.h"

typedef struct anc_gen_partial {
    char *path;
    FILE *f;           /* open for appending; NULL once writing failed */
    int write_failed;
    const anc_flow_hooks *hooks;   /* where a write failure is said (borrowed; may be NULL) */
} anc_gen_partial;

/* Opens out + ".partial" for n_req requests under settings hash sig. When
 * the file holds results of the same settings they are loaded into res[q]
 * (ids malloc'd) with done[q] = 1 and *kept counts them; a file of other
 * settings is replaced (*other set). max_new and vocab bound what is read.
 * hooks (may be NULL) hear of a later write failure. On an error nothing
 * is left open (no anc_gen_partial_close needed). */
anc_status anc_gen_partial_open(anc_gen_partial *gp, const char *out, uint64_t sig, size_t n_req, int max_new,
                                int vocab, anc_gen_result *res, unsigned char *done, size_t *kept, int *other,
                                const anc_flow_hooks *hooks, anc_error *err);

/* Appends request q's result and flushes it to the OS (a failure is said
 * once, as a warning note; the run goes on without the file). */
void anc_gen_partial_add(anc_gen_partial *gp, size_t q, const anc_gen_result *r);

/* Closes the file; remove_file: delete it (the final output is written). */
void anc_gen_partial_close(anc_gen_partial *gp, int remove_file);

#endif
