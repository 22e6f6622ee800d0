/* The train step's option table and its translation into the trainer's
 * configuration (train.h). */
#include "flow/train.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/paths.h"
#include "flow/advise.h"

#define T anc_train_opts
const anc_option anc_train_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, model), NULL, "DIR",
     "starting model (Hugging Face folder)"},
    {"data", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, data), NULL, "FILE",
     "training rows (JSONL/JSON): TRL standard or conversational pairs, implicit prompts, unpaired rows with label, or pre-tokenised *_ids"},
    {"output-dir", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, output_dir), NULL, "DIR",
     "where the model, checkpoints and metrics.jsonl go"},
    {"config", ANC_OPT_STR, 0, ANC_OPT_CLI_ONLY, offsetof(T, config), NULL, "FILE.yaml",
     "options as YAML (keys are these option names); flags override it"},
    {"loss-type", ANC_OPT_LIST, 0, 0, offsetof(T, loss_type), "sigmoid", "NAME",
     "apo_zero, apo_down, sigmoid (dpo), ipo, hinge, robust, exo_pair, nca_pair, bco_pair, sppo_hard, aot, aot_pair, discopop, sigmoid_norm, sft, simpo, cpo, orpo, kto, apo_zero_unpaired; auto: the anchoring advisor picks apo_zero or apo_down (needs --advise-judge or --advise-grader); repeatable"},
    {"advise-judge", ANC_OPT_STR, ANC_ROLE_SPEC, 0, offsetof(T, advise_judge), NULL, "SPEC",
     "--loss-type auto: the judge comparing the model's answers with the chosen ones, both orders (exec:CMD, http(s)://HOST/v1, local:DIR; replies kept in OUTPUT_DIR/advise.jsonl.store.db)"},
    {"advise-grader", ANC_OPT_STR, 0, 0, offsetof(T, advise_grader), NULL, "G",
     "--loss-type auto: compare with a grader against the rows' reference instead: exact | regex | numeric | exec:CMD"},
    {"advise-samples", ANC_OPT_COUNT, 0, 0, offsetof(T, advise_samples), "64", "N",
     "--loss-type auto: distinct prompts the advisor compares (default 64; 0 = all)"},
    {"loss-weights", ANC_OPT_LIST, 0, 0, offsetof(T, loss_weights), NULL, "W,W,...",
     "weight of each loss type (default 1 each)"},
    {"beta", ANC_OPT_FLOAT, 0, 0, offsetof(T, beta), NULL, "B",
     "beta (default 0.1)"},
    {"label-smoothing", ANC_OPT_FLOAT, 0, 0, offsetof(T, label_smoothing), NULL, "E",
     "label smoothing for sigmoid/robust/exo_pair/aot (default 0)"},
    {"simpo-gamma", ANC_OPT_FLOAT, 0, 0, offsetof(T, simpo_gamma), NULL, "G",
     "SimPO target margin (default 0.5)"},
    {"cpo-alpha", ANC_OPT_FLOAT, 0, 0, offsetof(T, cpo_alpha), NULL, "A",
     "weight of the chosen NLL in cpo/simpo (default 1.0, as TRL)"},
    {"desirable-weight", ANC_OPT_FLOAT, 0, 0, offsetof(T, desirable_weight), NULL, "W",
     "KTO weight of desirable rows (default 1)"},
    {"undesirable-weight", ANC_OPT_FLOAT, 0, 0, offsetof(T, undesirable_weight), NULL, "W",
     "KTO weight of undesirable rows (default 1)"},
    {"ref-model", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, ref_model), NULL, "DIR",
     "reference model (default: the starting model)"},
    {"no-precompute-ref", ANC_OPT_FLAG, 0, 0, offsetof(T, no_precompute_ref), NULL, NULL,
     "keep the reference model in memory instead of caching its log-probs"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL,
     "mixed precision as TRL's bf16: matrix products in bf16 (fp32 accumulation), fp32 master weights and AdamW; with --use-peft the frozen base is held in bf16 only (half the memory)"},
    {"gradient-checkpointing", ANC_OPT_FLAG, 0, 0, offsetof(T, gradient_checkpointing), NULL, NULL,
     "keep one layer's activations at a time and recompute in backward (less memory, one more forward; same results)"},
    {"no-memory-check", ANC_OPT_FLAG, 0, 0, offsetof(T, no_memory_check), NULL, NULL,
     "start even when the run's memory plan exceeds the available memory (see anchor info)"},
    {"use-peft", ANC_OPT_FLAG, 0, 0, offsetof(T, use_peft), NULL, NULL,
     "train LoRA adapters on the frozen base (PEFT); the reference is the base with adapters off"},
    {"lora-r", ANC_OPT_COUNT, 0, 0, offsetof(T, lora_r), NULL, "R",
     "LoRA rank (default 16)"},
    {"lora-alpha", ANC_OPT_FLOAT, 0, 0, offsetof(T, lora_alpha), NULL, "A",
     "LoRA alpha: the update is scaled by alpha/r (default 32)"},
    {"lora-dropout", ANC_OPT_FLOAT, 0, 0, offsetof(T, lora_dropout), NULL, "P",
     "dropout on the adapters' input while training (default 0.05)"},
    {"lora-target-modules", ANC_OPT_LIST, 0, 0, offsetof(T, lora_target_modules), NULL, "NAMES",
     "projections to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear (default q_proj,v_proj)"},
    {"use-rslora", ANC_OPT_FLAG, 0, 0, offsetof(T, use_rslora), NULL, NULL,
     "rank-stabilised LoRA: scale by alpha/sqrt(r)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR",
     "continue training this PEFT adapter (its r, alpha and targets; implies --use-peft)"},
    {"optimizer", ANC_OPT_STR, 0, 0, offsetof(T, optimizer), "adamw", "NAME",
     "adamw (default) or sgd"},
    {"learning-rate", ANC_OPT_FLOAT, 0, 0, offsetof(T, learning_rate), NULL, "LR",
     "peak learning rate (default 1e-6)"},
    {"adam-beta1", ANC_OPT_FLOAT, 0, 0, offsetof(T, adam_beta1), NULL, "B1",
     "default 0.9"},
    {"adam-beta2", ANC_OPT_FLOAT, 0, 0, offsetof(T, adam_beta2), NULL, "B2",
     "default 0.999"},
    {"adam-epsilon", ANC_OPT_FLOAT, 0, 0, offsetof(T, adam_epsilon), NULL, "EPS",
     "default 1e-8"},
    {"weight-decay", ANC_OPT_FLOAT, 0, 0, offsetof(T, weight_decay), NULL, "WD",
     "decoupled weight decay, not on biases/norms (default 0)"},
    {"lr-scheduler", ANC_OPT_STR, 0, 0, offsetof(T, lr_scheduler), "linear", "NAME",
     "constant, linear (default) or cosine"},
    {"lr-scheduler-type", ANC_OPT_STR, 0, 0, offsetof(T, lr_scheduler), NULL, "NAME",
     "alias of --lr-scheduler"},
    {"warmup-ratio", ANC_OPT_FLOAT, 0, 0, offsetof(T, warmup_ratio), NULL, "R",
     "share of steps spent warming up (default 0)"},
    {"warmup-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, warmup_steps), NULL, "N",
     "warm-up steps (overrides --warmup-ratio)"},
    {"per-device-train-batch-size", ANC_OPT_COUNT, 0, 0, offsetof(T, per_device_train_batch_size), NULL, "N",
     "pairs per micro-step (default 8)"},
    {"gradient-accumulation-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, gradient_accumulation_steps), NULL, "N",
     "micro-steps per optimiser step (default 1)"},
    {"max-grad-norm", ANC_OPT_FLOAT, 0, 0, offsetof(T, max_grad_norm), NULL, "N",
     "clip the gradient norm (default 1.0; 0 disables)"},
    {"num-train-epochs", ANC_OPT_FLOAT, 0, 0, offsetof(T, num_train_epochs), NULL, "E",
     "epochs (default 1)"},
    {"max-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, max_steps), NULL, "N",
     "optimiser steps (overrides epochs)"},
    {"seed", ANC_OPT_INT, 0, 0, offsetof(T, seed), NULL, "S",
     "fixes the data order (default 42)"},
    {"logging-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, logging_steps), NULL, "N",
     "metrics.jsonl line every N steps (default 10)"},
    {"save-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, save_steps), NULL, "N",
     "checkpoint every N steps (default: none)"},
    {"eval-data", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, eval_data), NULL, "FILE",
     "evaluation rows (eval_ metrics)"},
    {"eval-on-start", ANC_OPT_FLAG, 0, 0, offsetof(T, eval_on_start), NULL, NULL,
     "evaluate once before training (logged as step 0)"},
    {"eval-steps", ANC_OPT_COUNT, 0, 0, offsetof(T, eval_steps), NULL, "N",
     "evaluate every N steps (default: at the end)"},
    {"max-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_tokens), NULL, "N",
     "tokens per forward/backward chunk (memory bound; default 8192)"},
    {"chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, chat_template), NULL, "NAME|FILE",
     "override the tokenizer's chat template (chatml, llama3, llama2, zephyr, mistral, or a Jinja file)"},
    {"max-length", ANC_OPT_COUNT, 0, 0, offsetof(T, max_length), NULL, "N",
     "prompt + completion tokens; longer rows are truncated, or dropped (counted) when they cannot fit"},
    {"max-prompt-length", ANC_OPT_COUNT, 0, 0, offsetof(T, max_prompt_length), NULL, "N",
     "prompt tokens kept"},
    {"truncation-mode", ANC_OPT_STR, 0, 0, offsetof(T, truncation_mode), "keep_end", "MODE",
     "keep_end (default, as TRL) or keep_start: which end of a long prompt survives"},
    {"resume", ANC_OPT_FLAG, 0, ANC_OPT_CLI_ONLY, offsetof(T, resume), NULL, NULL,
     "continue from the newest complete checkpoint in --output-dir"},
    {"save-dtype", ANC_OPT_STR, 0, 0, offsetof(T, save_dtype), NULL, "T",
     "dtype of the final model: f32, bf16, f16 (default: the input's)"},
    {0},
};
#undef T

