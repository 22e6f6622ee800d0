/* The table of step kinds: which options each accepts (the subcommand's own
 * flag names), their types, which of them are paths read or written, and
 * which are required. The pipeline validates every step against it before
 * anything runs. */
#include <string.h>

#include "pipeline/steps.h"

#define LLM_OPTS(role, req)                                                             \
    {role, PT_STR, PR_SPEC, req}, {role "-model", PT_STR, PR_NONE, 0},                  \
    {"api-key-env", PT_STR, PR_NONE, 0}, {"temperature", PT_FLOAT, PR_NONE, 0},         \
    {"max-tokens", PT_INT, PR_NONE, 0}, {"seed", PT_INT, PR_NONE, 0},                   \
    {"concurrency", PT_INT, PR_NONE, 0}, {"timeout", PT_FLOAT, PR_NONE, 0},             \
    {"retries", PT_INT, PR_NONE, 0}, {"chat-template", PT_STR, PR_MAYBE_PATH, 0}

static const anc_optdef generate_opts[] = {
    {"model", PT_STR, PR_IN_DIR, 0}, {"prompts", PT_STR, PR_IN_FILE, 1}, {"out", PT_STR, PR_OUT, 0},
    {"temperature", PT_FLOAT, PR_NONE, 0}, {"top-p", PT_FLOAT, PR_NONE, 0}, {"top-k", PT_INT, PR_NONE, 0},
    {"max-new-tokens", PT_INT, PR_NONE, 0}, {"samples-per-prompt", PT_INT, PR_NONE, 0},
    {"seed", PT_INT, PR_NONE, 0}, {"stop", PT_LIST, PR_NONE, 0}, {"parallel", PT_INT, PR_NONE, 0},
    {"chat-template", PT_STR, PR_MAYBE_PATH, 0}, {"bf16", PT_FLAG, PR_NONE, 0}, {"adapter", PT_STR, PR_IN_DIR, 0}, {0}};

static const anc_optdef revise_opts[] = {
    {"input", PT_STR, PR_IN_FILE, 1}, {"out", PT_STR, PR_OUT, 0}, {"template", PT_STR, PR_IN_FILE, 0},
    {"response-field", PT_STR, PR_NONE, 0}, {"prompt-field", PT_STR, PR_NONE, 0},
    {"retry-failed", PT_FLAG, PR_NONE, 0}, LLM_OPTS("reviser", 1), {0}};

static const anc_optdef judge_opts[] = {
    {"input", PT_STR, PR_IN_FILE, 1}, {"out", PT_STR, PR_OUT, 0}, {"template", PT_STR, PR_IN_FILE, 0},
    {"response-field", PT_STR, PR_NONE, 0}, LLM_OPTS("judge", 1), {0}};

static const anc_optdef stronger_opts[] = {
    {"input", PT_STR, PR_IN_FILE, 1}, {"out", PT_STR, PR_OUT, 0},
    {"response-field", PT_STR, PR_NONE, 0}, LLM_OPTS("stronger", 1), {0}};

static const anc_optdef import_opts[] = {
    {"format", PT_STR, PR_NONE, 1}, {"input", PT_STR, PR_IN_FILE, 1}, {"out", PT_STR, PR_OUT, 0},
    {"source", PT_STR, PR_NONE, 0}, {0}};

/* stats: "input" is its positional FILE...; stdout goes to RUN_DIR/NAME.txt */
static const anc_optdef stats_opts[] = {
    {"input", PT_LIST, PR_IN_FILE, 1}, {"model", PT_STR, PR_IN_DIR, 0}, {"json", PT_FLAG, PR_NONE, 0}, {0}};

