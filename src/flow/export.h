/* The export step: a Hugging Face model folder (with a PEFT LoRA adapter
 * merged in on the way, as `generate --adapter` and `anchor merge` merge
 * it) -> one GGUF v3 file that llama.cpp loads, laid out as llama.cpp's
 * convert_hf_to_gguf.py writes it for the llama and qwen2 architectures
 * (flow/gguf_model.h: tensor names, llama's rotary permutation,
 * hyper-parameters, the tokenizer's tokens, scores, types, merges, special
 * ids and chat template). The file is written atomically. */
#ifndef ANCHOR_FLOW_EXPORT_H
#define ANCHOR_FLOW_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "flow/flow.h"
#include "flow/options.h"

typedef struct anc_export_opts {
    const char *model;          /* HF model folder (config.json, weights, tokenizer.json) */
    const char *adapter;        /* PEFT LoRA adapter merged before export; NULL: none */
    const char *gguf;           /* output .gguf */
    const char *type;           /* f32 | f16 | bf16 | q8_0 (default f16, as the converter) */
    const char *name;           /* general.name; NULL: the model folder's name */
    const char *tokenizer_pre;  /* tokenizer.ggml.pre override; NULL: recognised from tokenizer.json */
} anc_export_opts;

/* The option table of export (the command's flags). */
extern const anc_option anc_export_option_table[];

/* Zeroes o and applies the table's defaults. */
void anc_export_opts_init(anc_export_opts *o);

/* What an export wrote. */
typedef struct anc_export_result {
    char arch[16];             /* "llama" | "qwen2" */
    char type[8];              /* the matrix type written */
    size_t tensors;            /* tensor infos in the file */
    size_t f32, f16, bf16, q8_0; /* tensors per type */
    size_t q8_fallbacks;       /* Q8_0 matrices with rows not a multiple of 32, written as F16 */
    uint64_t bytes;            /* file size */
    size_t n_params;
    char tok_model[8];         /* "gpt2" | "llama" */
    char tok_pre[32];
    size_t tokens, merges, templates;
    int add_bos;
    int adapter_merged;
} anc_export_result;

/* Exports o->model (+ o->adapter) to o->gguf. Notes say what is about to
 * happen; progress is reported in "tensors". Errors: usage
 * (ANC_ERR_INVALID: missing options, an unknown type, an output that is a
 * folder or an existing file that is not a GGUF, so no input is ever
 * replaced; a non-finite weight), loading (the model, the adapter, the
 * tokenizer: ANC_ERR_IO/FORMAT/UNSUPPORTED; llama3 rope scaling on qwen2),
 * ANC_ERR_IO writing. */
anc_status anc_export_run(const anc_export_opts *o, const anc_flow_hooks *hooks, anc_export_result *res, anc_error *err);

/* The ggml type of a --type name ("f32", "f16", "bf16", "q8_0", any case),
 * or -1. */
int anc_export_type_from_name(const char *name);

#endif
