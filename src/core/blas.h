/* Choosing and reporting the BLAS kernel. Debian's OpenBLAS 0.3.21 does not
 * recognise recent Intel/AMD processors and falls back to its generic
 * "Prescott" kernels (about 5x slower SGEMM). OpenBLAS reads
 * OPENBLAS_CORETYPE when it is loaded, before main, so a program that wants
 * the right kernel sets the variable and re-executes itself. */
#ifndef ANCHOR_CORE_BLAS_H
#define ANCHOR_CORE_BLAS_H

/* OpenBLAS's name for the kernel in use ("Prescott", "SkylakeX", ...). */
const char *anc_blas_corename(void);
/* OpenBLAS's build configuration string. */
const char *anc_blas_config(void);
/* Threads BLAS uses. */
int anc_blas_threads(void);

/* For programs (not the library): one parallel runtime per process. With
 * bf16 products the large GEMMs run in oneDNN's OpenMP pool; OpenBLAS's own
 * threads (left with attention's small products) would spin against that
 * pool on the same cores (measured on 2 cores: an APO step 4.85 s with both
 * pools, 3.74 s with OpenBLAS on one thread). Sets OpenBLAS's thread count
 * for the whole process. */
void anc_blas_set_threads(int n);

/* The OPENBLAS_CORETYPE this CPU should use ("SkylakeX" with AVX-512,
 * "Haswell" with AVX2+FMA), or NULL when OpenBLAS's own choice is fine. */
const char *anc_blas_preferred_core(void);

/* For programs (not the library): when OpenBLAS runs a generic kernel
 * though the CPU supports a faster one, and neither OPENBLAS_CORETYPE nor
 * ANCHOR_BLAS_NO_REEXEC is set, sets OPENBLAS_CORETYPE and re-executes
 * /proc/self/exe with argv. Returns only when no re-exec happened (or it
 * failed). Sets ANCHOR_BLAS_NO_REEXEC to avoid loops. */
void anc_blas_select_core(char **argv);

#endif
