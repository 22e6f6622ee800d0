/* One micro-step of the trainer (see trainer.c), metrics logging and
 * evaluation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "train/trainer_internal.h"



anc_status anc_tr_alloc_micro(trainer *t, size_t B, anc_error *err) {
    t->sub.pairs = calloc(B, sizeof(anc_pair));
    float **fs[] = {&t->c, &t->r, &t->rc, &t->rr, &t->dc, &t->dr, &t->dck, &t->drk, &t->lgc, &t->lgr};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) *fs[i] = calloc(B, sizeof(float));
    t->clen = calloc(B, sizeof(int32_t));
    t->rlen = calloc(B, sizeof(int32_t));
    t->plen = calloc(B, sizeof(int32_t));
    t->plogp = calloc(B, sizeof(float));
    if (!t->plen || !t->plogp) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    t->label = calloc(B, 1);
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        if (!*fs[i]) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!t->sub.pairs || !t->clen || !t->rlen || !t->label) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return ANC_OK;
}

void anc_tr_free_trainer(trainer *t) {
    anc_model_free(t->policy);
    anc_model_free(t->ref);
    anc_lora_free(t->lora);
    anc_acts_free(t->acts);
    anc_acts_free(t->ref_acts);
    anc_train_data_free(&t->data);
    anc_train_data_free(&t->eval);
    float *fs[] = {t->ref_c, t->ref_r, t->eval_ref_c, t->eval_ref_r, t->grads, t->c, t->r, t->rc, t->rr, t->dc,
                   t->dr, t->dck, t->drk, t->lgc, t->lgr, t->dtok, t->seqbuf, t->lgbuf};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) free(fs[i]);
    free(t->clen);
    free(t->rlen);
    free(t->plen);
    free(t->plogp);
    free(t->toklogp);
    free(t->label);
    free(t->sub.pairs);
    anc_optim_free(&t->opt);
    anc_packed_free(&t->pk);
}

/* Forward over the current packed chunk; fills per-pair log-probs (and ref
 * log-probs when the reference is in memory) at offset `at`. */
