/* Data parallelism under a real `mpirun` (OpenMPI): the real binary, two
 * ranks on this machine. Skips when this build has no MPI or mpirun is not
 * installed.
 * - `mpirun -np 2 train --per-device-train-batch-size b` equals one process
 *   with batch 2b: the same metrics and final weights, within the fp32
 *   rounding of summing two gradients (and packing half the pairs per
 *   forward) in another order; full fine-tuning with evaluation, and LoRA.
 * - A 2-rank run whose rank 1 is killed after a checkpoint ends with
 *   mpirun's message; resumed under mpirun it equals an uninterrupted 2-rank
 *   run bit for bit.
 * - `mpirun -np 2 generate` writes the single process's output byte for
 *   byte, greedy and sampled (every completion has its own random stream);
 *   `eval` (generate task) the same records and score.
 * - a command that does not divide its work is refused under mpirun. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/safetensors.h"

/* mpirun as root in containers, one core per rank, no leak reports from
 * MPI's own allocations under ASan, the threads divided by anchor itself. */
#define MPIRUN                                                                                                  \
    "env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " \
    "OMPI_MCA_btl_vader_single_copy_mechanism=none ASAN_OPTIONS=detect_leaks=0 mpirun --oversubscribe -np 2"

static int have_mpi(void) {
#ifndef ANCHOR_TEST_MPI
    return 0;
#else
    return tu_system("command -v mpirun >/dev/null 2>&1") == 0;
#endif
}

#define SKIP_WITHOUT_MPI()                                                                            \
    do {                                                                                              \
        if (!have_mpi()) {                                                                            \
            printf("  skipped: %s\n", "this build has no MPI, or mpirun is missing (apt install libopenmpi-dev openmpi-bin)"); \
            skip();                                                                                   \
        }                                                                                             \
    } while (0)

static char *model_dir(void) { return tu_path(ANCHOR_SOURCE_DIR, "tests/fixtures/reference/llama_gqa"); }

static void write_pairs(const char *path, int n, uint64_t seed) { tu_write_id_pairs(path, n, seed, 5, 7); }

/* Every number of every line of two metrics files within rel/abs of each
 * other (timing keys skipped); returns the largest relative difference. */
static double compare_metrics(const char *p1, const char *p2, double tol) {
    char *a = tu_read_file(p1, NULL), *b = tu_read_file(p2, NULL);
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    double worst = 0;
    int lines = 0;
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb), lines++) {
        json_error_t je;
        json_t *ja = json_loads(la, 0, &je), *jb = json_loads(lb, 0, &je);
        assert_non_null(ja);
        assert_non_null(jb);
        assert_int_equal(json_object_size(ja), json_object_size(jb));
        const char *key;
        json_t *va;
        /* Rewards still at zero (the first step) are ties decided by rounding:
         * a pair's reference log-prob comes from a packed batch of other
         * rows than its policy log-prob, and OpenBLAS rounds a row of a small
         * product differently from a large one, so ~1e-8 either way. Their
         * accuracy is then any multiple of 1/pairs; it is left out there. */
        int tied = tol > 0 && fabs(json_number_value(json_object_get(ja, "rewards/margins"))) < 1e-6;
        json_object_foreach(ja, key, va) {
            if (!strcmp(key, "tokens_per_second")) continue;
            if (tied && !strcmp(key, "rewards/accuracies")) continue;
            json_t *vb = json_object_get(jb, key);
            assert_non_null(vb);
            double x = json_number_value(va), y = json_number_value(vb);
            double d = fabs(x - y) / (fabs(x) > 1e-2 ? fabs(x) : 1e-2);
            if (d > worst) worst = d;
            if (d > tol) fail_msg("%s vs %s line %d: %s %.9g vs %.9g", p1, p2, lines + 1, key, x, y);
        }
        json_decref(ja);
        json_decref(jb);
    }
    assert_null(la);
    assert_null(lb);
    assert_true(lines > 0);
    free(a);
    free(b);
    return worst;
}

/* The largest absolute difference between the tensors of two safetensors
 * files (same names and sizes). */
