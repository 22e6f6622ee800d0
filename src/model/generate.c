#include "model/generate.h"

#include <stdlib.h>
#include <string.h>

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

anc_status anc_generate(const anc_model *m, const anc_gen_request *reqs, int n, const anc_gen_config *cfg,
                        anc_gen_result *out, anc_progress_fn progress, void *ctx, anc_error *err) {
    memset(out, 0, sizeof(*out) * (size_t)(n > 0 ? n : 0));
    if (n <= 0) return ANC_OK;
    if (cfg->max_new_tokens < 1) return anc_error_set(err, ANC_ERR_INVALID, "generate: max_new_tokens must be >= 1");
    int max_len = 0;
    for (int i = 0; i < n; i++) {
        if (reqs[i].n_prompt < 1) return anc_error_set(err, ANC_ERR_INVALID, "generate: request %d has an empty prompt", i);
        if (reqs[i].n_prompt + cfg->max_new_tokens > max_len) max_len = reqs[i].n_prompt + cfg->max_new_tokens;
    }
    int P = cfg->parallel < 1 ? 1 : cfg->parallel;
    if (P > n) P = n;
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
            if (ss[s].req >= 0 || next_req >= n) continue;
            ss[s].req = next_req++;
            ss[s].fresh = 1;
            ss[s].n = 0;
            ss[s].cap = cfg->max_new_tokens;
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
            if (stop || sl->n >= cfg->max_new_tokens) {
                anc_gen_result *r = &out[sl->req];
                r->ids = sl->ids;
                r->n = sl->n;
                r->finish = stop ? ANC_FINISH_STOP : ANC_FINISH_LENGTH;
                sl->ids = NULL;
                sl->req = -1;
                finished++;
                if (progress) progress(ctx, (size_t)finished, (size_t)n, generated);
            }
        }
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
