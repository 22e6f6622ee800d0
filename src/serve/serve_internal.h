/* What server.c (routing, requests, whole replies) and stream.c (server-sent
 * events) share. Internal to src/serve. */
#ifndef ANCHOR_SERVE_INTERNAL_H
#define ANCHOR_SERVE_INTERNAL_H

#include <pthread.h>

#include "serve/http.h"
#include "serve/openai.h"
#include "serve/sched.h"
#include "serve/server.h"

struct anc_server {
    anc_server_config cfg;
    char *name;
    const anc_model *m;
    anc_tokenizer *tok;            /* encoding keeps a cache: under encode_mu */
    const anc_template *tmpl;
    pthread_mutex_t encode_mu;
    anc_sched *sched;
    anc_http *http;
    pthread_mutex_t mu;            /* the counters below */
    pthread_cond_t idle;           /* in_flight reached 0 */
    size_t in_flight;
    uint64_t served, refused, serial;
    int64_t started;
};

/* A generation request being answered: its job and what the reply needs. */
typedef struct anc_serve_call {
    anc_server *s;
    anc_sched_job *job;
    anc_oai_kind kind;
    char id[48];
    int64_t created;
    int64_t prompt_tokens;         /* over all prompts */
    int include_usage;
    char **stops;                  /* borrowed from the job's user data */
    int n_stop;
} anc_serve_call;

/* The finished text of sequence q: decoded without special tokens and cut
 * at the first stop string (*finish "stop" when cut or stopped, else
 * "length"). malloc'd; NULL when out of memory or decoding failed. */
char *anc_serve_final_text(const anc_serve_call *c, int q, const char **finish);

/* Puts a streamed reply for call c (taken over) into rep. */
void anc_serve_stream(anc_serve_call *c, anc_http_reply *rep);

/* Ends a call: releases its job (an unfinished one is cancelled), counts
 * it as served when ok (answered with 200; an error reply is counted by
 * anc_serve_reply_error, once) and frees c. */
void anc_serve_call_end(anc_serve_call *c, int ok);

/* Puts the OpenAI error object e into rep (Retry-After with 429) and counts
 * one refused request. */
void anc_serve_reply_error(anc_server *s, anc_http_reply *rep, const anc_oai_error *e);

#endif
