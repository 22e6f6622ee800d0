/* The OpenAI wire format of the server: request parsing and validation for
 * POST /v1/chat/completions and /v1/completions, the replies
 * (chat.completion, chat.completion.chunk, text_completion, usage) and the
 * error object as OpenAI sends it: {"error": {"message", "type", "param",
 * "code"}}. Pure functions over JSON; no I/O, no model. */
#ifndef ANCHOR_SERVE_OPENAI_H
#define ANCHOR_SERVE_OPENAI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { ANC_OAI_CHAT = 0, ANC_OAI_COMPLETION = 1 } anc_oai_kind;

/* An error reply: HTTP status and the four fields of OpenAI's error object
 * (param and code may be NULL: sent as null). type/param/code point to
 * static strings or into the request being parsed. */
typedef struct anc_oai_error {
    int status;
    char message[512];
    const char *type;
    char param[64];
    const char *code;
} anc_oai_error;

/* Fills e and returns status (for `return anc_oai_fail(...)`). param and
 * code may be NULL. */
int anc_oai_fail(anc_oai_error *e, int status, const char *type, const char *param, const char *code, const char *fmt,
                 ...) __attribute__((format(printf, 6, 7)));

/* The error object of e as JSON text (malloc'd; NULL when out of memory). */
char *anc_oai_error_json(const anc_oai_error *e);

#define ANC_OAI_MAX_STOP 16
#define ANC_OAI_MAX_CHOICES 128

/* A validated request. Everything is owned by the request (free with
 * anc_oai_request_free). */
typedef struct anc_oai_request {
    anc_oai_kind kind;
    char *model;              /* NULL when the request named none */
    json_t *messages;         /* chat: [{role, content (string)}], content parts joined */
    json_t *prompts;          /* completions: array of strings and/or arrays of token ids */
    int stream;
    int include_usage;        /* stream_options.include_usage */
    long max_tokens;          /* 0: not given */
    double temperature;       /* default 1 (OpenAI's) */
    double top_p;             /* default 1 */
    long top_k;               /* extension (vLLM's): default 0 = off */
    int has_seed;
    int64_t seed;
    int n;                    /* choices per prompt, default 1 */
    char *stop[ANC_OAI_MAX_STOP];
    int n_stop;
} anc_oai_request;

/* Parses body[0..len) as a request of kind. max_tokens_limit bounds
 * max_tokens (a larger value is refused, 400). Returns 0 and fills r, or an
 * HTTP status (400; e filled: invalid JSON, a missing or mistyped field, a
 * value out of range, an unknown field, an option anchor cannot honour such
 * as logprobs or tools) with r zeroed. */
int anc_oai_parse(const char *body, size_t len, anc_oai_kind kind, long max_tokens_limit, anc_oai_request *r,
                  anc_oai_error *e);
void anc_oai_request_free(anc_oai_request *r);

/* One finished choice of a reply. */
typedef struct anc_oai_choice {
    const char *text;
    const char *finish_reason;  /* "stop" | "length" */
} anc_oai_choice;

/* The whole reply of a non-streamed request (new reference): a
 * chat.completion or a text_completion with choices[0..n) (index i) and
 * usage {prompt_tokens, completion_tokens, total_tokens}. */
json_t *anc_oai_reply(anc_oai_kind kind, const char *id, int64_t created, const char *model, const anc_oai_choice *c,
                      int n, int64_t prompt_tokens, int64_t completion_tokens);

/* One streamed chunk (new reference): chat.completion.chunk with
 * choices[{index, delta, logprobs: null, finish_reason}] or text_completion
 * with choices[{text, index, logprobs: null, finish_reason}]. role (chat
 * only) and text may be NULL (left out of the delta), finish NULL (null).
 * with_usage adds "usage": null (include_usage asks for it on every chunk). */
json_t *anc_oai_chunk(anc_oai_kind kind, const char *id, int64_t created, const char *model, int index,
                      const char *role, const char *text, const char *finish, int with_usage);

/* The closing usage chunk of a stream with include_usage: empty choices and
 * the usage object (new reference). */
json_t *anc_oai_usage_chunk(anc_oai_kind kind, const char *id, int64_t created, const char *model,
                            int64_t prompt_tokens, int64_t completion_tokens);

#endif
