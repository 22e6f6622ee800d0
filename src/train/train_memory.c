/* The trainer's memory check: before any weights are loaded, the run's
 * memory plan (model/memplan.h) at its largest forward/backward chunk is
 * compared with what this process can use, and a run that cannot fit is
 * refused with its plan and what would make it fit, instead of being
 * killed by the kernel hours later. */
#include <stdio.h>
#include <string.h>

#include "model/memplan.h"
#include "train/trainer_internal.h"

/* Tokens of the largest chunk the run packs: pairs are packed whole into
 * chunks of at most max_tokens, so a chunk holds one pair longer than that,
 * or at most min(max_tokens, batch x longest pair) tokens. */
static int64_t largest_chunk(const anc_train_config *c, const anc_train_data *d, const anc_train_data *e) {
    int64_t longest = 0;
    const anc_train_data *sets[2] = {d, e};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; sets[k] && i < sets[k]->ps.n; i++) {
            int64_t n = anc_pair_tokens(&sets[k]->ps.pairs[i]);
            if (n > longest) longest = n;
        }
    int64_t budget = c->max_tokens;
    if (c->batch_size > 0 && longest > 0 && budget / c->batch_size > longest) budget = c->batch_size * longest;
    return budget > longest ? budget : longest;
}

anc_status anc_tr_check_memory(const anc_train_config *c, const anc_config *mc, const anc_train_data *d,
                           const anc_train_data *eval, anc_error *err) {
    if (c->no_memory_check) return ANC_OK;
    anc_mem_plan_opts o;
    memset(&o, 0, sizeof o);
    o.lora = c->use_peft;
    o.lora_cfg = &c->lora;
    o.bf16 = c->bf16;
    o.checkpointing = c->gradient_checkpointing;
    /* forward.c grows its buffers to 5/4 of a larger batch */
    int64_t chunk = largest_chunk(c, d, eval);
    o.tokens = chunk + chunk / 4;
    if (o.tokens < 1) o.tokens = 1;
    o.scored_rows = 0;
    /* a second model: a named reference (held while its log-probs are
     * computed, or for the run), or the start model kept for a full run */
    o.ref_model_held = c->ref_model_dir != NULL || (!c->precompute_ref && !c->use_peft);
    o.train = 1;
    anc_mem_plan p;
    anc_status st = anc_mem_plan_compute(mc, &o, &p, err);
    if (st) return st;
    uint64_t avail = 0;
    anc_error aerr = {0};
    if (anc_mem_available(&avail, &aerr) != ANC_OK) return ANC_OK; /* nothing to compare with: run */
    if (p.total <= avail) return ANC_OK;
    char need[32], have[32], w[32], act[32], opt[32];
    anc_mem_human(need, sizeof need, (double)p.total);
    anc_mem_human(have, sizeof have, (double)avail);
    anc_mem_human(w, sizeof w, (double)(p.weights + p.ref));
    anc_mem_human(act, sizeof act, (double)(p.activations + p.vocab));
    anc_mem_human(opt, sizeof opt, (double)(p.grads + p.optimizer + p.adapters));
    char hint[320];
    size_t used = 0;
    hint[0] = '\0';
#define HINT(cond, text) \
    if ((cond) && used < sizeof hint) used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%s", used ? ", " : "", text)
    HINT(!c->use_peft, "--use-peft (LoRA: no gradients or AdamW state for the base)");
    HINT(!c->bf16 && c->use_peft, "--bf16 (the frozen base in bf16: half the weights)");
    HINT(!c->gradient_checkpointing, "--gradient-checkpointing");
    HINT(chunk > 512, "a smaller --max-tokens");
    HINT(o.ref_model_held && !c->ref_model_dir, "the default precomputed reference (drop --no-precompute-ref)");
#undef HINT
    return anc_error_set(err, ANC_ERR_NOMEM,
                         "train: this run needs about %s (weights %s, gradients and optimiser %s, activations %s at %lld "
                         "tokens per chunk) but %s is available; try %s, or pass --no-memory-check to start anyway "
                         "(`anchor info --model DIR` prints the plan of each mode)",
                         need, w, opt, act, (long long)chunk, have, used ? hint : "a machine with more memory");
}