static const anc_optdef train_opts[] = {
    {"model", PT_STR, PR_IN_DIR, 0}, {"data", PT_STR, PR_IN_FILE, 1}, {"output-dir", PT_STR, PR_OUT, 0},
    {"loss-type", PT_LIST, PR_NONE, 0}, {"loss-weights", PT_LIST, PR_NONE, 0}, {"beta", PT_FLOAT, PR_NONE, 0},
    {"label-smoothing", PT_FLOAT, PR_NONE, 0}, {"simpo-gamma", PT_FLOAT, PR_NONE, 0},
    {"cpo-alpha", PT_FLOAT, PR_NONE, 0}, {"desirable-weight", PT_FLOAT, PR_NONE, 0},
    {"undesirable-weight", PT_FLOAT, PR_NONE, 0}, {"ref-model", PT_STR, PR_IN_DIR, 0},
    {"no-precompute-ref", PT_FLAG, PR_NONE, 0}, {"bf16", PT_FLAG, PR_NONE, 0}, {"optimizer", PT_STR, PR_NONE, 0},
    {"gradient-checkpointing", PT_FLAG, PR_NONE, 0}, {"no-memory-check", PT_FLAG, PR_NONE, 0},
    {"use-peft", PT_FLAG, PR_NONE, 0}, {"lora-r", PT_INT, PR_NONE, 0}, {"lora-alpha", PT_FLOAT, PR_NONE, 0},
    {"lora-dropout", PT_FLOAT, PR_NONE, 0}, {"lora-target-modules", PT_LIST, PR_NONE, 0},
    {"use-rslora", PT_FLAG, PR_NONE, 0}, {"adapter", PT_STR, PR_IN_DIR, 0},
    {"learning-rate", PT_FLOAT, PR_NONE, 0}, {"adam-beta1", PT_FLOAT, PR_NONE, 0},
    {"adam-beta2", PT_FLOAT, PR_NONE, 0}, {"adam-epsilon", PT_FLOAT, PR_NONE, 0},
    {"weight-decay", PT_FLOAT, PR_NONE, 0}, {"lr-scheduler", PT_STR, PR_NONE, 0},
    {"lr-scheduler-type", PT_STR, PR_NONE, 0}, {"warmup-ratio", PT_FLOAT, PR_NONE, 0},
    {"warmup-steps", PT_INT, PR_NONE, 0}, {"per-device-train-batch-size", PT_INT, PR_NONE, 0},
    {"gradient-accumulation-steps", PT_INT, PR_NONE, 0}, {"max-grad-norm", PT_FLOAT, PR_NONE, 0},
    {"num-train-epochs", PT_FLOAT, PR_NONE, 0}, {"max-steps", PT_INT, PR_NONE, 0}, {"seed", PT_INT, PR_NONE, 0},
    {"logging-steps", PT_INT, PR_NONE, 0}, {"save-steps", PT_INT, PR_NONE, 0},
    {"eval-data", PT_STR, PR_IN_FILE, 0}, {"eval-on-start", PT_FLAG, PR_NONE, 0},
    {"eval-steps", PT_INT, PR_NONE, 0}, {"max-tokens", PT_INT, PR_NONE, 0},
    {"chat-template", PT_STR, PR_MAYBE_PATH, 0}, {"max-length", PT_INT, PR_NONE, 0},
    {"max-prompt-length", PT_INT, PR_NONE, 0}, {"truncation-mode", PT_STR, PR_NONE, 0},
    {"save-dtype", PT_STR, PR_NONE, 0}, {0}};

static const anc_optdef eval_opts[] = {
    {"model", PT_STR, PR_IN_DIR, 0}, {"data", PT_STR, PR_IN_FILE, 1}, {"task", PT_STR, PR_NONE, 0},
    {"grader", PT_STR, PR_NONE, 0}, {"pattern", PT_STR, PR_NONE, 0}, {"tolerance", PT_FLOAT, PR_NONE, 0},
    {"max-new-tokens", PT_INT, PR_NONE, 0}, {"parallel", PT_INT, PR_NONE, 0},
    {"chat-template", PT_STR, PR_MAYBE_PATH, 0}, {"batch-tokens", PT_INT, PR_NONE, 0},
    {"out", PT_STR, PR_OUT, 0}, {"json", PT_FLAG, PR_NONE, 0}, {"bf16", PT_FLAG, PR_NONE, 0},
    {"adapter", PT_STR, PR_IN_DIR, 0}, {0}};

