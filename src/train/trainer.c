/* The training loop. See trainer.h for the contract.
 *
 * One optimiser step = grad_accum micro-steps of batch_size pairs each (the
 * data order is a per-epoch permutation drawn from the seed, so it needs no
 * saved state). A micro-step's pairs are packed into token-bounded chunks;
 * when they fit one chunk the step is forward -> loss -> backward, otherwise
 * every chunk is scored first (the loss of the whole micro-step needs all its
 * log-probs) and then re-run with backward. */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileutil.h"
#include "core/paths.h"
#include "core/rng.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/train_config.h"
#include "train/trainer_internal.h"

void anc_train_config_default(anc_train_config *c) {
    memset(c, 0, sizeof *c);
    c->n_losses = 1;
    c->losses[0] = ANC_LOSS_SIGMOID;
    c->loss_weights[0] = 1.0;
    anc_loss_params_default(&c->loss);
    c->opt.type = ANC_OPT_ADAMW;
    c->opt.lr = 1e-6;
    c->opt.beta1 = 0.9;
    c->opt.beta2 = 0.999;
    c->opt.eps = 1e-8;
    c->opt.weight_decay = 0.0;
    c->scheduler = ANC_SCHED_LINEAR;
    c->batch_size = 8;
    c->grad_accum = 1;
    c->epochs = 1.0;
    c->max_grad_norm = 1.0;
    c->seed = 42;
    c->logging_steps = 10;
    c->max_tokens = 8192;
    c->precompute_ref = 1;
    c->save_dtype = ANC_DT_INVALID;
    anc_lora_config_default(&c->lora);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}


#define SIGNATURE_NAME "train_signature.yaml"

static void free_copy_list(char **list) {
    if (!list) return;
    for (size_t i = 0; list[2 * i]; i++) free(list[2 * i]);
    free(list);
}

/* Pairs of (source path, name) for the tokenizer files of model_dir;
 * NULL-terminated, malloc'd strings. */
static char **tokenizer_copy_list(const char *model_dir, const char *work_dir) {
    const char *const *tokenizer_files = anc_model_aux_files();
    size_t n = 0;
    while (tokenizer_files[n]) n++;
    char **list = calloc(2 * n + 3, sizeof(char *));
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        list[2 * i] = anc_path_join(model_dir, tokenizer_files[i]);
        list[2 * i + 1] = (char *)tokenizer_files[i];
    }
    /* checkpoints also keep the run's signature (the last pair) */
    list[2 * n] = anc_path_join(work_dir, SIGNATURE_NAME);
    list[2 * n + 1] = SIGNATURE_NAME;
    for (size_t i = 0; i <= n; i++)
        if (!list[2 * i]) {
            for (size_t j = 0; j <= n; j++) free(list[2 * j]);
            free(list);
            return NULL;
        }
    return list;
}

