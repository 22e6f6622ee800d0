/* anchor merge: a base model plus a PEFT LoRA adapter -> one merged Hugging
 * Face folder (PEFT's merge_and_unload + save_pretrained). */
#include <stdio.h>

#include "cli/cli.h"
#include "core/dtype.h"
#include "model/lora.h"

int cmd_merge(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL, *dtype_s = NULL;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "base model (Hugging Face folder) the adapter was trained on"},
        {"adapter", OPT_STR, &adapter, "DIR", "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)"},
        {"out", OPT_STR, &out, "DIR", "merged model folder (created; must not be or hold an input)"},
        {"save-dtype", OPT_STR, &dtype_s, "T", "dtype of the merged weights: f32, bf16, f16 (default: the base's)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "merge", "--model BASE --adapter DIR --out DIR [--save-dtype T]",
                       "Adds scale * B A of every adapted projection into the base weights and writes the result\n"
                       "(config.json, model.safetensors, tokenizer files) as a plain Hugging Face model.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model || !adapter || !out) return cli_usage_error("merge", "--model, --adapter and --out are required");
    anc_merge_opts mo = {model, adapter, out, ANC_DT_INVALID};
    if (dtype_s) {
        mo.dtype = anc_dtype_from_user(dtype_s);
        if (mo.dtype != ANC_DT_F32 && mo.dtype != ANC_DT_BF16 && mo.dtype != ANC_DT_F16)
            return cli_usage_error("merge", "--save-dtype must be f32, bf16 or f16, not '%s'", dtype_s);
    }
    anc_error err = {0};
    double t0 = cli_now();
    if (anc_merge_run(&mo, &err)) return cli_fail("merge", &err);
    fprintf(stderr, "anchor merge: %s + %s -> %s in %.1fs\n", model, adapter, out, cli_now() - t0);
    return 0;
}
