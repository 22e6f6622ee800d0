/* One option table per step (issue 20): every pipeline step kind and its
 * command accept exactly the same options. For each kind the test reads the
 * options the command lists in `anchor CMD --help` (the real binary) and
 * compares them with the keys the pipeline accepts (anc_kind_find_opt over
 * the kind's table); the only differences allowed are the options the
 * pipeline sets itself, named here. It also checks the table functions
 * (defaults, value checks, '_'/'-' lookup) and that a pipeline refuses a
 * command-only option. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/options.h"
#include "flow/revise.h"
#include "flow/train.h"
#include "pipeline/pipeline.h"
#include "pipeline/steps.h"

/* The subcommand of a kind as `anchor` spells it. */
static const char *command_of(anc_step_kind k) {
    switch (k) {
    case ANC_STEP_STRONGER: return "pairs stronger";
    case ANC_STEP_IMPORT: return "pairs import";
    default: return anc_step_kind_name(k);
    }
}

/* The options the pipeline sets itself for kind k, as the command's flags. */
static const char *const *cli_only_of(anc_step_kind k) {
    static const char *const llm[] = {"store", "fresh", NULL}, *const train[] = {"config", "resume", NULL},
                             *const none[] = {NULL};
    switch (k) {
    case ANC_STEP_REVISE:
    case ANC_STEP_JUDGE:
    case ANC_STEP_STRONGER:
    case ANC_STEP_AB:
    case ANC_STEP_ADVISE: return llm;
    case ANC_STEP_TRAIN: return train;
    default: return none;
    }
}

#define MAX_OPTS 96

/* The "--name" entries of `anchor CMD --help`, without --help. */
static int help_options(const char *cmd, char names[MAX_OPTS][48]) {
    char *dir = tu_tmpdir(), *out = tu_path(dir, "help.txt");
    assert_int_equal(tu_system("%s %s --help > %s 2>&1", tu_cli(), cmd, out), 0);
    size_t len = 0;
    char *text = tu_read_file(out, &len);
    assert_non_null(text);
    int n = 0;
    int in_options = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strcmp(line, "options:")) {
            in_options = 1;
            continue;
        }
        if (!in_options || strncmp(line, "  --", 4)) continue;
        size_t w = strcspn(line + 4, " ");
        assert_true(w < 48);
        if (w == 4 && !strncmp(line + 4, "help", 4)) continue;
        assert_true(n < MAX_OPTS);
        memcpy(names[n], line + 4, w);
        names[n][w] = '\0';
        n++;
    }
    free(text);
    tu_rmtree(dir);
    free(out);
    free(dir);
    return n;
}

