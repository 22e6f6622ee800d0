/* Continuous batching for the server (sched.h): the decoding thread's loop
 * admits queued sequences into free slots, feeds every active slot its
 * prompt (prefill) or its last token in one anc_decode_step, samples, and
 * ends sequences at a stop id, the stop callback or their budget. */
#include "serve/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/deadline.h"
#include "model/generate.h"

typedef struct slot {
    anc_sched_job *job;   /* NULL: free */
    int seq;
    int fresh;            /* prompt not fed yet */
    int32_t next;
    anc_rng rng;
} slot;

struct anc_sched {
    anc_sched_config cfg;
    int32_t stop_ids[64];
    anc_kv_cache *kv;
    slot *slots;
    float *logits;
    int *step_slots, *counts, *who;
    const int32_t **toks;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* new job, cancellation or quit */
    anc_sched_job *head, *tail; /* jobs with sequences not yet admitted */
    int quit;
    int active;
    size_t queued;
    uint64_t tokens, steps;
};

static void job_free(anc_sched_job *j) {
    for (int i = 0; i < j->n_seqs; i++) {
        free(j->seqs[i].prompt);
        free(j->seqs[i].ids);
    }
    free(j->seqs);
    if (j->user_free) j->user_free(j->user);
    pthread_cond_destroy(&j->cond);
    free(j);
}

/* Drops one hold (lock held); frees at zero. */
static void job_unref(anc_sched_job *j) {
    if (--j->refs == 0) job_free(j);
}

anc_sched_job *anc_sched_job_new(int n_seqs) {
    if (n_seqs < 1) return NULL;
    anc_sched_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->seqs = calloc((size_t)n_seqs, sizeof *j->seqs);
    if (!j->seqs) {
        free(j);
        return NULL;
    }
    j->n_seqs = n_seqs;
    j->refs = 1;
    pthread_cond_init(&j->cond, NULL);
    return j;
}

static int is_stop_id(const anc_sched *s, int32_t id) {
    for (int i = 0; i < s->cfg.n_stop_ids; i++)
        if (s->stop_ids[i] == id) return 1;
    return 0;
}

/* Marks sequence q of j finished (lock held). */
static void seq_finish(anc_sched *s, anc_sched_job *j, int q) {
    j->seqs[q].done = 1;
    j->finished++;
    j->version++;
    pthread_cond_broadcast(&j->cond);
    if (j->finished == j->n_seqs) job_unref(j); /* the scheduler's hold; may free j */
}

/* Finishes the sequences of j never admitted (lock held). The last
 * seq_finish may free j: nothing reads j after it. */
static void finish_unadmitted(anc_sched *s, anc_sched_job *j) {
    int first = j->admitted, last = j->n_seqs;
    j->admitted = last;
    for (int q = first; q < last; q++) seq_finish(s, j, q);
}

/* Removes the first queued job (lock held). */
static void queue_pop(anc_sched *s) {
    anc_sched_job *j = s->head;
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    j->next = NULL;
}

/* Frees the slots of cancelled jobs, skips their queued sequences and fills
 * free slots from the queue (lock held). */
static void admit(anc_sched *s) {
    for (int k = 0; k < s->cfg.parallel; k++) {
        slot *sl = &s->slots[k];
        if (sl->job && sl->job->cancelled) {
            anc_sched_job *j = sl->job;
            sl->job = NULL;
            s->active--;
            seq_finish(s, j, sl->seq);
        }
    }
    while (s->head && s->head->cancelled) {
        anc_sched_job *j = s->head;
        queue_pop(s);
        s->queued -= (size_t)(j->n_seqs - j->admitted);
        finish_unadmitted(s, j);
    }
    for (int k = 0; k < s->cfg.parallel && s->head; k++) {
        slot *sl = &s->slots[k];
        if (sl->job) continue;
        anc_sched_job *j = s->head;
        int q = j->admitted++;
        if (j->admitted == j->n_seqs) queue_pop(s);
        s->queued--;
        s->active++;
        sl->job = j;
        sl->seq = q;
        sl->fresh = 1;
        anc_rng_seed(&sl->rng, j->seed ^ (0xD1B54A32D192ED03ull * (j->seqs[q].stream + 1)));
        anc_kv_reset(s->kv, k);
    }
}