void anc_train_opts_init(anc_train_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_train_option_table, o, &err); /* the table's literals */
    /* numeric defaults are the trainer's own */
    anc_train_config c;
    anc_train_config_default(&c);
    o->beta = c.loss.beta;
    o->label_smoothing = c.loss.label_smoothing;
    o->simpo_gamma = c.loss.simpo_gamma;
    o->cpo_alpha = c.loss.cpo_alpha;
    o->desirable_weight = c.loss.desirable_weight;
    o->undesirable_weight = c.loss.undesirable_weight;
    o->learning_rate = c.opt.lr;
    o->adam_beta1 = c.opt.beta1;
    o->adam_beta2 = c.opt.beta2;
    o->adam_epsilon = c.opt.eps;
    o->weight_decay = c.opt.weight_decay;
    o->max_grad_norm = c.max_grad_norm;
    o->num_train_epochs = c.epochs;
    o->per_device_train_batch_size = c.batch_size;
    o->gradient_accumulation_steps = c.grad_accum;
    o->seed = (long)c.seed;
    o->logging_steps = c.logging_steps;
    o->max_tokens = c.max_tokens;
    o->lora_r = c.lora.r;
    o->lora_alpha = c.lora.alpha;
    o->lora_dropout = c.lora.dropout;
}

