#include "train/train_config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/strbuf.h"

/* YAML double-quoted scalar (paths may hold ':' or '#'). */
static void sb_str(anc_sbuf *b, const char *key, const char *v) {
    if (!v) { anc_sbuf_printf(b, "%s: null\n", key); return; }
    anc_sbuf_printf(b, "%s: \"", key);
    for (const char *s = v; *s; s++) {
        if (*s == '"' || *s == '\\') anc_sbuf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) anc_sbuf_printf(b, "\\x%02x", (unsigned char)*s);
        else anc_sbuf_printf(b, "%c", *s);
    }
    anc_sbuf_printf(b, "\"\n");
}

static const char *sched_name(anc_sched_type t) {
    return t == ANC_SCHED_LINEAR ? "linear" : t == ANC_SCHED_COSINE ? "cosine" : "constant";
}

/* The LoRA keys (only for a use_peft run, so other runs read as before). */
static void sb_lora(anc_sbuf *b, const anc_train_config *c) {
    if (!c->use_peft) return;
    anc_sbuf_printf(b, "use_peft: true\nlora_r: %d\nlora_alpha: %.17g\nlora_dropout: %.17g\nuse_rslora: %s\nlora_target_modules:", c->lora.r,
              c->lora.alpha, c->lora.dropout, c->lora.use_rslora ? "true" : "false");
    for (int k = 0, first = 1; k < ANC_LORA_NMOD; k++)
        if (c->lora.targets & (1u << k)) {
            anc_sbuf_printf(b, "%s%s", first ? " " : ",", anc_lora_module_name((anc_lora_module)k));
            first = 0;
        }
    anc_sbuf_printf(b, "\n");
    sb_str(b, "adapter", c->adapter_dir);
}

/* The advisor's verdict behind `--loss-type auto` (only for such a run). */
static void sb_advice(anc_sbuf *b, const anc_train_advice *a) {
    if (!a) return;
    anc_sbuf_printf(b, "advisor:\n");
    sb_str(b, "  recommendation", a->recommendation);
    if (a->judge) sb_str(b, "  judge", a->judge);
    if (a->grader) sb_str(b, "  grader", a->grader);
    anc_sbuf_printf(b, "  win_rate: %.17g\n  ci: [%.17g, %.17g]\n  bootstrap_ci: [%.17g, %.17g]\n  n: %lld\n  confident: %s\n",
                    a->win_rate, a->ci_lo, a->ci_hi, a->bootstrap_lo, a->bootstrap_hi, (long long)a->n,
                    a->confident ? "true" : "false");
    sb_str(b, "  rule", a->rule);
}

char *anc_train_advice_metrics_line(const anc_train_advice *a) {
    json_t *j = json_pack("{s:s, s:f, s:[f,f], s:[f,f], s:I, s:b, s:s}", "recommendation", a->recommendation, "win_rate",
                          a->win_rate, "ci", a->ci_lo, a->ci_hi, "bootstrap_ci", a->bootstrap_lo, a->bootstrap_hi, "n",
                          (json_int_t)a->n, "confident", a->confident, "rule", a->rule ? a->rule : "");
    if (j && (a->judge || a->grader)) json_object_set_new(j, a->judge ? "judge" : "grader", json_string(a->judge ? a->judge : a->grader));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    anc_sbuf b = {0};
    if (text) anc_sbuf_printf(&b, "{\"step\": 0, \"advisor\": %s}\n", text);
    free(text);
    if (!text || b.oom) {
        anc_sbuf_free(&b);
        return NULL;
    }
    return anc_sbuf_take(&b);
}

