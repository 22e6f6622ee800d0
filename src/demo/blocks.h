/* The demo's building blocks (`anchor demo init|data|grade|teacher`): a
 * tiny random Llama with the demo tokenizer, task data files, grading a file
 * of answers, and the programmatic teacher answering an exec: request. The
 * experiment runner (demo/run.h) is made of these and anchor's commands.
 * Part of the anchor_demo library, not of libanchor. Errors are returned
 * through anc_error; nothing prints. */
#ifndef ANCHOR_DEMO_BLOCKS_H
#define ANCHOR_DEMO_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "demo/task.h"

/* Task scores of one file of answers, as shares of its rows. */
typedef struct anc_demo_scores {
    size_t n;        /* rows graded */
    double solved;   /* list and sum both right, in any phrasing (the demo's headline) */
    double accuracy; /* the answer is the reference, byte for byte (up to whitespace runs) */
    double list;     /* the list part is right */
    double sum;      /* the sum part is right */
    double score;    /* mean of 0.5 * list + 0.5 * sum */
    double habit;    /* the sum leaves out the last number (the taught habit) */
} anc_demo_scores;

/* Grades every row of the JSONL file path: its "prompt" (string or
 * messages: the last user message) holds a demo task, its field (a string,
 * or messages whose last content counts; missing counts as "") the answer.
 * Fills *out (all zero for an empty file) and returns ANC_OK; otherwise the
 * loader's error, or ANC_ERR_FORMAT naming the file and line of a row
 * without a readable task. */
anc_status anc_demo_grade_file(const char *path, const char *field, anc_demo_scores *out, anc_error *err);

/* The same, and per row whether it is solved (1 or 0) in *solved (malloc'd,
 * out->n entries in file order; caller frees). */
anc_status anc_demo_grade_rows(const char *path, const char *field, anc_demo_scores *out, double **solved,
                               anc_error *err);

/* The shape of the demo's tiny Llama. */
typedef struct anc_demo_model_opts {
    const char *out; /* model folder to create (required) */
    long hidden, layers, heads, kv_heads, intermediate;
    uint64_t seed;   /* initialisation seed */
} anc_demo_model_opts;

/* hidden 128, layers 4, heads 4, kv_heads 2, intermediate 384, seed 1; out NULL. */
void anc_demo_model_opts_default(anc_demo_model_opts *o);

/* Writes a random Llama of o's shape into o->out (config.json, f32
 * safetensors, tokenizer.json and tokenizer_config.json of
 * anc_demo_tokenizer_json): matrices normal(0, 0.02) from o->seed, norms 1,
 * tied embeddings, 256 positions, bos 1, eos 2. *n_params and *vocab_size
 * (either may be NULL) get the model's size. Errors: a shape the model's
 * config check refuses (its message names the fields), I/O, ANC_ERR_NOMEM. */
anc_status anc_demo_init_model(const anc_demo_model_opts *o, size_t *n_params, int *vocab_size, anc_error *err);

/* One task data file. */
typedef struct anc_demo_data_opts {
    const char *out;     /* JSONL to write (required; overwritten) */
    int sft;             /* 1: sft rows (a demonstration as chosen and rejected); 0: prompt rows (id, prompt, reference) */
    long n;              /* rows */
    long seed;           /* task seed; prompt rows' ids are "t<seed>-<i>" */
    double mistake_rate; /* sft: share of demonstrations with one mistake */
    double habit_rate;   /* sft: share of tasks selecting 3+ numbers whose sum leaves out the last number */
    anc_demo_spec spec;  /* the task family */
    const char *exclude; /* NULL, or a JSONL file: tasks whose prompt is one of its prompts are skipped */
} anc_demo_data_opts;

/* n 100, seed 1, mistake_rate 0.35, habit_rate 0, spec {4, 8, 99, 4}, prompt rows; out and exclude NULL. */
void anc_demo_data_opts_default(anc_demo_data_opts *o);

/* Draws o->n tasks of o->spec from o->seed (skipping excluded prompts) and
 * writes one row per task to o->out, prompts as one user message. Errors:
 * the exclude file's (a row without a prompt: ANC_ERR_FORMAT with file and
 * line), ANC_ERR_INVALID when nearly every task of the family is excluded,
 * ANC_ERR_IO, ANC_ERR_NOMEM. */
anc_status anc_demo_write_data(const anc_demo_data_opts *o, anc_error *err);

/* The teacher's three exec: roles. */
typedef enum anc_demo_role {
    ANC_DEMO_REVISE,   /* a CLAIR reviser: anc_demo_reviser_reply on the request's reviser prompt */
    ANC_DEMO_STRONGER, /* a stronger model: anc_demo_stronger_answer, its phrasing chosen by the prompt */
    ANC_DEMO_JUDGE     /* a grader-judge: the response with the higher task score wins, equal scores tie */
} anc_demo_role;

/* Reads one OpenAI chat request (JSON, up to EOF) from in and writes the
 * teacher's reply to its last message's content as role into *reply
 * (malloc'd, caller frees). The same request always gets the same reply.
 * ANC_ERR_FORMAT when the request has no messages, or the content holds no
 * task (the judge: or not the default judge prompt's response markers);
 * ANC_ERR_NOMEM. */
anc_status anc_demo_teacher_reply(anc_demo_role role, FILE *in, char **reply, anc_error *err);

#endif
