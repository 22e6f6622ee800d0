/* anchor train: preference training (APO, DPO and the TRL family). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "train/trainer.h"

typedef struct train_progress {
    double start, last;
    int tty;
    const char *last_phase;
    cli_progress bar;
} train_progress;

static void report(void *ctx, const anc_train_status *s) {
    train_progress *p = ctx;
    if (strcmp(s->phase, "data") == 0) {
        fprintf(stderr, "anchor train: %zu of %zu rows dropped: longer than --max-length (or --max-tokens) even with the prompt truncated\n",
                s->done, s->total);
        return;
    }
    if (strcmp(s->phase, "peft") == 0) {
        /* PEFT's print_trainable_parameters line */
        fprintf(stderr, "anchor train: LoRA: trainable params: %zu || all params: %zu || trainable%%: %.4f\n", s->done, s->total,
                s->total ? 100.0 * (double)s->done / (double)s->total : 0.0);
        return;
    }
    if (strcmp(s->phase, "train") != 0) {
        if (p->last_phase != s->phase) {
            cli_progress_init(&p->bar, strcmp(s->phase, "ref") == 0 ? "reference log-probs" :
                                       strcmp(s->phase, "ref-eval") == 0 ? "reference log-probs (eval)" : "evaluation", "pairs");
            p->last_phase = s->phase;
        }
        cli_progress_cb(&p->bar, s->done, s->total, s->tokens);
        if (s->done == s->total) cli_progress_done(&p->bar);
        return;
    }
    if (p->last_phase != s->phase) {
        p->start = cli_now();
        p->last_phase = s->phase;
    }
    double now = cli_now();
    if (p->tty && now - p->last < 0.25 && s->step < s->total_steps) return;
    if (!p->tty && s->step % 10 != 0 && s->step != s->total_steps && s->step != 1) return;
    p->last = now;
    double el = now - p->start, per = s->step > 0 ? el / (double)s->step : 0;
    double eta = per * (double)(s->total_steps - s->step);
    fprintf(stderr, "%sstep %lld/%lld  loss %.4f  acc %.2f  margin %+.4f  |g| %.3g  lr %.3g  %.0f tok/s  ETA %dm%02ds%s",
            p->tty ? "\r" : "", (long long)s->step, (long long)s->total_steps, s->loss, s->reward_accuracy,
            s->reward_margin, s->grad_norm, s->lr, s->tokens_per_second, (int)(eta / 60), (int)eta % 60,
            p->tty ? "\033[K" : "\n");
    if (p->tty && s->step == s->total_steps) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_train(int argc, char **argv) {
    anc_train_config c;
    anc_train_config_default(&c);
    const char *model = NULL, *data = NULL, *out = NULL, *ref = NULL, *eval = NULL, *config = NULL;
    const char *optimizer = "adamw", *sched = "linear", *save_dtype = NULL, *chat_template = NULL, *trunc = "keep_end";
    long max_length = 0, max_prompt_length = 0;
    cli_list loss_types = {{"sigmoid"}, 1, 1}, loss_weights = {{0}, 0, 0};
    double beta = c.loss.beta, ls = c.loss.label_smoothing, gamma = c.loss.simpo_gamma, cpo_alpha = c.loss.cpo_alpha;
    double dw = c.loss.desirable_weight, uw = c.loss.undesirable_weight;
    double lr = c.opt.lr, b1 = c.opt.beta1, b2 = c.opt.beta2, eps = c.opt.eps, wd = c.opt.weight_decay;
    double warmup_ratio = 0, max_grad_norm = c.max_grad_norm, epochs = c.epochs;
    long warmup_steps = 0, batch = c.batch_size, accum = c.grad_accum, max_steps = 0, seed = 42;
    long logging = c.logging_steps, save = 0, eval_steps = 0, max_tokens = c.max_tokens;
    int no_precompute = 0, resume = 0, eval_on_start = 0, bf16 = 0, use_peft = 0, use_rslora = 0, grad_ckpt = 0, no_mem_check = 0;
    long lora_r = c.lora.r;
    double lora_alpha = c.lora.alpha, lora_dropout = c.lora.dropout;
    cli_list lora_targets = {{0}, 0, 0};
    const char *adapter = NULL;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "starting model (Hugging Face folder)"},
        {"data", OPT_STR, &data, "FILE", "training rows (JSONL/JSON): TRL standard or conversational pairs, implicit prompts, unpaired rows with label, or pre-tokenised *_ids"},
        {"output-dir", OPT_STR, &out, "DIR", "where the model, checkpoints and metrics.jsonl go"},
        {"config", OPT_STR, &config, "FILE.yaml", "options as YAML (keys are these option names); flags override it"},
        {"loss-type", OPT_LIST, &loss_types, "NAME", "apo_zero, apo_down, sigmoid (dpo), ipo, hinge, robust, exo_pair, nca_pair, bco_pair, sppo_hard, aot, aot_pair, discopop, sigmoid_norm, sft, simpo, cpo, orpo, kto, apo_zero_unpaired; repeatable"},
        {"loss-weights", OPT_LIST, &loss_weights, "W,W,...", "weight of each loss type (default 1 each)"},
        {"beta", OPT_FLOAT, &beta, "B", "beta (default 0.1)"},
        {"label-smoothing", OPT_FLOAT, &ls, "E", "label smoothing for sigmoid/robust/exo_pair/aot (default 0)"},
        {"simpo-gamma", OPT_FLOAT, &gamma, "G", "SimPO target margin (default 0.5)"},
        {"cpo-alpha", OPT_FLOAT, &cpo_alpha, "A", "weight of the chosen NLL in cpo/simpo (default 1.0, as TRL)"},
        {"desirable-weight", OPT_FLOAT, &dw, "W", "KTO weight of desirable rows (default 1)"},
        {"undesirable-weight", OPT_FLOAT, &uw, "W", "KTO weight of undesirable rows (default 1)"},
        {"ref-model", OPT_STR, &ref, "DIR", "reference model (default: the starting model)"},
        {"no-precompute-ref", OPT_FLAG, &no_precompute, NULL, "keep the reference model in memory instead of caching its log-probs"},
        {"bf16", OPT_FLAG, &bf16, NULL, "mixed precision as TRL's bf16: matrix products in bf16 (fp32 accumulation), fp32 master weights and AdamW; with --use-peft the frozen base is held in bf16 only (half the memory)"},
        {"gradient-checkpointing", OPT_FLAG, &grad_ckpt, NULL, "keep one layer's activations at a time and recompute in backward (less memory, one more forward; same results)"},
        {"no-memory-check", OPT_FLAG, &no_mem_check, NULL, "start even when the run's memory plan exceeds the available memory (see anchor info)"},
        {"use-peft", OPT_FLAG, &use_peft, NULL, "train LoRA adapters on the frozen base (PEFT); the reference is the base with adapters off"},
        {"lora-r", OPT_COUNT, &lora_r, "R", "LoRA rank (default 16)"},
        {"lora-alpha", OPT_FLOAT, &lora_alpha, "A", "LoRA alpha: the update is scaled by alpha/r (default 32)"},
        {"lora-dropout", OPT_FLOAT, &lora_dropout, "P", "dropout on the adapters' input while training (default 0.05)"},
        {"lora-target-modules", OPT_LIST, &lora_targets, "NAMES", "projections to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear (default q_proj,v_proj)"},
        {"use-rslora", OPT_FLAG, &use_rslora, NULL, "rank-stabilised LoRA: scale by alpha/sqrt(r)"},
        {"adapter", OPT_STR, &adapter, "DIR", "continue training this PEFT adapter (its r, alpha and targets; implies --use-peft)"},
        {"optimizer", OPT_STR, &optimizer, "NAME", "adamw (default) or sgd"},
        {"learning-rate", OPT_FLOAT, &lr, "LR", "peak learning rate (default 1e-6)"},
        {"adam-beta1", OPT_FLOAT, &b1, "B1", "default 0.9"},
        {"adam-beta2", OPT_FLOAT, &b2, "B2", "default 0.999"},
        {"adam-epsilon", OPT_FLOAT, &eps, "EPS", "default 1e-8"},
        {"weight-decay", OPT_FLOAT, &wd, "WD", "decoupled weight decay, not on biases/norms (default 0)"},
        {"lr-scheduler", OPT_STR, &sched, "NAME", "constant, linear (default) or cosine"},
        {"lr-scheduler-type", OPT_STR, &sched, "NAME", "alias of --lr-scheduler"},
        {"warmup-ratio", OPT_FLOAT, &warmup_ratio, "R", "share of steps spent warming up (default 0)"},
        {"warmup-steps", OPT_COUNT, &warmup_steps, "N", "warm-up steps (overrides --warmup-ratio)"},
        {"per-device-train-batch-size", OPT_COUNT, &batch, "N", "pairs per micro-step (default 8)"},
        {"gradient-accumulation-steps", OPT_COUNT, &accum, "N", "micro-steps per optimiser step (default 1)"},
        {"max-grad-norm", OPT_FLOAT, &max_grad_norm, "N", "clip the gradient norm (default 1.0; 0 disables)"},
        {"num-train-epochs", OPT_FLOAT, &epochs, "E", "epochs (default 1)"},
        {"max-steps", OPT_COUNT, &max_steps, "N", "optimiser steps (overrides epochs)"},
        {"seed", OPT_INT, &seed, "S", "fixes the data order (default 42)"},
        {"logging-steps", OPT_COUNT, &logging, "N", "metrics.jsonl line every N steps (default 10)"},
        {"save-steps", OPT_COUNT, &save, "N", "checkpoint every N steps (default: none)"},
        {"eval-data", OPT_STR, &eval, "FILE", "evaluation rows (eval_ metrics)"},
        {"eval-on-start", OPT_FLAG, &eval_on_start, NULL, "evaluate once before training (logged as step 0)"},
        {"eval-steps", OPT_COUNT, &eval_steps, "N", "evaluate every N steps (default: at the end)"},
        {"max-tokens", OPT_COUNT, &max_tokens, "N", "tokens per forward/backward chunk (memory bound; default 8192)"},
        {"chat-template", OPT_STR, &chat_template, "NAME|FILE", "override the tokenizer's chat template (chatml, llama3, llama2, zephyr, mistral, or a Jinja file)"},
        {"max-length", OPT_COUNT, &max_length, "N", "prompt + completion tokens; longer rows are truncated, or dropped (counted) when they cannot fit"},
        {"max-prompt-length", OPT_COUNT, &max_prompt_length, "N", "prompt tokens kept"},
        {"truncation-mode", OPT_STR, &trunc, "MODE", "keep_end (default, as TRL) or keep_start: which end of a long prompt survives"},
        {"resume", OPT_FLAG, &resume, NULL, "continue from the newest complete checkpoint in --output-dir"},
        {"save-dtype", OPT_STR, &save_dtype, "T", "dtype of the final model: f32, bf16, f16 (default: the input's)"},
        {0},
    };
    const char *cfg_file = cli_find_config(argc, argv);
    if (cfg_file) {
        int rc = cli_apply_yaml(cfg_file, opts, "train");
        if (rc) return rc;
    }
    int rc = cli_parse(argc, argv, opts, "train", "--model DIR --data FILE --output-dir DIR [--loss-type apo_zero] [options]",
                       "Trains a model on preference pairs with TRL's objectives and metrics. Writes metrics.jsonl,\n"
                       "checkpoint-N/ folders (--save-steps) and the final Hugging Face model into --output-dir.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model || !data || !out) return cli_usage_error("train", "--model, --data and --output-dir are required");

    c.model_dir = model;
    c.data_path = data;
    c.output_dir = out;
    c.ref_model_dir = ref;
    c.eval_data_path = eval;
    c.n_losses = loss_types.n;
    if (c.n_losses > ANC_MAX_LOSSES) return cli_usage_error("train", "at most %d loss types", ANC_MAX_LOSSES);
    for (int i = 0; i < loss_types.n; i++) {
        int t = anc_loss_from_name(loss_types.v[i]);
        if (t < 0) return cli_usage_error("train", "unknown loss type '%s' (see --help)", loss_types.v[i]);
        c.losses[i] = (anc_loss_type)t;
        c.loss_weights[i] = 1.0;
    }
    if (loss_weights.n) {
        if (loss_weights.n != loss_types.n)
            return cli_usage_error("train", "--loss-weights has %d values for %d loss types", loss_weights.n, loss_types.n);
        for (int i = 0; i < loss_weights.n; i++) {
            char *end = NULL;
            c.loss_weights[i] = strtod(loss_weights.v[i], &end);
            if (end == loss_weights.v[i] || *end) return cli_usage_error("train", "--loss-weights: '%s' is not a number", loss_weights.v[i]);
        }
    }
    c.loss.beta = beta;
    c.loss.label_smoothing = ls;
    c.loss.simpo_gamma = gamma;
    c.loss.cpo_alpha = cpo_alpha;
    c.loss.desirable_weight = dw;
    c.loss.undesirable_weight = uw;
    int ot = anc_opt_from_name(optimizer), st = anc_sched_from_name(sched);
    if (ot < 0) return cli_usage_error("train", "unknown optimizer '%s' (adamw or sgd)", optimizer);
    if (st < 0) return cli_usage_error("train", "unknown lr scheduler '%s' (constant, linear, cosine)", sched);
    c.opt.type = (anc_opt_type)ot;
    c.opt.lr = lr;
    c.opt.beta1 = b1;
    c.opt.beta2 = b2;
    c.opt.eps = eps;
    c.opt.weight_decay = wd;
    c.scheduler = (anc_sched_type)st;
    c.warmup_ratio = warmup_ratio;
    c.warmup_steps = warmup_steps;
    c.batch_size = batch;
    c.grad_accum = accum;
    c.max_grad_norm = max_grad_norm;
    c.epochs = epochs;
    c.max_steps = max_steps;
    c.seed = (uint64_t)seed;
    c.logging_steps = logging;
    c.save_steps = save;
    c.eval_steps = eval_steps;
    c.eval_on_start = eval_on_start;
    c.max_tokens = max_tokens;
    c.precompute_ref = !no_precompute;
    c.bf16 = bf16;
    c.gradient_checkpointing = grad_ckpt;
    c.no_memory_check = no_mem_check;
    if (bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    c.resume = resume;
    c.use_peft = use_peft || adapter;
    c.adapter_dir = adapter;
    c.lora.r = (int)(lora_r > 65536 ? 65537 : lora_r);
    c.lora.alpha = lora_alpha;
    c.lora.dropout = lora_dropout;
    c.lora.use_rslora = use_rslora;
    if (lora_targets.n) {
        anc_error terr = {0};
        if (anc_lora_parse_targets(lora_targets.v, lora_targets.n, &c.lora.targets, &terr))
            return cli_usage_error("train", "--lora-target-modules: %s", terr.message);
    }
    anc_lora_config lora_default;
    anc_lora_config_default(&lora_default);
    if (!c.use_peft && (lora_targets.n || use_rslora || lora_r != lora_default.r || lora_alpha != lora_default.alpha ||
                        lora_dropout != lora_default.dropout))
        return cli_usage_error("train", "--lora-* options need --use-peft");
    /* an adapter brings its own shape: a flag that would be ignored is refused */
    if (adapter && (lora_targets.n || use_rslora || lora_r != lora_default.r || lora_alpha != lora_default.alpha))
        return cli_usage_error("train", "--adapter takes r, alpha, rsLoRA and the targets from %s/adapter_config.json; "
                               "drop --lora-r, --lora-alpha, --use-rslora and --lora-target-modules (--lora-dropout applies)", adapter);
    if (save_dtype) {
        c.save_dtype = anc_dtype_from_user(save_dtype);
        if (c.save_dtype != ANC_DT_F32 && c.save_dtype != ANC_DT_BF16 && c.save_dtype != ANC_DT_F16)
            return cli_usage_error("train", "--save-dtype must be f32, bf16 or f16");
    }
    c.chat_template = chat_template;
    c.max_length = max_length;
    c.max_prompt_length = max_prompt_length;
    if (strcmp(trunc, "keep_end") && strcmp(trunc, "keep_start"))
        return cli_usage_error("train", "--truncation-mode must be keep_end or keep_start");
    c.truncation_keep_start = !strcmp(trunc, "keep_start");
    train_progress prog;
    memset(&prog, 0, sizeof prog);
    prog.tty = isatty(2);
    anc_error err = {0};
    double t0 = cli_now();
    if (anc_train(&c, report, &prog, &err)) return cli_fail("train", &err);
    fprintf(stderr, "anchor train: done in %.1fs; model, metrics.jsonl and train_config.yaml in %s\n", cli_now() - t0, out);
    return 0;
}