anc_status anc_train_config_write_yaml(const anc_train_config *c, const char *path, anc_error *err) {
    anc_sbuf b = {0};
    anc_sbuf_printf(&b, "# anchor train: effective configuration (usable with --config)\n");
    sb_str(&b, "model", c->model_dir);
    sb_str(&b, "data", c->data_path);
    sb_str(&b, "output_dir", c->output_dir);
    sb_str(&b, "ref_model", c->ref_model_dir);
    sb_str(&b, "eval_data", c->eval_data_path);
    anc_sbuf_printf(&b, "loss_type:\n");
    for (int i = 0; i < c->n_losses; i++) anc_sbuf_printf(&b, "  - %s\n", anc_loss_name(c->losses[i]));
    anc_sbuf_printf(&b, "loss_weights:\n");
    for (int i = 0; i < c->n_losses; i++) anc_sbuf_printf(&b, "  - %.17g\n", c->loss_weights[i]);
    sb_advice(&b, c->advice);
    anc_sbuf_printf(&b, "beta: %.17g\nlabel_smoothing: %.17g\nsimpo_gamma: %.17g\ncpo_alpha: %.17g\n", c->loss.beta,
              c->loss.label_smoothing, c->loss.simpo_gamma, c->loss.cpo_alpha);
    anc_sbuf_printf(&b, "desirable_weight: %.17g\nundesirable_weight: %.17g\n", c->loss.desirable_weight, c->loss.undesirable_weight);
    anc_sbuf_printf(&b, "eval_on_start: %s\n", c->eval_on_start ? "true" : "false");
    anc_sbuf_printf(&b, "optimizer: %s\nlearning_rate: %.17g\nadam_beta1: %.17g\nadam_beta2: %.17g\nadam_epsilon: %.17g\nweight_decay: %.17g\n",
              c->opt.type == ANC_OPT_SGD ? "sgd" : "adamw", c->opt.lr, c->opt.beta1, c->opt.beta2, c->opt.eps, c->opt.weight_decay);
    anc_sbuf_printf(&b, "lr_scheduler: %s\nwarmup_ratio: %.17g\nwarmup_steps: %lld\n", sched_name(c->scheduler), c->warmup_ratio,
              (long long)c->warmup_steps);
    anc_sbuf_printf(&b, "per_device_train_batch_size: %lld\ngradient_accumulation_steps: %lld\n", (long long)c->batch_size,
              (long long)c->grad_accum);
    anc_sbuf_printf(&b, "num_train_epochs: %.17g\nmax_steps: %lld\nmax_grad_norm: %.17g\nseed: %llu\n", c->epochs,
              (long long)c->max_steps, c->max_grad_norm, (unsigned long long)c->seed);
    anc_sbuf_printf(&b, "logging_steps: %lld\nsave_steps: %lld\neval_steps: %lld\nmax_tokens: %lld\nno_precompute_ref: %s\nbf16: %s\n",
              (long long)c->logging_steps, (long long)c->save_steps, (long long)c->eval_steps, (long long)c->max_tokens,
              c->precompute_ref ? "false" : "true", c->bf16 ? "true" : "false");
    anc_sbuf_printf(&b, "gradient_checkpointing: %s\n", c->gradient_checkpointing ? "true" : "false");
    sb_str(&b, "chat_template", c->chat_template);
    anc_sbuf_printf(&b, "max_length: %lld\nmax_prompt_length: %lld\ntruncation_mode: %s\n", (long long)c->max_length,
              (long long)c->max_prompt_length, c->truncation_keep_start ? "keep_start" : "keep_end");
    if (c->save_dtype != ANC_DT_INVALID) anc_sbuf_printf(&b, "save_dtype: %s\n", anc_dtype_name(c->save_dtype));
    sb_lora(&b, c);
    if (b.oom) {
        free(b.data);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory writing %s", path);
    }
    anc_status st = anc_write_file_atomic(path, b.data, b.len, err);
    free(b.data);
    return st;
}

