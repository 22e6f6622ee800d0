/* anchor run: YAML pipelines. Validation errors (file:line and key, before
 * anything runs) through the library; end-to-end runs, skipping, resuming
 * after kill -9 and --dry-run through the real binary ($ANCHOR_CLI) with the
 * stories260K model and tests/tool_fake_llm as the reviser. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "pipeline/pipeline.h"

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("expected to find '%s' in:\n%s", needle, hay);
}

static char *slurp(const char *dir, const char *name) {
    char *p = tu_path(dir, name);
    char *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

/* Loads yaml text as d/bad.yaml; expects failure whose message holds each
 * of the needles. */
static void expect_bad(const char *d, const char *yaml, const char *n1, const char *n2) {
    char *path = tu_path(d, "bad.yaml");
    tu_write_file(path, yaml, strlen(yaml));
    anc_pipeline p;
    anc_error err = {0};
    anc_status st = anc_pipeline_load(&p, path, NULL, &err);
    if (st == ANC_OK) {
        anc_pipeline_free(&p);
        fail_msg("expected an error for:\n%s", yaml);
    }
    assert_int_equal(st, ANC_ERR_FORMAT);
    assert_contains(err.message, path);
    assert_contains(err.message, n1);
    if (n2) assert_contains(err.message, n2);
    free(path);
}

#define HEAD "model: /m\nsteps:\n  - name: a\n    kind: generate\n    prompts: p.jsonl\n"

static void test_bad_files(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    expect_bad(d, HEAD "  - name: b\n    kind: polish\n", ":7:", "key 'kind': unknown step kind 'polish'");
    expect_bad(d, HEAD "    colour: red\n", ":6:", "key 'colour': not an option of a generate step");
    expect_bad(d, HEAD "  - name: b\n    kind: revise\n    input: a.jsonl\n", ":6:", "missing required option 'reviser'");
    expect_bad(d, HEAD "  - name: b\n    kind: revise\n    reviser: exec:x\n    input: ${steps.nope.out}\n", ":9:",
               "key 'input': reference to an unknown step 'nope'");
    expect_bad(d, HEAD "  - name: b\n    kind: revise\n    reviser: exec:x\n    input: ${steps.c.out}\n"
                       "  - name: c\n    kind: generate\n    prompts: q.jsonl\n",
               ":9:", "step 'c' is not an earlier step");
    expect_bad(d, HEAD "  - name: a\n    kind: stats\n    input: a.jsonl\n", ":6:", "duplicate step name 'a' (first at line 3)");
    expect_bad(d, HEAD "    temperature: [0.1, 0.2]\n", ":6:", "key 'temperature': expects a single value, not a list");
    expect_bad(d, HEAD "    max_new_tokens: lots\n", ":6:", "key 'max-new-tokens': expected an integer, got 'lots'");
    expect_bad(d, HEAD "    seed: {a: 1}\n", ":6:", "key 'seed': expects a single value, not a mapping");
    expect_bad(d, "steps:\n  - name: a\n    kind: generate\n    prompts: p.jsonl\n", ":2:",
               "missing required option 'model' (or set a top-level 'model:')");
    expect_bad(d, HEAD "colour: blue\n", ":6:", "key 'colour': unknown");
    expect_bad(d, HEAD "  - name: b\n    kind: generate\n    prompts: q.jsonl\n    out: a.jsonl\n", ":6:",
               "writes a.jsonl, which step 'a' writes too");
    expect_bad(d, "steps: [\n", "invalid YAML", NULL);
    expect_bad(d, HEAD "  - name: ..\n    kind: stats\n    input: a.jsonl\n", ":6:", "'..' is not a valid step name");
    expect_bad(d, HEAD "  - name: -x\n    kind: stats\n    input: a.jsonl\n", ":6:", "'-x' is not a valid step name");
    expect_bad(d, "run_dir: r\n" HEAD "  - name: b\n    kind: generate\n    prompts: q.jsonl\n    out: .\n", ":7:",
               "step 'b': writes ., which is the run directory");
    expect_bad(d, "run_dir: r/s\n" HEAD "  - name: b\n    kind: generate\n    prompts: q.jsonl\n    out: ..\n", ":7:",
               "which holds the run directory");
    expect_bad(d, "model: /m\nmodel: /n\nsteps:\n  - name: a\n    kind: generate\n    prompts: p.jsonl\n", ":2:",
               "key 'model' given twice (first at line 1)");
    expect_bad(d, HEAD "    seed: 1\n    seed: 2\n", ":7:", "key 'seed' given twice (first at line 6)");
    {
        /* 100,000 nested brackets are refused at the limit (libyaml alone took 20 s) */
        size_t n = 100000;
        char *deep = malloc(n + 16);
        assert_non_null(deep);
        memcpy(deep, "steps: ", 7);
        memset(deep + 7, '[', n);
        strcpy(deep + 7 + n, "\n");
        expect_bad(d, deep, ":1:", "YAML nested more than 64 levels deep");
        free(deep);
    }
    /* the CLI prints the same and creates nothing */
    const char *bad = HEAD "    colour: red\n";
    char *path = tu_path(d, "bad.yaml");
    tu_write_file(path, bad, strlen(bad));
    assert_int_equal(tu_system("cd '%s' && '%s' run bad.yaml >out.txt 2>err.txt", d, tu_cli()), 1);
    char *e = slurp(d, "err.txt");
    assert_contains(e, "bad.yaml:6: key 'colour'");
    free(e);
    char *rd = tu_path(d, "bad");
    assert_false(anc_path_exists(rd));
    free(rd);
    free(path);
    tu_rmtree(d);
    free(d);
}

