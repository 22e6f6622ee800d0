/* The serve step: `anchor serve --model DIR`, an OpenAI-compatible server
 * over one model (serve/server.h: the endpoints, continuous batching, the
 * limits). It runs until the caller's stop flag is raised (the CLI raises it
 * on SIGTERM/SIGINT), then stops taking connections, lets every request in
 * flight finish and returns. Not a pipeline kind: a pipeline uses a served
 * model through its URL (--reviser http://127.0.0.1:PORT/v1). */
#ifndef ANCHOR_FLOW_SERVE_H
#define ANCHOR_FLOW_SERVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "flow/flow.h"
#include "flow/options.h"

typedef struct anc_serve_opts {
    const char *model;          /* model folder (weights + tokenizer) */
    const char *adapter;        /* PEFT LoRA adapter merged into the model */
    int bf16;                   /* bf16 matrix products */
    const char *chat_template;  /* NAME|FILE overriding the tokenizer's */
    const char *served_name;    /* the model id clients name (default: the folder's name) */
    const char *host;           /* default 127.0.0.1 */
    long port;                  /* default 8080; 0 = a free port */
    const char *api_key_env;    /* environment variable holding the key every request must send */
    long parallel;              /* sequences decoded together (default 8) */
    long context;               /* tokens per sequence (0: the model's max_position_embeddings, at most 4096) */
    long max_body_bytes;        /* default 4 MiB */
    long max_prompt_tokens;     /* 0: context - 1 */
    long max_tokens;            /* largest max_tokens, also the default (default 4096) */
    long max_concurrent;        /* generation requests at once (default 64) */
    long max_connections;       /* open connections (default 256) */
    long seed;                  /* requests without a seed: seed ^ serial (default -1: from the clock) */
} anc_serve_opts;

/* The option table of serve (the command's flags). */
extern const anc_option anc_serve_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_serve_opts_init(anc_serve_opts *o);

/* What a serve run did. port is set once the server listens. */
typedef struct anc_serve_result {
    int port;
    uint64_t served;            /* generation requests answered */
    uint64_t refused;           /* requests answered with an error status */
    uint64_t tokens;            /* tokens generated */
} anc_serve_result;

/* Loads o->model (with o->adapter merged, in bf16 with o->bf16), starts
 * the server and notes "listening on http://HOST:PORT/v1" through hooks;
 * serves until *stop becomes non-zero (polled every 50 ms; the caller may
 * raise it from a signal handler), then stops accepting, waits for every
 * request in flight (unless *stop reaches 2 meanwhile: then it cuts them
 * off), stops and notes the counts. Errors: bad options, a
 * variable named by api_key_env that is unset, loading, a KV cache too
 * large, an address that cannot be bound or that is not loopback without a
 * key. The key is never noted, logged or kept beyond the server. */
anc_status anc_serve_run(const anc_serve_opts *o, const anc_flow_hooks *hooks, const volatile sig_atomic_t *stop,
                         anc_serve_result *res, anc_error *err);

#endif
