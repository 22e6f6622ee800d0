/* anchor demo's building blocks through the real binary: a tiny model and
 * its tokenizer, task data, the programmatic teacher as exec: reviser,
 * stronger model and grader-judge through the normal commands, and grading. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_demo_pipeline_pieces(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    const char *A = tu_cli();
    assert_int_equal(tu_system("cd '%s' && '%s' demo init --out m --hidden 32 --layers 2 --heads 2 --kv-heads 1 --intermediate 64 2>/dev/null", d, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' demo data --kind prompts --n 6 --seed 3 --out prompts.jsonl", d, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' demo data --kind sft --n 20 --seed 4 --out sft.jsonl", d, A), 0);
    /* drafts from the (untrained) model: the teacher must turn them into correct revisions */
    assert_int_equal(tu_system("cd '%s' && '%s' generate --model m --prompts prompts.jsonl --out drafts.jsonl --temperature 1 "
                               "--max-new-tokens 24 --samples-per-prompt 2 2>/dev/null", d, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' revise --input drafts.jsonl --out clair.jsonl --reviser 'exec:%s demo teacher revise' 2>/dev/null",
                               d, A, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' demo grade --input clair.jsonl --response-field chosen --json > g.json", d, A), 0);
    char *p = tu_path(d, "clair.jsonl");
    int pairs = 0;
    char *text = tu_read_file(p, NULL);
    for (char *c = text; *c; c++) pairs += *c == '\n';
    assert_true(pairs >= 6);
    char *gp = tu_path(d, "g.json");
    char *g = tu_read_file(gp, NULL);
    assert_non_null(strstr(g, "\"accuracy\": 1.0000"));  /* every revision is right */
    free(g);
    /* stronger answers and the grader-judge through the normal commands */
    assert_int_equal(tu_system("cd '%s' && '%s' pairs stronger --input drafts.jsonl --out stronger.jsonl --stronger 'exec:%s demo teacher stronger' 2>/dev/null",
                               d, A, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' judge --input drafts.jsonl --out judge.jsonl --judge 'exec:%s demo teacher judge' 2>/dev/null",
                               d, A, A), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' stats clair.jsonl stronger.jsonl judge.jsonl > stats.txt", d, A), 0);
    char *sp = tu_path(d, "stats.txt");
    char *st = tu_read_file(sp, NULL);
    assert_non_null(strstr(st, "clair.jsonl"));
    assert_non_null(strstr(st, "stronger.jsonl"));
    free(st);
    /* sft rows train */
    assert_int_equal(tu_system("cd '%s' && '%s' train --model m --data sft.jsonl --loss-type sft --max-steps 2 "
                               "--per-device-train-batch-size 4 --learning-rate 1e-3 --output-dir sft 2>/dev/null", d, A), 0);
    free(sp); free(gp); free(text); free(p);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_pipeline_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