static const anc_optdef ab_opts[] = {
    {"a", PT_STR, PR_IN_FILE, 0}, {"b", PT_STR, PR_IN_FILE, 0}, {"model-a", PT_STR, PR_IN_DIR, 0},
    {"model-b", PT_STR, PR_IN_DIR, 0}, {"prompts", PT_STR, PR_IN_FILE, 0}, {"grader", PT_STR, PR_NONE, 0},
    {"pattern", PT_STR, PR_NONE, 0}, {"tolerance", PT_FLOAT, PR_NONE, 0},
    {"reference-field", PT_STR, PR_NONE, 0}, {"response-field", PT_STR, PR_NONE, 0},
    {"template", PT_STR, PR_IN_FILE, 0}, {"out", PT_STR, PR_OUT, 0}, {"json", PT_FLAG, PR_NONE, 0},
    {"resamples", PT_INT, PR_NONE, 0}, {"bootstrap-seed", PT_INT, PR_NONE, 0},
    {"max-new-tokens", PT_INT, PR_NONE, 0}, {"gen-temperature", PT_FLOAT, PR_NONE, 0},
    {"gen-seed", PT_INT, PR_NONE, 0}, {"parallel", PT_INT, PR_NONE, 0},
    {"model-chat-template", PT_STR, PR_MAYBE_PATH, 0}, {"bf16", PT_FLAG, PR_NONE, 0}, LLM_OPTS("judge", 0), {0}};

static const anc_optdef report_opts[] = {
    {"out", PT_STR, PR_OUT, 0}, {"examples", PT_INT, PR_NONE, 0}, {"title", PT_STR, PR_NONE, 0}, {0}};

static const anc_kinddef kinds[ANC_STEP_N_KINDS] = {
    [ANC_STEP_GENERATE] = {"generate", generate_opts, "out", ".jsonl", 1},
    [ANC_STEP_REVISE] = {"revise", revise_opts, "out", ".jsonl", 0},
    [ANC_STEP_JUDGE] = {"judge", judge_opts, "out", ".jsonl", 0},
    [ANC_STEP_STRONGER] = {"stronger", stronger_opts, "out", ".jsonl", 0},
    [ANC_STEP_IMPORT] = {"import", import_opts, "out", ".jsonl", 0},
    [ANC_STEP_STATS] = {"stats", stats_opts, NULL, ".txt", 0},
    [ANC_STEP_TRAIN] = {"train", train_opts, "output-dir", NULL, 1},
    [ANC_STEP_EVAL] = {"eval", eval_opts, "out", ".jsonl", 1},
    [ANC_STEP_AB] = {"ab", ab_opts, "out", ".jsonl", 0},
    [ANC_STEP_REPORT] = {"report", report_opts, "out", NULL, 0},
};

const anc_kinddef *anc_kind_def(anc_step_kind k) {
    return (unsigned)k < ANC_STEP_N_KINDS ? &kinds[k] : NULL;
}

const char *anc_step_kind_name(anc_step_kind k) {
    return (unsigned)k < ANC_STEP_N_KINDS ? kinds[k].name : "?";
}

int anc_kind_from_name(const char *name) {
    for (int k = 0; k < ANC_STEP_N_KINDS; k++)
        if (!strcmp(kinds[k].name, name)) return k;
    return -1;
}

const anc_optdef *anc_kind_find_opt(anc_step_kind k, const char *key) {
    for (const anc_optdef *o = kinds[k].opts; o->name; o++) {
        size_t i = 0;
        for (; o->name[i] && key[i]; i++) {
            char a = o->name[i], b = key[i] == '_' ? '-' : key[i];
            if (a != b) break;
        }
        if (!o->name[i] && !key[i]) return o;
    }
    return NULL;
}
