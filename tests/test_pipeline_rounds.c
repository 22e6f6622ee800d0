/* Rounds in pipelines (pipeline/rounds.h): a block of steps repeated with
 * the previous round's trained model as the drafting model, each round in
 * its own folder. Parsing (names, default models and outputs, references,
 * errors) through the library; a 2-round run on the demo task (the demo's
 * tokenizer and teacher: `anchor demo init|data|teacher revise`) through
 * the real binary, killed with -9 during round 2's revision and resumed. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("expected to find '%s' in:\n%s", needle, hay);
}

static const char *opt(const anc_pipe_step *s, const char *key) {
    for (size_t i = 0; i < s->n_opts; i++)
        if (!strcmp(s->opts[i].key, key)) return s->opts[i].values[0];
    return NULL;
}

static void ends_with(const char *s, const char *suffix) {
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    if (!s || a < b || strcmp(s + a - b, suffix)) fail_msg("'%s' does not end with '%s'", s ? s : "(null)", suffix);
}

static const char *rounds_yaml =
    "model: ../base\n"
    "steps:\n"
    "  - rounds: 2\n"
    "    steps:\n"
    "      - {name: drafts, kind: generate, prompts: ../prompts.jsonl, max_new_tokens: 12, seed: \"${round}\"}\n"
    "      - {name: pairs, kind: revise, input: \"${steps.drafts.out}\", reviser: \"exec:sh rv.sh\", concurrency: 1}\n"
    "      - {name: train, kind: train, data: \"${steps.pairs.out}\", loss_type: apo_zero, max_steps: 2,\n"
    "         per_device_train_batch_size: 2, learning_rate: 1e-4, logging_steps: 1}\n"
    "      - {name: eval, kind: eval, model: \"${steps.train.out}\", data: ../prompts.jsonl, grader: exact,\n"
    "         max_new_tokens: 12}\n"
    "  - {name: contrast, kind: stats, input: [\"${steps.pairs.out}\"]}\n"
    "  - {name: report, kind: report}\n";

static anc_status load(const char *d, const char *yaml, anc_pipeline *p, anc_error *err) {
    char *path = tu_path(d, "p.yaml");
    tu_write_file(path, yaml, strlen(yaml));
    anc_status st = anc_pipeline_load(p, path, NULL, err);
    free(path);
    return st;
}

static void expect_bad(const char *d, const char *yaml, const char *needle) {
    anc_pipeline p;
    anc_error err = {0};
    if (load(d, yaml, &p, &err) == ANC_OK) {
        anc_pipeline_free(&p);
        fail_msg("expected an error for:\n%s", yaml);
    }
    assert_contains(err.message, needle);
}

static void test_parse(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    anc_pipeline p;
    anc_error err = {0};
    TU_CHECK(load(d, rounds_yaml, &p, &err), &err);
    const char *names[] = {"r1.drafts", "r1.pairs", "r1.train", "r1.eval", "r2.drafts", "r2.pairs",
                           "r2.train",  "r2.eval",  "contrast", "report"};
    assert_int_equal(p.n_steps, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(p.steps[i].name, names[i]);
        assert_int_equal(p.steps[i].round, i < 8 ? (int)(i / 4 + 1) : 0);
    }
    /* round 1 drafts with the pipeline's model, round 2 with round 1's trained one */
    ends_with(opt(&p.steps[0], "model"), "/base");
    ends_with(opt(&p.steps[4], "model"), "/p/round-1/models/train");
    ends_with(opt(&p.steps[6], "model"), "/p/round-1/models/train");
    assert_string_equal(p.steps[4].out_rel, "round-2/drafts.jsonl");
    assert_string_equal(p.steps[6].out_rel, "round-2/models/train");
    assert_string_equal(opt(&p.steps[0], "seed"), "1");
    assert_string_equal(opt(&p.steps[4], "seed"), "2");
    /* references: the same round inside the block, the last round after it */
    ends_with(opt(&p.steps[5], "input"), "/p/round-2/drafts.jsonl");
    ends_with(opt(&p.steps[7], "model"), "/p/round-2/models/train");
    ends_with(opt(&p.steps[8], "input"), "/p/round-2/pairs.jsonl");
    /* eval writes its summary where the report finds it */
    ends_with(opt(&p.steps[7], "summary"), "/p/round-2/eval.json");
    int dep = 0;
    for (size_t k = 0; k < p.steps[4].n_deps; k++) dep |= p.steps[4].deps[k] == 2;
    assert_true(dep);
    anc_pipeline_free(&p);
    /* errors */
    expect_bad(d, "model: m\nsteps:\n  - rounds: 0\n    steps:\n      - {name: a, kind: generate, prompts: p.jsonl}\n",
               ":3: key 'rounds': expected a count 1..100");
    expect_bad(d, "model: m\nsteps:\n  - rounds: 2\n    name: x\n    steps:\n      - {name: a, kind: generate, prompts: p.jsonl}\n",
               ":4: key 'name': unknown in a rounds block");
    expect_bad(d, "model: m\nsteps:\n  - rounds: 2\n    steps: []\n", "a rounds block needs a non-empty list of steps");
    expect_bad(d, "model: m\nsteps:\n  - rounds: 2\n    steps:\n      - {rounds: 2, steps: [{name: a, kind: stats, input: x}]}\n",
               "rounds blocks do not nest");
    expect_bad(d, "model: m\nsteps:\n  - {name: a, kind: generate, prompts: \"p${round}.jsonl\"}\n",
               "${round} outside a rounds block");
    expect_bad(d, "model: m\nsteps:\n  - rounds: 2\n    steps:\n      - {name: a, kind: generate, prompts: p.jsonl}\n",
               "the rounds block has 0 train steps");
    expect_bad(d, "model: m\nsteps:\n  - rounds: 2\n    steps:\n      - {name: a, kind: generate, model: m, prompts: p.jsonl, out: s.jsonl}\n",
               "writes s.jsonl, which step 'r1.a' writes too");
    tu_rmtree(d);
    free(d);
}