static double weights_diff(const char *p1, const char *p2) {
    anc_safetensors *s1 = NULL, *s2 = NULL;
    anc_error err = {0};
    TU_CHECK(anc_st_open(&s1, p1, &err), &err);
    TU_CHECK(anc_st_open(&s2, p2, &err), &err);
    assert_int_equal(anc_st_count(s1), anc_st_count(s2));
    double worst = 0;
    for (size_t i = 0; i < anc_st_count(s1); i++) {
        const anc_st_tensor *t = anc_st_get(s1, i);
        uint64_t n1, n2;
        float *a = tu_st_read_f32(s1, t->name, &n1), *b = tu_st_read_f32(s2, t->name, &n2);
        assert_int_equal(n1, n2);
        double d = tu_max_abs_diff(a, b, n1);
        if (d > worst) worst = d;
        free(a);
        free(b);
    }
    anc_st_close(s1);
    anc_st_close(s2);
    return worst;
}

static const char *TRAIN_COMMON =
    "--data pairs.jsonl --eval-data eval.jsonl --eval-steps 3 --loss-type apo_zero --learning-rate 3e-3 "
    "--gradient-accumulation-steps 2 --max-steps 6 --logging-steps 1 --max-tokens 64 --seed 3";

static void train_equivalence(const char *extra, const char *weights) {
    char *d = tu_tmpdir(), *model = model_dir();
    char *data = tu_path(d, "pairs.jsonl"), *eval = tu_path(d, "eval.jsonl");
    write_pairs(data, 60, 7); /* 60 = 3 full optimiser steps of 16 and a short one per epoch */
    write_pairs(eval, 11, 8); /* 11: an uneven split of the last evaluation batch */
    assert_int_equal(tu_system("cd '%s' && '%s' train --model '%s' %s %s --per-device-train-batch-size 8 --output-dir one "
                               ">one.out 2>one.err", d, tu_cli(), model, TRAIN_COMMON, extra), 0);
    assert_int_equal(tu_system("cd '%s' && " MPIRUN " '%s' train --model '%s' %s %s --per-device-train-batch-size 4 "
                               "--output-dir two >two.out 2>two.err", d, tu_cli(), model, TRAIN_COMMON, extra), 0);
    char *e2 = tu_path(d, "two.err");
    char *log = tu_read_file(e2, NULL);
    assert_non_null(strstr(log, "anchor train: 2 processes; summing gradients took"));
    /* the metrics: the same steps and evaluations; numbers within 1e-4 relative */
    char *m1 = tu_path(d, "one/metrics.jsonl"), *m2 = tu_path(d, "two/metrics.jsonl");
    assert_int_equal(tu_count_lines(m1), tu_count_lines(m2));
    double rel = compare_metrics(m1, m2, 1e-4);
    char rel1[64], rel2[64];
    snprintf(rel1, sizeof rel1, "one/%s", weights);
    snprintf(rel2, sizeof rel2, "two/%s", weights);
    char *w1 = tu_path(d, rel1), *w2 = tu_path(d, rel2);
    double wd = weights_diff(w1, w2);
    printf("  %s: metrics within %.2g relative, weights within %.2g\n", *extra ? extra : "full fine-tuning", rel, wd);
    /* AdamW divides by sqrt(v): an element whose gradient is near zero moves
     * by a share of the learning rate that its rounding decides, so the bound
     * is stated against the step size: 1e-4 = lr / 30 (seen: 1.2e-5 full,
     * 4.5e-8 LoRA) */
    assert_true(wd <= 1e-4);
    free(log); free(e2); free(m1); free(m2); free(w1); free(w2); free(data); free(eval); free(model);
    tu_rmtree(d);
    free(d);
}

static void test_train_two_ranks_equal_one(void **state) {
    (void)state;
    SKIP_WITHOUT_MPI();
    train_equivalence("", "model.safetensors");
}

static void test_lora_two_ranks_equal_one(void **state) {
    (void)state;
    SKIP_WITHOUT_MPI();
    train_equivalence("--use-peft --lora-r 4 --lora-alpha 8 --lora-dropout 0", "adapter_model.safetensors");
}

