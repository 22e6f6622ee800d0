/* anchor run PIPELINE.yaml: runs the steps of a pipeline in-process, in a
 * run directory, skipping the steps that are up to date.
 *
 * Skip rule: a step is up to date when run.db records it as finished with
 * the same config hash (kind + canonical options) and the same input hash
 * (contents of the files it reads; for folders config.json plus the names,
 * sizes and mtimes of their files) as now, and its output exists. Inputs are
 * hashed just before a step would run, after the steps above it ran, so a
 * rerun upstream step whose output changed makes its consumers rerun, and
 * one whose output came out identical does not. A step is recorded as
 * started (unfinished) before it runs and finished only after it succeeds:
 * a killed pipeline reruns the interrupted step, which resumes inside
 * (revise/judge/stronger through their items in run.db; train with
 * --resume from its newest checkpoint). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fileutil.h"
#include "core/lock.h"
#include "pipeline/pipeline.h"
#include "store/store.h"


#define RUN "run"

typedef struct step_state {
    char in_hash[ANC_SHA256_HEX];
    int up_to_date;
    int resumable;       /* recorded unfinished with the same hashes */
    int recorded;        /* any record */
    const char *why;     /* reason to run (or "up to date") */
} step_state;

/* The store key of a step's metadata; items keep the subcommand's names. */
static void step_key(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "pipeline/%s", name); }

/* Fills st for step i from the store (NULL store: never run). */
static anc_status assess(const anc_pipeline *p, size_t i, anc_store *store, step_state *st, anc_error *err) {
    memset(st, 0, sizeof *st);
    const anc_pipe_step *s = &p->steps[i];
    if (anc_pipeline_input_hash(p, i, st->in_hash, err)) return err->code;
    st->why = "never run";
    if (!store) return ANC_OK;
    char key[512];
    step_key(key, sizeof key, s->name);
    anc_store_step rec;
    int found = 0;
    if (anc_store_step_get(store, key, &rec, &found, err)) return err->code;
    if (found) {
        int same_cfg = rec.config_hash && !strcmp(rec.config_hash, s->config_hash);
        int same_in = rec.input_hash && !strcmp(rec.input_hash, st->in_hash);
        st->recorded = 1;
        if (!same_cfg) st->why = "options changed";
        else if (!same_in) st->why = "inputs changed";
        else if (!rec.finished) {
            st->why = "interrupted last time; resuming";
            st->resumable = 1;
        } else if (!anc_path_exists(s->out)) st->why = "its output is missing";
        else {
            st->why = "up to date";
            st->up_to_date = 1;
        }
    }
    anc_store_step_clear(&rec);
    return ANC_OK;
}

/* revise/judge/stronger keep their item records in run.db under a step
 * named by their output (anc_item_step), so steps never share them. */
static int is_llm_items_step(anc_step_kind k) {
    return k == ANC_STEP_REVISE || k == ANC_STEP_JUDGE || k == ANC_STEP_STRONGER;
}

/* Items of step i that failed in its last run (0 for other kinds). */
static anc_status failed_items(const anc_pipeline *p, size_t i, anc_store *store, size_t *failed, anc_error *err) {
    *failed = 0;
    const anc_pipe_step *s = &p->steps[i];
    if (!is_llm_items_step(s->kind)) return ANC_OK;
    char *step = anc_item_step(anc_step_kind_name(s->kind), s->out, p->store_path);
    if (!step) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = anc_store_item_count(store, step, NULL, failed, err);
    free(step);
    return st;
}

static int dispatch(anc_step_kind k, int argc, char **argv) {
    switch (k) {
    case ANC_STEP_GENERATE: return cmd_generate(argc, argv);
    case ANC_STEP_REVISE: return cmd_revise(argc, argv);
    case ANC_STEP_JUDGE: return cmd_judge(argc, argv);
    case ANC_STEP_STRONGER:
    case ANC_STEP_IMPORT: return cmd_pairs(argc, argv);
    case ANC_STEP_STATS: return cmd_stats(argc, argv);
    case ANC_STEP_TRAIN: return cmd_train(argc, argv);
    case ANC_STEP_EVAL: return cmd_eval(argc, argv);
    case ANC_STEP_AB: return cmd_ab(argc, argv);
    case ANC_STEP_REPORT: return cmd_report(argc, argv);
    case ANC_STEP_ADVISE: return cmd_advise(argc, argv);
    case ANC_STEP_EXPORT: return cmd_export(argc, argv);
    default: return 2;
    }
}

