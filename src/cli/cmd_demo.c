/* anchor demo: flags and printing around the demo library (src/demo/):
 *   anchor demo [--quick] [--out DIR]   the whole offline demonstration (demo/run.h)
 *   anchor demo init --out DIR          a tiny random Llama + its tokenizer
 *   anchor demo data --kind sft|prompts task rows (demonstrations with mistakes, or prompts + references)
 *   anchor demo grade --input FILE      accuracy of completions with the task's grader
 *   anchor demo teacher revise|stronger|judge
 *                                       an exec: backend (request JSON on stdin): the programmatic
 *                                       teacher as reviser, stronger model, or grader-judge */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fileutil.h"
#include "demo/blocks.h"
#include "demo/run.h"
#include "demo/spawn.h"

static int demo_init(int argc, char **argv) {
    anc_demo_model_opts o;
    anc_demo_model_opts_default(&o);
    long seed = (long)o.seed;
    cli_opt opts[] = {
        {"out", OPT_STR, &o.out, "DIR", "model folder to create"},
        {"hidden", OPT_COUNT, &o.hidden, "N", "hidden size (default 128)"},
        {"layers", OPT_COUNT, &o.layers, "N", "layers (default 4)"},
        {"heads", OPT_COUNT, &o.heads, "N", "attention heads (default 4)"},
        {"kv-heads", OPT_COUNT, &o.kv_heads, "N", "key/value heads (default 2)"},
        {"intermediate", OPT_COUNT, &o.intermediate, "N", "MLP size (default 384)"},
        {"seed", OPT_INT, &seed, "S", "initialisation seed (default 1)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo init", "--out DIR [options]",
                       "Creates a tiny random Llama (normal(0, 0.02) weights) with the demo task's tokenizer.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.out) return cli_usage_error("demo init", "--out DIR is required");
    o.seed = (uint64_t)seed;
    anc_error err = {0};
    size_t n_params = 0;
    int vocab = 0;
    if (anc_demo_init_model(&o, &n_params, &vocab, &err)) return cli_fail("demo init", &err);
    fprintf(stderr, "anchor demo init: %s (%zu parameters, vocabulary %d)\n", o.out, n_params, vocab);
    return 0;
}

static int demo_data(int argc, char **argv) {
    anc_demo_data_opts o;
    anc_demo_data_opts_default(&o);
    const char *kind = "prompts";
    long min_n = o.spec.min_n, max_n = o.spec.max_n, max_value = o.spec.max_value, n_conds = o.spec.n_conds;
    cli_opt opts[] = {
        {"kind", OPT_STR, &kind, "KIND", "sft (demonstrations with injected mistakes) or prompts (prompt + reference)"},
        {"n", OPT_COUNT, &o.n, "N", "rows (default 100)"},
        {"seed", OPT_INT, &o.seed, "S", "task seed (default 1); use different seeds for train and held-out sets"},
        {"mistake-rate", OPT_FLOAT, &o.mistake_rate, "R", "share of demonstrations with one mistake (default 0.35)"},
        {"habit-rate", OPT_FLOAT, &o.habit_rate, "R", "share of tasks selecting 3+ numbers whose sum leaves out the last number, a habit (default 0)"},
        {"min-numbers", OPT_COUNT, &min_n, "N", "numbers per task, at least (default 4)"},
        {"max-numbers", OPT_COUNT, &max_n, "N", "numbers per task, at most (default 8)"},
        {"max-value", OPT_COUNT, &max_value, "N", "numbers drawn from 1..N (default 99)"},
        {"conditions", OPT_COUNT, &n_conds, "N", "conditions used: 2 = odd/even, 4 = also above/below K (default 4)"},
        {"exclude", OPT_STR, &o.exclude, "FILE", "skip tasks whose prompt is a prompt of FILE (e.g. the held-out set)"},
        {"out", OPT_STR, &o.out, "FILE", "JSONL to write"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo data", "--kind sft|prompts --n N --seed S --out FILE", NULL, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.out || (strcmp(kind, "sft") && strcmp(kind, "prompts"))) return cli_usage_error("demo data", "--out FILE and --kind sft|prompts are required");
    o.sft = !strcmp(kind, "sft");
    o.spec = (anc_demo_spec){(int)min_n, (int)max_n, (int)max_value, (int)n_conds};
    anc_error err = {0};
    if (anc_demo_write_data(&o, &err)) return cli_fail("demo data", &err);
    return 0;
}

static int demo_grade(int argc, char **argv) {
    const char *input = NULL, *field = "completion";
    int json = 0;
    cli_opt opts[] = {
        {"input", OPT_STR, &input, "FILE", "rows with a prompt (string or messages) and a completion"},
        {"response-field", OPT_STR, &field, "KEY", "field holding the answer: a string or messages (default completion; e.g. chosen)"},
        {"json", OPT_FLAG, &json, NULL, "print JSON"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo grade", "--input FILE", NULL, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!input) return cli_usage_error("demo grade", "--input FILE is required");
    anc_error err = {0};
    anc_demo_scores s;
    if (anc_demo_grade_file(input, field, &s, &err)) return cli_fail("demo grade", &err);
    if (json)
        printf("{\"n\": %zu, \"solved\": %.4f, \"accuracy\": %.4f, \"list_accuracy\": %.4f, \"sum_accuracy\": %.4f, "
               "\"score\": %.4f, \"habit\": %.4f}\n", s.n, s.solved, s.accuracy, s.list, s.sum, s.score, s.habit);
    else
        printf("%zu answers: solved %.3f (list and sum right, any phrasing), accuracy %.3f (the reference answer; "
               "list %.3f, sum %.3f), mean score %.3f, habit %.3f\n", s.n, s.solved, s.accuracy, s.list, s.sum, s.score,
               s.habit);
    return 0;
}

static int demo_teacher(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "revise") && strcmp(argv[1], "stronger") && strcmp(argv[1], "judge"))) {
        fprintf(stderr, "usage: anchor demo teacher revise|stronger|judge   (an exec: backend: request JSON on stdin)\n");
        return 2;
    }
    anc_demo_role role = !strcmp(argv[1], "revise") ? ANC_DEMO_REVISE : !strcmp(argv[1], "stronger") ? ANC_DEMO_STRONGER : ANC_DEMO_JUDGE;
    anc_error err = {0};
    char *reply = NULL;
    if (anc_demo_teacher_reply(role, stdin, &reply, &err)) return cli_fail("demo teacher", &err);
    fputs(reply, stdout);
    free(reply);
    return 0;
}

/* ---- anchor demo: the whole demonstration ----------------------------------- */

typedef struct demo_view {
    const char *dir;
    int tty; /* stderr is a terminal: live lines redrawn in place */
} demo_view;

/* The runner's events on stderr: a line per step ("[k/N] what  took
 * elapsed ETA"), on a terminal the running step's last log line. */
static void demo_event(void *ctx, const anc_demo_event *ev) {
    const demo_view *v = ctx;
    int el = (int)ev->elapsed;
    if (ev->kind == ANC_DEMO_BEGIN) {
        fprintf(stderr, "anchor demo: %d steps in %s (logs in %s/logs); %d grid cells, %d at a time\n", ev->total, v->dir,
                v->dir, ev->n_cells, ev->jobs);
    } else if (ev->kind == ANC_DEMO_LIVE) {
        if (!v->tty) return;
        fprintf(stderr, "\r\033[K[%3d/%d] %s: %.90s", ev->done + 1, ev->total, ev->what, ev->log_line);
        fflush(stderr);
    } else {
        char took[32] = "  (done before)", eta[32] = "";
        if (!ev->skipped) snprintf(took, sizeof took, "%6.1f s", ev->secs);
        if (ev->eta >= 0) snprintf(eta, sizeof eta, "  ETA %dm%02ds", (int)ev->eta / 60, (int)ev->eta % 60);
        if (v->tty) fputs("\r\033[K", stderr);
        fprintf(stderr, "[%3d/%d] %-40s %s  elapsed %dm%02ds%s\n", ev->done, ev->total, ev->what, took, el / 60, el % 60,
                eta);
    }
}

static int demo_run(int argc, char **argv) {
    const char *out = NULL;
    int quick = 0, fresh = 0;
    long seeds = 0, jobs = 0;
    cli_opt opts[] = {
        {"out", OPT_STR, &out, "DIR", "run directory (default demo-run, or demo-quick with --quick)"},
        {"quick", OPT_FLAG, &quick, NULL, "a smaller model, fewer prompts, one seed: the pipeline end to end in ~20 s"},
        {"seeds", OPT_COUNT, &seeds, "N", "seeds per grid cell (default 3; 1 with --quick)"},
        {"jobs", OPT_COUNT, &jobs, "N", "grid cells trained at once (default: 2 on 2+ cores, each on one BLAS thread)"},
        {"fresh", OPT_FLAG, &fresh, NULL, "start over: ignore the steps a previous run in DIR finished"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo", "[--quick] [--out DIR] [options]",
                       "Reproduces the CLAIR + APO experiment offline on the built-in task family (numbers to\n"
                       "select, order and sum): a tiny Llama learns the task from a sloppy teacher, drafts\n"
                       "answers, and a programmatic teacher builds three preference datasets from them through\n"
                       "the exec: backend and the run store (CLAIR minimal revisions, stronger-model answers,\n"
                       "on-policy judge pairs). Every dataset x objective (sft on chosen, apo_zero, apo_down,\n"
                       "sigmoid = DPO) is trained from the same start model for several seeds and graded on\n"
                       "held-out prompts. Prints the contrast table and the accuracy tables; writes them with\n"
                       "report.html into DIR. Rerunning resumes after the last finished step.\n\n"
                       "Building blocks (see `anchor demo SUBCOMMAND --help`):\n"
                       "  init | data | grade | teacher revise|stronger|judge",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (seeds < 0 || jobs < 0) return cli_usage_error("demo", "--seeds and --jobs must be positive");
    double t0 = cli_now();
    anc_demo_run_opts o = {.quick = quick, .seeds = (int)seeds, .jobs = (int)jobs, .fresh = fresh};
    o.dir = out ? out : quick ? "demo-quick" : "demo-run";
    demo_view view = {.dir = o.dir, .tty = isatty(2)};
    o.live = view.tty;
    anc_error err = {0};
    /* this executable, for the children and the exec: teacher */
    char *self = anc_self_exe();
    if (!self) {
        anc_error_set(&err, ANC_ERR_IO, "cannot find this executable (/proc/self/exe): %s", strerror(errno));
        return cli_fail("demo", &err);
    }
    o.exe = self;
    anc_demo_result r;
    rc = anc_demo_run(&o, demo_event, &view, &r, &err);
    free(self);
    if (rc) return cli_fail("demo", &err);
    printf("\nanchor demo: %s in %s\n", r.quick ? "quick run" : "full run", o.dir);
    printf("start model: %.1f%% of %zu held-out prompts right (greedy); its drafts at temperature %g: %.1f%% right\n\n",
           100 * r.start.solved, r.start.n, r.draft_temperature, 100 * r.drafts.solved);
    printf("Contrast between chosen and rejected in each dataset:\n\n");
    fputs(r.contrast, stdout);
    printf("\n%s\n", r.tables);
    double el = cli_now() - t0;
    char *cfg_path = anc_path_join(o.dir, "demo-config.json");
    printf("Wall time %dm%02ds on %ld cores. Report: %s/report.html (tables: %s/results.md, settings: %s)\n", (int)el / 60,
           (int)el % 60, sysconf(_SC_NPROCESSORS_ONLN), o.dir, o.dir, cfg_path ? cfg_path : "demo-config.json");
    free(cfg_path);
    anc_demo_result_free(&r);
    return 0;
}

int cmd_demo(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') return demo_run(argc, argv);
    if (!strcmp(argv[1], "init")) return demo_init(argc - 1, argv + 1);
    if (!strcmp(argv[1], "data")) return demo_data(argc - 1, argv + 1);
    if (!strcmp(argv[1], "grade")) return demo_grade(argc - 1, argv + 1);
    if (!strcmp(argv[1], "teacher")) return demo_teacher(argc - 1, argv + 1);
    fprintf(stderr, "anchor demo: unknown subcommand '%s' (init, data, grade, teacher; none runs the whole demo: "
                    "anchor demo --help)\n", argv[1]);
    return 2;
}
