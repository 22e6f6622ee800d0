/* anchor generate: drafts from a model (the first step of CLAIR;
 * flow/generate.h does the work). */
#include <stdio.h>

#include "cli/cli.h"
#include "core/blas.h"

int cli_generate_exec(const anc_generate_opts *o) {
    if (o->bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    cli_hooks h;
    cli_hooks_init(&h, "generate");
    anc_generate_result res;
    anc_error err = {0};
    anc_status st = anc_generate_run(o, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    /* said once decoding is done, so also before a failure to write the output */
    if (res.capped)
        fprintf(stderr, "anchor generate: note: %zu of %zu completions stopped at the model's context of %d positions "
                        "(max_position_embeddings), before --max-new-tokens %ld\n",
                res.capped, res.completions, res.context, o->max_new_tokens);
    if (st) return cli_fail("generate", &err);
    fprintf(stderr, "anchor generate: %zu completions, %lld tokens -> %s\n", res.completions, (long long)res.tokens, o->out);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    anc_generate_opts o;
    anc_generate_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_generate_option_table, &o, "generate",
                             "--model DIR --prompts FILE --out FILE [options]",
                             "Samples completions with a KV cache, several sequences at once.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.model || !o.prompts || !o.out) return cli_usage_error("generate", "--model, --prompts and --out are required");
    if (o.max_new_tokens < 1 || o.samples_per_prompt < 1 || o.parallel < 1 || o.temperature < 0)
        return cli_usage_error("generate",
                               "--max-new-tokens, --samples-per-prompt and --parallel must be >= 1, --temperature >= 0");
    o.comm = cli_comm(); /* under mpirun: the completions divided between the ranks */
    return cli_generate_exec(&o);
}
