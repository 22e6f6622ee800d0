/* Prepares the data-parallel benchmark (bench/run.sh runs it): a
 * SmolLM2-135M-shaped random model saved as a Hugging Face folder and
 * pre-tokenised random preference pairs, so that `anchor train` can be
 * timed as one process with 2 threads and as `mpirun -np 2` with one
 * thread per rank on the same files.
 *   bench_mpi DIR [--layers N] [--pairs N] [--tokens T]
 * writes DIR/model/ and DIR/pairs.jsonl (T tokens per pair: a quarter
 * prompt, the rest split between chosen and rejected). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_model.h"
#include "core/fileutil.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mpi DIR [--layers N] [--pairs N] [--tokens T]\n");
        return 2;
    }
    int layers = 30, pairs = 16, tokens = 512;
    for (int i = 2; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--layers")) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pairs")) pairs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens")) tokens = atoi(argv[++i]);
    }
    if (layers < 1 || pairs < 1 || tokens < 8) {
        fprintf(stderr, "bench_mpi: --layers, --pairs >= 1 and --tokens >= 8\n");
        return 2;
    }
    anc_error err = {0};
    char *mdir = anc_path_join(argv[1], "model"), *data = anc_path_join(argv[1], "pairs.jsonl");
    if (!mdir || !data || anc_mkdirs(mdir, &err)) {
        fprintf(stderr, "bench_mpi: %s\n", err.message[0] ? err.message : "out of memory");
        return 1;
    }
    anc_model *m = bench_smollm2_model(layers, 5);
    if (!m) return 1;
    if (anc_model_save_hf(m, mdir, ANC_DT_F32, &err)) {
        fprintf(stderr, "bench_mpi: %s\n", err.message);
        return 1;
    }
    FILE *f = fopen(data, "w");
    if (!f) {
        fprintf(stderr, "bench_mpi: cannot write %s\n", data);
        return 1;
    }
    anc_rng r;
    anc_rng_seed(&r, 6);
    int np = tokens / 4, nr = (tokens - np) / 2, nc = tokens - np - nr;
    for (int i = 0; i < pairs; i++) {
        const char *keys[3] = {"prompt_ids", "chosen_ids", "rejected_ids"};
        int lens[3] = {np, nc, nr};
        fputc('{', f);
        for (int k = 0; k < 3; k++) {
            fprintf(f, "%s\"%s\": [", k ? ", " : "", keys[k]);
            for (int j = 0; j < lens[k]; j++) fprintf(f, "%s%d", j ? ", " : "", 3 + (int)anc_rng_below(&r, 49000));
            fputc(']', f);
        }
        fputs("}\n", f);
    }
    if (fclose(f) != 0) return 1;
    printf("bench_mpi: %d-layer SmolLM2-shaped model in %s, %d pairs of %d tokens in %s\n", layers, mdir, pairs, tokens, data);
    anc_model_free(m);
    free(mdir);
    free(data);
    return 0;
}