/* Runs step i in-process: a flow step with the pipeline's store, another
 * as its command (store is closed then: the command opens run.db itself);
 * stats's stdout goes to its output file. */
static int run_step(const anc_pipeline *p, size_t i, int resume, anc_store **store) {
    const anc_pipe_step *s = &p->steps[i];
    /* Resuming: train from its newest checkpoint; an LLM step keeps its
     * finished items (and retries the failed ones). Otherwise the step's
     * options or inputs changed: an LLM step starts over (--fresh) instead
     * of being refused for other settings; its paid replies are reused. */
    const char *extra[1] = {NULL};
    if (s->kind == ANC_STEP_TRAIN && resume) extra[0] = "--resume";
    else if (is_llm_items_step(s->kind) && !resume) extra[0] = "--fresh";
    char **av = NULL;
    int ac = 0;
    anc_error err = {0};
    if (anc_pipeline_argv(p, i, extra, extra[0] ? 1 : 0, &av, &ac, &err))
        return cli_fail(RUN, &err);
    char *slash = strrchr(s->out, '/');
    if (slash) {
        char *parent = strndup(s->out, (size_t)(slash - s->out));
        anc_status st = parent ? anc_mkdirs(parent, &err) : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        free(parent);
        if (st) {
            anc_pipeline_argv_free(av);
            return cli_fail(RUN, &err);
        }
    }
    int rc = cli_step_exec(s->kind, ac, av, *store);
    if (rc >= 0) {
        anc_pipeline_argv_free(av);
        return rc;
    }
    anc_store_close(*store);
    *store = NULL;
    if (s->kind == ANC_STEP_STATS) {
        size_t n = strlen(s->out) + 5;
        char *tmp = malloc(n);
        if (!tmp) {
            anc_pipeline_argv_free(av);
            return 1;
        }
        snprintf(tmp, n, "%s.tmp", s->out);
        fflush(stdout);
        int saved = dup(1), fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (saved < 0 || fd < 0) {
            fprintf(stderr, "anchor run: cannot write %s\n", tmp);
            if (saved >= 0) close(saved);
            if (fd >= 0) close(fd);
            free(tmp);
            anc_pipeline_argv_free(av);
            return 1;
        }
        dup2(fd, 1);
        close(fd);
        rc = dispatch(s->kind, ac, av);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        if (rc == 0 && rename(tmp, s->out) != 0) {
            fprintf(stderr, "anchor run: cannot rename %s to %s\n", tmp, s->out);
            rc = 1;
        }
        if (rc) unlink(tmp);
        free(tmp);
    } else {
        rc = dispatch(s->kind, ac, av);
    }
    anc_pipeline_argv_free(av);
    return rc;
}

/* One pipeline at a time in a run directory: two would run the same steps
 * into the same files. */
static anc_status lock_run_dir(const anc_pipeline *p, anc_lock **lock, anc_error *err) {
    char *path = anc_path_join(p->run_dir, ".anchor-run.lock");
    if (!path) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    size_t n = strlen(p->run_dir) + 32;
    char *what = malloc(n);
    anc_status st = what ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (what) {
        snprintf(what, n, "the run directory %s", p->run_dir);
        st = anc_lock_acquire(path, what, lock, err);
    }
    free(what);
    free(path);
    return st;
}

static int reopen(anc_store **store, const char *path) {
    anc_error err = {0};
    anc_store_close(*store);
    *store = NULL;
    if (anc_store_open(store, path, &err)) return cli_fail(RUN, &err);
    return 0;
}

/* The state of one `anchor run` over its steps. */
typedef struct run_plan {
    const anc_pipeline *p;
    anc_store *store;
    step_state *states;
    int *will_run;
    long from_i, only_i;
    int force, dry;
    size_t ran, skipped, with_failures;
} run_plan;

