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
/* Loads o->prompts and generates A's then B's responses into s->items. */
anc_status ab_generate(const anc_ab_opts *o, ab_set *s, const anc_flow_hooks *hooks, anc_error *err);
/* Scores both responses of every item with g: outcome by the higher score. */
anc_status ab_grade(const anc_ab_opts *o, const anc_grader *g, ab_set *s, anc_error *err);
/* Parses o->grader into *g (its pattern and tolerance from o) and marks res
 * graded; nothing without a grader. */
anc_status ab_grader_setup(const anc_ab_opts *o, anc_grader *g, anc_ab_result *res, anc_error *err);
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

/* Checks the --system values (NAME=FILE, unique names, N >= 2) and that
 * --a/--b/--model-a/--model-b are absent. */
anc_status ab_lb_check_systems(const anc_ab_opts *o, anc_error *err);
/* The leaderboard run (anc_ab_run with o->systems). */
anc_status ab_leaderboard(const anc_ab_opts *o, anc_store *store, const anc_flow_hooks *hooks, anc_ab_result *res,
                          anc_error *err);
/* The ratings, intervals and counts of res->systems from the outcomes. */
anc_status ab_lb_rate(const anc_ab_opts *o, const ab_lb *lb, anc_ab_result *res, anc_error *err);

#endif
