#include "train/train_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/hash.h"
#include "io/safetensors.h"
#include "train/score.h"

void anc_train_data_free(anc_train_data *d) {
    if (!d) return;
    anc_pairset_free(&d->ps);
    free(d->label);
    memset(d, 0, sizeof *d);
}

/* TRL's KL dataset: within each chunk of `chunk` rows, row i is paired
 * with the completion of row i-1 (the first with the chunk's last); the KL
 * completion rides in the pair's rejected slot. */
static anc_status build_kl_rows(anc_train_data *d, int64_t chunk, anc_error *err) {
    size_t n = d->ps.n;
    if (chunk < 1) chunk = 1;
    for (size_t start = 0; start < n; start += (size_t)chunk) {
        size_t end = start + (size_t)chunk < n ? start + (size_t)chunk : n;
        for (size_t i = start; i < end; i++) {
            size_t src = i == start ? end - 1 : i - 1;
            anc_pair *p = &d->ps.pairs[i];
            const anc_pair *q = &d->ps.pairs[src];
            p->n_rejected = q->n_chosen;
            p->rejected = malloc(sizeof(int32_t) * (q->n_chosen ? q->n_chosen : 1));
            if (!p->rejected) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            memcpy(p->rejected, q->chosen, sizeof(int32_t) * q->n_chosen);
        }
    }
    return ANC_OK;
}

anc_status anc_train_data_load(anc_train_data *d, const char *path, int64_t chunk, int vocab, anc_tokenizer *tok,
                               const anc_template *tmpl, const anc_dataset_opts *o, anc_dataset_stats *stats,
                               anc_error *err) {
    memset(d, 0, sizeof *d);
    anc_rows rows;
    anc_status st = anc_rows_load_limited(&rows, path, anc_dataset_line_limit(o), err);
    if (st) return st;
    if (rows.n == 0 && !rows.n_too_long) {
        anc_rows_free(&rows);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: no rows", path);
    }
    anc_dataset_stats local;
    st = anc_dataset_build(tok, tmpl, &rows, path, o, vocab, &d->ps, o->unpaired ? &d->label : NULL, stats ? stats : &local, err);
    anc_rows_free(&rows);
    d->unpaired = o->unpaired;
    if (!st && d->ps.n == 0) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: every row was dropped (longer than --max-length)", path);
    if (!st && o->unpaired) st = build_kl_rows(d, chunk, err);
    if (st) anc_train_data_free(d);
    return st;
}

uint64_t anc_train_data_hash(const anc_train_data *d) {
    uint64_t h = anc_hash_u64(ANC_HASH_INIT, d->ps.n);
    h = anc_hash_u64(h, (uint64_t)d->unpaired);
    for (size_t i = 0; i < d->ps.n; i++) {
        const anc_pair *p = &d->ps.pairs[i];
        h = anc_hash_u64(h, p->n_prompt);
        h = anc_hash_bytes(h, p->prompt, sizeof(int32_t) * p->n_prompt);
        h = anc_hash_u64(h, p->n_chosen);
        h = anc_hash_bytes(h, p->chosen, sizeof(int32_t) * p->n_chosen);
        h = anc_hash_u64(h, p->n_rejected);
        h = anc_hash_bytes(h, p->rejected, sizeof(int32_t) * p->n_rejected);
    }
    return h;
}

/* Reads the cache at path into chosen/rejected; 1 when it held n values. */
static int read_ref_cache(const char *path, uint64_t n, float *chosen, float *rejected) {
    if (!anc_path_exists(path)) return 0;
    anc_safetensors *sf = NULL;
    anc_error e = {0};
    int ok = 0;
    if (anc_st_open(&sf, path, &e) == ANC_OK) {
        const anc_st_tensor *c = anc_st_find(sf, "chosen"), *r = anc_st_find(sf, "rejected");
        ok = c && r && c->n_elems == n && r->n_elems == n && anc_st_read_f32(c, chosen, n, &e) == ANC_OK &&
             anc_st_read_f32(r, rejected, n, &e) == ANC_OK;
        anc_st_close(sf);
    }
    return ok; /* an unreadable cache is recomputed and replaced */
}

/* This rank's share of the pairs scored, then every rank's exchanged. */
static anc_status score_shared(const anc_model *ref, const anc_pairset *ps, int64_t max_tokens, anc_comm *comm,
                               float *chosen, float *rejected, anc_progress_fn progress, void *ctx, anc_error *err) {
    size_t lo, hi, n = ps->n;
    anc_comm_share(comm, anc_comm_rank(comm), n, &lo, &hi);
    anc_pairset mine = {ps->pairs + lo, hi - lo};
    anc_acts *a = anc_acts_create_forward_only();
    anc_status st = a ? anc_score_pairs(ref, a, &mine, max_tokens, chosen + lo, rejected + lo, progress, ctx, err)
                      : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_acts_free(a);
    float *cols[2] = {chosen, rejected};
    return st ? st : anc_comm_allgather_columns(comm, cols, 2, n, err);
}

anc_status anc_ref_logps_cached(const anc_model *ref, const anc_train_data *d, const char *dir, const char *tag,
                                int64_t max_tokens, anc_comm *comm, float *chosen, float *rejected, int *was_cached,
                                anc_progress_fn progress, void *ctx, anc_error *err) {
    *was_cached = 0;
    uint64_t h = ANC_HASH_INIT;
    if (ref->frozen16) {
        /* a frozen bf16 base: its matrices in bf16, its 1-D tensors in fp32 */
        for (size_t i = 0; i < ref->n_specs; i++) {
            const anc_param_spec *sp = &ref->specs[i];
            h = sp->ndim == 1 ? anc_hash_bytes(h, ref->params + sp->offset, sizeof(float) * sp->n_elems)
                              : anc_hash_bytes(h, ref->params16 + sp->offset, sizeof(uint16_t) * sp->n_elems);
        }
    } else {
        h = anc_hash_bytes(h, ref->params, sizeof(float) * ref->n_params);
    }
    h = anc_hash_bytes(h, &ref->cfg, sizeof ref->cfg);
    h = anc_hash_u64(h, anc_train_data_hash(d));
    if (ref->params16) h = anc_hash_u64(h, 16); /* bf16 log-probs differ from fp32 ones */
    char name[96];
    snprintf(name, sizeof name, "ref_logps-%s-%016llx.safetensors", tag, (unsigned long long)h);
    char *path = anc_path_join(dir, name);
    if (!path) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    const uint64_t n = d->ps.n;
    /* rank 0 owns the folder: it reads the cache and tells the others */
    int32_t cached = anc_comm_rank(comm) == 0 ? read_ref_cache(path, n, chosen, rejected) : 0;
    anc_status st = anc_comm_bcast(comm, &cached, sizeof cached, err);
    if (!st && cached) {
        *was_cached = 1;
        if (!(st = anc_comm_bcast(comm, chosen, sizeof(float) * n, err))) st = anc_comm_bcast(comm, rejected, sizeof(float) * n, err);
        free(path);
        return st;
    }
    if (!st) st = score_shared(ref, &d->ps, max_tokens, comm, chosen, rejected, progress, ctx, err);
    if (!st && anc_comm_rank(comm) == 0) {
        int64_t shape[1] = {(int64_t)n};
        anc_st_write_item items[2] = {{"chosen", ANC_DT_F32, 1, shape, chosen}, {"rejected", ANC_DT_F32, 1, shape, rejected}};
        const char *meta[] = {"format", "anchor-ref-logps", NULL};
        st = anc_st_write(path, items, 2, meta, err);
    }
    free(path);
    return st;
}