anc_status anc_tr_chunk_forward(trainer *t, size_t at, int with_ref, anc_error *err) {
    anc_packed *pk = &t->pk;
    if ((size_t)pk->n_seqs > t->seqbuf_cap) {
        free(t->seqbuf);
        free(t->lgbuf);
        t->seqbuf_cap = (size_t)pk->n_seqs;
        t->seqbuf = malloc(sizeof(float) * t->seqbuf_cap);
        t->lgbuf = malloc(sizeof(float) * t->seqbuf_cap);
        if (!t->seqbuf || !t->lgbuf) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (t->orpo && pk->n_tokens > t->toklogp_cap) {
        free(t->toklogp);
        t->toklogp_cap = pk->n_tokens;
        t->toklogp = malloc(sizeof(float) * (size_t)t->toklogp_cap);
        if (!t->toklogp) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    /* the forward re-run for backward draws the same dropout masks */
    if (t->lora) t->lora->dropout_pass = (t->micro_id << 20) ^ (uint64_t)at;
    anc_status st = anc_model_forward(t->policy, t->acts, &pk->batch, t->orpo ? t->toklogp : NULL, t->seqbuf, t->lgbuf, err);
    if (st) return st;
    if (t->orpo) {
        /* The chosen sequence scored its prompt too: split the sums. */
        for (size_t k = 0; k < pk->n_pairs; k++) {
            int sc = pk->seq_chosen[k];
            int64_t o = pk->seq_offsets[sc], end = pk->seq_offsets[sc + 1];
            int64_t P = (int64_t)t->plen[at + k] + 1;
            double sp = 0, sr = 0;
            for (int64_t i = o + 1; i < end; i++) {
                if (i < o + P) sp += t->toklogp[i];
                else sr += t->toklogp[i];
            }
            t->plogp[at + k] = (float)sp;
            t->seqbuf[sc] = (float)sr;
        }
    }
    for (size_t k = 0; k < pk->n_pairs; k++) {
        t->c[at + k] = t->seqbuf[pk->seq_chosen[k]];
        t->r[at + k] = t->seqbuf[pk->seq_rejected[k]];
        t->lgc[at + k] = t->lgbuf[pk->seq_chosen[k]];
        t->lgr[at + k] = t->lgbuf[pk->seq_rejected[k]];
    }
    if (with_ref && (t->ref || t->ref_is_base)) {
        /* a LoRA policy's reference is its base: the same model, adapters off */
        anc_model *ref = t->ref ? t->ref : t->policy;
        anc_lora *adapters = ref->lora;
        if (t->ref_is_base) ref->lora = NULL;
        st = anc_model_forward(ref, t->ref_acts, &pk->batch, NULL, t->seqbuf, NULL, err);
        ref->lora = adapters;
        if (st) return st;
        for (size_t k = 0; k < pk->n_pairs; k++) {
            t->rc[at + k] = t->seqbuf[pk->seq_chosen[k]];
            t->rr[at + k] = t->seqbuf[pk->seq_rejected[k]];
        }
    }
    return ANC_OK;
}

/* Backward of the current chunk given per-pair d at offset `at`. */
anc_status anc_tr_chunk_backward(trainer *t, size_t at, anc_error *err) {
    anc_packed *pk = &t->pk;
    if (pk->n_tokens > t->dtok_cap) {
        free(t->dtok);
        t->dtok_cap = pk->n_tokens;
        t->dtok = malloc(sizeof(float) * (size_t)t->dtok_cap);
        if (!t->dtok) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < pk->n_pairs; k++) {
        int sc = pk->seq_chosen[k], sr = pk->seq_rejected[k];
        /* a sequence shared by both sides receives both gradients */
        float dc = t->dc[at + k] + (sr == sc ? t->dr[at + k] : 0.0f);
        int64_t o = pk->seq_offsets[sc], prompt_end = o;
        if (t->orpo) prompt_end = o + t->plen[at + k] + 1;
        for (int64_t i = o; i < pk->seq_offsets[sc + 1]; i++)
            t->dtok[i] = !pk->score_mask[i] ? 0.0f : i < prompt_end ? t->d_prompt : dc;
        if (sr != sc)
            for (int64_t i = pk->seq_offsets[sr]; i < pk->seq_offsets[sr + 1]; i++)
                t->dtok[i] = pk->score_mask[i] ? t->dr[at + k] : 0.0f;
    }
    return anc_model_backward(t->policy, t->acts, &pk->batch, t->dtok, t->grads, err);
}

/* Loss over the n pairs now in t->c/t->r/...; fills t->dc/t->dr scaled by
 * `scale` and adds the micro-step's metrics to win. */
anc_status anc_tr_micro_loss(trainer *t, size_t n, double scale, double *win, anc_error *err) {
    anc_loss_batch b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.chosen_logp = t->c;
    b.rejected_logp = t->r;
    b.ref_chosen_logp = t->needs_ref ? t->rc : NULL;
    b.ref_rejected_logp = t->needs_ref ? t->rr : NULL;
    b.chosen_len = t->clen;
    b.rejected_len = t->rlen;
    b.label = t->data.unpaired ? t->label : NULL;
    if (t->orpo) {
        b.prompt_logp = t->plogp;
        b.prompt_len = t->plen;
    }
    t->d_prompt = 0;
    if (t->data.unpaired) {
        /* TRL's KL rows ride in the rejected slot. */
        b.kl_logp = t->r;
        b.ref_kl_logp = t->needs_ref ? t->rr : NULL;
    }
    memset(t->dc, 0, sizeof(float) * n);
    memset(t->dr, 0, sizeof(float) * n);
    double total = 0;
    anc_loss_out first = {0};
    for (int k = 0; k < t->cfg->n_losses; k++) {
        anc_loss_out o;
        anc_status st = anc_loss_compute(t->cfg->losses[k], &t->cfg->loss, &t->loss_state, &b, t->cfg->loss_weights[k], &o,
                                         t->dck, t->drk, err);
        if (st) return st;
        total += o.loss;
        t->d_prompt += (float)(o.d_prompt_logp * scale);
        if (k == 0) first = o;
        for (size_t i = 0; i < n; i++) {
            t->dc[i] += (float)(t->dck[i] * scale);
            t->dr[i] += (float)(t->drk[i] * scale);
        }
    }
    if (!isfinite(total)) return anc_error_set(err, ANC_ERR_NUMERIC, "the loss is not finite (%g)", total);
    double lc = 0, lr = 0, nc = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        lc += t->lgc[i];
        nc += t->clen[i];
        lr += t->lgr[i];
        nr += t->rlen[i];
    }
    win[W_LOSS] += total;
    win[W_RC] += first.rewards_chosen;
    win[W_RR] += first.rewards_rejected;
    win[W_RM] += first.rewards_margins;
    win[W_RA] += first.rewards_accuracies;
    win[W_LPC] += first.logps_chosen;
    win[W_LPR] += first.logps_rejected;
    win[W_LGC] += nc > 0 ? lc / nc : 0;
    win[W_LGR] += nr > 0 ? lr / nr : 0;
    win[W_KL] += first.kl;
    return ANC_OK;
}

/* Under data parallelism: every rank's per-pair results of [lo, hi) to
 * every rank, so each holds the micro-step's n pairs. */
static anc_status exchange_pairs(trainer *t, size_t n, int with_ref, anc_error *err) {
    float *cols[7] = {t->c, t->r, t->lgc, t->lgr};
    size_t nc = 4;
    if (with_ref) {
        cols[nc++] = t->rc;
        cols[nc++] = t->rr;
    }
    if (t->orpo) cols[nc++] = t->plogp;
    return anc_comm_allgather_columns(t->cfg->comm, cols, nc, n, err);
}

/* Runs one micro-step on pairs idx[0..n) of d (ref log-probs from rc/rr
 * arrays when precomputed). backward = 0 for evaluation. Under data
 * parallelism this rank runs forward and backward on its share of the n
 * pairs only (anc_comm_share), and the loss of all n on every rank. */
anc_status anc_tr_micro_step(trainer *t, const anc_train_data *d, const float *pre_c, const float *pre_r,
                             const size_t *idx, size_t n, double scale, int backward, double *win, int64_t *tokens,
                             anc_error *err) {
    for (size_t k = 0; k < n; k++) {
        t->sub.pairs[k] = d->ps.pairs[idx[k]];
        t->clen[k] = (int32_t)d->ps.pairs[idx[k]].n_chosen;
        t->rlen[k] = (int32_t)d->ps.pairs[idx[k]].n_rejected;
        t->plen[k] = (int32_t)d->ps.pairs[idx[k]].n_prompt - 1;
        if (d->label) t->label[k] = d->label[idx[k]];
        if (pre_c) {
            t->rc[k] = pre_c[idx[k]];
            t->rr[k] = pre_r[idx[k]];
        }
        *tokens += anc_pair_tokens(&d->ps.pairs[idx[k]]);
    }
    size_t lo, hi;
    anc_comm_share(t->cfg->comm, anc_comm_rank(t->cfg->comm), n, &lo, &hi);
    t->sub.n = hi; /* packing stops at the end of this rank's share */
    int with_ref = t->needs_ref && !pre_c;
    t->pk.score_prompt = t->orpo;
    anc_status st = ANC_OK;
    int one_chunk = 0;
    if (lo < hi) {
        if ((st = anc_pack_pairs(&t->pk, &t->sub, lo, t->cfg->max_tokens, err))) return st;
        one_chunk = t->pk.n_pairs == hi - lo;
    }
    /* Score every chunk (the loss needs all log-probs), the loss, then
     * backward; a share that fits one chunk keeps its activations between
     * forward and backward, otherwise each chunk is run again. */
    for (size_t at = lo; at < hi; at += t->pk.n_pairs) {
        if (at > lo && (st = anc_pack_pairs(&t->pk, &t->sub, at, t->cfg->max_tokens, err))) return st;
        if ((st = anc_tr_chunk_forward(t, at, with_ref, err))) return st;
    }
    if ((st = exchange_pairs(t, n, with_ref, err))) return st;
    if ((st = anc_tr_micro_loss(t, n, scale, win, err))) return st;
    if (!backward || lo == hi) return ANC_OK;
    if (one_chunk) return anc_tr_chunk_backward(t, lo, err);
    for (size_t at = lo; at < hi; at += t->pk.n_pairs) {
        if ((st = anc_pack_pairs(&t->pk, &t->sub, at, t->cfg->max_tokens, err))) return st;
        if (t->lora) t->lora->dropout_pass = (t->micro_id << 20) ^ (uint64_t)at;
        if ((st = anc_model_forward(t->policy, t->acts, &t->pk.batch, NULL, NULL, NULL, err))) return st;
        if ((st = anc_tr_chunk_backward(t, at, err))) return st;
    }
    return ANC_OK;
}

static const char *const win_names[W_N] = {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                                     "rewards/accuracies", "logps/chosen", "logps/rejected", "logits/chosen",
                                     "logits/rejected", "kl"};

/* Appends one metrics line. */
anc_status anc_tr_log_line(FILE *f, const char *prefix, const double *win, double count, int unpaired, int rewards,
                       int64_t step, double epoch, double grad_norm, double lr, int64_t tokens, double tps, anc_error *err) {
    fprintf(f, "{\"step\": %lld", (long long)step);
    for (int i = 0; i < W_N; i++) {
        if (i == W_KL && !unpaired) continue;
        if (!rewards && (i == W_KL || !strncmp(win_names[i], "rewards/", 8))) continue;
        fprintf(f, ", \"%s%s\": %.9g", prefix, win_names[i], count > 0 ? win[i] / count : 0.0);
    }
    if (!*prefix) {
        fprintf(f, ", \"grad_norm\": %.9g, \"learning_rate\": %.9g, \"epoch\": %.6g, \"num_tokens\": %lld, \"tokens_per_second\": %.1f",
                grad_norm, lr, epoch, (long long)tokens, tps);
    } else {
        fprintf(f, ", \"epoch\": %.6g", epoch);
    }
    fprintf(f, "}\n");
    if (fflush(f) != 0) return anc_error_set(err, ANC_ERR_IO, "cannot write metrics.jsonl");
    return ANC_OK;
}

anc_status anc_tr_run_eval(trainer *t, int64_t step, double epoch, FILE *mf, anc_train_report_fn report, void *ctx,
                           anc_error *err) {
    double win[W_N] = {0};
    size_t n = t->eval.ps.n, B = (size_t)t->cfg->batch_size * (size_t)anc_comm_size(t->cfg->comm), count = 0;
    size_t *idx = malloc(sizeof(size_t) * B);
    if (!idx) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    int64_t tokens = 0;
    anc_status st = ANC_OK;
    if (t->lora) t->lora->training = 0;  /* evaluation: no dropout (model.eval()) */
    for (size_t at = 0; at < n && !st; at += B, count++) {
        size_t m = n - at < B ? n - at : B;
        for (size_t k = 0; k < m; k++) idx[k] = at + k;
        anc_loss_state saved = t->loss_state;  /* evaluation must not move bco's running mean */
        st = anc_tr_micro_step(t, &t->eval, t->eval_ref_c, t->eval_ref_r, idx, m, 1.0, 0, win, &tokens, err);
        t->loss_state = saved;
        if (report) {
            anc_train_status s = {0};
            s.phase = "eval";
            s.step = step;
            s.done = at + m;
            s.total = n;
            report(ctx, &s);
        }
    }
    free(idx);
    if (t->lora) t->lora->training = 1;
    if (st) return anc_error_prefix(err, "evaluation at step %lld", (long long)step);
    if (!mf) return ANC_OK; /* a rank other than 0 */
    return anc_tr_log_line(mf, "eval_", win, (double)count, t->eval.unpaired, t->log_rewards, step, epoch, 0, 0, 0, 0, err);
}

/* Keeps the lines of metrics.jsonl whose step is <= step (used on resume so
 * the file equals that of an uninterrupted run). */
anc_status anc_tr_truncate_metrics(const char *path, int64_t step, anc_error *err) {
    if (!anc_path_exists(path)) return ANC_OK;
    char *text = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(path, (size_t)1 << 30, &text, &len, err);
    if (st) return st;
    size_t keep = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        long long s = -1;
        if (sscanf(text + i, "{\"step\": %lld", &s) != 1 || s > step) break;
        keep = e < len ? e + 1 : e;
        i = e + 1;
    }
    st = anc_write_file_atomic(path, text, keep, err);
    free(text);
    return st;
}