int anc_train_opts_auto(const anc_train_opts *o) {
    for (int i = 0; i < o->loss_type.n; i++)
        if (!strcmp(o->loss_type.v[i], "auto")) return 1;
    return 0;
}

/* What --loss-type auto needs, or that the --advise-* options need it. */
static anc_status advise_options(const anc_train_opts *o, anc_error *err) {
    int any = o->advise_judge || o->advise_grader || o->advise_samples != 64;
    if (!anc_train_opts_auto(o))
        return any ? anc_error_set(err, ANC_ERR_INVALID, "--advise-judge, --advise-grader and --advise-samples need --loss-type auto")
                   : ANC_OK;
    if (!o->advise_judge && !o->advise_grader)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "--loss-type auto needs --advise-judge SPEC or --advise-grader G: the advisor compares the "
                             "model's answers with the chosen answers to pick apo_zero or apo_down");
    if (o->advise_judge && o->advise_grader)
        return anc_error_set(err, ANC_ERR_INVALID, "--loss-type auto: give one of --advise-judge and --advise-grader");
    return ANC_OK;
}

static anc_status losses(const anc_train_opts *o, anc_train_config *c, anc_error *err) {
    const anc_opt_list *lt = &o->loss_type, *lw = &o->loss_weights;
    if (lt->n > ANC_MAX_LOSSES) return anc_error_set(err, ANC_ERR_INVALID, "at most %d loss types", ANC_MAX_LOSSES);
    anc_status st = advise_options(o, err);
    if (st) return st;
    if (anc_train_opts_auto(o) && !o->advised)
        return anc_error_set(err, ANC_ERR_INVALID, "--loss-type auto: the advisor has not run (anc_train_opts_advise)");
    c->advice = anc_train_opts_auto(o) ? &o->advice : NULL;
    c->n_losses = lt->n;
    for (int i = 0; i < lt->n; i++) {
        int t = anc_loss_from_name(strcmp(lt->v[i], "auto") ? lt->v[i] : o->advice.recommendation);
        if (t < 0) return anc_error_set(err, ANC_ERR_INVALID, "unknown loss type '%s' (see --help)", lt->v[i]);
        c->losses[i] = (anc_loss_type)t;
        c->loss_weights[i] = 1.0;
    }
    if (lw->n && lw->n != lt->n)
        return anc_error_set(err, ANC_ERR_INVALID, "--loss-weights has %d values for %d loss types", lw->n, lt->n);
    for (int i = 0; i < lw->n; i++) {
        char *end = NULL;
        c->loss_weights[i] = strtod(lw->v[i], &end);
        if (end == lw->v[i] || *end)
            return anc_error_set(err, ANC_ERR_INVALID, "--loss-weights: '%s' is not a number", lw->v[i]);
    }
    c->loss.beta = o->beta;
    c->loss.label_smoothing = o->label_smoothing;
    c->loss.simpo_gamma = o->simpo_gamma;
    c->loss.cpo_alpha = o->cpo_alpha;
    c->loss.desirable_weight = o->desirable_weight;
    c->loss.undesirable_weight = o->undesirable_weight;
    return ANC_OK;
}

