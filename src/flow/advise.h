/* The anchoring advisor (`anchor advise`, `anchor train --loss-type auto`):
 * which APO variant fits a preference dataset for a given start model.
 *
 * The APO paper (D'Oosterlinck et al. 2024, design 1.3) says: use apo_zero
 * when the chosen answers are better than the model's own outputs (push the
 * winner up, the loser down), apo_down when the model is already better than
 * the chosen answers (push both down, the loser more). The advisor measures
 * that instead of guessing: it samples the model on a seeded random subset
 * of the dataset's distinct prompts and compares each answer with the row's
 * chosen answer, exactly as `anchor ab` compares system A (the model) with
 * system B (the chosen answers): a pairwise judge in both orders through
 * the run store (a rerun asks nothing already answered), or a grader
 * against the row's reference.
 *
 * The rule (ANC_ADVISE_RULE), over the n prompts that got an outcome:
 *   w = model-vs-chosen win rate, (wins + ties / 2) / n (flow/ab.h)
 *   recommend apo_down when w > 0.5, else apo_zero;
 *   "confident" when both 95% intervals of w (Wilson, and the paired
 *   bootstrap as ab computes it) exclude 0.5, else "weak evidence".
 *
 * Rows: TRL preference rows (data/jsonl.h) with "prompt" (a string or a
 * message list) and "chosen" (a string, or messages whose last one is the
 * answer); conversational rows without a prompt take every message of
 * "chosen" but the last as the prompt. The first row of each distinct
 * prompt counts. A grader's reference is the row's --reference-field, else
 * "reference", else "answer".
 *
 * How it reuses ab: the subset's model answers and chosen answers are
 * written as ab's --a/--b response files into a private temporary folder
 * (removed afterwards) and anc_ab_run compares them; ab's per-prompt
 * records are rewritten with the advisor's names. */
#ifndef ANCHOR_FLOW_ADVISE_H
#define ANCHOR_FLOW_ADVISE_H

#include <jansson.h>

#include "flow/ab.h"
#include "flow/llm_step.h"

/* The rule, as printed and recorded. */
#define ANC_ADVISE_RULE                                                                                              \
    "w = model-vs-chosen win rate (ties count half); apo_down when w > 0.5 (the model already beats the chosen "   \
    "answers), else apo_zero (the chosen answers are better than the model's own); confident when both 95% "        \
    "intervals of w (Wilson, paired bootstrap) exclude 0.5, else weak evidence"

typedef struct anc_advise_opts {
    const char *model;               /* the start model (HF folder; required) */
    const char *data;                /* preference rows (required) */
    long samples;                    /* distinct prompts compared (default 64; 0: all) */
    long sample_seed;                /* seed of the subset (default 0) */
    const char *grader;              /* exact | regex | numeric | exec:CMD instead of a judge */
    const char *pattern;             /* regex grader's pattern */
    double tolerance;                /* numeric grader (default 1e-6) */
    const char *reference_field;     /* default "reference", else "answer" */
    const char *template_path;       /* judge prompt; NULL: ab's built-in */
    const char *out;                 /* per-prompt records (JSONL); the run store defaults to OUT.store.db */
    const char *summary;             /* the verdict as JSON (anc_advise_result_json) */
    int json;                        /* the CLI prints the verdict as JSON */
    long resamples;                  /* bootstrap resamples (default 10000) */
    long bootstrap_seed;             /* default 0 */
    long max_new_tokens;             /* generation (default 256) */
    double gen_temperature;          /* generation (default 0 = greedy) */
    long gen_seed;                   /* generation (default 0) */
    long parallel;                   /* generation (default 8) */
    int bf16;                        /* generation in bf16 */
    const char *model_chat_template; /* generation: chat template for message prompts */
    anc_llm_step_opts llm;           /* --judge SPEC and the backend knobs (not with a grader) */
} anc_advise_opts;

/* The option table of advise (the command's flags and the pipeline kind's
 * keys). */
extern const anc_option anc_advise_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_advise_opts_init(anc_advise_opts *o);

/* Checks that o names the model and the data, exactly one way to compare
 * (llm.spec or grader), a run store for a judge (out, llm.store, or store
 * non-NULL), and counts in range. ANC_ERR_INVALID with the command's usage
 * message otherwise. */
anc_status anc_advise_opts_check(const anc_advise_opts *o, const anc_store *store, anc_error *err);

/* What the advisor found. */
typedef struct anc_advise_result {
    const char *recommendation; /* "apo_zero" or "apo_down" (static) */
    int confident;              /* both 95% intervals exclude 0.5 */
    const char *rule;           /* ANC_ADVISE_RULE (static) */
    anc_ab_result ab;           /* the comparison, A = the model, B = the chosen answers: n, win_rate, intervals... */
    size_t rows;                /* rows in the data */
    size_t prompts;             /* distinct prompts among them */
    size_t sampled;             /* prompts compared (the subset) */
    char *store_path;           /* the judge's run store (malloc'd; NULL with a grader or a borrowed store) */
} anc_advise_result;
void anc_advise_result_free(anc_advise_result *r);

/* Runs the advisor (see the top of this file) and fills *res (zeroed first;
 * free it with anc_advise_result_free either way). Writes the per-prompt
 * records to o->out when set (atomically; JSONL in the data's order: line,
 * id, prompt, model, chosen, outcome (the model's: win, tie, loss,
 * failed), then score_model/score_chosen or verdicts/consistent/error as
 * ab defines them) and the verdict to o->summary when set. store: the
 * judge's run store (borrowed; NULL: o->llm.store, else OUT.store.db).
 * Progress in "responses" (generation) then "prompts" (the judge). With
 * o->bf16 the caller should keep one parallel runtime
 * (anc_blas_set_threads(1), core/blas.h). Errors: bad options
 * (anc_advise_opts_check); a row without a usable prompt or chosen answer,
 * or without the grader's reference (ANC_ERR_FORMAT naming file:line);
 * model, backend, store and grader errors; no prompt with an outcome
 * (ANC_ERR_FORMAT: every verdict failed; a rerun retries them). */
anc_status anc_advise_run(const anc_advise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_advise_result *res, anc_error *err);

/* The verdict as JSON: {"recommendation", "win_rate", "wilson": [lo, hi],
 * "bootstrap": [lo, hi], "n", "confident", "rule", "method" ("judge" or
 * "grader"), "judge" or "grader", "wins", "ties", "losses", "failed",
 * "sampled", "prompts", "rows"}. New reference (NULL: out of memory). */
json_t *anc_advise_result_json(const anc_advise_result *r);

/* One line for people: "apo_zero (model vs chosen win rate 0.12 [0.05,
 * 0.25], n=32; confident)" with the Wilson interval. malloc'd (NULL: out of
 * memory). */
char *anc_advise_verdict_line(const anc_advise_result *r);

#endif
