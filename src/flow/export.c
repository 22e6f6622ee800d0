/* The export step (export.h): its option table and the run (load + merge,
 * hyper-parameters and tensors, vocabulary, the write). */
#include "flow/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "flow/gguf_model.h"
#include "model/lora.h"

#define T anc_export_opts
const anc_option anc_export_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, ANC_OPT_REQUIRED, offsetof(T, model), NULL, "DIR",
     "model folder (config.json, weights, tokenizer.json)"},
    {"adapter", ANC_OPT_STR, ANC_ROLE_IN_DIR, 0, offsetof(T, adapter), NULL, "DIR",
     "PEFT LoRA adapter merged into --model before export"},
    {"gguf", ANC_OPT_STR, ANC_ROLE_OUT, ANC_OPT_REQUIRED, offsetof(T, gguf), NULL, "OUT.gguf",
     "output GGUF v3 file (written atomically; an existing file that is not a GGUF is refused)"},
    {"type", ANC_OPT_STR, 0, 0, offsetof(T, type), "f16", "T",
     "matrix type: f32, f16 (default), bf16 or q8_0; norms and biases stay f32, q8_0 rows not a multiple of 32 fall back to f16"},
    {"name", ANC_OPT_STR, 0, 0, offsetof(T, name), NULL, "NAME", "general.name (default: the model folder's name)"},
    {"tokenizer-pre", ANC_OPT_STR, 0, 0, offsetof(T, tokenizer_pre), NULL, "NAME",
     "llama.cpp pre-tokenizer (tokenizer.ggml.pre) of a byte-level BPE tokenizer; default: recognised from tokenizer.json "
     "(gpt-2, qwen2, llama-bpe, smollm)"},
    {0},
};
#undef T

void anc_export_opts_init(anc_export_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_export_option_table, o, &err); /* the table's literals */
}

int anc_export_type_from_name(const char *name) {
    if (!name) return -1;
    if (!strcasecmp(name, "f32")) return ANC_GGML_F32;
    if (!strcasecmp(name, "f16")) return ANC_GGML_F16;
    if (!strcasecmp(name, "bf16")) return ANC_GGML_BF16;
    if (!strcasecmp(name, "q8_0")) return ANC_GGML_Q8_0;
    return -1;
}

/* An existing output must be a GGUF (so an input is never replaced). */
static anc_status check_output(const char *path, anc_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return ANC_OK;
    if (S_ISDIR(sb.st_mode)) return anc_error_set(err, ANC_ERR_INVALID, "export: --gguf %s is a folder, expected a file name", path);
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (n != 4 || memcmp(magic, "GGUF", 4))
        return anc_error_set(err, ANC_ERR_INVALID, "export: --gguf %s exists and is not a GGUF file; refusing to replace it", path);
    return ANC_OK;
}

/* The last path component of dir (without trailing slashes) into buf. */
static const char *folder_name(const char *dir, char *buf, size_t len) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    snprintf(buf, len, "%.*s", (int)(n - s), dir + s);
    return buf;
}

typedef struct progress_ctx {
    const anc_flow_hooks *hooks;
} progress_ctx;

static void on_tensor(void *ctx, size_t done, size_t total) {
    progress_ctx *p = ctx;
    anc_flow_progress pr = {"tensors", done, 0, total, 0};
    anc_flow_progress_report(p->hooks, &pr);
}

anc_status anc_export_run(const anc_export_opts *o, const anc_flow_hooks *hooks, anc_export_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->model || !o->gguf) return anc_error_set(err, ANC_ERR_INVALID, "export needs --model and --gguf");
    int type = anc_export_type_from_name(o->type);
    if (type < 0) return anc_error_set(err, ANC_ERR_INVALID, "export: --type must be f32, f16, bf16 or q8_0, not '%s'", o->type);
    anc_status st = check_output(o->gguf, err);
    if (st) return st;
    anc_model *m = NULL;
    anc_gguf_writer *w = NULL;
    anc_gguf_model_keep keep;
    memset(&keep, 0, sizeof keep);
    anc_gguf_model_counts counts;
    anc_gguf_vocab_info vi;
    memset(&vi, 0, sizeof vi);
    char name[256];
    anc_flow_note(hooks, "loading %s%s%s", o->model, o->adapter ? " + adapter " : "", o->adapter ? o->adapter : "");
    st = anc_model_load_adapted(&m, o->model, o->adapter, err);
    if (!st) st = anc_gguf_writer_create(&w, 0, err);
    if (!st) st = anc_gguf_put_model(w, m, (uint32_t)type, o->name ? o->name : folder_name(o->model, name, sizeof name), &keep, &counts, err);
    if (!st) st = anc_gguf_put_vocab(w, o->model, &m->cfg, o->tokenizer_pre, &vi, err);
    if (!st) {
        anc_flow_note(hooks, "writing %s: %s, %zu tensors (%s matrices), %s tokenizer (pre %s, %zu tokens, %zu merges)", o->gguf,
                      counts.arch, counts.tensors, anc_ggml_type_name((uint32_t)type), vi.model, vi.pre, vi.tokens, vi.merges);
        progress_ctx pc = {hooks};
        anc_flow_progress start = {"tensors", 0, 0, counts.tensors, 0};
        anc_flow_progress_report(hooks, &start);
        st = anc_gguf_write(w, o->gguf, on_tensor, &pc, &res->bytes, err);
    }
    if (!st) {
        snprintf(res->arch, sizeof res->arch, "%s", counts.arch);
        snprintf(res->type, sizeof res->type, "%s", o->type);
        res->tensors = counts.tensors;
        res->f32 = counts.by_type[0];
        res->f16 = counts.by_type[1];
        res->bf16 = counts.by_type[2];
        res->q8_0 = counts.by_type[3];
        res->q8_fallbacks = counts.q8_fallbacks;
        res->n_params = m->n_params;
        snprintf(res->tok_model, sizeof res->tok_model, "%s", vi.model);
        snprintf(res->tok_pre, sizeof res->tok_pre, "%s", vi.pre);
        res->tokens = vi.tokens;
        res->merges = vi.merges;
        res->templates = vi.templates;
        res->add_bos = vi.add_bos;
        res->adapter_merged = o->adapter != NULL;
    }
    anc_gguf_writer_free(w);
    anc_gguf_model_keep_free(&keep);
    anc_model_free(m);
    return st;
}