static anc_status validate(const anc_train_config *c, anc_error *err) {
    if (!c->model_dir || !c->data_path || !c->output_dir)
        return anc_error_set(err, ANC_ERR_INVALID, "train: a model folder, a data file and an output folder are required");
    if (c->n_losses < 1 || c->n_losses > ANC_MAX_LOSSES)
        return anc_error_set(err, ANC_ERR_INVALID, "train: between 1 and %d loss types", ANC_MAX_LOSSES);
    int unpaired = anc_loss_is_unpaired(c->losses[0]);
    for (int i = 0; i < c->n_losses; i++) {
        if (anc_loss_is_unpaired(c->losses[i]) != unpaired)
            return anc_error_set(err, ANC_ERR_INVALID, "train: %s and %s cannot be mixed: one needs paired rows, the other unpaired rows",
                                 anc_loss_name(c->losses[0]), anc_loss_name(c->losses[i]));
        if (!(c->loss_weights[i] >= 0) || !isfinite(c->loss_weights[i]))
            return anc_error_set(err, ANC_ERR_INVALID, "train: loss weight %g of %s must be a finite number >= 0", c->loss_weights[i], anc_loss_name(c->losses[i]));
    }
    int orpo = 0, ref_loss = 0;
    for (int i = 0; i < c->n_losses; i++) {
        orpo |= c->losses[i] == ANC_LOSS_ORPO;
        ref_loss |= anc_loss_needs_ref(c->losses[i]);
    }
    if (orpo && ref_loss && !c->precompute_ref)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED, "train: orpo mixed with a reference-based loss needs precomputed reference log-probs (drop --no-precompute-ref)");
    if (c->batch_size < 1 || c->grad_accum < 1)
        return anc_error_set(err, ANC_ERR_INVALID, "train: per-device-train-batch-size and gradient-accumulation-steps must be >= 1");
    if (!(c->opt.lr >= 0) || !(c->loss.beta > 0))
        return anc_error_set(err, ANC_ERR_INVALID, "train: learning rate must be >= 0 and beta > 0");
    if (c->max_steps <= 0 && !(c->epochs > 0))
        return anc_error_set(err, ANC_ERR_INVALID, "train: give num-train-epochs > 0 or max-steps > 0");
    if (c->opt.type == ANC_OPT_ADAMW && (!(c->opt.beta1 >= 0 && c->opt.beta1 < 1) || !(c->opt.beta2 >= 0 && c->opt.beta2 < 1) || !(c->opt.eps > 0)))
        return anc_error_set(err, ANC_ERR_INVALID, "train: adam betas must lie in [0, 1) and epsilon be > 0");
    if (!(c->warmup_ratio >= 0 && c->warmup_ratio <= 1))
        return anc_error_set(err, ANC_ERR_INVALID, "train: warmup-ratio must lie in [0, 1]");
    if (c->max_tokens < 2) return anc_error_set(err, ANC_ERR_INVALID, "train: max-tokens must be >= 2");
    if (c->adapter_dir && !c->use_peft)
        return anc_error_set(err, ANC_ERR_INVALID, "train: an --adapter to continue from needs --use-peft");
    if (c->use_peft && anc_lora_config_check(&c->lora, err)) return anc_error_prefix(err, "train");
    /* The output folder must not be, hold or lie inside a model it reads:
     * the final save would replace the weights it started from. */
    const char *inputs[3] = {c->model_dir, c->ref_model_dir, c->adapter_dir};
    static const char *const what[3] = {"--model", "--ref-model", "--adapter"};
    return anc_path_refuse_overlap("train", "--output-dir", c->output_dir, inputs, what, 3, err);
}

/* The run's signature (train_config.h), model paths made absolute so a
 * resume from another working directory compares equal. */
static anc_status run_signature(const anc_train_config *c, const anc_train_data *d, char **out, anc_error *err) {
    anc_train_config cc = *c;
    char *m = anc_path_canonical(c->model_dir, err), *r = NULL, *ad = NULL;
    anc_status st = m ? ANC_OK : err->code;
    if (!st && c->ref_model_dir && !(r = anc_path_canonical(c->ref_model_dir, err))) st = err->code;
    if (!st && c->adapter_dir && !(ad = anc_path_canonical(c->adapter_dir, err))) st = err->code;
    if (!st) {
        cc.model_dir = m;
        cc.ref_model_dir = r;
        cc.adapter_dir = ad;
        st = anc_train_signature(&cc, anc_train_data_hash(d), out, err);
    }
    free(m);
    free(r);
    free(ad);
    return st;
}

/* Refuses a resume from a checkpoint made with other settings or data
 * (checkpoints from before signatures were kept are accepted). */
static anc_status check_resume(const char *ckpt_path, const char *now, anc_error *err) {
    char *p = anc_path_join(ckpt_path, SIGNATURE_NAME), *then = NULL;
    if (!p) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = ANC_OK;
    if (anc_path_exists(p) && !(st = anc_read_file(p, (size_t)1 << 20, &then, NULL, err)))
        st = anc_train_signature_check(then, now, ckpt_path, err);
    free(p);
    free(then);
    return st;
}

/* Reports progress of the reference pass through the caller's callback. */
typedef struct ref_progress {
    anc_train_report_fn report;
    void *ctx;
    const char *phase;
} ref_progress;

static void ref_progress_cb(void *ctx, size_t done, size_t total, int64_t tokens) {
    ref_progress *rp = ctx;
    if (!rp->report) return;
    anc_train_status s = {0};
    s.phase = rp->phase;
    s.done = done;
    s.total = total;
    s.tokens = tokens;
    rp->report(rp->ctx, &s);
}

/* A model of the run: in bf16 LoRA runs a frozen bf16 base (no fp32
 * weights), else fp32, with a bf16 copy under --bf16. */
static anc_status load_run_model(const anc_train_config *c, const char *dir, anc_model **out, anc_error *err) {
    if (c->use_peft && c->bf16) return anc_model_load_hf_frozen16(out, dir, err);
    anc_status st = anc_model_load_hf(out, dir, err);
    if (!st && c->bf16 && (st = anc_model_set_bf16(*out, 1, err))) {
        anc_model_free(*out);
        *out = NULL;
    }
    return st;
}

