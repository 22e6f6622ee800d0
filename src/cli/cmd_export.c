/* anchor export: a Hugging Face model folder (+ LoRA adapter) -> GGUF for
 * llama.cpp (flow/export.h does the work; this parses and prints). */
#include <stdio.h>

#include "cli/cli.h"
#include "flow/export.h"

int cmd_export(int argc, char **argv) {
    anc_export_opts o;
    anc_export_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_export_option_table, &o, "export",
                             "--model DIR [--adapter DIR] --gguf OUT.gguf [--type f32|f16|bf16|q8_0]",
                             "Writes the model as one GGUF v3 file that llama.cpp loads (architectures llama and qwen2, as\n"
                             "llama.cpp's convert_hf_to_gguf.py lays them out), with its tokenizer and chat template; a PEFT\n"
                             "LoRA adapter is merged on the way. `anchor convert --from gguf` reads such files back.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.model || !o.gguf) return cli_usage_error("export", "--model and --gguf are required");
    if (anc_export_type_from_name(o.type) < 0)
        return cli_usage_error("export", "--type must be f32, f16, bf16 or q8_0, not '%s'", o.type);
    cli_hooks h;
    cli_hooks_init(&h, "export");
    anc_export_result res;
    anc_error err = {0};
    double t0 = cli_now();
    anc_status st = anc_export_run(&o, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    if (st) return cli_fail("export", &err);
    fprintf(stderr,
            "anchor export: %s%s%s -> %s in %.1fs: %s, %zu parameters, %zu tensors (f32 %zu, f16 %zu, bf16 %zu, q8_0 %zu), %.1f MB; "
            "tokenizer %s (pre %s), %zu tokens, %zu merges, %zu chat template%s\n",
            o.model, res.adapter_merged ? " + " : "", res.adapter_merged ? o.adapter : "", o.gguf, cli_now() - t0, res.arch,
            res.n_params, res.tensors, res.f32, res.f16, res.bf16, res.q8_0, (double)res.bytes / 1e6, res.tok_model, res.tok_pre,
            res.tokens, res.merges, res.templates, res.templates == 1 ? "" : "s");
    if (res.q8_fallbacks)
        fprintf(stderr, "anchor export: note: %zu matrices have rows that are not a multiple of 32 and were written as f16 "
                        "(as convert_hf_to_gguf.py does)\n", res.q8_fallbacks);
    return 0;
}