/* Whether step i runs, and why (why may point into because). */
static int decide(const run_plan *rp, size_t i, const char **why, char *because, size_t cap) {
    const anc_pipe_step *s = &rp->p->steps[i];
    const step_state *st = &rp->states[i];
    *why = st->why;
    if (rp->only_i >= 0) {
        int run = (long)i == rp->only_i;
        *why = run ? "selected by --only" : "not selected (--only)";
        return run;
    }
    if (rp->from_i >= 0) {
        *why = (long)i >= rp->from_i ? "selected by --from" : "up to date";
        return (long)i >= rp->from_i;
    }
    if (rp->force) {
        *why = st->up_to_date ? "forced" : st->why;
        return 1;
    }
    if (!st->up_to_date) return 1;
    if (rp->dry)
        for (size_t d = 0; d < s->n_deps; d++)
            if (rp->will_run[s->deps[d]]) {
                snprintf(because, cap, "the step '%s' above it runs", rp->p->steps[s->deps[d]].name);
                *why = because;
                return 1;
            }
    return 0;
}

/* Runs step i, recording it in run.db as started before and finished (when
 * none of its items failed) after. Returns 0 or the exit code. */
static int execute(run_plan *rp, size_t i) {
    const anc_pipe_step *s = &rp->p->steps[i];
    step_state *st = &rp->states[i];
    anc_error err = {0};
    char key[512];
    step_key(key, sizeof key, s->name);
    if (anc_store_step_put(rp->store, key, st->in_hash, s->config_hash, 0, &err)) return cli_fail(RUN, &err);
    double ts = cli_now();
    int src = run_step(rp->p, i, st->resumable, &rp->store);
    int code = 0;
    if (!rp->store && (code = reopen(&rp->store, rp->p->store_path))) return code;
    if (src) {
        fprintf(stderr, "anchor run: step '%s' (%s) failed (exit %d) after %.1fs; fix it and rerun: finished steps are skipped\n",
                s->name, anc_step_kind_name(s->kind), src, cli_now() - ts);
        return src;
    }
    size_t n_failed = 0;
    if (failed_items(rp->p, i, rp->store, &n_failed, &err) ||
        anc_store_step_put(rp->store, key, st->in_hash, s->config_hash, n_failed == 0, &err))
        return cli_fail(RUN, &err);
    if (n_failed) {
        fprintf(stderr, "anchor run: step '%s' (%s): %zu items failed; it is not up to date, so a rerun retries them\n",
                s->name, anc_step_kind_name(s->kind), n_failed);
        rp->with_failures++;
    }
    rp->ran++;
    return 0;
}

/* Assesses step i, prints the decision, and runs it unless this is a dry
 * run. Returns 0 or the exit code. */
static int visit_step(run_plan *rp, size_t i) {
    const anc_pipe_step *s = &rp->p->steps[i];
    size_t n = rp->p->n_steps;
    anc_error err = {0};
    if (((long)i >= rp->from_i || rp->from_i < 0) && assess(rp->p, i, rp->store, &rp->states[i], &err))
        return cli_fail(RUN, &err);
    const char *why = NULL;
    char because[256];
    int run = decide(rp, i, &why, because, sizeof because);
    rp->will_run[i] = run;
    if (rp->dry) {
        printf("[%zu/%zu] %s (%s): %s — %s\n", i + 1, n, s->name, anc_step_kind_name(s->kind), run ? "run" : "skip", why);
        return 0;
    }
    if (!run) {
        fprintf(stderr, "[%zu/%zu] %s (%s): skipped, %s\n", i + 1, n, s->name, anc_step_kind_name(s->kind), why);
        rp->skipped++;
        return 0;
    }
    fprintf(stderr, "[%zu/%zu] %s (%s): %s\n", i + 1, n, s->name, anc_step_kind_name(s->kind), why);
    return execute(rp, i);
}

