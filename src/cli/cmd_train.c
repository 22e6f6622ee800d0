/* anchor train: preference training (APO, DPO and the TRL family). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "core/comm.h"
#include "flow/advise.h"
#include "flow/train.h"

typedef struct train_progress {
    double start, last;
    int tty;
    const char *last_phase;
    cli_progress bar;
    double comm_s;     /* the latest status's comm_seconds */
    double steps_from; /* when the last phase before the optimiser steps reported */
} train_progress;

static void report(void *ctx, const anc_train_status *s) {
    train_progress *p = ctx;
    if (strcmp(s->phase, "data") == 0) {
        fprintf(stderr, "anchor train: %zu of %zu rows dropped: longer than --max-length (or --max-tokens) even with the prompt truncated\n",
                s->done, s->total);
        return;
    }
    if (strcmp(s->phase, "peft") == 0) {
        /* PEFT's print_trainable_parameters line */
        fprintf(stderr, "anchor train: LoRA: trainable params: %zu || all params: %zu || trainable%%: %.4f\n", s->done, s->total,
                s->total ? 100.0 * (double)s->done / (double)s->total : 0.0);
        return;
    }
    if (strcmp(s->phase, "train") != 0) {
        if (s->step == 0) p->steps_from = cli_now();
        if (p->last_phase != s->phase) {
            cli_progress_init(&p->bar, strcmp(s->phase, "ref") == 0 ? "reference log-probs" :
                                       strcmp(s->phase, "ref-eval") == 0 ? "reference log-probs (eval)" : "evaluation", "pairs");
            p->last_phase = s->phase;
        }
        cli_progress_cb(&p->bar, s->done, s->total, s->tokens);
        if (s->done == s->total) cli_progress_done(&p->bar);
        return;
    }
    p->comm_s = s->comm_seconds;
    if (p->last_phase != s->phase) {
        p->start = cli_now();
        p->last_phase = s->phase;
    }
    double now = cli_now();
    if (p->tty && now - p->last < 0.25 && s->step < s->total_steps) return;
    if (!p->tty && s->step % 10 != 0 && s->step != s->total_steps && s->step != 1) return;
    p->last = now;
    double el = now - p->start, per = s->step > 0 ? el / (double)s->step : 0;
    double eta = per * (double)(s->total_steps - s->step);
    fprintf(stderr, "%sstep %lld/%lld  loss %.4f  acc %.2f  margin %+.4f  |g| %.3g  lr %.3g  %.0f tok/s  ETA %dm%02ds%s",
            p->tty ? "\r" : "", (long long)s->step, (long long)s->total_steps, s->loss, s->reward_accuracy,
            s->reward_margin, s->grad_norm, s->lr, s->tokens_per_second, (int)(eta / 60), (int)eta % 60,
            p->tty ? "\033[K" : "\n");
    if (p->tty && s->step == s->total_steps) fputc('\n', stderr);
    fflush(stderr);
}

/* --loss-type auto: the advisor first (its progress and verdict on
 * stderr); 0, or the exit code of its failure. */
static int run_advisor(anc_train_opts *o) {
    cli_hooks h;
    cli_hooks_init(&h, "train advisor");
    if (o->bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    anc_advise_result res;
    anc_error err = {0};
    anc_status st = anc_train_opts_advise(o, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    int code = st ? cli_fail("train", &err) : 0;
    char *line = st ? NULL : anc_advise_verdict_line(&res);
    if (!st && res.ab.judged)
        fprintf(stderr, "anchor train: advisor: judge requests sent %zu, reused from the store %zu\n", res.ab.stats.sent,
                res.ab.stats.cached);
    if (!st)
        fprintf(stderr, "anchor train: --loss-type auto: the advisor recommends %s; training with it\n",
                line ? line : res.recommendation);
    free(line);
    anc_advise_result_free(&res);
    return code;
}

int cmd_train(int argc, char **argv) {
    anc_train_opts o;
    anc_train_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_train_option_table, &o, "train",
                             "--model DIR --data FILE --output-dir DIR [--loss-type apo_zero|auto] [options]",
                             "Trains a model on preference pairs with TRL's objectives and metrics. Writes metrics.jsonl,\n"
                             "checkpoint-N/ folders (--save-steps) and the final Hugging Face model into --output-dir.\n"
                             "--loss-type auto runs the anchoring advisor first (anchor advise: the model's answers\n"
                             "against the chosen ones, by --advise-judge or --advise-grader) and trains with its\n"
                             "verdict, apo_zero or apo_down, recorded in train_config.yaml and metrics.jsonl.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    anc_train_config c;
    anc_error err = {0};
    if (anc_train_opts_advise_check(&o, &err)) return cli_usage_error("train", "%s", err.message);
    /* the advisor's judge calls would be made once per rank */
    if (anc_train_opts_auto(&o) && cli_comm())
        return cli_usage_error("train", "--loss-type auto runs the advisor, which runs as one process: run `anchor advise` "
                                        "first and pass its verdict (--loss-type apo_zero or apo_down) under mpirun");
    if (anc_train_opts_auto(&o) && (rc = run_advisor(&o))) return rc;
    if (anc_train_opts_config(&o, &c, &err)) return cli_usage_error("train", "%s", err.message);
    if (c.bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    c.comm = cli_comm(); /* under mpirun: data parallel */
    train_progress prog;
    memset(&prog, 0, sizeof prog);
    prog.tty = isatty(2);
    double t0 = cli_now();
    if (anc_train(&c, report, &prog, &err)) return cli_fail("train", &err);
    double el = cli_now() - t0;
    fprintf(stderr, "anchor train: done in %.1fs; model, metrics.jsonl and train_config.yaml in %s\n", el, o.output_dir);
    if (c.comm) {
        double steps_s = cli_now() - (prog.steps_from > 0 ? prog.steps_from : t0);
        fprintf(stderr, "anchor train: %d processes; summing gradients took %.2fs of the %.1fs of optimiser steps (%.1f%%)\n",
                c.comm->size, prog.comm_s, steps_s, steps_s > 0 ? 100.0 * prog.comm_s / steps_s : 0.0);
    }
    return 0;
}