/* The pid of the `anchor` process of rank `rank` under mpirun pid `root`,
 * found by its OMPI_COMM_WORLD_RANK; 0 while not started. */
static pid_t find_rank(int rank) {
    DIR *dir = opendir("/proc");
    pid_t found = 0;
    struct dirent *e;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (dir && !found && (e = readdir(dir))) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p <= 0) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
        size_t n = 0;
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char cmd[256] = {0};
        n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        if (!n || !strstr(cmd, "anchor") || !strstr(cmd + strlen(cmd) + 1, "train")) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)p);
        if (!(f = fopen(path, "r"))) continue;
        char *env = malloc(1 << 20);
        n = fread(env, 1, (1 << 20) - 1, f);
        fclose(f);
        env[n] = '\0';
        for (size_t i = 0; i < n; i += strlen(env + i) + 1)
            if (!strcmp(env + i, want)) found = p;
        free(env);
    }
    if (dir) closedir(dir);
    return found;
}

static void test_killed_rank_then_resume(void **state) {
    (void)state;
    SKIP_WITHOUT_MPI();
    char *d = tu_tmpdir(), *model = model_dir();
    char *data = tu_path(d, "pairs.jsonl"), *eval = tu_path(d, "eval.jsonl");
    write_pairs(data, 96, 5);
    write_pairs(eval, 8, 6);
    char common[1024];
    snprintf(common, sizeof common, "%s --max-steps 40 --save-steps 5 --per-device-train-batch-size 4", TRAIN_COMMON);
    assert_int_equal(tu_system("cd '%s' && " MPIRUN " '%s' train --model '%s' %s --output-dir straight >s.out 2>s.err", d,
                               tu_cli(), model, common), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(d) != 0) _exit(127);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "exec " MPIRUN " '%s' train --model '%s' %s --output-dir killed >k.out 2>k.err", tu_cli(),
                 model, common);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char *marker = tu_path(d, "killed/checkpoint-5/checkpoint.complete");
    int killed = 0;
    for (int i = 0; i < 600000 && !killed; i++) {
        if (access(marker, F_OK) == 0) {
            pid_t r1 = find_rank(1);
            if (r1 > 0) killed = kill(r1, SIGKILL) == 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    int status = 0;
    if (pid) waitpid(pid, &status, 0);
    char *ke = tu_path(d, "k.err");
    char *klog = tu_read_file(ke, NULL);
    if (killed) {
        /* mpirun ends the job and says which rank died; the run's last checkpoint is whole */
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        assert_non_null(strstr(klog, "signal 9"));
        printf("  rank 1 killed with SIGKILL after checkpoint-5; mpirun exited %d\n", WEXITSTATUS(status));
    } else {
        /* the run outpaced the kill: resume from checkpoint-5 all the same */
        assert_int_equal(tu_system("cd '%s/killed' && rm -rf checkpoint-1? checkpoint-[2-9]? checkpoint-[6-9] model.safetensors", d), 0);
    }
    assert_int_equal(tu_system("cd '%s' && " MPIRUN " '%s' train --model '%s' %s --output-dir killed --resume >r.out 2>r.err",
                               d, tu_cli(), model, common), 0);
    char *m1 = tu_path(d, "straight/metrics.jsonl"), *m2 = tu_path(d, "killed/metrics.jsonl");
    assert_true(compare_metrics(m1, m2, 0) == 0);
    char *w1 = tu_path(d, "straight/model.safetensors"), *w2 = tu_path(d, "killed/model.safetensors");
    size_t n1, n2;
    char *b1 = tu_read_file(w1, &n1), *b2 = tu_read_file(w2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1); free(b2); free(w1); free(w2); free(m1); free(m2); free(klog); free(ke); free(marker);
    free(data); free(eval); free(model);
    tu_rmtree(d);
    free(d);
}

static void test_generate_sharded_equals_one(void **state) {
    (void)state;
    SKIP_WITHOUT_MPI();
    char *d = tu_tmpdir();
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1", d,
                               tu_cli(), bin, tok), 0);
    static const char *const prompts[] = {"Once upon a time", "The cat", "Lily went to", "A big tree", "Tom had a",
                                          "One day", "She saw a", "In the park", "Mom said", "The boy", "A girl"};
    char *pp = tu_path(d, "p.jsonl");
    FILE *f = fopen(pp, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) fprintf(f, "{\"id\": %zu, \"prompt\": \"%s\"}\n", i, prompts[i]);
    fclose(f);
    static const char *const temps[] = {"0", "0.9"};
    for (int k = 0; k < 2; k++) {
        const char *args = "--model model --prompts p.jsonl --max-new-tokens 40 --samples-per-prompt 2 --parallel 3 --seed 5";
        assert_int_equal(tu_system("cd '%s' && '%s' generate %s --temperature %s --out one.jsonl >g1.out 2>g1.err", d, tu_cli(),
                                   args, temps[k]), 0);
        assert_int_equal(tu_system("cd '%s' && " MPIRUN " '%s' generate %s --temperature %s --out two.jsonl >g2.out 2>g2.err",
                                   d, tu_cli(), args, temps[k]), 0);
        char *p1 = tu_path(d, "one.jsonl"), *p2 = tu_path(d, "two.jsonl");
        size_t n1, n2;
        char *a = tu_read_file(p1, &n1), *b = tu_read_file(p2, &n2);
        assert_int_equal(tu_count_lines(p2), 22);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        printf("  temperature %s: 22 completions, %zu bytes, identical\n", temps[k], n1);
        free(a); free(b); free(p1); free(p2);
    }
    /* eval's generate task: the rows divided, rank 0 grading: the same records and score */
    char *ep = tu_path(d, "e.jsonl");
    f = fopen(ep, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) fprintf(f, "{\"prompt\": \"%s\"}\n", prompts[i]);
    fclose(f);
    const char *eargs = "--model model --data e.jsonl --task generate --grader regex --pattern little --max-new-tokens 30";
    assert_int_equal(tu_system("cd '%s' && '%s' eval %s --out r1.jsonl >e1.out 2>e1.err", d, tu_cli(), eargs), 0);
    assert_int_equal(tu_system("cd '%s' && " MPIRUN " '%s' eval %s --out r2.jsonl >e2.out 2>e2.err", d, tu_cli(), eargs), 0);
    char *r1 = tu_path(d, "r1.jsonl"), *r2 = tu_path(d, "r2.jsonl"), *o1 = tu_path(d, "e1.out"), *o2 = tu_path(d, "e2.out");
    size_t n1, n2;
    char *a = tu_read_file(r1, &n1), *b = tu_read_file(r2, &n2), *s1 = tu_read_file(o1, NULL), *s2 = tu_read_file(o2, NULL);
    assert_int_equal(tu_count_lines(r2), 11);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    assert_non_null(strstr(s1, "score"));
    assert_string_equal(s1, s2);
    free(a); free(b); free(s1); free(s2); free(r1); free(r2); free(o1); free(o2); free(ep);
    free(pp); free(bin); free(tok);
    tu_rmtree(d);
    free(d);
}

static void test_other_commands_refused(void **state) {
    (void)state;
    SKIP_WITHOUT_MPI();
    char *d = tu_tmpdir(), *model = model_dir();
    int rc = tu_system("cd '%s' && " MPIRUN " '%s' info --model '%s' >i.out 2>i.err", d, tu_cli(), model);
    assert_int_not_equal(rc, 0);
    char *p = tu_path(d, "i.err");
    char *log = tu_read_file(p, NULL);
    assert_non_null(strstr(log, "anchor info: does not divide its work between processes"));
    free(log); free(p); free(model);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_two_ranks_equal_one), cmocka_unit_test(test_lora_two_ranks_equal_one),
        cmocka_unit_test(test_killed_rank_then_resume), cmocka_unit_test(test_generate_sharded_equals_one),
        cmocka_unit_test(test_other_commands_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
