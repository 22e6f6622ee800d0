/* Workflows as library calls: each step of the method (generate, revise,
 * judge, stronger, eval, ab) is an options struct filled through the step's
 * option table (flow/options.h) and one anc_<step>_run() call. The CLI
 * (src/cli/cmd_<step>.c) and the pipeline (`anchor run`) both call it. A
 * flow never prints: it reports progress and notes through the hooks below,
 * and what it made through its result struct. */
#ifndef ANCHOR_FLOW_FLOW_H
#define ANCHOR_FLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

/* Where a flow is: units done (finished + failed) of total. */
typedef struct anc_flow_progress {
    const char *unit;   /* "items", "prompts", "completions" */
    size_t done;        /* units finished, failures included */
    size_t failed;      /* of which failed */
    size_t total;
    int64_t tokens;     /* tokens processed so far (0 when not counted) */
} anc_flow_progress;

/* Callbacks of a running flow, all optional (a NULL hooks pointer or NULL
 * member is fine) and all called on the caller's thread. */
typedef struct anc_flow_hooks {
    /* A line for the user, without a prefix or newline: what is about to
     * happen ("12 items to revise (3 already finished) with exec:./r") or a
     * note ("note: OPENAI_API_KEY is not set; ..."). */
    void (*note)(void *ctx, const char *text);
    /* Called as units finish (and once with done == 0 when work starts). */
    void (*progress)(void *ctx, const anc_flow_progress *p);
    void *ctx;
} anc_flow_hooks;

/* Calls h->note with a printf-formatted line (h or h->note may be NULL). */
void anc_flow_note(const anc_flow_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Calls h->progress (h or h->progress may be NULL). */
void anc_flow_progress_report(const anc_flow_hooks *h, const anc_flow_progress *p);

#endif
