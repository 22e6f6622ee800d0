/* What the files of the ab step share (flow/ab.h): the prompts being
 * compared and the jobs of a run. Private to src/flow/ab*.c. */
#ifndef ANCHOR_FLOW_AB_INTERNAL_H
#define ANCHOR_FLOW_AB_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "clair/judge.h"
#include "data/jsonl.h"
#include "eval/graders.h"
#include "flow/ab.h"

enum { AB_WIN = 0, AB_TIE = 1, AB_LOSS = 2, AB_FAILED = 3 };

/* One prompt with both responses; everything borrowed from the rows (or
 * the generated texts) of its ab_set except messages and error. */
typedef struct ab_item {
    char id[96];
    const json_t *prompt;
    const char *ya, *yb;
    const json_t *ref;   /* the reference (grader), may be NULL */
    size_t line;         /* of the row in ab_set.src */
    json_t *messages[2]; /* judge requests: [0] A shown as "A"; [1] A shown as "B" */
    anc_verdict v[2];    /* their verdicts */
    int got;             /* judge replies received */
    int outcome;         /* AB_WIN .. AB_FAILED */
    int consistent;
    double sa, sb;       /* grader scores */
    char *error;         /* why a judged prompt has no outcome (malloc'd) */
} ab_item;

typedef struct ab_set {
    anc_rows ra, rb, rp;   /* --a, --b, --prompts */
    char **gen_a, **gen_b; /* generated responses (rp.n each) */
    ab_item *items;
    size_t n;
    size_t unmatched;      /* rows of --a or --b without a partner */
    const char *src;       /* the file errors about an item name: --a or --prompts */
} ab_set;
void ab_set_free(ab_set *s);

/* The prompt of a row: "prompt", else "messages" (NULL: neither). */
const json_t *ab_row_prompt(const json_t *row);
/* The reference of a row: field, else "reference", else "answer". */
const json_t *ab_row_reference(const json_t *row, const char *field);
/* The id that matches a row with its partner: anc_item_id over the prompt. */
void ab_item_key(const json_t *row, char *buf, size_t cap);

/* Loads o->a and o->b (and o->prompts, for references) and pairs their rows
 * into s->items, A's order. */
anc_status ab_match_files(const anc_ab_opts *o, ab_set *s, anc_error *err);
/* Generates one answer per row of prompts with the model in dir and o's
 * generation settings; *texts[prompts->n] malloc'd (anc_eval_texts_free). */
anc_status ab_generate_answers(const anc_ab_opts *o, const char *dir, const anc_rows *prompts,
                               const anc_flow_hooks *hooks, char ***texts, anc_error *err);
/* Loads o->prompts and generates A's then B's responses into s->items. */
anc_status ab_generate(const anc_ab_opts *o, ab_set *s, const anc_flow_hooks *hooks, anc_error *err);
/* How responses are scored without a judge (ab_grade.c): a grader, or
 * IFEval (ifeval: 1 strict, 2 loose) against the rows of input (--prompts). */
typedef struct ab_scorer {
    anc_grader g;
    int ifeval;
    const anc_rows *input;
} ab_scorer;
/* Sets up sc from o->grader ("ifeval", "ifeval-loose", or a grader spec
 * with o's pattern and tolerance) and marks res graded; nothing without a
 * grader. */
anc_status ab_scorer_setup(const anc_ab_opts *o, ab_scorer *sc, anc_ab_result *res, anc_error *err);
/* 1 when the scorer needs each row's reference. */
int ab_scorer_needs_ref(const ab_scorer *sc, const anc_ab_opts *o);
/* The score of response to the prompt ptext (ref: the row's reference). */
anc_status ab_score(const ab_scorer *sc, const char *ptext, const char *response, const json_t *ref, double *score,
                    anc_error *err);
/* Scores both responses of every item (sc->input = s->rp): outcome by the
 * higher score. */
anc_status ab_grade(const anc_ab_opts *o, ab_scorer *sc, ab_set *s, anc_error *err);
/* Asks the judge about every item in both orders through the run store
 * (store borrowed, NULL: opened from o) and sets the outcomes; res->judge,
 * res->judged and res->stats. */
anc_status ab_judge(const anc_ab_opts *o, anc_store *store, ab_set *s, const anc_flow_hooks *hooks,
                    anc_ab_result *res, anc_error *err);
/* The counts and statistics of res from the outcomes. */
anc_status ab_summarize(const anc_ab_opts *o, const ab_set *s, anc_ab_result *res, anc_error *err);
/* Writes the per-prompt records to o->out atomically. */
anc_status ab_write_records(const anc_ab_opts *o, const ab_set *s, int graded, anc_error *err);

/* The leaderboard (--system, ab_lb.c): the systems, the union of their
 * prompts, and the comparisons as the items of cmp (ya: system_a's
 * response, yb: system_b's), grouped by prompt in prompt order. */
typedef struct ab_lb_prompt {
    char *key;             /* ab_item_key + "#" + its occurrence in the file */
    const json_t *prompt, *ref;
    const char **resp;     /* [ns]: each system's response, NULL: not answered */
    double *score;         /* [ns]: grader scores */
    size_t line;
} ab_lb_prompt;

typedef struct ab_lb {
    size_t ns;
    char **names;
    const char **files;
    anc_rows *rows, rp;
    ab_lb_prompt *prompts;
    size_t np;
    ab_set cmp;            /* the comparisons (cmp.items[k].outcome) */
    size_t *cmp_prompt;    /* comparison -> prompt */
    size_t (*cmp_sys)[2];  /* comparison -> system_a, system_b */
} ab_lb;

/* What a --system value names (ab_lb_systems.c): an answer file, a model
 * directory, or a backend spec (anc_ab_system_is_backend). */
typedef enum ab_sys_kind { AB_SYS_FILE = 0, AB_SYS_MODEL, AB_SYS_BACKEND } ab_sys_kind;
ab_sys_kind ab_system_kind(const char *value);
/* The answers of the model or backend system `name` = value to the rows of
 * prompts, as rows (*out, anc_rows_free): each prompt row with o's response
 * field set; prompts a backend did not answer are left out (noted). The
 * backend's replies go through store (borrowed). */
anc_status ab_system_answer(const anc_ab_opts *o, anc_store *store, const char *name, const char *value,
                            const anc_rows *prompts, anc_rows *out, const anc_flow_hooks *hooks, anc_error *err);

/* Checks the --system values (NAME=FILE|DIR|SPEC, unique names, N >= 2,
 * --prompts for models and backends, a store for backends) and that
 * --a/--b/--model-a/--model-b are absent. */
anc_status ab_lb_check_systems(const anc_ab_opts *o, const anc_store *store, anc_error *err);
/* The leaderboard run (anc_ab_run with o->systems). */
anc_status ab_leaderboard(const anc_ab_opts *o, anc_store *store, const anc_flow_hooks *hooks, anc_ab_result *res,
                          anc_error *err);
/* The ratings, intervals and counts of res->systems from the outcomes. */
anc_status ab_lb_rate(const anc_ab_opts *o, const ab_lb *lb, anc_ab_result *res, anc_error *err);

#endif