/* The reviser: the demo's teacher, logging each call, slow from the 8th on
 * (so a kill during round 2's revision lands mid-step). */
static void write_reviser(const char *d) {
    char body[2048];
    snprintf(body, sizeof body,
             "#!/bin/sh\nn=$(cat log 2>/dev/null | wc -l)\necho x >> log\n"
             "if [ \"$n\" -ge 7 ]; then sleep 0.3; fi\nexec '%s' demo teacher revise\n",
             tu_cli());
    char *p = tu_path(d, "p/rv.sh");
    tu_write_file(p, body, strlen(body));
    free(p);
}

static char *slurp(const char *d, const char *rel) {
    char *p = tu_path(d, rel), *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

#define NPROMPTS 6
static void test_two_rounds_kill_resume(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    assert_int_equal(tu_system("cd '%s' && mkdir p && '%s' demo init --out base --hidden 32 --layers 1 --heads 2 "
                               "--kv-heads 1 --intermediate 64 >/dev/null 2>&1 && '%s' demo data --kind prompts --n %d "
                               "--seed 3 --out prompts.jsonl >/dev/null 2>&1",
                               d, tu_cli(), tu_cli(), NPROMPTS), 0);
    write_reviser(d);
    char *yp = tu_path(d, "p.yaml");
    tu_write_file(yp, rounds_yaml, strlen(rounds_yaml));
    free(yp);
    /* the exec reviser runs in the run's working directory: p/ (see cd below) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "cd '%s/p' && exec '%s' run ../p.yaml --run-dir . >out1.txt 2>err1.txt", d, tu_cli());
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    char *log = tu_path(d, "p/log");
    int waited = 0;
    while (tu_count_lines(log) < NPROMPTS + 2 && waited < 120000) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 10;
    }
    kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    int first = tu_count_lines(log);
    assert_true(first >= NPROMPTS + 2 && first < 2 * NPROMPTS);
    /* resume: round 1 is skipped, round 2's revision resumes */
    assert_int_equal(tu_system("cd '%s/p' && '%s' run ../p.yaml --run-dir . >out.txt 2>err.txt", d, tu_cli()), 0);
    char *e = slurp(d, "p/err.txt");
    assert_contains(e, "r1.train (train): skipped, up to date");
    assert_contains(e, "r2.pairs (revise): interrupted last time; resuming");
    free(e);
    /* no completed call repeated: at most the one in flight at the kill */
    int total = tu_count_lines(log);
    if (total > 2 * NPROMPTS + 1) fail_msg("the reviser saw %d requests for %d items", total, 2 * NPROMPTS);
    for (int r = 1; r <= 2; r++) {
        char rel[64];
        snprintf(rel, sizeof rel, "p/round-%d/pairs.jsonl", r);
        char *pairs = slurp(d, rel);
        assert_int_equal(tu_count_substr(pairs, "\n"), NPROMPTS);
        free(pairs);
        snprintf(rel, sizeof rel, "p/round-%d/models/train/model.safetensors", r);
        char *m = tu_path(d, rel);
        assert_int_equal(access(m, R_OK), 0);
        free(m);
    }
    /* round 2 drafted with round 1's model: its drafts differ from round 1's */
    char *d1 = slurp(d, "p/round-1/drafts.jsonl"), *d2 = slurp(d, "p/round-2/drafts.jsonl");
    assert_true(strcmp(d1, d2) != 0);
    free(d1);
    free(d2);
    /* the report shows both rounds */
    char *html = slurp(d, "p/report.html");
    assert_contains(html, "round-1/pairs.jsonl");
    assert_contains(html, "round-2/pairs.jsonl");
    assert_contains(html, "round-1/models/train");
    assert_contains(html, "round-2/models/train");
    assert_contains(html, "<h2 id=\"rounds\">Rounds</h2>");
    assert_contains(html, "<tr><td>2</td><td class=\"name\">round-2/models/train</td>");
    assert_contains(html, "<tr><td>1</td><td class=\"name\">round-1/eval.json</td>");
    assert_contains(html, "<tr><td>2</td><td class=\"name\">round-2/eval.json</td>");
    free(html);
    /* everything is up to date now */
    assert_int_equal(tu_system("cd '%s/p' && '%s' run ../p.yaml --run-dir . --dry-run >dry.txt 2>&1", d, tu_cli()), 0);
    char *dry = slurp(d, "p/dry.txt");
    assert_contains(dry, "[5/10] r2.drafts (generate): skip");
    free(dry);
    free(log);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_two_rounds_kill_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