static anc_status setup_reference(trainer *t, anc_train_report_fn report, void *ctx, anc_error *err) {
    const anc_train_config *c = t->cfg;
    anc_status st;
    if (!c->precompute_ref && c->use_peft && !c->ref_model_dir) {
        /* the base with its adapters off: the policy's own weights */
        t->ref_is_base = 1;
        t->ref_acts = anc_acts_create_forward_only();
        return t->ref_acts ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!c->precompute_ref) {
        if ((st = load_run_model(c, c->ref_model_dir ? c->ref_model_dir : c->model_dir, &t->ref, err))) return st;
        if (t->ref->cfg.vocab_size != t->policy->cfg.vocab_size)
            return anc_error_set(err, ANC_ERR_INVALID, "train: the reference model's vocabulary (%d) differs from the policy's (%d)",
                                 t->ref->cfg.vocab_size, t->policy->cfg.vocab_size);
        t->ref_acts = anc_acts_create_forward_only();
        return t->ref_acts ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    /* Precomputed: the reference is the policy as loaded (before any
     * checkpoint is restored) unless another folder is named. */
    anc_model *ref = t->policy;
    if (c->ref_model_dir) {
        if ((st = load_run_model(c, c->ref_model_dir, &ref, err))) return st;
        if (ref->cfg.vocab_size != t->policy->cfg.vocab_size) {
            anc_model_free(ref);
            return anc_error_set(err, ANC_ERR_INVALID, "train: the reference model's vocabulary differs from the policy's");
        }
    }
    size_t n = t->data.ps.n;
    t->ref_c = malloc(sizeof(float) * n);
    t->ref_r = malloc(sizeof(float) * n);
    int cached = 0;
    ref_progress rp = {report, ctx, "ref"};
    if (!t->ref_c || !t->ref_r) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else st = anc_ref_logps_cached(ref, &t->data, c->output_dir, "train", c->max_tokens, c->comm, t->ref_c,
                                                         t->ref_r, &cached, ref_progress_cb, &rp, err);
    if (!st && t->eval.ps.n) {
        t->eval_ref_c = malloc(sizeof(float) * t->eval.ps.n);
        t->eval_ref_r = malloc(sizeof(float) * t->eval.ps.n);
        rp.phase = "ref-eval";
        if (!t->eval_ref_c || !t->eval_ref_r) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        else st = anc_ref_logps_cached(ref, &t->eval, c->output_dir, "eval", c->max_tokens, c->comm, t->eval_ref_c, t->eval_ref_r,
                                        &cached, ref_progress_cb, &rp, err);
    }
    if (ref != t->policy) anc_model_free(ref);
    return st;
}

/* The adapters of a use_peft run: continued from c->adapter_dir or new
 * (PEFT's initialisation from the seed), attached to the policy. */
static anc_status setup_lora(trainer *t, anc_train_report_fn report, void *ctx, anc_error *err) {
    const anc_train_config *c = t->cfg;
    anc_status st;
    if (c->adapter_dir) st = anc_lora_load_peft(&t->lora, c->adapter_dir, &t->policy->cfg, err);
    else if (!(st = anc_lora_create(&t->lora, &t->policy->cfg, &c->lora, err))) anc_lora_init(t->lora, c->seed);
    if (st) return st;
    /* training-time dropout is the run's, not the file's */
    t->lora->cfg.dropout = c->lora.dropout;
    t->lora->dropout_seed = c->seed;
    t->lora->training = 1;
    if ((st = anc_lora_alloc_grads(t->lora, err))) return st;
    t->policy->lora = t->lora;
    if (report) {
        anc_train_status rs = {0};
        rs.phase = "peft";
        rs.done = t->lora->n_params;
        rs.total = t->lora->n_params + t->policy->n_params;
        report(ctx, &rs);
    }
    return ANC_OK;
}

anc_status anc_train(const anc_train_config *c, anc_train_report_fn report, void *ctx, anc_error *err) {
    anc_status st = validate(c, err);
    if (st) return st;
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = c;
    FILE *mf = NULL;
    anc_tokenizer *tok = NULL;
    anc_template *tmpl = NULL;
    char *metrics_path = NULL, *ckpt_path = NULL, **copy = NULL, *signature = NULL;
    anc_run_dir rd = {0};
    size_t *perm = NULL, *idx = NULL;
    int unpaired = anc_loss_is_unpaired(c->losses[0]);
    for (int i = 0; i < c->n_losses; i++) {
        /* sft needs no reference for its loss. TRL's DPOTrainer still logs
         * rewards against one; anchor does so only when --ref-model names
         * one, so a plain sft run skips the reference pass. */
        t.needs_ref |= anc_loss_needs_ref(c->losses[i]) || (c->losses[i] == ANC_LOSS_SFT && c->ref_model_dir);
        /* simpo/cpo/orpo log rewards without a reference; a plain sft run has none */
        t.log_rewards |= t.needs_ref || c->losses[i] != ANC_LOSS_SFT;
        t.orpo |= c->losses[i] == ANC_LOSS_ORPO;
    }

    /* rank 0 alone owns the output folder; the others learn where it writes */
    const int rank0 = anc_comm_rank(c->comm) == 0;
    const size_t W = (size_t)anc_comm_size(c->comm);
    if (rank0 && (st = anc_run_dir_open(&rd, c->output_dir, c->resume, err))) goto done;
    if ((st = anc_comm_bcast_str(c->comm, &rd.work, err))) goto done;
    /* The data first, from the model's config: the memory check needs the
     * largest chunk and runs before any weights are loaded. */
    anc_config mcfg;
    {
        char *cp = anc_path_join(c->model_dir, "config.json");
        st = cp ? anc_config_load(&mcfg, cp, err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        free(cp);
        if (st) goto done;
    }
    const int vocab = mcfg.vocab_size;
    {
        /* Text rows need the model's tokenizer (pre-tokenised rows do not). */
        char *tj = anc_path_join(c->model_dir, "tokenizer.json");
        if (tj && anc_path_exists(tj)) st = anc_tokenizer_load_dir(&tok, c->model_dir, err);
        free(tj);
        if (st) goto done;
        if ((st = anc_chat_template_resolve(tok, c->chat_template, &tmpl, err))) goto done;
        anc_dataset_opts dopt = {c->max_length, c->max_prompt_length,
                                 c->truncation_keep_start ? ANC_TRUNC_KEEP_START : ANC_TRUNC_KEEP_END, unpaired,
                                 anc_dataset_byte_limit(c->max_length > 0 ? c->max_length : c->max_tokens)};
        if ((st = anc_train_data_load(&t.data, c->data_path, c->batch_size, vocab, tok, tmpl, &dopt, &t.data_stats, err))) goto done;
        if (c->eval_data_path &&
            (st = anc_train_data_load(&t.eval, c->eval_data_path, c->batch_size, vocab, tok, tmpl, &dopt, NULL, err)))
            goto done;
        if (report && t.data_stats.dropped) {
            anc_train_status rs = {0};
            rs.phase = "data";
            rs.done = t.data_stats.dropped;
            rs.total = t.data_stats.rows;
            report(ctx, &rs);
        }
    }
    if ((st = anc_tr_check_memory(c, &mcfg, &t.data, &t.eval, err))) goto done;
    if ((st = load_run_model(c, c->model_dir, &t.policy, err))) goto done;
    if (!(t.acts = anc_acts_create())) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    anc_acts_set_checkpointing(t.acts, c->gradient_checkpointing);
    if (t.needs_ref && (st = setup_reference(&t, report, ctx, err))) goto done;
    if ((st = anc_tr_alloc_micro(&t, (size_t)c->batch_size * W, err))) goto done;
    /* The reference is set up: from here on the policy runs its adapters. */
    if (c->use_peft && (st = setup_lora(&t, report, ctx, err))) goto done;
    float *train_grads;
    if (t.lora) {
        t.params = t.lora->params;
        t.n_train = t.lora->n_params;
        train_grads = t.lora->grads;  /* t.grads stays NULL: the base is frozen */
        st = anc_optim_init(&t.opt, &c->opt, t.lora->specs, t.lora->n_specs, t.n_train, err);
    } else {
        t.params = t.policy->params;
        t.n_train = t.policy->n_params;
        train_grads = t.grads = calloc(t.n_train, sizeof(float));
        st = t.grads ? anc_optim_init(&t.opt, &c->opt, t.policy->specs, t.policy->n_specs, t.n_train, err)
                     : anc_error_set(err, ANC_ERR_NOMEM, "cannot allocate gradients");
    }
    if (st) goto done;

    /* B: the pairs of one micro-step over all ranks */
    const size_t n = t.data.ps.n, B = (size_t)c->batch_size * W, GA = (size_t)c->grad_accum;
    const int64_t micro_per_epoch = (int64_t)((n + B - 1) / B);
    const int64_t steps_per_epoch = (micro_per_epoch + (int64_t)GA - 1) / (int64_t)GA;
    const int64_t total = c->max_steps > 0 ? c->max_steps : (int64_t)ceil(c->epochs * (double)steps_per_epoch - 1e-9);
    const int64_t warmup = c->warmup_steps > 0 ? c->warmup_steps : (int64_t)ceil(c->warmup_ratio * (double)total - 1e-9);

    anc_ckpt_state s;
    memset(&s, 0, sizeof s);
    s.seed = c->seed;
    metrics_path = anc_path_join(rd.work, "metrics.jsonl");
    copy = tokenizer_copy_list(c->model_dir, rd.work);
    if (!metrics_path || !copy) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = run_signature(c, &t.data, &signature, err))) goto done;
    if (c->resume && rank0 && anc_train_latest_checkpoint(rd.work, &ckpt_path) <= 0) {
        free(ckpt_path);
        ckpt_path = NULL;
    }
    /* every rank resumes from the checkpoint rank 0 found */
    if (c->resume && (st = anc_comm_bcast_str(c->comm, &ckpt_path, err))) goto done;
    if (c->resume && ckpt_path) {
        if ((st = anc_ckpt_load(ckpt_path, t.policy, t.lora, &t.opt, &s, err))) goto done;
        anc_model_sync_bf16(t.policy);
        if (s.seed != c->seed) {
            st = anc_error_set(err, ANC_ERR_INVALID, "train: %s was made with --seed %llu, not %llu; resume with the same seed",
                               ckpt_path, (unsigned long long)s.seed, (unsigned long long)c->seed);
            goto done;
        }
        if ((st = check_resume(ckpt_path, signature, err))) goto done;
        t.loss_state = s.loss_state;
        if (rank0 && (st = anc_tr_truncate_metrics(metrics_path, s.step, err))) goto done;
    } else if (rank0) {
        /* a fresh metrics file; an auto run's first line is the advisor's verdict (kept on resume: step 0) */
        char *advice = c->advice ? anc_train_advice_metrics_line(c->advice) : NULL;
        if (c->advice && !advice) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
        FILE *f = fopen(metrics_path, "w");
        if (f && advice) fputs(advice, f);
        if (f && fclose(f) != 0 && advice) st = anc_error_set(err, ANC_ERR_IO, "%s: cannot write", metrics_path);
        free(advice);
        if (st) goto done;
    }
    if (rank0) {
        char *sp = anc_path_join(rd.work, SIGNATURE_NAME);
        st = sp ? anc_write_file_atomic(sp, signature, strlen(signature), err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        free(sp);
        if (st) goto done;
    }
    if (rank0) mf = fopen(metrics_path, "a");
    if (rank0 && !mf) { st = anc_error_set(err, ANC_ERR_IO, "%s: cannot open for writing", metrics_path); goto done; }

    perm = malloc(sizeof(size_t) * n);
    idx = malloc(sizeof(size_t) * B);
    double comm_s = 0;
    if (!perm || !idx) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    if (t.eval.ps.n && c->eval_on_start && s.step == 0 && (st = anc_tr_run_eval(&t, 0, 0.0, mf, report, ctx, err))) goto done;
    int64_t perm_epoch = -1;
    double t_window = now_s();
    int64_t tokens_window = 0;
    for (int64_t step = s.step + 1; step <= total; step++) {
        memset(train_grads, 0, sizeof(float) * t.n_train);
        for (size_t micro = 0; micro < GA; micro++) {
            int64_t g = (step - 1) * (int64_t)GA + (int64_t)micro;
            int64_t epoch = g / micro_per_epoch, pos = g % micro_per_epoch;
            if (epoch != perm_epoch) {
                anc_rng r;
                anc_rng_seed(&r, c->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1)));
                for (size_t i = 0; i < n; i++) perm[i] = i;
                anc_rng_shuffle(&r, perm, n);
                perm_epoch = epoch;
            }
            size_t first = (size_t)pos * B, m = n - first < B ? n - first : B;
            for (size_t k = 0; k < m; k++) idx[k] = perm[first + k];
            int64_t tok = 0;
            t.micro_id = (uint64_t)g;
            st = anc_tr_micro_step(&t, &t.data, t.ref_c, t.ref_r, idx, m, 1.0 / (double)GA, 1, s.window, &tok, err);
            if (st) {
                anc_error_prefix(err, "step %lld", (long long)step);
                goto done;
            }
            s.tokens += tok;
            tokens_window += tok;
            s.window_count++;
        }
        if (W > 1) {
            /* the step's gradient: the sum of every rank's share */
            double t0 = now_s();
            if ((st = anc_comm_allreduce_sum(c->comm, train_grads, t.n_train, err))) goto done;
            comm_s += now_s() - t0;
        }
        double norm = anc_clip_grad_norm(train_grads, t.n_train, c->max_grad_norm);
        if (!isfinite(norm)) {
            st = anc_error_set(err, ANC_ERR_NUMERIC, "step %lld: the gradient norm is not finite; stopping (checkpoints written so far are intact)", (long long)step);
            goto done;
        }
        s.last_grad_norm = norm;
        anc_optim_step(&t.opt, t.params, train_grads, anc_schedule_lr(c->scheduler, c->opt.lr, step - 1, warmup, total));
        if (!t.lora) anc_model_sync_bf16(t.policy);
        s.step = step;
        s.loss_state = t.loss_state;
        double epoch_f = (double)(step * (int64_t)GA) / (double)micro_per_epoch;
        double lr_next = anc_schedule_lr(c->scheduler, c->opt.lr, step, warmup, total);
        double el = now_s() - t_window, tps = el > 0 ? tokens_window / el : 0;
        anc_train_status rs = {0};
        rs.phase = "train";
        rs.step = step;
        rs.total_steps = total;
        rs.epoch = epoch_f;
        rs.grad_norm = norm;
        rs.lr = lr_next;
        rs.tokens = s.tokens;
        rs.tokens_per_second = tps;
        double cnt = (double)(s.window_count > 0 ? s.window_count : 1);
        rs.loss = s.window[W_LOSS] / cnt;
        rs.reward_accuracy = s.window[W_RA] / cnt;
        rs.reward_margin = s.window[W_RM] / cnt;
        rs.comm_seconds = comm_s;
        if ((c->logging_steps > 0 && step % c->logging_steps == 0) || step == total) {
            if (mf && (st = anc_tr_log_line(mf, "", s.window, cnt, unpaired, t.log_rewards, step, epoch_f, norm, lr_next, s.tokens, tps, err))) goto done;
            memset(s.window, 0, sizeof s.window);
            s.window_count = 0;
            t_window = now_s();
            tokens_window = 0;
        }
        if (t.eval.ps.n && c->eval_steps > 0 && (step % c->eval_steps == 0 || step == total) &&
            (st = anc_tr_run_eval(&t, step, epoch_f, mf, report, ctx, err)))
            goto done;
        if (rank0 && c->save_steps > 0 && step % c->save_steps == 0 &&
            (st = anc_ckpt_save(rd.work, t.policy, t.lora, &t.opt, &s, (const char *const *)copy, err)))
            goto done;
        if (report) report(ctx, &rs);
    }
    if (rank0) {
        anc_dtype dt = c->save_dtype != ANC_DT_INVALID ? c->save_dtype : t.policy->source_dtype;
        if ((st = t.lora ? anc_lora_save_peft(t.lora, rd.work, c->model_dir, err) : anc_model_save_hf(t.policy, rd.work, dt, err)))
            goto done;
        for (size_t i = 0; copy[2 * i]; i++) {
            if (!strcmp(copy[2 * i + 1], SIGNATURE_NAME) || !anc_path_exists(copy[2 * i])) continue;
            char *dst = anc_path_join(rd.work, copy[2 * i + 1]);
            st = anc_copy_file(copy[2 * i], dst, err);
            free(dst);
            if (st) goto done;
        }
        char *yaml = anc_path_join(rd.work, "train_config.yaml");
        st = yaml ? anc_train_config_write_yaml(c, yaml, err) : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        free(yaml);
        if (st) goto done;
        /* the metrics file is complete: close it before it moves */
        if (fclose(mf) != 0) {
            mf = NULL;
            st = anc_error_set(err, ANC_ERR_IO, "%s: cannot write: %s", metrics_path, strerror(errno));
            goto done;
        }
        mf = NULL;
        st = anc_run_dir_commit(&rd, err);
    }
    /* the others end when rank 0 has written the run, with its outcome */
    st = anc_comm_agree(c->comm, st, err);
done:
    if (mf) fclose(mf);
    free(signature);
    anc_run_dir_free(&rd);
    anc_tokenizer_free(tok);
    anc_template_free(tmpl);
    free(metrics_path);
    free(ckpt_path);
    free_copy_list(copy);
    free(perm);
    free(idx);
    anc_tr_free_trainer(&t);
    return st;
}
