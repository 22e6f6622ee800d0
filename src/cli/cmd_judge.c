/* anchor judge: on-policy judge pairs (flow/judge.h does the work). */
#include <stdio.h>

#include "cli/cli.h"

int cli_judge_exec(const anc_judge_opts *o, anc_store *store) {
    cli_hooks h;
    cli_hooks_init(&h, "judge");
    anc_judge_result res;
    anc_error err = {0};
    anc_status st = anc_judge_run(o, store, &h.hooks, &res, &err);
    cli_hooks_done(&h);
    int code;
    if (st) {
        code = cli_fail("judge", &err);
    } else {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "judged in both orders: %zu consistent, %zu ties, %zu inconsistent (position bias); "
                 "%zu prompts with fewer than two samples",
                 res.consistent, res.ties, res.inconsistent, res.singles);
        code = cli_items_result("judge", o->out, &res.items, detail);
    }
    anc_judge_result_free(&res);
    return code;
}

int cmd_judge(int argc, char **argv) {
    anc_judge_opts o;
    anc_judge_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_judge_option_table, &o, "judge",
                             "--input samples.jsonl --judge SPEC --out pairs.jsonl [options]",
                             "Judges two samples per prompt in both orders; consistent verdicts become pairs,\n"
                             "ties and position-inconsistent verdicts are counted and dropped.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.input || !o.out || !o.llm.spec) return cli_usage_error("judge", "--input, --out and --judge are required");
    return cli_judge_exec(&o, NULL);
}
