/* Several processes working as one (data parallelism), seen by the library
 * as a small set of collective operations behind function pointers. The
 * library never starts or links MPI itself: a program that runs under a
 * launcher (the CLI under mpirun, through src/mpi/) fills an anc_comm and
 * passes it in an options struct; NULL means one process, and every call
 * below is then a no-op or a copy.
 *
 * Contract of the operations: every rank of the group calls the same
 * collective in the same order (as MPI requires); they block until all have.
 * A failing operation returns non-zero; the program then ends the whole job
 * (anc_comm.abort), since the other ranks may be waiting in a collective that
 * can no longer complete. */
#ifndef ANCHOR_CORE_COMM_H
#define ANCHOR_CORE_COMM_H

#include <stddef.h>

#include "core/error.h"

typedef struct anc_comm anc_comm;
struct anc_comm {
    int rank, size;  /* this process, and how many there are (size >= 1) */
    void *impl;      /* the implementation's state */
    /* buf[0..n) <- the element-wise sum over ranks of every rank's buf */
    int (*allreduce_sum_f32)(anc_comm *c, float *buf, size_t n);
    /* recv <- every rank's send, concatenated in rank order; bytes[r] is rank
     * r's byte count, known to every rank */
    int (*allgather)(anc_comm *c, const void *send, void *recv, const size_t *bytes);
    /* on root only, recv <- every rank's send in rank order (bytes as above);
     * recv is ignored elsewhere */
    int (*gather)(anc_comm *c, const void *send, void *recv, const size_t *bytes, int root);
    /* buf[0..n) on every rank <- root's */
    int (*bcast)(anc_comm *c, void *buf, size_t n, int root);
    /* ends every process of the job with exit code `code` (does not return) */
    void (*abort)(anc_comm *c, int code);
};

/* rank and size of c (0 and 1 for NULL). */
int anc_comm_rank(const anc_comm *c);
int anc_comm_size(const anc_comm *c);

/* Rank r's share [*lo, *hi) of n items split as evenly as possible, in rank
 * order (the first n % size ranks take one more). */
void anc_comm_share(const anc_comm *c, int r, size_t n, size_t *lo, size_t *hi);

/* The collectives with ANC_ERR_IO on failure; with NULL or size 1 they leave
 * buf as it is (allgather/gather copy send to recv). */
anc_status anc_comm_allreduce_sum(anc_comm *c, float *buf, size_t n, anc_error *err);
/* Every rank's slice of the items split by anc_comm_share over n items of
 * item_bytes each: this rank's items are at buf + lo*item_bytes on entry; on
 * return buf holds all n items on every rank. */
anc_status anc_comm_allgather_shares(anc_comm *c, void *buf, size_t n, size_t item_bytes, anc_error *err);
/* The same for ncols float arrays of n items each (cols[j][lo..hi) this
 * rank's on entry, all n on return), exchanged in one call. */
anc_status anc_comm_allgather_columns(anc_comm *c, float *const *cols, size_t ncols, size_t n, anc_error *err);
anc_status anc_comm_bcast(anc_comm *c, void *buf, size_t n, anc_error *err);
/* Broadcasts root 0's string (malloc'd on the others into *s, which must be
 * NULL there; NULL on root is sent as NULL). */
anc_status anc_comm_bcast_str(anc_comm *c, char **s, anc_error *err);
/* Every rank's byte string to rank 0: there *out (malloc'd, caller frees)
 * holds them concatenated in rank order and lens[r] (size entries, caller
 * allocated) each length; elsewhere *out is NULL. */
anc_status anc_comm_gather_bytes(anc_comm *c, const void *send, size_t n, void **out, size_t *lens, anc_error *err);
/* Every rank's st, agreed by all: a rank whose own st is OK returns
 * ANC_ERR_IO ("rank K failed") when another rank's is not, else its own. */
anc_status anc_comm_agree(anc_comm *c, anc_status st, anc_error *err);

#endif