static void test_resolution_and_argv(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    const char *y = "run_dir: out\nmodel: base\nsteps:\n"
                    "  - {name: g, kind: generate, prompts: /abs/p.jsonl, stop: [\"\\n\", END]}\n"
                    "  - {name: r, kind: revise, input: g.jsonl, reviser: local:base, retry_failed: true}\n"
                    "  - {name: s, kind: stats, input: [\"${steps.r.out}\", g.jsonl]}\n"
                    "  - {name: t, kind: train, data: \"${steps.r.out}\"}\n"
                    "  - {name: e, kind: eval, model: \"${steps.t.out}\", data: /abs/e.jsonl}\n"
                    "  - {name: rep, kind: report}\n";
    char *path = tu_path(d, "p.yaml");
    tu_write_file(path, y, strlen(y));
    anc_pipeline p;
    anc_error err = {0};
    TU_CHECK(anc_pipeline_load(&p, path, NULL, &err), &err);
    char *rd = tu_path(d, "out");
    assert_string_equal(p.run_dir, rd);
    assert_int_equal(p.n_steps, 6);
    assert_string_equal(p.steps[3].out_rel, "models/t");
    assert_int_equal(p.steps[1].n_deps, 1);
    assert_int_equal(p.steps[2].n_deps, 2);
    assert_int_equal(p.steps[4].deps[0], 3);
    assert_int_equal(p.steps[5].n_deps, 5);
    char **av = NULL;
    int ac = 0;
    TU_CHECK(anc_pipeline_argv(&p, 1, NULL, 0, &av, &ac, &err), &err);
    char joined[4096] = "";
    for (int i = 0; i < ac; i++) {
        strncat(joined, av[i], sizeof joined - strlen(joined) - 2);
        strncat(joined, " ", sizeof joined - strlen(joined) - 1);
    }
    assert_contains(joined, "revise --input ");
    assert_contains(joined, "/out/g.jsonl");
    assert_contains(joined, "--reviser local:");
    assert_contains(joined, "/out/base");
    assert_contains(joined, "--retry-failed=true");
    assert_contains(joined, "/out/run.db");
    anc_pipeline_argv_free(av);
    TU_CHECK(anc_pipeline_argv(&p, 2, NULL, 0, &av, &ac, &err), &err);
    assert_string_equal(av[0], "stats");
    assert_int_equal(ac, 3);
    anc_pipeline_argv_free(av);
    /* the same file gives the same config hashes; moving the run dir too */
    anc_pipeline q;
    TU_CHECK(anc_pipeline_load(&q, path, "/elsewhere", &err), &err);
    for (size_t i = 0; i < p.n_steps; i++) assert_string_equal(p.steps[i].config_hash, q.steps[i].config_hash);
    anc_pipeline_free(&q);
    anc_pipeline_free(&p);
    free(rd);
    free(path);
    tu_rmtree(d);
    free(d);
}

static void test_examples_parse(void **state) {
    (void)state;
    const char *names[] = {"examples/local.yaml", "examples/openai.yaml", "examples/smollm2.yaml", "examples/rounds.yaml",
                           "examples/served.yaml"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = tu_path(ANCHOR_SOURCE_DIR, names[i]);
        anc_pipeline p;
        anc_error err = {0};
        TU_CHECK(anc_pipeline_load(&p, path, "/tmp/never-created", &err), &err);
        assert_true(p.n_steps >= 5);
        anc_pipeline_free(&p);
        free(path);
    }
}

/* Shared setup of the runs: model, prompts, pipeline file. */
typedef struct fx {
    char *d;
    char *log;
} fx;

