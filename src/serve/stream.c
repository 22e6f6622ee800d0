/* Streamed replies (stream: true) as server-sent events: "data: CHUNK\n\n"
 * per chunk, "data: [DONE]\n\n" last. Each choice's text is sent as it is
 * decoded, held back where it may still change: the tail that could be the
 * start of a stop string, an incomplete UTF-8 character (U+FFFD from a
 * partial byte sequence). What is sent is always a prefix of the final text
 * (the one a non-streamed reply holds), so the deltas concatenate to it. */
#include "serve/serve_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

typedef struct sse {
    anc_serve_call *c;
    int n;
    int *n_now, *done_now, *last_n;
    anc_sbuf *sent;            /* per choice: the text sent so far */
    unsigned char *closed;     /* per choice: its finish chunk is queued */
    int n_closed;
    uint64_t version;
    anc_sbuf out;              /* bytes queued for the client */
    size_t pos;
    int ended, failed;
    int64_t completion;
} sse;

static void put_event(sse *x, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s) {
        x->failed = 1;
        return;
    }
    anc_sbuf_puts(&x->out, "data: ");
    anc_sbuf_puts(&x->out, s);
    anc_sbuf_puts(&x->out, "\n\n");
    free(s);
}

static void put_delta(sse *x, int q, const char *text, size_t len, const char *finish) {
    anc_serve_call *c = x->c;
    char *piece = malloc(len + 1);
    if (!piece) {
        x->failed = 1;
        return;
    }
    memcpy(piece, text, len);
    piece[len] = '\0';
    put_event(x, anc_oai_chunk(c->kind, c->id, c->created, c->s->name, q, NULL, piece, finish, c->include_usage));
    free(piece);
    anc_sbuf_append(&x->sent[q], text, len);
}

/* How much of text[0..len) is final whatever tokens follow: up to the first
 * stop string, without a tail that begins a stop string, without a trailing
 * U+FFFD, ending on a character boundary. */
static size_t settled(const anc_serve_call *c, const char *text, size_t len) {
    for (int k = 0; k < c->n_stop; k++) {
        const char *hit = strstr(text, c->stops[k]);
        if (hit && (size_t)(hit - text) < len) len = (size_t)(hit - text);
    }
    size_t keep = len;
    for (int k = 0; k < c->n_stop; k++) {
        size_t sl = strlen(c->stops[k]);
        for (size_t m = sl - 1; m > 0; m--) /* the longest proper prefix of the stop ending the text */
            if (m <= len && memcmp(text + len - m, c->stops[k], m) == 0) {
                if (len - m < keep) keep = len - m;
                break;
            }
    }
    while (keep >= 3 && memcmp(text + keep - 3, "\xEF\xBF\xBD", 3) == 0) keep -= 3;
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--;
    return keep;
}

/* Sends what choice q added (text not yet final is held back). */
static void progress_choice(sse *x, int q) {
    anc_serve_call *c = x->c;
    const anc_sched_seq *sq = &c->job->seqs[q];
    char *text = NULL;
    size_t len = 0;
    anc_error err = {0};
    x->last_n[q] = x->n_now[q];
    if (anc_tokenizer_decode(c->s->tok, sq->ids, (size_t)x->n_now[q], 1, &text, &len, &err)) return;
    size_t keep = settled(c, text, len), have = x->sent[q].len;
    if (keep > have && memcmp(text, anc_sbuf_str(&x->sent[q]), have) == 0)
        put_delta(x, q, text + have, keep - have, NULL);
    free(text);
}

/* Sends the rest of finished choice q and its finish reason. */
static void close_choice(sse *x, int q) {
    anc_serve_call *c = x->c;
    const char *finish = "length";
    char *text = anc_serve_final_text(c, q, &finish);
    if (!text) {
        x->failed = 1;
        return;
    }
    size_t len = strlen(text), have = x->sent[q].len;
    if (len > have && memcmp(text, anc_sbuf_str(&x->sent[q]), have) == 0) put_delta(x, q, text + have, len - have, NULL);
    free(text);
    if (c->kind == ANC_OAI_CHAT)
        put_event(x, anc_oai_chunk(c->kind, c->id, c->created, c->s->name, q, NULL, NULL, finish, c->include_usage));
    else
        put_event(x, anc_oai_chunk(c->kind, c->id, c->created, c->s->name, q, NULL, "", finish, c->include_usage));
    x->closed[q] = 1;
    x->n_closed++;
    x->completion += c->job->seqs[q].n;
}

