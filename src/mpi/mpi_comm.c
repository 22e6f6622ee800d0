/* anc_comm over MPI (mpi_comm.h). Counts above INT_MAX are sent in pieces:
 * MPI's counts are int. */
#include "mpi/mpi_comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the largest piece of one call: 2^30 elements */
#define PIECE ((size_t)1 << 30)

static int sum_f32(anc_comm *c, float *buf, size_t n) {
    (void)c;
    for (size_t at = 0; at < n; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        if (MPI_Allreduce(MPI_IN_PLACE, buf + at, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return 1;
    }
    return 0;
}

/* Byte counts and displacements as MPI's ints; 1 when some do not fit
 * (then the caller sends per rank with MPI_Bcast). */
static int int_counts(const anc_comm *c, const size_t *bytes, int **cnt, int **disp) {
    *cnt = malloc(sizeof(int) * (size_t)c->size);
    *disp = malloc(sizeof(int) * (size_t)c->size);
    if (!*cnt || !*disp) return -1;
    size_t at = 0;
    for (int r = 0; r < c->size; r++) {
        if (bytes[r] > INT_MAX || at > INT_MAX) return 1;
        (*cnt)[r] = (int)bytes[r];
        (*disp)[r] = (int)at;
        at += bytes[r];
    }
    return at > INT_MAX ? 1 : 0;
}

static int bcast_bytes(anc_comm *c, void *buf, size_t n, int root) {
    (void)c;
    for (size_t at = 0; at < n; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        if (MPI_Bcast((char *)buf + at, k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return 1;
    }
    return 0;
}

static int allgather(anc_comm *c, const void *send, void *recv, const size_t *bytes) {
    int *cnt = NULL, *disp = NULL, rc = int_counts(c, bytes, &cnt, &disp);
    if (rc == 0)
        rc = MPI_Allgatherv(send, cnt[c->rank], MPI_BYTE, recv, cnt, disp, MPI_BYTE, MPI_COMM_WORLD) != MPI_SUCCESS;
    else if (rc == 1) {
        /* large: each rank's part broadcast in turn */
        size_t at = 0;
        rc = 0;
        for (int r = 0; r < c->size && !rc; r++) {
            if (r == c->rank) memmove((char *)recv + at, send, bytes[r]);
            rc = bcast_bytes(c, (char *)recv + at, bytes[r], r);
            at += bytes[r];
        }
    }
    free(cnt);
    free(disp);
    return rc != 0;
}

static int gather(anc_comm *c, const void *send, void *recv, const size_t *bytes, int root) {
    int *cnt = NULL, *disp = NULL, rc = int_counts(c, bytes, &cnt, &disp);
    if (rc == 0)
        rc = MPI_Gatherv(send, cnt[c->rank], MPI_BYTE, recv, cnt, disp, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS;
    else if (rc == 1) {
        /* large: point to point, in pieces */
        rc = 0;
        size_t at = 0;
        for (int r = 0; r < c->size && !rc; r++) {
            for (size_t o = 0; o < bytes[r] && !rc; o += PIECE) {
                int k = (int)(bytes[r] - o < PIECE ? bytes[r] - o : PIECE);
                if (r == root && c->rank == root) memcpy((char *)recv + at + o, (const char *)send + o, (size_t)k);
                else if (c->rank == root)
                    rc = MPI_Recv((char *)recv + at + o, k, MPI_BYTE, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS;
                else if (c->rank == r)
                    rc = MPI_Send((const char *)send + o, k, MPI_BYTE, root, 7, MPI_COMM_WORLD) != MPI_SUCCESS;
            }
            at += bytes[r];
        }
    }
    free(cnt);
    free(disp);
    return rc != 0;
}

static void abort_job(anc_comm *c, int code) {
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    _Exit(code ? code : 1);
}

anc_status anc_mpi_init(int *argc, char ***argv, anc_comm *out, anc_error *err) {
    memset(out, 0, sizeof *out);
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return anc_error_set(err, ANC_ERR_IO, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &out->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &out->size);
    out->allreduce_sum_f32 = sum_f32;
    out->allgather = allgather;
    out->gather = gather;
    out->bcast = bcast_bytes;
    out->abort = abort_job;
    return ANC_OK;
}

int anc_mpi_local_size(anc_comm *c) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (v && atoi(v) > 0) return atoi(v);
    MPI_Comm local;
    int n = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &n);
        MPI_Comm_free(&local);
    }
    return n > 0 ? n : 1;
}

void anc_mpi_finalize(anc_comm *c) {
    (void)c;
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
}
