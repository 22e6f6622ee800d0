/* The demo task family: a small verifiable task whose answer has two parts
 * (a filtered, ordered list and its sum), so a draft can be partly right and
 * a minimal revision can fix only the wrong part. Used by `make demo` to
 * reproduce the CLAIR finding offline with a tiny model.
 *
 * A task:   "Numbers: 17 4 23 8 15. Odd numbers in increasing order, then their sum."
 * Answer:   "Odd: 15 17 23. Sum: 55."
 * Conditions: odd, even, above K, below K (label "Odd", "Even", "Above K",
 * "Below K"); 4-8 distinct numbers in 1..99; increasing or decreasing order.
 * Generated tasks select at least 2 numbers and leave at least one out, and
 * K (20..80) is never one of the numbers. Prompts and answers stay under 90
 * characters and use only the alphabet of anc_demo_tokenizer_json.
 *
 * Besides the generator this module holds the grader and a programmatic
 * teacher: the CLAIR reviser (minimal revisions), a "stronger model" that
 * answers from scratch in other words, and a demonstrator that makes
 * mistakes at a chosen rate (SFT data). Everything is deterministic given
 * an anc_rng; no global state; tasks are plain values (no allocation). */
#ifndef ANCHOR_DEMO_TASK_H
#define ANCHOR_DEMO_TASK_H

#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"

#define ANC_DEMO_MAX_NUMS 8
#define ANC_DEMO_TEXT_MAX 128

typedef enum anc_demo_cond {
    ANC_DEMO_ODD = 0,
    ANC_DEMO_EVEN,
    ANC_DEMO_ABOVE, /* strictly greater than k */
    ANC_DEMO_BELOW  /* strictly less than k */
} anc_demo_cond;

typedef struct anc_demo_task {
    int n;                          /* numbers in the prompt, 1..ANC_DEMO_MAX_NUMS */
    int nums[ANC_DEMO_MAX_NUMS];    /* in prompt order */
    anc_demo_cond cond;
    int k;                          /* bound for ABOVE/BELOW, else 0 */
    int descending;                 /* 1: decreasing order, 0: increasing */
    int n_sel;                      /* selected numbers, >= 1 */
    int sel[ANC_DEMO_MAX_NUMS];     /* selected numbers in the requested order */
    int sum;                        /* sum of sel */
    char label[16];                 /* "Odd", "Even", "Above 40", "Below 40" */
    char prompt[ANC_DEMO_TEXT_MAX]; /* canonical prompt text */
    char answer[ANC_DEMO_TEXT_MAX]; /* canonical reference answer */
} anc_demo_task;

/* Draws one task from r (advancing it) into *out, which is fully
 * overwritten. The same rng state always gives the same task. Never fails. */
void anc_demo_task_make(anc_rng *r, anc_demo_task *out);

/* The size of a task family: min_n..max_n numbers (3..ANC_DEMO_MAX_NUMS)
 * drawn from 1..max_value, conditions the first n_conds of odd, even,
 * above K, below K. anc_demo_task_make uses {4, 8, 99, 4}. */
typedef struct anc_demo_spec {
    int min_n, max_n;
    int max_value;
    int n_conds;
} anc_demo_spec;

/* Draws one task of the given family (values are clamped to valid ranges). */
void anc_demo_task_make_spec(anc_rng *r, const anc_demo_spec *spec, anc_demo_task *out);

/* Parses a task back from text holding its prompt: the first "Numbers:" in
 * text starts it (so a whole CLAIR reviser prompt works too); whitespace runs
 * may stand for the single spaces of the canonical form. Numbers are 0..999,
 * 1..ANC_DEMO_MAX_NUMS of them, and the condition must select at least one.
 * On success *out holds the task with canonical prompt and answer; otherwise
 * ANC_ERR_FORMAT (or ANC_ERR_INVALID for nothing selected) with the reason. */
anc_status anc_demo_task_parse(const char *text, anc_demo_task *out, anc_error *err);

