/* anchor pairs: preference-pair utilities. Subcommands:
 *   import   convert UltraFeedback / HH-RLHF / LLaMA-Factory data into
 *            anchor's TRL-style pair rows (clair/import.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clair/import.h"
#include "cli/cli.h"
#include "flow/data_steps.h"
#include "core/fileutil.h"
#include "data/jsonl.h"


#define MAX_INPUT_BYTES ((size_t)8 << 30)

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads `gzip -dc -- path` into a malloc'd buffer (no shell involved). */
static anc_status read_gzip(const char *path, char **out, size_t *len, anc_error *err) {
    *out = NULL;
    *len = 0;
    if (access(path, R_OK) != 0) return anc_error_set(err, ANC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    int fd[2];
    if (pipe(fd) != 0) return anc_error_set(err, ANC_ERR_IO, "%s: pipe failed: %s", path, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return anc_error_set(err, ANC_ERR_IO, "%s: fork failed: %s", path, strerror(errno));
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    anc_status st = buf ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (st) break;
        if (n == cap) {
            if (cap >= MAX_INPUT_BYTES) {
                st = anc_error_set(err, ANC_ERR_IO, "%s: decompressed data exceeds %zu bytes", path, MAX_INPUT_BYTES);
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd[0], buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = anc_error_set(err, ANC_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!st && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        st = anc_error_set(err, ANC_ERR_FORMAT, "%s: gzip -dc failed (exit %d): not a readable gzip file?", path,
                           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ANC_OK;
}

static anc_status load_rows(const char *path, anc_rows *rows, anc_error *err) {
    if (!ends_with(path, ".gz")) return anc_rows_load(rows, path, err);
    char *text = NULL;
    size_t len = 0;
    anc_status st = read_gzip(path, &text, &len, err);
    if (st) return st;
    st = anc_rows_parse(rows, text, len, path, err);
    free(text);
    return st;
}

static int pairs_import(int argc, char **argv) {
    anc_import_opts o = {0};
    int rc = cli_parse_table(argc, argv, anc_import_option_table, &o, "pairs import", "--format NAME --input FILE --out FILE [--source NAME]",
                       "Converts preference data into anchor's pair rows (TRL conversational):\n"
                       "  {\"prompt\": [messages], \"chosen\": [assistant], \"rejected\": [assistant], \"id\", \"source\"}\n"
                       "or, for llama-factory-kto, unpaired {\"prompt\", \"completion\", \"label\", \"id\", \"source\"}.\n"
                       "Formats: ultrafeedback (HuggingFaceH4/ultrafeedback_binarized and TRL preference rows),\n"
                       "hh-rlhf (Anthropic transcripts; the shared prompt is split off at the last common\n"
                       "\"\\n\\nAssistant:\" turn), llama-factory (sharegpt, alpaca or v1 preference files),\n"
                       "llama-factory-kto (KTO rows with a true/false label). Rows that cannot make a pair are\n"
                       "skipped and counted by reason in the summary on stderr; malformed rows are errors.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    const char *format = o.format, *input = o.input, *out = o.out, *source = o.source;
    if (!format || !input || !out)
        return cli_usage_error("pairs import", "--format NAME, --input FILE and --out FILE are required");
    anc_error err = {0};
    anc_import_format f;
    if (anc_import_format_parse(format, &f, &err)) return cli_usage_error("pairs import", "%s", err.message);
    anc_rows rows;
    if (load_rows(input, &rows, &err)) return cli_fail("pairs import", &err);
    json_t *pairs = NULL;
    anc_import_summary sum;
    anc_sbuf text = {0};
    int code = 0;
    if (anc_import_rows(f, &rows, source, input, &pairs, &sum, &err) || anc_import_dump_jsonl(pairs, &text, &err)) {
        code = cli_fail("pairs import", &err);
        goto done;
    }
    if (strcmp(out, "-") == 0) {
        if (fwrite(anc_sbuf_str(&text), 1, text.len, stdout) != text.len || fflush(stdout) != 0) {
            anc_error_set(&err, ANC_ERR_IO, "cannot write to stdout");
            code = cli_fail("pairs import", &err);
            goto done;
        }
    } else if (anc_write_file_atomic(out, anc_sbuf_str(&text), text.len, &err)) {
        code = cli_fail("pairs import", &err);
        goto done;
    }
    fprintf(stderr, "anchor pairs import: read %zu rows from %s (%s); wrote %zu %s to %s; skipped %zu\n", sum.read,
            input, anc_import_format_name(f), sum.written, f == ANC_IMPORT_LLAMA_FACTORY_KTO ? "unpaired rows" : "pairs",
            strcmp(out, "-") == 0 ? "stdout" : out, sum.skipped);
    for (size_t i = 0; i < sum.n_reasons; i++)
        fprintf(stderr, "  %8zu  %s (first at %s:%zu)\n", sum.reasons[i].count, sum.reasons[i].reason, input,
                sum.reasons[i].first_line);
done:
    anc_sbuf_free(&text);
    json_decref(pairs);
    anc_rows_free(&rows);
    return code;
}

static void pairs_usage(FILE *f) {
    fprintf(f, "usage: anchor pairs SUBCOMMAND [options]   (anchor pairs SUBCOMMAND --help for details)\n\n"
               "subcommands:\n"
               "  import     convert UltraFeedback, HH-RLHF or LLaMA-Factory data into anchor pair rows\n"
               "  stronger   the stronger-preferred baseline: a stronger model answers, the draft is rejected\n");
}

int cmd_pairs(int argc, char **argv) {
    if (argc < 2) {
        pairs_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        pairs_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "import") == 0) return pairs_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "stronger") == 0) return cmd_pairs_stronger(argc - 1, argv + 1);
    fprintf(stderr, "anchor pairs: unknown subcommand '%s'\n\n", argv[1]);
    pairs_usage(stderr);
    return 2;
}
