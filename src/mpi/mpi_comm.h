/* anc_comm (core/comm.h) over MPI, for programs started by mpirun. Built
 * only when CMake finds MPI (libanchor_mpi, linked into the CLI and the
 * tests; libanchor itself never links MPI). MPI state is per process by its
 * nature: call anc_mpi_init once, before any thread starts, and
 * anc_mpi_finalize before exit. */
#ifndef ANCHOR_MPI_MPI_COMM_H
#define ANCHOR_MPI_MPI_COMM_H

#include "core/comm.h"

/* Initialises MPI (MPI_THREAD_FUNNELED: only this thread talks to MPI) and
 * fills *out with MPI_COMM_WORLD's rank and size; *out is owned by the
 * caller until anc_mpi_finalize. */
anc_status anc_mpi_init(int *argc, char ***argv, anc_comm *out, anc_error *err);

/* Ranks of this job on this machine (OMPI_COMM_WORLD_LOCAL_SIZE or MPI's
 * shared-memory split), for dividing the cores between them. */
int anc_mpi_local_size(anc_comm *c);

void anc_mpi_finalize(anc_comm *c);

#endif
