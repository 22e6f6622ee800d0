#include "model/generate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct slot_state {
    int req;          /* request index, -1 when free */
    int fresh;        /* prompt not yet fed */
    int32_t next;     /* token to feed on the next step */
    anc_rng rng;
    int32_t *ids;
    int n, cap;
} slot_state;

void anc_gen_results_free(anc_gen_result *out, int n) {
    if (!out) return;
    for (int i = 0; i < n; i++) {
        free(out[i].ids);
        out[i].ids = NULL;
    }
}

static int is_stop(const anc_gen_config *c, int32_t id) {
    for (int i = 0; i < c->n_stop_ids; i++)
        if (c->stop_ids[i] == id) return 1;
    return 0;
}

size_t anc_kv_bytes_for(const anc_config *cfg, int64_t slots, int64_t max_len) {
    long double b = 2.0L * 4.0L * (long double)cfg->num_layers * (long double)cfg->num_kv_heads * (long double)cfg->head_dim *
                    (long double)slots * (long double)max_len;
    return b >= (long double)SIZE_MAX ? SIZE_MAX : (size_t)b;
}

/* Tokens request r may add: max_new_tokens, less where the context ends. */
static int token_budget(const anc_model *m, const anc_gen_request *r, const anc_gen_config *cfg) {
    int64_t room = (int64_t)m->cfg.max_position_embeddings - r->n_prompt;
    if (room < 0) room = 0;
    return room < cfg->max_new_tokens ? (int)room : cfg->max_new_tokens;
}

/* Physical memory of this machine in bytes (0 when unknown). */
static double physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
}

anc_status anc_generate(const anc_model *m, const anc_gen_request *reqs, int n, const anc_gen_config *cfg,
                        anc_gen_result *out, anc_progress_fn progress, void *ctx, anc_error *err) {
    memset(out, 0, sizeof(*out) * (size_t)(n > 0 ? n : 0));
    if (n <= 0) return ANC_OK;
    if (cfg->max_new_tokens < 1) return anc_error_set(err, ANC_ERR_INVALID, "generate: max_new_tokens must be >= 1");
    int max_len = 1;
    for (int i = 0; i < n; i++) {
        if (reqs[i].n_prompt < 1) return anc_error_set(err, ANC_ERR_INVALID, "generate: request %d has an empty prompt", i);
        int budget = token_budget(m, &reqs[i], cfg);
        if (budget > 0 && reqs[i].n_prompt + budget > max_len) max_len = reqs[i].n_prompt + budget;
    }
    int P = cfg->parallel < 1 ? 1 : cfg->parallel;
    if (P > n) P = n;
    size_t kv_bytes = anc_kv_bytes_for(&m->cfg, P, max_len);
    double mem = physical_memory();
    if (mem > 0 && (double)kv_bytes > 0.8 * mem)
        return anc_error_set(err, ANC_ERR_NOMEM,
                             "generate: %d sequences decoded together of up to %d tokens need a %.1f GB KV cache, more than "
                             "this machine's %.1f GB allows; lower the parallel sequences (--parallel) or max-new-tokens",
                             P, max_len, (double)kv_bytes / 1e9, mem / 1e9);
    anc_kv_cache *kv = NULL;
    anc_status st = anc_kv_create(&kv, m, P, max_len, err);
    if (st) return st;
    const int V = m->cfg.vocab_size;
    slot_state *ss = calloc((size_t)P, sizeof *ss);
    float *logits = malloc(sizeof(float) * (size_t)P * V);
    int *slots = malloc(sizeof(int) * (size_t)P), *counts = malloc(sizeof(int) * (size_t)P), *who = malloc(sizeof(int) * (size_t)P);
    const int32_t **toks = malloc(sizeof(int32_t *) * (size_t)P);
    if (!ss || !logits || !slots || !counts || !who || !toks) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto done;
    }
    int next_req = 0, finished = 0;
    int64_t generated = 0;
    for (int s = 0; s < P; s++) ss[s].req = -1;
    while (finished < n) {
        /* give free slots the next requests */
        for (int s = 0; s < P; s++) {
            if (ss[s].req >= 0) continue;
            /* a prompt that fills the context ends at once, without a slot */
            while (next_req < n && token_budget(m, &reqs[next_req], cfg) < 1) {
                out[next_req].finish = ANC_FINISH_LENGTH;
                out[next_req].capped = 1;
                if (cfg->done) cfg->done(cfg->done_ctx, next_req, &out[next_req]);
                next_req++;
                finished++;
                if (progress) progress(ctx, (size_t)finished, (size_t)n, generated);
            }
            if (next_req >= n) continue;
            ss[s].req = next_req++;
            ss[s].fresh = 1;
            ss[s].n = 0;
            ss[s].cap = token_budget(m, &reqs[ss[s].req], cfg);
            free(ss[s].ids);
            ss[s].ids = malloc(sizeof(int32_t) * (size_t)ss[s].cap);
            if (!ss[s].ids) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
                goto done;
            }
            anc_rng_seed(&ss[s].rng, cfg->seed ^ (0xD1B54A32D192ED03ull * (reqs[ss[s].req].stream + 1)));
            anc_kv_reset(kv, s);
        }
        int k = 0;
        if (finished >= n) break;
        for (int s = 0; s < P; s++) {
            if (ss[s].req < 0) continue;
            slots[k] = s;
            who[k] = s;
            if (ss[s].fresh) {
                toks[k] = reqs[ss[s].req].prompt;
                counts[k] = reqs[ss[s].req].n_prompt;
                ss[s].fresh = 0;
            } else {
                toks[k] = &ss[s].next;
                counts[k] = 1;
            }
            k++;
        }
        if ((st = anc_decode_step(m, kv, slots, toks, counts, k, logits, err))) goto done;
        for (int i = 0; i < k; i++) {
            slot_state *sl = &ss[who[i]];
            int32_t id = anc_sample(logits + (size_t)i * V, V, &cfg->sampling, &sl->rng);
            int stop = is_stop(cfg, id);
            if (!stop) {
                sl->ids[sl->n++] = id;
                sl->next = id;
                generated++;
                if (cfg->stop && cfg->stop(cfg->stop_ctx, sl->req, sl->ids, sl->n)) stop = 1;
            }
            if (stop || sl->n >= sl->cap) {
                anc_gen_result *r = &out[sl->req];
                r->ids = sl->ids;
                r->n = sl->n;
                r->finish = stop ? ANC_FINISH_STOP : ANC_FINISH_LENGTH;
                r->capped = !stop && sl->cap < cfg->max_new_tokens;
                if (cfg->done) cfg->done(cfg->done_ctx, sl->req, r);
                sl->ids = NULL;
                sl->req = -1;
                finished++;
            }
        }
        if (progress) progress(ctx, (size_t)finished, (size_t)n, generated);
    }
done:
    if (ss)
        for (int s = 0; s < P; s++) free(ss[s].ids);
    if (st) anc_gen_results_free(out, n);
    free(ss);
    free(logits);
    free(slots);
    free(counts);
    free(who);
    free(toks);
    anc_kv_free(kv);
    return st;
}