static int setup_model(fx *f, int n_prompts) {
    char *bin = tu_shared_fixture("llama2c/stories260K.bin"), *tok = tu_shared_fixture("llama2c/tok512.bin");
    if (!bin || !tok) {
        free(bin);
        free(tok);
        return 0;
    }
    f->d = tu_tmpdir();
    f->log = tu_path(f->d, "reviser.log");
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from llama2c '%s' --tokenizer '%s' --out model >/dev/null 2>&1",
                               f->d, tu_cli(), bin, tok), 0);
    char *pp = tu_path(f->d, "prompts.jsonl");
    FILE *o = fopen(pp, "w");
    for (int i = 0; i < n_prompts; i++) fprintf(o, "{\"id\": \"p%d\", \"prompt\": \"Once upon a time %d\"}\n", i, i);
    fclose(o);
    free(pp);
    free(bin);
    free(tok);
    return 1;
}

static void write_pipeline(const fx *f, const char *lr, const char *sleep_ms) {
    char y[4096];
    snprintf(y, sizeof y,
             "# a small CLAIR + APO run\n"
             "run_dir: run\n"
             "model: %s/model\n"
             "steps:\n"
             "  - name: drafts\n    kind: generate\n    prompts: %s/prompts.jsonl\n    max_new_tokens: 6\n    temperature: 0\n"
             "  - name: clair\n    kind: revise\n    input: ${steps.drafts.out}\n"
             "    reviser: \"exec:%s/tool_fake_llm revise %s %s\"\n    concurrency: 2\n"
             "  - name: contrast\n    kind: stats\n    input: [clair.jsonl]\n"
             "  - name: apo\n    kind: train\n    data: ${steps.clair.out}\n    loss_type: apo_zero\n    max_steps: 2\n"
             "    per_device_train_batch_size: 2\n    learning_rate: %s\n    logging_steps: 1\n"
             "  - name: report\n    kind: report\n",
             f->d, f->d, ANCHOR_BINARY_DIR, f->log, sleep_ms, lr);
    char *p = tu_path(f->d, "p.yaml");
    tu_write_file(p, y, strlen(y));
    free(p);
}

static int run(const fx *f, const char *args) {
    return tu_system("cd '%s' && '%s' run p.yaml %s >out.txt 2>err.txt", f->d, tu_cli(), args);
}

static void teardown(fx *f) {
    tu_rmtree(f->d);
    free(f->d);
    free(f->log);
}