typedef struct anc_demo_grade_result {
    int parse_ok;      /* canonical or free-form: an answer could be read */
    int canonical;     /* has the shape "LABEL: n n n. Sum: s." */
    int label_correct; /* canonical and LABEL is the task's label */
    int list_correct;  /* the listed numbers are sel, in order (canonical: label too) */
    int sum_correct;   /* the stated sum is right */
    int habit;         /* list right, 3+ numbers, and the sum leaves out the last (the demonstrator's habit) */
    int correct;       /* the trimmed response is the reference answer, whitespace runs counting as one space */
    double score;      /* 0.5 * list_correct + 0.5 * sum_correct */
} anc_demo_grade_result;

/* Grades response (NUL-terminated, NULL counts as "") against t into *g.
 * Canonical shape first: after trimming, "LABEL:" then whitespace, integers
 * (no leading zeros) separated by whitespace, ".", whitespace, "Sum:",
 * whitespace, an integer, "."; text after that final "." makes it not
 * correct but still credits list and sum. Otherwise free-form: every digit
 * run in order, the last being the sum and the others the list (at least
 * two needed), which credits answers phrased like anc_demo_stronger_answer
 * (never `correct`, which needs the canonical form). Never fails. */
void anc_demo_grade(const anc_demo_task *t, const char *response, anc_demo_grade_result *g);

/* The teacher's minimal revision of draft (NUL-terminated) into *revision
 * (malloc'd, caller frees): a draft in the canonical shape keeps every right
 * part byte for byte and has only the wrong spans replaced (label, list
 * items dropped / inserted / reordered by a longest common subsequence
 * with the right list, sum; text after the final "." is dropped); any other
 * draft is replaced by the reference answer. The revision always grades
 * correct (a canonical draft's own whitespace runs are kept, which the
 * grader allows). ANC_ERR_NOMEM only. */
anc_status anc_demo_revise(const anc_demo_task *t, const char *draft, char **revision, anc_error *err);

/* A right answer written from scratch in the "stronger model"'s own words
 * (one of several phrasings chosen by r), e.g. "The odd numbers are 15, 17
 * and 23; together 55." It never mentions K, so the free-form grader credits
 * list and sum. *answer is malloc'd (caller frees). ANC_ERR_NOMEM only. */
anc_status anc_demo_stronger_answer(const anc_demo_task *t, anc_rng *r, char **answer, anc_error *err);

/* A demonstration from a sloppy teacher. With probability habit_rate a
 * task selecting 3 or more numbers gets the right list but a sum that leaves
 * out the last listed number (a systematic habit a model picks up).
 * Otherwise the reference answer, or with probability mistake_rate a
 * canonical answer with one random injected mistake: an item dropped, a
 * wrong number inserted, two neighbours swapped (the sum then right or
 * matching the shown list), or a sum off by a small amount; sometimes a list
 * mistake also gets a wrong sum. Rates are probabilities in [0,1]. A
 * mistaken demonstration never grades correct. *answer is malloc'd (caller
 * frees). ANC_ERR_NOMEM only. */
anc_status anc_demo_demonstration(const anc_demo_task *t, anc_rng *r, double mistake_rate, double habit_rate,
                                  char **answer, anc_error *err);

/* What an exec: reviser prints for the demo: "{teacher_reasoning}: <one line
 * naming what is wrong>\n\n{corrected_student_solution}: <revision>", which
 * anc_clair_parse_reply reads back to anc_demo_revise's revision.
 * prompt_text holds the task prompt (see anc_demo_task_parse) and draft the
 * student solution; when draft is NULL, prompt_text is a whole CLAIR reviser
 * prompt (anc_clair_prompt with the default template) and both are taken
 * from it ("{task}: " and "{student_solution}: " lines, the draft ending at
 * the last "\n\n-----------------"). *reply is malloc'd (caller frees).
 * ANC_ERR_FORMAT when the task or draft cannot be found. */
anc_status anc_demo_reviser_reply(const char *prompt_text, const char *draft, char **reply, anc_error *err);

#endif