static anc_status lora(const anc_train_opts *o, anc_train_config *c, anc_error *err) {
    c->use_peft = o->use_peft || o->adapter;
    c->adapter_dir = o->adapter;
    c->lora.r = (int)(o->lora_r > 65536 ? 65537 : o->lora_r);
    c->lora.alpha = o->lora_alpha;
    c->lora.dropout = o->lora_dropout;
    c->lora.use_rslora = o->use_rslora;
    const anc_opt_list *tg = &o->lora_target_modules;
    if (tg->n) {
        anc_error terr = {0};
        if (anc_lora_parse_targets(tg->v, tg->n, &c->lora.targets, &terr))
            return anc_error_set(err, ANC_ERR_INVALID, "--lora-target-modules: %s", terr.message);
    }
    anc_lora_config d;
    anc_lora_config_default(&d);
    int shape = tg->n || o->use_rslora || o->lora_r != d.r || o->lora_alpha != d.alpha;
    if (!c->use_peft && (shape || o->lora_dropout != d.dropout))
        return anc_error_set(err, ANC_ERR_INVALID, "--lora-* options need --use-peft");
    /* an adapter brings its own shape: a flag that would be ignored is refused */
    if (o->adapter && shape)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "--adapter takes r, alpha, rsLoRA and the targets from %s/adapter_config.json; drop "
                             "--lora-r, --lora-alpha, --use-rslora and --lora-target-modules (--lora-dropout applies)",
                             o->adapter);
    return ANC_OK;
}