static void finish_stream(sse *x) {
    anc_serve_call *c = x->c;
    if (c->job->status) {
        anc_oai_error e;
        anc_oai_fail(&e, 500, "server_error", NULL, NULL, "Decoding failed: %s", c->job->error);
        char *s = anc_oai_error_json(&e);
        if (s) anc_sbuf_printf(&x->out, "data: %s\n\n", s);
        free(s);
        x->failed = 1;
    } else {
        if (c->include_usage)
            put_event(x, anc_oai_usage_chunk(c->kind, c->id, c->created, c->s->name, c->prompt_tokens, x->completion));
        anc_sbuf_puts(&x->out, "data: [DONE]\n\n");
    }
    x->ended = 1;
}

static ssize_t sse_read(void *ctx, char *buf, size_t max) {
    sse *x = ctx;
    for (;;) {
        if (x->out.oom) return -2;
        if (x->pos < x->out.len) {
            size_t k = x->out.len - x->pos < max ? x->out.len - x->pos : max;
            memcpy(buf, x->out.data + x->pos, k);
            x->pos += k;
            if (x->pos == x->out.len) x->pos = x->out.len = 0;
            return (ssize_t)k;
        }
        if (x->ended) return -1;
        uint64_t before = x->version;
        int all = anc_sched_wait(x->c->s->sched, x->c->job, &x->version, x->n_now, x->done_now, 15000);
        if (x->version == before && !all) {
            anc_sbuf_puts(&x->out, ": keep-alive\n\n"); /* a client that left is noticed by this write */
            continue;
        }
        /* the job's status is final (and safe to read) once it finished */
        int failed = all && x->c->job->status;
        for (int q = 0; q < x->n && !failed; q++) {
            if (x->closed[q]) continue;
            if (x->done_now[q]) close_choice(x, q);
            else if (x->n_now[q] > x->last_n[q]) progress_choice(x, q);
        }
        if (all) finish_stream(x);
    }
}

static void sse_free(void *ctx) {
    sse *x = ctx;
    anc_serve_call_end(x->c, x->ended && !x->failed);
    for (int q = 0; x->sent && q < x->n; q++) anc_sbuf_free(&x->sent[q]);
    free(x->sent);
    free(x->closed);
    free(x->n_now);
    free(x->done_now);
    free(x->last_n);
    anc_sbuf_free(&x->out);
    free(x);
}

void anc_serve_stream(anc_serve_call *c, anc_http_reply *rep) {
    sse *x = calloc(1, sizeof *x);
    int n = c->job->n_seqs;
    if (x) {
        x->c = c;
        x->n = n;
        x->n_now = calloc((size_t)n, sizeof(int));
        x->done_now = calloc((size_t)n, sizeof(int));
        x->last_n = calloc((size_t)n, sizeof(int));
        x->sent = calloc((size_t)n, sizeof(anc_sbuf));
        x->closed = calloc((size_t)n, 1);
    }
    if (!x || !x->n_now || !x->done_now || !x->last_n || !x->sent || !x->closed) {
        if (x) {
            x->c = NULL;
            free(x->n_now);
            free(x->done_now);
            free(x->last_n);
            free(x->sent);
            free(x->closed);
            free(x);
        }
        anc_server *s = c->s;
        anc_serve_call_end(c, 0); /* frees c */
        anc_oai_error e;
        anc_oai_fail(&e, 500, "server_error", NULL, NULL, "out of memory starting the stream");
        anc_serve_reply_error(s, rep, &e);
        return;
    }
    if (c->kind == ANC_OAI_CHAT) /* OpenAI opens each choice with the role */
        for (int q = 0; q < n; q++)
            put_event(x, anc_oai_chunk(c->kind, c->id, c->created, c->s->name, q, "assistant", "", NULL, c->include_usage));
    rep->status = 200;
    rep->content_type = "text/event-stream";
    rep->stream = sse_read;
    rep->stream_ctx = x;
    rep->stream_free = sse_free;
}
