#include "core/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *anc_blas_corename(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

const char *anc_blas_config(void) {
    const char *c = openblas_get_config();
    return c ? c : "unknown";
}

int anc_blas_threads(void) { return openblas_get_num_threads(); }

void anc_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

const char *anc_blas_preferred_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void anc_blas_select_core(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("ANCHOR_BLAS_NO_REEXEC")) return;
    const char *want = anc_blas_preferred_core();
    if (!want) return;
    const char *have = anc_blas_corename();
    /* Only override the generic fallbacks; a kernel OpenBLAS chose itself stays. */
    if (strcasecmp(have, "prescott") != 0 && strcasecmp(have, "core2") != 0 && strcasecmp(have, "nehalem") != 0 &&
        strcasecmp(have, "unknown") != 0 && strcasecmp(have, "katmai") != 0)
        return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("ANCHOR_BLAS_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: continue with the generic kernel. */
}
