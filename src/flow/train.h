/* The train step's options: TRL's and PEFT's option names, one table for
 * `anchor train`, the pipeline's train kind and the public settings API
 * (anchor/train.h: anc_train_opts is this struct, opaque there), turned
 * into the trainer's anc_train_config (train/trainer.h) by
 * anc_train_opts_config. */
#ifndef ANCHOR_FLOW_TRAIN_H
#define ANCHOR_FLOW_TRAIN_H

#include "flow/flow.h"
#include "flow/options.h"
#include "train/trainer.h"

struct anc_advise_result;

typedef struct anc_train_opts {
    const char *model;
    const char *data;
    const char *output_dir;
    const char *config;
    anc_opt_list loss_type;
    anc_opt_list loss_weights;
    double beta;
    double label_smoothing;
    double simpo_gamma;
    double cpo_alpha;
    double desirable_weight;
    double undesirable_weight;
    const char *ref_model;
    int no_precompute_ref;
    int bf16;
    int gradient_checkpointing;
    int no_memory_check;
    int use_peft;
    long lora_r;
    double lora_alpha;
    double lora_dropout;
    anc_opt_list lora_target_modules;
    int use_rslora;
    const char *adapter;
    const char *optimizer;
    double learning_rate;
    double adam_beta1;
    double adam_beta2;
    double adam_epsilon;
    double weight_decay;
    const char *lr_scheduler;
    double warmup_ratio;
    long warmup_steps;
    long per_device_train_batch_size;
    long gradient_accumulation_steps;
    double max_grad_norm;
    double num_train_epochs;
    long max_steps;
    long seed;
    long logging_steps;
    long save_steps;
    const char *eval_data;
    int eval_on_start;
    long eval_steps;
    long max_tokens;
    const char *chat_template;
    long max_length;
    long max_prompt_length;
    const char *truncation_mode;
    int resume;
    const char *save_dtype;
    const char *advise_judge;   /* --loss-type auto: the advisor's judge SPEC */
    const char *advise_grader;  /* --loss-type auto: or its grader */
    long advise_samples;        /* --loss-type auto: distinct prompts compared (default 64; 0: all) */
    int advised;                /* anc_train_opts_advise ran: "auto" stands for advice.recommendation (no option) */
    anc_train_advice advice;    /* its verdict (no option; strings static or borrowed from this struct) */
    anc_opt_strings kept;   /* copies made for library callers (anc_train_opts_set), no option */
} anc_train_opts;

/* The option table of train. */
extern const anc_option anc_train_option_table[];

/* Zeroes o and applies the defaults (the table's and the trainer's,
 * anc_train_config_default). */
void anc_train_opts_init(anc_train_opts *o);

/* Fills c (after anc_train_config_default) from o: loss types and weights,
 * optimiser, scheduler, LoRA shape, save dtype, truncation mode. Strings in
 * c are borrowed from o. A loss type "auto" becomes the advisor's verdict
 * (o->advice, after anc_train_opts_advise), and c->advice points to it.
 * Errors (ANC_ERR_INVALID, naming the option): a missing model/data/
 * output-dir, an unknown name, a value out of range, or options that
 * exclude each other (--lora-* without --use-peft; an --adapter with shape
 * options it brings itself; --advise-* without --loss-type auto); "auto"
 * without --advise-judge or --advise-grader (or with both), or before the
 * advisor ran. */
anc_status anc_train_opts_config(const anc_train_opts *o, anc_train_config *c, anc_error *err);

/* 1 when o's loss types include "auto". */
int anc_train_opts_auto(const anc_train_opts *o);

/* Without running anything: checks that a --loss-type auto run has one
 * comparison (--advise-judge or --advise-grader) and that every other option
 * is valid (as anc_train_opts_config would with the verdict in place).
 * ANC_OK when o has no "auto". Errors: ANC_ERR_INVALID with the message to
 * show as a usage error. */
anc_status anc_train_opts_advise_check(const anc_train_opts *o, anc_error *err);

/* --loss-type auto: runs the anchoring advisor (flow/advise.h) on the
 * train model and data (generation with --chat-template and --bf16; the
 * comparison from --advise-judge or --advise-grader on --advise-samples
 * prompts), its records in OUTPUT_DIR/advise.jsonl and the judge's run store
 * OUTPUT_DIR/advise.jsonl.store.db (so a rerun or --resume asks nothing
 * again), then sets o->advised and o->advice (the verdict that "auto"
 * stands for). *res (zeroed first; free with anc_advise_result_free) holds
 * the whole result. Nothing happens (ANC_OK, *res zeroed) without "auto".
 * Errors: those of anc_train_opts_advise_check, an --output-dir that is,
 * holds or lies inside a model it reads, and the advisor's. */
anc_status anc_train_opts_advise(anc_train_opts *o, const anc_flow_hooks *hooks, struct anc_advise_result *res,
                                 anc_error *err);

#endif