/* Every active sequence of the step failed: their jobs end with the error. */
static void fail_step(anc_sched *s, int k, const anc_error *err) {
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < k; i++) {
        slot *sl = &s->slots[s->who[i]];
        anc_sched_job *j = sl->job;
        if (!j) continue;
        if (!j->status) {
            j->status = err->code ? err->code : ANC_ERR_INTERNAL;
            snprintf(j->error, sizeof j->error, "%.255s", err->message);
        }
        sl->job = NULL;
        s->active--;
        seq_finish(s, j, sl->seq);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Samples each stepped slot's next token and ends the sequences that stop.
 * Tokens are written outside the lock (only this thread writes them) and
 * published by raising n under it. */
static void after_step(anc_sched *s, int k) {
    const int V = s->cfg.model->cfg.vocab_size;
    for (int i = 0; i < k; i++) {
        slot *sl = &s->slots[s->who[i]];
        anc_sched_job *j = sl->job;
        anc_sched_seq *q = &j->seqs[sl->seq];
        int32_t id = anc_sample(s->logits + (size_t)i * V, V, &j->sampling, &sl->rng);
        s->counts[i] = 0; /* reused: tokens appended by this step */
        if (is_stop_id(s, id)) {
            q->stopped = 1;
            continue;
        }
        q->ids[q->n] = id;
        s->counts[i] = 1;
        sl->next = id;
        if (s->cfg.stop && s->cfg.stop(s->cfg.stop_ctx, j->user, q->ids, q->n + 1)) q->stopped = 1;
    }
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < k; i++) {
        slot *sl = &s->slots[s->who[i]];
        anc_sched_job *j = sl->job;
        anc_sched_seq *q = &j->seqs[sl->seq];
        q->n += s->counts[i];
        s->tokens += (uint64_t)s->counts[i];
        if (q->stopped || q->n >= q->budget) {
            sl->job = NULL;
            s->active--;
            seq_finish(s, j, sl->seq);
        } else if (j->wake_on_token) {
            j->version++;
            pthread_cond_broadcast(&j->cond);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void *decode_loop(void *arg) {
    anc_sched *s = arg;
    anc_error err = {0};
    for (;;) {
        pthread_mutex_lock(&s->mu);
        for (;;) {
            admit(s);
            if (s->quit || s->active > 0) break;
            pthread_cond_wait(&s->work, &s->mu);
        }
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int k = 0;
        for (int c = 0; c < s->cfg.parallel; c++) {
            slot *sl = &s->slots[c];
            if (!sl->job) continue;
            anc_sched_seq *q = &sl->job->seqs[sl->seq];
            s->step_slots[k] = c;
            s->who[k] = c;
            if (sl->fresh) {
                s->toks[k] = q->prompt;
                s->counts[k] = q->n_prompt;
                sl->fresh = 0;
            } else {
                s->toks[k] = &sl->next;
                s->counts[k] = 1;
            }
            k++;
        }
        s->steps++;
        pthread_mutex_unlock(&s->mu);
        /* the slots stepped stay assigned: only this thread frees slots */
        if (anc_decode_step(s->cfg.model, s->kv, s->step_slots, s->toks, s->counts, k, s->logits, &err)) {
            fail_step(s, k, &err);
            continue;
        }
        after_step(s, k);
    }
    return NULL;
}

/* Physical memory of this machine in bytes (0 when unknown). */
static double physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
}

static void sched_free(anc_sched *s) {
    anc_kv_free(s->kv);
    free(s->slots);
    free(s->logits);
    free(s->step_slots);
    free(s->counts);
    free(s->who);
    free(s->toks);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    free(s);
}

anc_status anc_sched_start(anc_sched **out, const anc_sched_config *cfg, anc_error *err) {
    *out = NULL;
    if (!cfg->model || cfg->parallel < 1 || cfg->context < 2)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: expected a model, parallel >= 1 and context >= 2");
    if (cfg->n_stop_ids < 0 || cfg->n_stop_ids > 64)
        return anc_error_set(err, ANC_ERR_INVALID, "serve: at most 64 stop ids, got %d", cfg->n_stop_ids);
    size_t kv_bytes = anc_kv_bytes_for(&cfg->model->cfg, cfg->parallel, cfg->context);
    double mem = physical_memory();
    if (mem > 0 && (double)kv_bytes > 0.8 * mem)
        return anc_error_set(err, ANC_ERR_NOMEM,
                             "serve: %d sequences of up to %d tokens need a %.1f GB KV cache, more than this machine's "
                             "%.1f GB allows; lower --parallel or --context",
                             cfg->parallel, cfg->context, (double)kv_bytes / 1e9, mem / 1e9);
    anc_sched *s = calloc(1, sizeof *s);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    if (cfg->n_stop_ids) memcpy(s->stop_ids, cfg->stop_ids, sizeof(int32_t) * (size_t)cfg->n_stop_ids);
    s->cfg.stop_ids = s->stop_ids;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    const size_t P = (size_t)cfg->parallel, V = (size_t)cfg->model->cfg.vocab_size;
    anc_status st = anc_kv_create(&s->kv, cfg->model, cfg->parallel, cfg->context, err);
    if (!st) {
        s->slots = calloc(P, sizeof *s->slots);
        s->logits = malloc(sizeof(float) * P * V);
        s->step_slots = malloc(sizeof(int) * P);
        s->counts = malloc(sizeof(int) * P);
        s->who = malloc(sizeof(int) * P);
        s->toks = malloc(sizeof(int32_t *) * P);
        if (!s->slots || !s->logits || !s->step_slots || !s->counts || !s->who || !s->toks)
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!st && pthread_create(&s->thread, NULL, decode_loop, s) != 0)
        st = anc_error_set(err, ANC_ERR_INTERNAL, "serve: cannot start the decoding thread");
    if (st) {
        sched_free(s);
        return st;
    }
    s->thread_started = 1;
    *out = s;
    return ANC_OK;
}

anc_status anc_sched_submit(anc_sched *s, anc_sched_job *j, anc_error *err) {
    for (int i = 0; i < j->n_seqs; i++) {
        anc_sched_seq *q = &j->seqs[i];
        if (!q->prompt || q->n_prompt < 1 || q->budget < 1 || (int64_t)q->n_prompt + q->budget > s->cfg.context)
            return anc_error_set(err, ANC_ERR_INVALID,
                                 "serve: sequence %d: %d prompt tokens + %d more do not fit the context of %d", i,
                                 q->n_prompt, q->budget, s->cfg.context);
        free(q->ids);
        q->ids = malloc(sizeof(int32_t) * (size_t)q->budget);
        if (!q->ids) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->mu);
    if (s->quit) {
        pthread_mutex_unlock(&s->mu);
        return anc_error_set(err, ANC_ERR_INVALID, "serve: the server is stopping");
    }
    j->refs++; /* the scheduler's hold, until every sequence finished */
    j->next = NULL;
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->queued += (size_t)j->n_seqs;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return ANC_OK;
}

int anc_sched_wait(anc_sched *s, anc_sched_job *j, uint64_t *version, int *n, int *done, int timeout_ms) {
    struct timespec until;
    anc_deadline_after_ms(&until, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (j->version == *version && j->finished < j->n_seqs && timeout_ms != 0) {
        if (timeout_ms < 0) pthread_cond_wait(&j->cond, &s->mu);
        else if (pthread_cond_timedwait(&j->cond, &s->mu, &until) == ETIMEDOUT) break;
    }
    *version = j->version;
    for (int i = 0; i < j->n_seqs; i++) {
        if (n) n[i] = j->seqs[i].n;
        if (done) done[i] = j->seqs[i].done;
    }
    int all = j->finished == j->n_seqs;
    pthread_mutex_unlock(&s->mu);
    return all;
}

void anc_sched_release(anc_sched *s, anc_sched_job *j) {
    if (!j) return;
    if (!s) {
        job_free(j); /* never submitted */
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (j->finished < j->n_seqs && j->refs > 1) {
        j->cancelled = 1;
        pthread_cond_signal(&s->work);
    }
    job_unref(j);
    pthread_mutex_unlock(&s->mu);
}

void anc_sched_get_stats(anc_sched *s, anc_sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    st->active = s->active;
    st->queued = s->queued;
    st->tokens = s->tokens;
    st->steps = s->steps;
    pthread_mutex_unlock(&s->mu);
}

void anc_sched_stop(anc_sched *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) pthread_join(s->thread, NULL);
    /* what only the scheduler still holds */
    for (int k = 0; k < s->cfg.parallel; k++)
        if (s->slots[k].job) {
            anc_sched_job *j = s->slots[k].job;
            s->slots[k].job = NULL;
            seq_finish(s, j, s->slots[k].seq);
        }
    while (s->head) {
        anc_sched_job *j = s->head;
        queue_pop(s);
        finish_unadmitted(s, j);
    }
    sched_free(s);
}
