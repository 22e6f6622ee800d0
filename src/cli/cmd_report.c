/* anchor report: one self-contained report.html about a run directory
 * (contrast table and example diffs of its pairs, training curves of every
 * run, eval and A/B tables). See src/report/report.h. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "flow/data_steps.h"
#include "report/report.h"

int cmd_report(int argc, char **argv) {
    anc_report_opts o = {0};
    anc_error derr;
    (void)anc_options_defaults(anc_report_option_table, &o, &derr);
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse_table(argc, argv, anc_report_option_table, &o, "report", "RUN_DIR [--out FILE] [options]",
                       "Writes one self-contained HTML page about a run directory: no scripts, no network, no\n"
                       "external fonts or stylesheets; charts are inline SVG. It shows\n"
                       "  - the contrast table of every preference-pairs dataset (*.jsonl whose rows have\n"
                       "    \"chosen\"/\"rejected\"): rows, mean/median characters and words, word Jaccard,\n"
                       "    Levenshtein distance, identical share (as `anchor stats`);\n"
                       "  - the first N pairs of each dataset with a word diff from rejected (the draft) to\n"
                       "    chosen (the revision): deletions red and struck through, insertions green;\n"
                       "  - training curves: every folder holding a metrics.jsonl (RUN_DIR or up to two levels\n"
                       "    down) is one run; loss, rewards/{chosen,rejected,margins,accuracies},\n"
                       "    logps/{chosen,rejected} against step, one line per run, eval_* values as dots;\n"
                       "  - a table for each eval*.json / ab*.json (numeric fields; [lo, hi] as \"lo - hi\").\n"
                       "Files that cannot be read are listed under Notes on the page; the command fails only\n"
                       "when RUN_DIR cannot be read or the page cannot be written.",
                       &pos, &n_pos);
    const char *out = o.out, *title = o.title;
    long examples = o.examples;
    if (rc) {
        free(pos);
        return rc == 1 ? 0 : rc;
    }
    if (n_pos != 1) {
        free(pos);
        return cli_usage_error("report", "give exactly one RUN_DIR");
    }
    if (examples < 0) {
        free(pos);
        return cli_usage_error("report", "--examples must be >= 0, got %ld", examples);
    }
    anc_report_options opt;
    anc_report_options_default(&opt);
    opt.examples = (size_t)examples;
    opt.title = title;
    anc_report_summary sum = {0};
    anc_error err = {0};
    int code = 0;
    if (anc_report_write(pos[0], out, &opt, &sum, &err)) {
        code = cli_fail("report", &err);
    } else {
        fprintf(stderr, "anchor report: %zu pairs datasets, %zu training runs, %zu result tables, %zu notes -> %s%s\n",
                sum.datasets, sum.runs, sum.results, sum.notes, out ? out : pos[0], out ? "" : "/report.html");
    }
    free(pos);
    return code;
}