int cmd_run(int argc, char **argv) {
    const char *run_dir = NULL, *from = NULL, *only = NULL;
    int dry = 0, force = 0;
    cli_opt opts[] = {
        {"run-dir", OPT_STR, &run_dir, "DIR", "run directory (default: the file's run_dir, else its name without extension)"},
        {"from", OPT_STR, &from, "STEP", "run this step and every later one (earlier ones must be up to date)"},
        {"only", OPT_STR, &only, "STEP", "run only this step"},
        {"dry-run", OPT_FLAG, &dry, NULL, "print the plan (each step: run or skip, and why) and run nothing"},
        {"force", OPT_FLAG, &force, NULL, "run every selected step even when it is up to date"},
        {0},
    };
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, RUN, "PIPELINE.yaml [--run-dir DIR] [--from STEP] [--only STEP] [--dry-run] [--force]",
                       "Runs a pipeline of anchor steps (generate, revise, judge, stronger, import, stats, train, eval,\n"
                       "ab, report) in one run directory: step outputs, run.db (every reviser/judge reply), models/,\n"
                       "report.html and pipeline.effective.yaml. A step whose options and input files are unchanged\n"
                       "since it last finished is skipped; a killed run resumes where it stopped. See examples/.",
                       &pos, &n_pos);
    if (rc) {
        free(pos);
        return rc == 1 ? 0 : rc;
    }
    if (n_pos != 1) {
        free(pos);
        return cli_usage_error(RUN, "expected one PIPELINE.yaml");
    }
    if (from && only) {
        free(pos);
        return cli_usage_error(RUN, "--from and --only exclude each other");
    }
    anc_error err = {0};
    anc_pipeline p;
    if (anc_pipeline_load(&p, pos[0], run_dir, &err)) {
        free(pos);
        return cli_fail(RUN, &err);
    }
    free(pos);
    anc_store *store = NULL;
    anc_lock *lock = NULL;
    step_state *states = calloc(p.n_steps, sizeof *states);
    int *will_run = calloc(p.n_steps, sizeof *will_run);
    long from_i = from ? anc_pipeline_find(&p, from) : -1, only_i = only ? anc_pipeline_find(&p, only) : -1;
    int code = 0;
    if (!states || !will_run) {
        anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        code = cli_fail(RUN, &err);
        goto done;
    }
    if ((from && from_i < 0) || (only && only_i < 0)) {
        code = cli_usage_error(RUN, "%s: no step called '%s'", p.path, from ? from : only);
        goto done;
    }
    if (dry) {
        if (anc_path_exists(p.store_path) && anc_store_open(&store, p.store_path, &err)) {
            code = cli_fail(RUN, &err);
            goto done;
        }
    } else if (anc_mkdirs(p.run_dir, &err) || lock_run_dir(&p, &lock, &err) ||
               anc_store_open(&store, p.store_path, &err)) {
        code = cli_fail(RUN, &err);
        goto done;
    }
    /* --from: the steps above must be up to date (nothing runs before them) */
    for (long i = 0; i < from_i; i++) {
        if (assess(&p, (size_t)i, store, &states[i], &err)) {
            code = cli_fail(RUN, &err);
            goto done;
        }
        if (!states[i].up_to_date) {
            fprintf(stderr, "anchor run: error: --from %s: the earlier step '%s' is stale (%s); run without --from, or --from %s\n",
                    from, p.steps[i].name, states[i].why, p.steps[i].name);
            code = 1;
            goto done;
        }
    }
    if (!dry) {
        char *eff = anc_path_join(p.run_dir, "pipeline.effective.yaml");
        anc_status st = eff ? anc_pipeline_write_effective(&p, eff, &err) : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        free(eff);
        if (st) {
            code = cli_fail(RUN, &err);
            goto done;
        }
    }
    run_plan rp = {&p, store, states, will_run, from_i, only_i, force, dry, 0, 0, 0};
    double t0 = cli_now();
    if (dry) printf("plan for %s (run directory %s):\n", p.path, p.run_dir);
    for (size_t i = 0; i < p.n_steps && !code; i++) code = visit_step(&rp, i);
    store = rp.store;
    if (!dry && !code)
        fprintf(stderr, "anchor run: %zu steps run, %zu skipped in %.1fs; results in %s%s\n", rp.ran, rp.skipped,
                cli_now() - t0, p.run_dir, rp.with_failures ? "; some items failed (see above): rerun to retry them" : "");
done:
    free(states);
    free(will_run);
    anc_store_close(store);
    anc_lock_release(lock);
    anc_pipeline_free(&p);
    return code;
}
