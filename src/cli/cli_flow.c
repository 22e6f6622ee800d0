/* The CLI's side of library steps: parsing flags through a step's option
 * table, printing a flow's notes and progress, and its closing summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_table(int argc, char **argv, const anc_option *t, void *base, const char *cmd, const char *usage,
                    const char *description, char ***pos, int *n_pos) {
    size_t n = anc_options_count(t);
    cli_opt *opts = calloc(n + 1, sizeof *opts);
    if (!opts) {
        fprintf(stderr, "anchor %s: error: out of memory\n", cmd);
        return 1;
    }
    const anc_option *config = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].flags & ANC_OPT_POSITIONAL) continue;
        if (!strcmp(t[i].name, "config")) config = &t[i];
        opts[k++] = (cli_opt){t[i].name, (cli_opt_kind)t[i].type, anc_option_field(&t[i], base), t[i].metavar, t[i].help};
    }
    int rc = 0;
    const char *cfg_file = config ? cli_find_config(argc, argv) : NULL;
    if (cfg_file) rc = cli_apply_yaml(cfg_file, opts, cmd);
    if (pos) *pos = NULL;
    if (!rc) rc = cli_parse(argc, argv, opts, cmd, usage, description, pos, n_pos);
    free(opts);
    return rc;
}

static void hook_note(void *ctx, const char *text) {
    cli_hooks *h = ctx;
    fprintf(stderr, "anchor %s: %s\n", h->cmd, text);
}

static void hook_progress(void *ctx, const anc_flow_progress *p) {
    cli_hooks *h = ctx;
    if (!h->started) {
        /* the first report starts the clock; it draws nothing when nothing
         * is done yet */
        cli_progress_init(&h->prog, h->cmd, p->unit ? p->unit : "items");
        h->started = 1;
        if (p->done == 0) return;
    }
    h->prog.failures = p->failed;
    cli_progress_cb(&h->prog, p->done, p->total, p->tokens);
}

void cli_hooks_init(cli_hooks *h, const char *cmd) {
    memset(h, 0, sizeof *h);
    h->cmd = cmd;
    h->hooks.note = hook_note;
    h->hooks.progress = hook_progress;
    h->hooks.ctx = h;
}

void cli_hooks_done(cli_hooks *h) {
    if (h->started) cli_progress_done(&h->prog);
    h->started = 0;
}

int cli_items_result(const char *cmd, const char *out, const anc_items_result *r, const char *detail) {
    const anc_llm_stored_stats *stats = &r->stats;
    fprintf(stderr, "anchor %s: %zu pairs -> %s%s%s; %zu items reused as finished earlier; requests sent %zu, reused "
            "from the store %zu",
            cmd, r->written, out, detail ? "; " : "", detail ? detail : "", r->reused, stats->sent, stats->cached);
    if (stats->elsewhere) fprintf(stderr, ", answered by another run sharing the store %zu", stats->elsewhere);
    fputc('\n', stderr);
    if (r->failed == 0) return 0;
    size_t total = r->done + r->failed;
    const char *store = r->store_path ? r->store_path : "";
    if (r->done == 0) {
        fprintf(stderr, "anchor %s: error: all %zu items failed (exit %d); their errors are in the run store %s; fix "
                "the cause and rerun the same command to retry them\n",
                cmd, total, CLI_EXIT_ALL_FAILED, store);
        return CLI_EXIT_ALL_FAILED;
    }
    fprintf(stderr, "anchor %s: warning: %zu of %zu items failed; their errors are in the run store %s; rerun the "
            "same command to retry them\n",
            cmd, r->failed, total, store);
    return 0;
}
