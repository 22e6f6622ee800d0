#include "cli/cli.h"
#include "core/comm.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Option names compare equal when they differ only in '-' vs '_'. */
static int name_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; a[i] && i < blen; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x != y) return 0;
    }
    return a[i] == '\0' && i == blen;
}

static void print_help(const cli_opt *opts, const char *cmd, const char *usage, const char *description) {
    printf("usage: anchor %s %s\n\n", cmd, usage);
    if (description) printf("%s\n\n", description);
    printf("options:\n");
    for (const cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "anchor %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'anchor %s --help')\n", cmd);
    return 2;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char *cmd, const char *usage,
              const char *description, char ***pos, int *n_pos) {
    if (pos) {
        *pos = calloc((size_t)argc + 1, sizeof(char *));
        *n_pos = 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(opts, cmd, usage, description);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (!pos) return cli_usage_error(cmd, "unexpected argument '%s'", arg);
            (*pos)[(*n_pos)++] = argv[i];
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = opts;
        for (; o && o->name; o++)
            if (name_eq(o->name, name, nlen)) break;
        if (!o || !o->name) return cli_usage_error(cmd, "unknown option '--%.*s'", (int)nlen, name);
        if (o->kind == OPT_FLAG) {
            if (eq && strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
                return cli_usage_error(cmd, "option '--%s' takes no value (or =true / =false)", o->name);
            *(int *)o->dest = !eq || strcmp(eq + 1, "true") == 0;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return cli_usage_error(cmd, "option '--%s' needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
        char *end = NULL;
        errno = 0;
        switch (o->kind) {
        case OPT_STR: *(const char **)o->dest = val; break;
        case OPT_INT:
        case OPT_COUNT: {
            const char *why = cli_parse_int(o, val, (long *)o->dest);
            if (why) return cli_usage_error(cmd, "option '--%s' expects %s, got '%s'", o->name, why, val);
            break;
        }
        case OPT_FLOAT: {
            double v = strtod(val, &end);
            if (errno || !*val || *end) return cli_usage_error(cmd, "option '--%s' expects a number, got '%s'", o->name, val);
            *(double *)o->dest = v;
            break;
        }
        case OPT_LIST: {
            cli_list *l = o->dest;
            if (l->from_file) {
                l->n = 0;
                l->from_file = 0;
            }
            /* comma-separated values are split in place: argv strings are
             * writable and live as long as the process */
            char *copy = (char *)val;
            for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (l->n == CLI_LIST_MAX) return cli_usage_error(cmd, "option '--%s' takes at most %d values", o->name, CLI_LIST_MAX);
                l->v[l->n++] = tok;
            }
            break;
        }
        case OPT_FLAG: break;
        }
    }
    return 0;
}

const char *cli_parse_int(const cli_opt *o, const char *v, long *out) {
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end) return "an integer";
    if (o->kind == OPT_COUNT) {
        if (errno == ERANGE ? v[0] != '-' : x > INT_MAX) return "an integer of at most 2147483647";
        if (x < 0) return "an integer >= 0";
    } else if (errno == ERANGE) {
        return "an integer of at most 19 digits";
    }
    *out = x;
    return NULL;
}

int cli_fail(const char *cmd, const anc_error *err) {
    const anc_comm *c = cli_comm();
    if (c)
        fprintf(cli_errors(), "anchor %s: error (rank %d of %d): %s\n", cmd, c->rank, c->size,
                err->message[0] ? err->message : anc_status_name(err->code));
    else
        fprintf(stderr, "anchor %s: error: %s\n", cmd, err->message[0] ? err->message : anc_status_name(err->code));
    return 1;
}

void cli_progress_init(cli_progress *p, const char *label, const char *unit) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit;
    p->start = cli_now();
    p->tty = isatty(2);
    p->last_decile = -1;
}

static void fmt_secs(char *buf, size_t n, double s) {
    if (s < 0 || s != s) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_progress_cb(void *ctx, size_t done, size_t total, int64_t tokens) {
    cli_progress *p = ctx;
    double now = cli_now(), el = now - p->start;
    if (!p->seen) {
        p->seen = 1;
        p->base_done = done;
        p->base_tokens = tokens;
        p->base_time = now;
    }
    int decile = total ? (int)(10 * done / total) : 0;
    if (p->tty) {
        if (now - p->last_draw < 0.2 && done < total) return;
    } else if (decile == p->last_decile && done < total && now - p->last_draw < 30.0) {
        return; /* a log gets a line per tenth, and one every 30 s of a long stretch */
    }
    p->last_draw = now;
    p->last_decile = decile;
    /* rates once at least a second of work is behind them */
    double span = now - p->base_time;
    int timed = span >= 1.0;
    double rate = timed ? (double)(done - p->base_done) / span : 0,
           trate = timed ? (double)(tokens - p->base_tokens) / span : 0;
    char eta[32], elapsed[32], rates[96] = "";
    fmt_secs(elapsed, sizeof elapsed, el);
    if (rate > 0) fmt_secs(eta, sizeof eta, (double)(total - done) / rate);
    else snprintf(eta, sizeof eta, "--");
    if (timed) snprintf(rates, sizeof rates, "  %.1f %s/s", rate, p->unit);
    if (timed && tokens > 0) snprintf(rates + strlen(rates), sizeof rates - strlen(rates), "  %.0f tok/s", trate);
    int width = 24, fill = total ? (int)(width * (double)done / total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char fails[48] = "";
    if (p->failures) snprintf(fails, sizeof fails, "  %zu failed", p->failures);
    fprintf(stderr, "%s%s [%s] %zu/%zu %s%s  elapsed %s  ETA %s%s%s", p->tty ? "\r" : "", p->label, bar, done, total,
            p->unit, rates, elapsed, eta, fails, p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void cli_progress_done(cli_progress *p) {
    if (p->tty) fputc('\n', stderr);
}

void cli_print_json(json_t *j) {
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    printf("%s\n", s ? s : "null");
    free(s);
    json_decref(j);
}
