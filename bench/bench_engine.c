/* Engine benchmark: scoring (forward) and training (forward+backward)
 * throughput of a SmolLM2-135M-shaped random model on 2 x 512-token
 * sequences, with MFU against a measured SGEMM peak and the peak RSS.
 * Prints "key value" lines that bench/run.sh compares with PyTorch.
 *   bench_engine [--layers N] [--seq-len L] [--reps K] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_model.h"
#include "core/blas.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double median(double *x, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && x[j] < x[j - 1]; j--) { double t = x[j]; x[j] = x[j - 1]; x[j - 1] = t; }
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Best-of SGEMM rate at M=N=K=n: the machine's practical fp32 peak. */
static double sgemm_peak(int n) {
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n);
    float *c = malloc(sizeof(float) * (size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * n * (double)n / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv) {
    anc_blas_select_core(argv);
    int layers = 30, seq_len = 512, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq-len")) seq_len = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 50) reps = 3;
    anc_model *m = bench_smollm2_model(layers, 12345);
    if (!m) return 1;
    const anc_config cfg = m->cfg;
    anc_error err = {0};
    uint64_t s = 12345;
    const int n_seqs = 2;
    const int64_t N = (int64_t)n_seqs * seq_len;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *mask = malloc((size_t)N);
    int64_t offsets[3] = {0, seq_len, 2 * (int64_t)seq_len};
    for (int64_t t = 0; t < N; t++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        tokens[t] = (int32_t)(s % (uint64_t)cfg.vocab_size);
        mask[t] = (t % seq_len) != 0;
    }
    anc_batch b = {N, tokens, n_seqs, offsets, mask};
    anc_acts *a = anc_acts_create();
    float *dtok = malloc(sizeof(float) * (size_t)N), seq[2];
    for (int64_t t = 0; t < N; t++) dtok[t] = mask[t] ? 1.0f / (float)N : 0.0f;
    float *grads = calloc(m->n_params, sizeof(float));

    double peak = sgemm_peak(2048);
    /* warm-up */
    if (anc_model_forward(m, a, &b, NULL, seq, NULL, &err) || anc_model_backward(m, a, &b, dtok, grads, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double tf[50], tfb[50];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        anc_model_forward(m, a, &b, NULL, seq, NULL, &err);
        tf[r] = now() - t0;
    }
    for (int r = 0; r < reps; r++) {
        memset(grads, 0, sizeof(float) * m->n_params);
        double t0 = now();
        anc_model_forward(m, a, &b, NULL, seq, NULL, &err);
        anc_model_backward(m, a, &b, dtok, grads, &err);
        tfb[r] = now() - t0;
    }
    /* the peak is measured before and after, and the higher is used: a
     * transient load on the other core must not inflate MFU */
    double peak2 = sgemm_peak(2048);
    if (peak2 > peak) peak = peak2;
    double f = median(tf, reps), fb = median(tfb, reps);
    double P = (double)m->n_params;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("impl anchor\n");
    printf("blas_core %s\n", anc_blas_corename());
    printf("threads %d\n", anc_blas_threads());
    printf("params %.0f\n", P);
    printf("tokens %lld\n", (long long)N);
    printf("sgemm_peak_gflops %.1f\n", peak);
    printf("forward_s %.4f\n", f);
    printf("forward_tok_s %.1f\n", N / f);
    printf("forward_mfu %.3f\n", 2 * P * N / f / (peak * 1e9));
    printf("train_step_s %.4f\n", fb);
    printf("train_tok_s %.1f\n", N / fb);
    printf("train_mfu %.3f\n", 6 * P * N / fb / (peak * 1e9));
    printf("peak_rss_mb %.1f\n", ru.ru_maxrss / 1024.0);
    printf("acts_mb %.1f\n", anc_acts_bytes(a) / 1048576.0);
    printf("check_seq_logp %.6f %.6f\n", seq[0], seq[1]);
    free(tokens); free(mask); free(dtok); free(grads);
    anc_acts_free(a);
    anc_model_free(m);
    return 0;
}
