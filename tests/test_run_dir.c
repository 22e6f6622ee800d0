/* The training run folder (src/train/run_dir.c): a run into an empty folder
 * writes there; a fresh run into a folder holding a run is staged and
 * swapped in at commit, replacing the old run's files and keeping files that
 * are not a run's; an abandoned staged run is discarded by the next fresh
 * run and continued by --resume; a swap interrupted at any point (simulated
 * by building the folder states a crash leaves) is finished by the next
 * open, never mixing the two runs. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "train/run_dir.h"

static void put(const char *dir, const char *name, const char *text) {
    char *p = tu_path(dir, name);
    tu_write_file(p, text, strlen(text));
    free(p);
}

static char *get(const char *dir, const char *name) {
    char *p = tu_path(dir, name);
    char *s = anc_path_exists(p) ? tu_read_file(p, NULL) : strdup("(missing)");
    free(p);
    return s;
}

static void expect(const char *dir, const char *name, const char *text) {
    char *s = get(dir, name);
    if (strcmp(s, text)) fail_msg("%s/%s: expected '%s', found '%s'", dir, name, text, s);
    free(s);
}

/* A finished run of generation g in dir (dir/sub when sub). */
static void write_run(const char *dir, const char *g) {
    assert_int_equal(tu_system("mkdir -p '%s/checkpoint-2'", dir), 0);
    put(dir, "model.safetensors", g);
    put(dir, "config.json", g);
    put(dir, "metrics.jsonl", g);
    put(dir, "train_config.yaml", g);
    char *ck = tu_path(dir, "checkpoint-2");
    put(ck, "model.safetensors", g);
    free(ck);
}

static void test_fresh_stage_commit(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    char *out = tu_path(d, "out");
    anc_run_dir rd;
    anc_error err = {0};
    /* empty: direct */
    TU_CHECK(anc_run_dir_open(&rd, out, 0, &err), &err);
    assert_int_equal(rd.staged, 0);
    assert_string_equal(rd.work, out);
    write_run(rd.work, "old");
    TU_CHECK(anc_run_dir_commit(&rd, &err), &err);
    anc_run_dir_free(&rd);
    put(out, "notes.txt", "mine");                 /* not a run's file: stays */
    put(out, "ref_logps-train-1.safetensors", "c"); /* cache: stays */
    put(out, "model-00002-of-00002.safetensors", "old shard");
    /* a fresh run over it is staged; until commit the old run is whole */
    TU_CHECK(anc_run_dir_open(&rd, out, 0, &err), &err);
    assert_int_equal(rd.staged, 1);
    assert_non_null(strstr(rd.work, ".anchor-next"));
    put(rd.work, "model.safetensors", "new");
    put(rd.work, "config.json", "new");
    put(rd.work, "metrics.jsonl", "new");
    expect(out, "model.safetensors", "old");
    TU_CHECK(anc_run_dir_commit(&rd, &err), &err);
    anc_run_dir_free(&rd);
    expect(out, "model.safetensors", "new");
    expect(out, "config.json", "new");
    expect(out, "metrics.jsonl", "new");
    expect(out, "train_config.yaml", "(missing)");       /* the old run's, gone */
    expect(out, "model-00002-of-00002.safetensors", "(missing)");
    assert_false(tu_system("test -e '%s/checkpoint-2'", out) == 0);
    expect(out, "notes.txt", "mine");
    expect(out, "ref_logps-train-1.safetensors", "c");
    assert_false(tu_system("ls -a '%s' | grep -q anchor-", out) == 0);
    /* an abandoned staged run: a fresh run discards it, --resume continues it */
    TU_CHECK(anc_run_dir_open(&rd, out, 0, &err), &err);
    put(rd.work, "metrics.jsonl", "abandoned");
    anc_run_dir_free(&rd);
    TU_CHECK(anc_run_dir_open(&rd, out, 1, &err), &err);
    assert_int_equal(rd.staged, 1);
    expect(rd.work, "metrics.jsonl", "abandoned");
    anc_run_dir_free(&rd);
    TU_CHECK(anc_run_dir_open(&rd, out, 0, &err), &err);
    expect(rd.work, "metrics.jsonl", "(missing)");
    anc_run_dir_free(&rd);
    free(out);
    tu_rmtree(d);
    free(d);
}

/* The states a crash inside the swap can leave, each finished by the next
 * open: (1) marked complete, nothing moved; (2) some old files moved aside
 * (.anchor-old.tmp); (3) all old files aside (.anchor-old), some new ones in. */
static void test_interrupted_swap_finished(void **state) {
    (void)state;
    for (int stage = 1; stage <= 3; stage++) {
        char *d = tu_tmpdir();
        char *out = tu_path(d, "out"), *next = tu_path(out, ".anchor-next");
        write_run(out, "old");
        put(out, "notes.txt", "mine");
        assert_int_equal(tu_system("mkdir -p '%s'", next), 0);
        put(next, "model.safetensors", "new");
        put(next, "config.json", "new");
        put(next, "metrics.jsonl", "new");
        put(next, ".complete", "");
        if (stage == 2)
            assert_int_equal(tu_system("mkdir '%s/.anchor-old.tmp' && mv '%s/model.safetensors' '%s/checkpoint-2' '%s/.anchor-old.tmp/'",
                                       out, out, out, out), 0);
        if (stage == 3)
            assert_int_equal(tu_system("cd '%s' && mkdir .anchor-old && mv model.safetensors config.json metrics.jsonl "
                                       "train_config.yaml checkpoint-2 .anchor-old/ && mv .anchor-next/config.json .",
                                       out), 0);
        anc_run_dir rd;
        anc_error err = {0};
        /* --resume after the crash (a fresh open would finish the swap too,
         * then stage itself anew) */
        TU_CHECK(anc_run_dir_open(&rd, out, 1, &err), &err);
        assert_int_equal(rd.staged, 0);
        anc_run_dir_free(&rd);
        expect(out, "model.safetensors", "new");
        expect(out, "config.json", "new");
        expect(out, "metrics.jsonl", "new");
        expect(out, "train_config.yaml", "(missing)");
        expect(out, "notes.txt", "mine");
        assert_false(tu_system("test -e '%s/checkpoint-2'", out) == 0);
        assert_false(tu_system("ls -a '%s' | grep -q anchor-", out) == 0);
        free(next);
        free(out);
        tu_rmtree(d);
        free(d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_stage_commit),
        cmocka_unit_test(test_interrupted_swap_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