static void test_end_to_end_skip_change_dry(void **state) {
    (void)state;
    fx f;
    if (!setup_model(&f, 4)) skip();
    write_pipeline(&f, "1e-6", "");
    assert_int_equal(run(&f, ""), 0);
    char *e = slurp(f.d, "err.txt");
    assert_contains(e, "[1/5] drafts (generate)");
    assert_contains(e, "[4/5] apo (train)");
    assert_contains(e, "5 steps run, 0 skipped");
    free(e);
    const char *made[] = {"run/drafts.jsonl", "run/clair.jsonl", "run/contrast.txt", "run/models/apo/metrics.jsonl",
                          "run/models/apo/model.safetensors", "run/report.html", "run/run.db",
                          "run/pipeline.effective.yaml"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        char *p = tu_path(f.d, made[i]);
        if (!anc_path_exists(p)) fail_msg("missing %s", made[i]);
        free(p);
    }
    char *stats = slurp(f.d, "run/contrast.txt");
    assert_contains(stats, "Jaccard");
    free(stats);
    assert_int_equal(tu_count_lines(f.log), 4);

    /* rerun: everything skipped, no new reviser request */
    assert_int_equal(run(&f, ""), 0);
    e = slurp(f.d, "err.txt");
    assert_int_equal(tu_count_substr(e, "skipped, up to date"), 5);
    assert_contains(e, "0 steps run, 5 skipped");
    free(e);
    assert_int_equal(tu_count_lines(f.log), 4);

    /* a train option changes: train and report rerun, nothing above them */
    write_pipeline(&f, "2e-6", "");
    assert_int_equal(run(&f, "--dry-run"), 0);
    char *o = slurp(f.d, "out.txt");
    assert_contains(o, "[1/5] drafts (generate): skip");
    assert_contains(o, "[3/5] contrast (stats): skip");
    assert_contains(o, "[4/5] apo (train): run — options changed");
    assert_contains(o, "[5/5] report (report): run");
    free(o);
    assert_int_equal(run(&f, ""), 0);
    e = slurp(f.d, "err.txt");
    assert_contains(e, "[1/5] drafts (generate): skipped");
    assert_contains(e, "[2/5] clair (revise): skipped");
    assert_contains(e, "[3/5] contrast (stats): skipped");
    assert_contains(e, "[4/5] apo (train): options changed");
    assert_contains(e, "[5/5] report (report): inputs changed");
    assert_contains(e, "2 steps run, 3 skipped");
    free(e);
    char *m = slurp(f.d, "run/models/apo/train_config.yaml");
    assert_contains(m, "learning_rate: 1.9999999999999999e-06");
    free(m);
    assert_int_equal(tu_count_lines(f.log), 4);

    /* --dry-run with a changed input runs nothing */
    char *pp = tu_path(f.d, "prompts.jsonl");
    FILE *pf = fopen(pp, "a");
    fprintf(pf, "{\"id\": \"p9\", \"prompt\": \"A new prompt\"}\n");
    fclose(pf);
    free(pp);
    char *dr = tu_path(f.d, "run/drafts.jsonl");
    char *before = tu_read_file(dr, NULL);
    assert_int_equal(run(&f, "--dry-run"), 0);
    o = slurp(f.d, "out.txt");
    assert_contains(o, "[1/5] drafts (generate): run — inputs changed");
    assert_contains(o, "[2/5] clair (revise): run — the step 'drafts' above it runs");
    free(o);
    char *after = tu_read_file(dr, NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(dr);
    assert_int_equal(tu_count_lines(f.log), 4);
    /* --from a later step refuses while an earlier one is stale */
    assert_int_equal(run(&f, "--from apo"), 1);
    e = slurp(f.d, "err.txt");
    assert_contains(e, "the earlier step 'drafts' is stale (inputs changed)");
    free(e);
    /* the real run: only the new draft goes to the reviser */
    assert_int_equal(run(&f, ""), 0);
    assert_int_equal(tu_count_lines(f.log), 5);
    /* --only reruns one step */
    assert_int_equal(run(&f, "--only contrast"), 0);
    e = slurp(f.d, "err.txt");
    assert_contains(e, "[3/5] contrast (stats): selected by --only");
    assert_contains(e, "1 steps run, 4 skipped");
    free(e);
    teardown(&f);
}

static void test_kill_and_resume(void **state) {
    (void)state;
    fx f;
    const int items = 12, concurrency = 2;
    if (!setup_model(&f, items)) skip();
    write_pipeline(&f, "1e-6", "50");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' run p.yaml >out1.txt 2>err1.txt", f.d, tu_cli());
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    /* wait until the reviser answered a few requests, then kill -9 the group */
    int waited = 0;
    while (tu_count_lines(f.log) < 3 && waited < 60000) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 10;
    }
    kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    size_t first = (size_t)tu_count_lines(f.log);
    assert_true(first >= 3);
    assert_true(first < (size_t)items);
    assert_int_equal(run(&f, ""), 0);
    char *e = slurp(f.d, "err.txt");
    assert_contains(e, "[1/5] drafts (generate): skipped, up to date");
    assert_contains(e, "[2/5] clair (revise): interrupted last time; resuming");
    assert_contains(e, "4 steps run, 1 skipped");
    free(e);
    size_t total = (size_t)tu_count_lines(f.log);
    if (total > (size_t)(items + concurrency)) fail_msg("reviser saw %zu requests for %d items", total, items);
    char *pairs = slurp(f.d, "run/clair.jsonl");
    assert_int_equal(tu_count_substr(pairs, "\n"), items);
    free(pairs);
    teardown(&f);
}

/* An export step: the pipeline's model -> run/NAME.gguf, up to date on a
 * rerun, rerun when its type changes; convert --from gguf reads it back. */
static void test_export_step(void **state) {
    (void)state;
    fx f;
    if (!setup_model(&f, 1)) skip();
    for (int round = 0; round < 3; round++) {
        const char *type = round < 2 ? "f32" : "q8_0";
        char y[512];
        snprintf(y, sizeof y, "run_dir: run\nmodel: %s/model\nsteps:\n  - name: gguf\n    kind: export\n    type: %s\n", f.d, type);
        char *p = tu_path(f.d, "p.yaml");
        tu_write_file(p, y, strlen(y));
        free(p);
        assert_int_equal(run(&f, ""), 0);
        char *e = slurp(f.d, "err.txt");
        assert_contains(e, round == 1 ? "[1/1] gguf (export): skipped, up to date" : "1 steps run, 0 skipped");
        free(e);
        char *g = tu_path(f.d, "run/gguf.gguf");
        size_t n = 0;
        char *bytes = tu_read_file(g, &n);
        assert_true(n > 4096);
        assert_memory_equal(bytes, "GGUF", 4);
        free(bytes);
        free(g);
    }
    assert_int_equal(tu_system("cd '%s' && '%s' convert --from gguf run/gguf.gguf --out back >out.txt 2>err.txt", f.d, tu_cli()), 0);
    char *e = slurp(f.d, "err.txt");
    assert_contains(e, "tokenizer.json written");
    free(e);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_resolution_and_argv),
        cmocka_unit_test(test_examples_parse),
        cmocka_unit_test(test_end_to_end_skip_change_dry),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_export_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