anc_status anc_train_signature(const anc_train_config *c, uint64_t data_hash, char **out, anc_error *err) {
    *out = NULL;
    anc_sbuf b = {0};
    sb_str(&b, "model", c->model_dir);
    sb_str(&b, "ref_model", c->ref_model_dir);
    anc_sbuf_printf(&b, "data: %016llx\n", (unsigned long long)data_hash);
    anc_sbuf_printf(&b, "loss_type:");
    for (int i = 0; i < c->n_losses; i++) anc_sbuf_printf(&b, "%s%s", i ? "," : " ", anc_loss_name(c->losses[i]));
    anc_sbuf_printf(&b, "\nloss_weights:");
    for (int i = 0; i < c->n_losses; i++) anc_sbuf_printf(&b, "%s%.17g", i ? "," : " ", c->loss_weights[i]);
    anc_sbuf_printf(&b, "\nbeta: %.17g\nlabel_smoothing: %.17g\nsimpo_gamma: %.17g\ncpo_alpha: %.17g\n", c->loss.beta,
              c->loss.label_smoothing, c->loss.simpo_gamma, c->loss.cpo_alpha);
    anc_sbuf_printf(&b, "desirable_weight: %.17g\nundesirable_weight: %.17g\n", c->loss.desirable_weight, c->loss.undesirable_weight);
    anc_sbuf_printf(&b, "optimizer: %s\nlearning_rate: %.17g\nadam_beta1: %.17g\nadam_beta2: %.17g\nadam_epsilon: %.17g\nweight_decay: %.17g\n",
              c->opt.type == ANC_OPT_SGD ? "sgd" : "adamw", c->opt.lr, c->opt.beta1, c->opt.beta2, c->opt.eps, c->opt.weight_decay);
    anc_sbuf_printf(&b, "lr_scheduler: %s\nwarmup_ratio: %.17g\nwarmup_steps: %lld\n", sched_name(c->scheduler), c->warmup_ratio,
              (long long)c->warmup_steps);
    anc_sbuf_printf(&b, "per_device_train_batch_size: %lld\ngradient_accumulation_steps: %lld\n", (long long)c->batch_size,
              (long long)c->grad_accum);
    /* the global batch is per-device batch x processes (anc_train_config.comm) */
    anc_sbuf_printf(&b, "processes: %d\n", anc_comm_size(c->comm));
    anc_sbuf_printf(&b, "num_train_epochs: %.17g\nmax_steps: %lld\nmax_grad_norm: %.17g\nseed: %llu\nmax_tokens: %lld\n", c->epochs,
              (long long)c->max_steps, c->max_grad_norm, (unsigned long long)c->seed, (long long)c->max_tokens);
    anc_sbuf_printf(&b, "no_precompute_ref: %s\nbf16: %s\n", c->precompute_ref ? "false" : "true", c->bf16 ? "true" : "false");
    sb_str(&b, "chat_template", c->chat_template);
    anc_sbuf_printf(&b, "max_length: %lld\nmax_prompt_length: %lld\ntruncation_mode: %s\n", (long long)c->max_length,
              (long long)c->max_prompt_length, c->truncation_keep_start ? "keep_start" : "keep_end");
    sb_lora(&b, c);
    if (b.oom) {
        free(b.data);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    *out = b.data;
    return ANC_OK;
}

/* The value of key in a signature text, as a pointer to the line's value
 * and its length; NULL when absent. */
static const char *sig_value(const char *text, const char *key, size_t klen, size_t *vlen) {
    for (const char *l = text; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n > klen + 1 && !strncmp(l, key, klen) && l[klen] == ':' && l[klen + 1] == ' ') {
            *vlen = n - klen - 2;
            return l + klen + 2;
        }
        l = e ? e + 1 : NULL;
    }
    return NULL;
}

anc_status anc_train_signature_check(const char *then, const char *now, const char *ckpt_path, anc_error *err) {
    anc_sbuf b = {0};
    int n_diff = 0;
    for (const char *l = now; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        const char *colon = memchr(l, ':', n);
        if (colon && colon + 1 < l + n && colon[1] == ' ') {
            size_t klen = (size_t)(colon - l), nv = n - klen - 2, ov = 0;
            const char *v = colon + 2;
            const char *old = sig_value(then, l, klen, &ov);
            if (!old && klen == 9 && !strncmp(l, "processes", 9)) {
                old = "1"; /* recorded since runs could span processes; before, always one */
                ov = 1;
            }
            if (!old) {
                old = "(not recorded)";
                ov = strlen(old);
            }
            if (ov != nv || memcmp(old, v, nv)) {
                anc_sbuf_printf(&b, "%s%.*s %.*s -> %.*s", n_diff ? "; " : "", (int)klen, l, (int)ov, old, (int)nv, v);
                n_diff++;
            }
        }
        l = e ? e + 1 : NULL;
    }
    anc_status st = ANC_OK;
    if (b.oom) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else if (n_diff)
        st = anc_error_set(err, ANC_ERR_INVALID,
                           "train: %s was made with other settings (%s); resume with the same settings, drop --resume to "
                           "start over (the finished files stay until the new run completes), or choose another --output-dir",
                           ckpt_path, b.data);
    free(b.data);
    return st;
}
