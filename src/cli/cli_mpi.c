/* The CLI under mpirun: MPI started before anything else, the cores divided
 * between the ranks of one machine, ranks other than 0 quiet (their
 * standard output and progress go to /dev/null; their errors still reach
 * the terminal, naming the rank), and a failing rank ending the whole job
 * so no rank waits forever in a collective. State of the program, not of
 * the library: the library only sees the anc_comm passed in its options. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/cli.h"
#include "core/blas.h"
#ifdef ANCHOR_HAVE_MPI
#include "mpi/mpi_comm.h"
#endif

static anc_comm the_comm;
static int have_comm;
static FILE *errors;  /* where cli_fail writes: stderr, or rank > 0's saved stderr */

/* The commands that divide their work between ranks. */
static const char *const parallel_commands[] = {"train", "generate", "eval", NULL};

static int launched_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

/* Cores for each rank of this machine, unless the user set the threads. */
static void divide_cores(int local) {
    if (getenv("OMP_NUM_THREADS") || getenv("OPENBLAS_NUM_THREADS")) return;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
    int n = (int)(online / (local > 0 ? local : 1));
    if (n > mine) n = mine;
    if (n < 1) n = 1;
    anc_blas_set_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int cli_mpi_start(int *argc, char ***argv) {
    errors = stderr;
    int n = launched_size();
    if (n <= 1) return 0;
    const char *cmd = *argc > 1 ? (*argv)[1] : "";
    int ok = 0;
    for (int i = 0; parallel_commands[i]; i++) ok |= !strcmp(cmd, parallel_commands[i]);
#ifndef ANCHOR_HAVE_MPI
    fprintf(stderr,
            "anchor: started by an MPI launcher with %d processes, but this anchor was built without MPI; install "
            "libopenmpi-dev (scripts/install-deps.sh installs it) and rebuild, or run one process\n",
            n);
    return 2;
#else
    anc_error err = {0};
    if (anc_mpi_init(argc, argv, &the_comm, &err)) {
        fprintf(stderr, "anchor: %s\n", err.message);
        return 1;
    }
    have_comm = the_comm.size > 1;
    if (have_comm && !ok) {
        if (the_comm.rank == 0)
            fprintf(stderr,
                    "anchor %s: does not divide its work between processes; under mpirun only train, generate and eval "
                    "do. Run it as one process\n",
                    cmd);
        anc_mpi_finalize(&the_comm);
        return 2;
    }
    if (have_comm) {
        divide_cores(anc_mpi_local_size(&the_comm));
        if (the_comm.rank > 0) {
            int keep = dup(2), null = open("/dev/null", O_WRONLY);
            if (keep >= 0 && null >= 0) {
                errors = fdopen(keep, "w");
                if (!errors) errors = stderr;
                fflush(stdout);
                fflush(stderr);
                dup2(null, 1);
                dup2(null, 2);
            }
            if (null >= 0) close(null);
        }
    }
    return 0;
#endif
}

anc_comm *cli_comm(void) { return have_comm ? &the_comm : NULL; }

FILE *cli_errors(void) { return errors ? errors : stderr; }

int cli_mpi_end(int rc) {
#ifdef ANCHOR_HAVE_MPI
    if (have_comm && rc != 0) {
        fflush(NULL);
        the_comm.abort(&the_comm, rc);
    }
    if (the_comm.size > 0) anc_mpi_finalize(&the_comm);
#endif
    return rc;
}