anc_status anc_train_opts_config(const anc_train_opts *o, anc_train_config *c, anc_error *err) {
    anc_train_config_default(c);
    if (!o->model || !o->data || !o->output_dir)
        return anc_error_set(err, ANC_ERR_INVALID, "--model, --data and --output-dir are required");
    c->model_dir = o->model;
    c->data_path = o->data;
    c->output_dir = o->output_dir;
    c->ref_model_dir = o->ref_model;
    c->eval_data_path = o->eval_data;
    anc_status st = losses(o, c, err);
    if (st) return st;
    int ot = anc_opt_from_name(o->optimizer), sc = anc_sched_from_name(o->lr_scheduler);
    if (ot < 0) return anc_error_set(err, ANC_ERR_INVALID, "unknown optimizer '%s' (adamw or sgd)", o->optimizer);
    if (sc < 0)
        return anc_error_set(err, ANC_ERR_INVALID, "unknown lr scheduler '%s' (constant, linear, cosine)", o->lr_scheduler);
    c->opt.type = (anc_opt_type)ot;
    c->opt.lr = o->learning_rate;
    c->opt.beta1 = o->adam_beta1;
    c->opt.beta2 = o->adam_beta2;
    c->opt.eps = o->adam_epsilon;
    c->opt.weight_decay = o->weight_decay;
    c->scheduler = (anc_sched_type)sc;
    c->warmup_ratio = o->warmup_ratio;
    c->warmup_steps = o->warmup_steps;
    c->batch_size = o->per_device_train_batch_size;
    c->grad_accum = o->gradient_accumulation_steps;
    c->max_grad_norm = o->max_grad_norm;
    c->epochs = o->num_train_epochs;
    c->max_steps = o->max_steps;
    c->seed = (uint64_t)o->seed;
    c->logging_steps = o->logging_steps;
    c->save_steps = o->save_steps;
    c->eval_steps = o->eval_steps;
    c->eval_on_start = o->eval_on_start;
    c->max_tokens = o->max_tokens;
    c->precompute_ref = !o->no_precompute_ref;
    c->bf16 = o->bf16;
    c->gradient_checkpointing = o->gradient_checkpointing;
    c->no_memory_check = o->no_memory_check;
    c->resume = o->resume;
    if ((st = lora(o, c, err))) return st;
    if (o->save_dtype) {
        c->save_dtype = anc_dtype_from_user(o->save_dtype);
        if (c->save_dtype != ANC_DT_F32 && c->save_dtype != ANC_DT_BF16 && c->save_dtype != ANC_DT_F16)
            return anc_error_set(err, ANC_ERR_INVALID, "--save-dtype must be f32, bf16 or f16");
    }
    c->chat_template = o->chat_template;
    c->max_length = o->max_length;
    c->max_prompt_length = o->max_prompt_length;
    if (strcmp(o->truncation_mode, "keep_end") && strcmp(o->truncation_mode, "keep_start"))
        return anc_error_set(err, ANC_ERR_INVALID, "--truncation-mode must be keep_end or keep_start");
    c->truncation_keep_start = !strcmp(o->truncation_mode, "keep_start");
    return ANC_OK;
}

anc_status anc_train_opts_advise_check(const anc_train_opts *o, anc_error *err) {
    if (!anc_train_opts_auto(o)) return ANC_OK;
    anc_status st = advise_options(o, err);
    if (st) return st;
    anc_train_opts probe = *o; /* every other option, checked with a verdict in place */
    probe.advised = 1;
    probe.advice.recommendation = "apo_zero";
    anc_train_config c;
    return anc_train_opts_config(&probe, &c, err);
}

anc_status anc_train_opts_advise(anc_train_opts *o, const anc_flow_hooks *hooks, anc_advise_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!anc_train_opts_auto(o)) return ANC_OK;
    anc_status st = anc_train_opts_advise_check(o, err);
    if (st) return st;
    /* the advisor writes into the output folder: refuse one the run will refuse, before writing */
    const char *inputs[3] = {o->model, o->ref_model, o->adapter};
    static const char *const what[3] = {"--model", "--ref-model", "--adapter"};
    if ((st = anc_path_refuse_overlap("train", "--output-dir", o->output_dir, inputs, what, 3, err)) ||
        (st = anc_mkdirs(o->output_dir, err)))
        return st;
    char *out = anc_path_join(o->output_dir, "advise.jsonl");
    if (!out) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_advise_opts a;
    anc_advise_opts_init(&a);
    a.model = o->model;
    a.data = o->data;
    a.samples = o->advise_samples;
    a.grader = o->advise_grader;
    a.llm.spec = o->advise_judge;
    a.model_chat_template = o->chat_template;
    a.bf16 = o->bf16;
    a.out = out;
    st = anc_advise_run(&a, NULL, hooks, res, err);
    free(out);
    if (st) return anc_error_prefix(err, "train: --loss-type auto");
    o->advised = 1;
    o->advice = (anc_train_advice){res->recommendation, o->advise_judge, o->advise_grader, res->ab.win_rate,
                                   res->ab.wilson_lo, res->ab.wilson_hi, res->ab.bootstrap_lo, res->ab.bootstrap_hi,
                                   (int64_t)res->ab.n, res->confident, res->rule};
    return ANC_OK;
}