static int listed(char names[MAX_OPTS][48], int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

static int in_list(const char *const *l, const char *name) {
    for (; *l; l++)
        if (!strcmp(*l, name)) return 1;
    return 0;
}

static void test_commands_and_kinds_agree(void **state) {
    (void)state;
    for (int k = 0; k < ANC_STEP_N_KINDS; k++) {
        const anc_kinddef *kd = anc_kind_def((anc_step_kind)k);
        char names[MAX_OPTS][48];
        int n = help_options(command_of((anc_step_kind)k), names);
        const char *const *cli_only = cli_only_of((anc_step_kind)k);
        int pipeline_keys = 0, positional = 0;
        /* every key of the kind is a flag of the command (or its positional
         * arguments), and every row the pipeline refuses is a named exception */
        for (const anc_option *o = kd->opts; o->name; o++) {
            int key = anc_kind_find_opt((anc_step_kind)k, o->name) == o;
            if (o->flags & ANC_OPT_POSITIONAL) {
                assert_true(key);
                positional++;
                continue;
            }
            if (!listed(names, n, o->name)) fail_msg("%s: the pipeline key '%s' is not in 'anchor %s --help'", kd->name, o->name, command_of((anc_step_kind)k));
            if (!key && !in_list(cli_only, o->name)) fail_msg("%s: --%s is refused by the pipeline without reason", kd->name, o->name);
            if (key && in_list(cli_only, o->name)) fail_msg("%s: --%s is set by the pipeline, yet a step may set it", kd->name, o->name);
            pipeline_keys += key;
        }
        /* every flag of the command is a row of the table */
        for (int i = 0; i < n; i++)
            if (!anc_options_find(kd->opts, names[i]))
                fail_msg("%s: 'anchor %s --help' lists --%s, which the table does not have", kd->name, command_of((anc_step_kind)k), names[i]);
        int n_cli_only = 0;
        while (cli_only[n_cli_only]) n_cli_only++;
        assert_int_equal(n, pipeline_keys + n_cli_only);
        assert_int_equal(positional, k == ANC_STEP_STATS);
        printf("%-9s %2d options, %d set by the pipeline itself%s\n", kd->name, n, n_cli_only, positional ? ", files positional" : "");
    }
}

static void test_table_functions(void **state) {
    (void)state;
    anc_revise_opts o;
    anc_revise_opts_init(&o);
    assert_string_equal(o.response_field, "completion");
    assert_string_equal(o.prompt_field, "prompt");
    assert_true(o.llm.temperature == 0.7);
    assert_int_equal(o.llm.max_tokens, 4096);
    assert_int_equal(o.llm.seed, -1);
    assert_int_equal(o.llm.concurrency, 4);
    assert_null(o.input);
    const anc_option *mt = anc_options_find(anc_revise_option_table, "max_tokens");
    assert_non_null(mt);
    assert_string_equal(mt->name, "max-tokens");
    assert_null(anc_options_find(anc_revise_option_table, "max-token"));
    anc_error err = {0};
    assert_int_equal(anc_option_set(mt, &o, "77", &err), ANC_OK);
    assert_int_equal(o.llm.max_tokens, 77);
    assert_int_equal(anc_option_set(mt, &o, "-1", &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "--max-tokens"));
    assert_non_null(strstr(err.message, ">= 0"));
    assert_string_equal(anc_option_check(mt, "3000000000"), "an integer of at most 2147483647");
    const anc_option *seed = anc_options_find(anc_revise_option_table, "seed");
    assert_null(anc_option_check(seed, "-5"));
    assert_string_equal(anc_option_check(anc_options_find(anc_revise_option_table, "temperature"), "warm"), "a number");
    assert_string_equal(anc_option_check(anc_options_find(anc_revise_option_table, "fresh"), "maybe"), "true or false");
    /* a list default is replaced, not extended, by the first value given */
    anc_train_opts t;
    anc_train_opts_init(&t);
    assert_int_equal(t.loss_type.n, 1);
    assert_string_equal(t.loss_type.v[0], "sigmoid");
    assert_true(t.loss_type.from_file);
    assert_string_equal(t.lr_scheduler, "linear");
    assert_int_equal(t.per_device_train_batch_size, 8);
    anc_train_config c;
    assert_int_equal(anc_train_opts_config(&t, &c, &err), ANC_ERR_INVALID); /* no model, data, output */
    assert_non_null(strstr(err.message, "--model, --data and --output-dir are required"));
}

/* A pipeline may not set what it sets itself. */
static void test_pipeline_refuses_cli_only(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *yaml = tu_path(dir, "p.yaml"), *drafts = tu_path(dir, "d.jsonl");
    const char *row = "{\"prompt\":\"p\",\"completion\":\"c\"}\n";
    tu_write_file(drafts, row, strlen(row));
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "steps:\n  - name: pairs\n    kind: revise\n    input: %s\n    reviser: exec:true\n    fresh: true\n", drafts);
    tu_write_file(yaml, text, (size_t)n);
    anc_pipeline p;
    anc_error err = {0};
    assert_int_equal(anc_pipeline_load(&p, yaml, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, ":6: key 'fresh': not an option of a revise step"));
    n = snprintf(text, sizeof text,
                 "steps:\n  - name: pairs\n    kind: revise\n    input: %s\n    reviser: exec:true\n    max_tokens: -4\n", drafts);
    tu_write_file(yaml, text, (size_t)n);
    assert_int_equal(anc_pipeline_load(&p, yaml, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "key 'max-tokens': expected an integer >= 0, got '-4'"));
    tu_rmtree(dir);
    free(yaml);
    free(drafts);
    free(dir);
}

/* ab --system NAME=FILE in a pipeline: FILE is resolved against the run
 * directory and hashed as an input, NAME kept. */
static void test_pipeline_named_files(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *yaml = tu_path(dir, "p.yaml");
    const char *text = "run_dir: run\nsteps:\n  - name: board\n    kind: ab\n    system: [base=base.jsonl, tuned=tuned.jsonl]\n"
                       "    grader: exact\n";
    tu_write_file(yaml, text, strlen(text));
    anc_pipeline p;
    anc_error err = {0};
    TU_CHECK(anc_pipeline_load(&p, yaml, NULL, &err), &err);
    const anc_pipe_step *s = &p.steps[0];
    const anc_pipe_opt *o = NULL;
    for (size_t j = 0; j < s->n_opts; j++)
        if (!strcmp(s->opts[j].key, "system")) o = &s->opts[j];
    assert_non_null(o);
    assert_int_equal(o->n_values, 2);
    char *want = tu_path(p.run_dir, "tuned.jsonl");
    assert_true(!strncmp(o->values[1], "tuned=", 6));
    assert_string_equal(o->values[1] + 6, want);
    int hashed = 0;
    for (size_t k = 0; k < s->n_inputs; k++) hashed += !strcmp(s->inputs[k], want);
    assert_int_equal(hashed, 1);
    free(want);
    anc_pipeline_free(&p);
    tu_rmtree(dir);
    free(yaml);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_and_kinds_agree),
        cmocka_unit_test(test_table_functions),
        cmocka_unit_test(test_pipeline_refuses_cli_only),
        cmocka_unit_test(test_pipeline_named_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
