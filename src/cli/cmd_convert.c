/* anchor convert: import other checkpoint formats as Hugging Face folders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fileutil.h"
#include "flow/gguf_model.h"
#include "model/llama2c.h"
#include "tokenizer/tokenizer.h"
#include "model/model.h"

/* --from gguf: weights, config and (when the file has a vocabulary) the
 * tokenizer files. */
static int convert_gguf(const char *input, const char *out, anc_dtype dt, const char *tok_path) {
    if (tok_path) return cli_usage_error("convert", "--tokenizer is for llama2c; a GGUF carries its own vocabulary");
    anc_error err = {0};
    anc_gguf_import_result r;
    double t0 = cli_now();
    if (anc_gguf_import(input, out, dt, &r, &err)) return cli_fail("convert", &err);
    fprintf(stderr, "anchor convert: %s -> %s in %.1fs (%s, %s, %zu tensors, %zu parameters, %d layers, vocab %d%s)\n", input, out,
            cli_now() - t0, r.arch, anc_dtype_name(dt), r.tensors, r.n_params, r.num_layers, r.vocab_size,
            r.tokenizer ? ", tokenizer.json written" : ", no vocabulary in the file");
    return 0;
}

int cmd_convert(int argc, char **argv) {
    const char *from = NULL, *out = NULL, *dtype_s = NULL, *tok_path = NULL;
    cli_opt opts[] = {
        {"from", OPT_STR, &from, "FORMAT",
         "input format: llama2c (karpathy/llama2.c v0 .bin) or gguf (llama.cpp GGUF v2/v3, architectures llama and qwen2, "
         "tensors F32/F16/BF16/Q8_0; tokenizer.json written from its vocabulary)"},
        {"out", OPT_STR, &out, "DIR", "output Hugging Face model folder (created)"},
        {"tokenizer", OPT_STR, &tok_path, "TOK.bin", "llama2.c tokenizer file: also writes tokenizer.json + tokenizer_config.json"},
        {"dtype", OPT_STR, &dtype_s, "T", "saved dtype: f32 (default, as the input), bf16 or f16"},
        {0},
    };
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, "convert", "(--from llama2c MODEL.bin [--tokenizer TOK.bin] | --from gguf MODEL.gguf) --out DIR",
                       "Imports a checkpoint into a Hugging Face model folder (config.json + model.safetensors).",
                       &pos, &n_pos);
    if (rc) { free(pos); return rc == 1 ? 0 : rc; }
    const char *input = n_pos == 1 ? pos[0] : NULL;
    free(pos);
    if (!from || !out || !input) return cli_usage_error("convert", "needs --from FORMAT, one input file and --out DIR");
    if (strcmp(from, "llama2c") != 0 && strcmp(from, "gguf") != 0)
        return cli_usage_error("convert", "unknown --from '%s' (supported: llama2c, gguf)", from);
    anc_dtype dt = dtype_s ? anc_dtype_from_user(dtype_s) : ANC_DT_F32;
    if (dt != ANC_DT_F32 && dt != ANC_DT_F16 && dt != ANC_DT_BF16)
        return cli_usage_error("convert", "--dtype must be f32, bf16 or f16, not '%s'", dtype_s);
    if (!strcmp(from, "gguf")) return convert_gguf(input, out, dt, tok_path);

    anc_error err = {0};
    anc_model *m = NULL;
    if (anc_llama2c_load(&m, input, &err)) return cli_fail("convert", &err);
    anc_status st = anc_model_save_hf(m, out, dt, &err);
    if (st) {
        anc_model_free(m);
        return cli_fail("convert", &err);
    }
    if (tok_path) {
        char *json = NULL, *cfg = NULL;
        st = anc_tokenizer_from_llama2c(tok_path, m->cfg.vocab_size, &json, &cfg, &err);
        char *p1 = anc_path_join(out, "tokenizer.json"), *p2 = anc_path_join(out, "tokenizer_config.json");
        if (!st) st = anc_write_file_atomic(p1, json, strlen(json), &err);
        if (!st) st = anc_write_file_atomic(p2, cfg, strlen(cfg), &err);
        free(json);
        free(cfg);
        free(p1);
        free(p2);
        if (st) {
            anc_model_free(m);
            return cli_fail("convert", &err);
        }
    }
    fprintf(stderr, "anchor convert: %s -> %s (%s, %zu parameters, %d layers, vocab %d)\n", input, out,
            anc_dtype_name(dt), m->n_params, m->cfg.num_layers, m->cfg.vocab_size);
    anc_model_free(m);
    return 0;
}
