/* The report's "Training" section: reads every metrics.jsonl and draws one
 * chart per metric with one line per run (see report.h). */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fileutil.h"
#include "report/html.h"
#include "report/report_internal.h"
#include "report/svg.h"

#define RPT_MAX_METRICS_BYTES ((size_t)1 << 30)

/* The charted metrics (TRL's names, as the trainer logs them). */
static const char *const metric_names[] = {"loss",         "rewards/chosen", "rewards/rejected",
                                           "rewards/margins", "rewards/accuracies", "logps/chosen",
                                           "logps/rejected"};
enum { N_METRICS = sizeof metric_names / sizeof metric_names[0] };

typedef struct vec {
    double *x, *y;
    size_t n, cap;
} vec;

typedef struct run {
    const char *name;              /* relative folder ("." for the run directory) */
    char *name_owned;
    vec train[N_METRICS], eval[N_METRICS];
    size_t lines;                  /* metric lines read */
    double last_step;
} run;

static int vec_push(vec *v, double x, double y) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        double *nx = realloc(v->x, sizeof *nx * cap);
        if (!nx) return -1;
        v->x = nx;
        double *ny = realloc(v->y, sizeof *ny * cap);
        if (!ny) return -1;
        v->y = ny;
        v->cap = cap;
    }
    v->x[v->n] = x;
    v->y[v->n] = y;
    v->n++;
    return 0;
}

static void run_free(run *r) {
    for (int m = 0; m < N_METRICS; m++) {
        free(r->train[m].x), free(r->train[m].y);
        free(r->eval[m].x), free(r->eval[m].y);
    }
    free(r->name_owned);
}

/* Copies line[0..n) with bare nan/inf/infinity tokens (any case, optional
 * sign) outside strings replaced by null, as printf's "%g" writes them. */
static void sanitize_line(const char *s, size_t n, anc_sbuf *out) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            anc_sbuf_putc(out, c);
            if (c == '\\' && i + 1 < n) anc_sbuf_putc(out, s[++i]);
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        size_t j = i + ((c == '-' || c == '+') ? 1 : 0), k = j;
        while (k < n && isalpha((unsigned char)s[k])) k++;
        size_t w = k - j;
        if (w > 0 && (c == '-' || c == '+' || isalpha((unsigned char)c)) &&
            ((w == 3 && (strncasecmp(s + j, "nan", 3) == 0 || strncasecmp(s + j, "inf", 3) == 0)) ||
             (w == 8 && strncasecmp(s + j, "infinity", 8) == 0))) {
            anc_sbuf_puts(out, "null");
            i = k - 1;
            continue;
        }
        anc_sbuf_putc(out, c);
    }
}

/* Parses one metrics line into the run's series. Returns 0, 1 when the line
 * is not a JSON object (a note is added for the first such line), -1 when
 * out of memory. */
static int read_line(run *r, const char *rel, size_t lineno, const char *s, size_t n, int *noted,
                     rpt_notes *notes) {
    json_error_t je;
    json_t *o = json_loadb(s, n, 0, &je);
    if (!o) {
        anc_sbuf fixed = {0};
        sanitize_line(s, n, &fixed);
        if (fixed.oom) return -1;
        o = json_loadb(fixed.data ? fixed.data : "", fixed.len, 0, &je);
        anc_sbuf_free(&fixed);
    }
    if (!o || !json_is_object(o)) {
        if (!*noted)
            anc_rpt_note(notes, "%s:%zu:%d: skipped a line: expected one JSON object per line (%s)", rel, lineno,
                     o ? 1 : je.column, o ? "found another JSON value" : je.text);
        *noted = 1;
        json_decref(o);
        return 1;
    }
    const json_t *js = json_object_get(o, "step");
    double step = json_is_number(js) ? json_number_value(js) : (double)(r->lines + 1);
    r->lines++;
    if (isfinite(step) && (r->lines == 1 || step > r->last_step)) r->last_step = step;
    int rc = 0;
    for (int m = 0; m < N_METRICS && !rc; m++) {
        char key[64] = "eval_";
        strncat(key, metric_names[m], sizeof key - 6);
        const json_t *v = json_object_get(o, metric_names[m]);
        const json_t *ev = json_object_get(o, key);
        /* null stands for a nan/inf the trainer wrote: kept as a gap */
        if (json_is_number(v) || json_is_null(v))
            rc = vec_push(&r->train[m], step, json_is_number(v) ? json_number_value(v) : NAN);
        if (!rc && (json_is_number(ev) || json_is_null(ev)))
            rc = vec_push(&r->eval[m], step, json_is_number(ev) ? json_number_value(ev) : NAN);
    }
    json_decref(o);
    return rc;
}

static anc_status read_run(run *r, const rpt_file *f, rpt_notes *notes, anc_error *err) {
    char *text = NULL;
    size_t len = 0;
    anc_error lerr = {0};
    if (anc_read_file(f->path, RPT_MAX_METRICS_BYTES, &text, &len, &lerr)) {
        if (lerr.code == ANC_ERR_NOMEM) return anc_error_set(err, ANC_ERR_NOMEM, "%s", lerr.message);
        anc_rpt_note(notes, "%s: skipped: %s", f->rel, lerr.message);
        return ANC_OK;
    }
    int noted = 0;
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        lineno++;
        size_t a = i, b = e;
        while (a < b && isspace((unsigned char)text[a])) a++;
        while (b > a && isspace((unsigned char)text[b - 1])) b--;
        if (b > a && read_line(r, f->rel, lineno, text + a, b - a, &noted, notes) < 0) {
            free(text);
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory reading %s", f->rel);
        }
        i = e + 1;
    }
    free(text);
    return ANC_OK;
}

/* Last finite value of a series, NAN when none. */
static double last_value(const vec *v) {
    for (size_t i = v->n; i-- > 0;)
        if (isfinite(v->y[i])) return v->y[i];
    return NAN;
}

static void put_value(anc_sbuf *out, double v) {
    if (isfinite(v)) anc_sbuf_printf(out, "<td>%.4g</td>", v);
    else anc_sbuf_puts(out, "<td>&ndash;</td>");
}

static void legend(anc_sbuf *out, const run *runs, size_t n, int any_eval) {
    anc_sbuf_puts(out, "<div class=\"legend\">");
    for (size_t i = 0; i < n; i++) {
        anc_sbuf_printf(out, "<span><svg viewBox=\"0 0 34 12\"><line x1=\"2\" y1=\"6\" x2=\"32\" y2=\"6\" "
                             "stroke=\"%s\" stroke-width=\"3\" stroke-linecap=\"round\"/></svg>",
                        anc_svg_color(i));
        anc_html_escape_str(out, runs[i].name);
        anc_sbuf_puts(out, "</span>");
    }
    if (any_eval)
        anc_sbuf_puts(out, "<span><svg viewBox=\"0 0 34 12\"><circle cx=\"17\" cy=\"6\" r=\"4\" fill=\"#fff\" "
                           "stroke=\"#424a53\" stroke-width=\"2\"/></svg>eval_* (same colour as its run)</span>");
    anc_sbuf_puts(out, "</div>\n");
}

static void runs_table(anc_sbuf *out, const run *runs, size_t n) {
    anc_sbuf_puts(out, "<table><tr><th class=\"name\">run</th><th>lines</th><th>last step</th><th>loss</th>"
                       "<th>rewards/margins</th><th>rewards/accuracies</th><th>logps/chosen</th>"
                       "<th>logps/rejected</th><th>eval_loss</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const run *r = &runs[i];
        anc_sbuf_puts(out, "<tr><td class=\"name\">");
        anc_html_escape_str(out, r->name);
        anc_sbuf_printf(out, "</td><td>%zu</td>", r->lines);
        put_value(out, r->lines ? r->last_step : NAN);
        put_value(out, last_value(&r->train[0]));
        put_value(out, last_value(&r->train[3]));
        put_value(out, last_value(&r->train[4]));
        put_value(out, last_value(&r->train[5]));
        put_value(out, last_value(&r->train[6]));
        put_value(out, last_value(&r->eval[0]));
        anc_sbuf_puts(out, "</tr>\n");
    }
    anc_sbuf_puts(out, "</table>\n<p class=\"keys\">Final logged values. Rewards are &beta;&middot;(log "
                       "&pi;<sub>&theta;</sub> &minus; log &pi;<sub>ref</sub>) of the response; APO-zero should "
                       "raise logps/chosen while lowering logps/rejected.</p>\n");
}

anc_status anc_rpt_train_section(anc_sbuf *out, const rpt_file *files, size_t n, rpt_notes *notes, rpt_rounds *rounds,
                             size_t *n_runs, anc_error *err) {
    *n_runs = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += strcmp(anc_rpt_base(files[i].rel), "metrics.jsonl") == 0;
    run *runs = calloc(k ? k : 1, sizeof *runs);
    anc_svg_series *series = calloc(2 * (k ? k : 1), sizeof *series);
    if (!runs || !series) {
        free(runs), free(series);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    anc_status st = ANC_OK;
    size_t nr = 0;
    for (size_t i = 0; !st && i < n; i++) {
        const char *rel = files[i].rel, *base = anc_rpt_base(rel);
        if (strcmp(base, "metrics.jsonl") != 0) continue;
        run *r = &runs[nr++];
        if (base == rel) {
            r->name = ".";
        } else {
            r->name_owned = anc_text_dup(rel, (size_t)(base - rel - 1));
            if (!r->name_owned) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            r->name = r->name_owned;
        }
        if (!st) st = read_run(r, &files[i], notes, err);
        if (!st)
            anc_rpt_rounds_run(rounds, r->name, last_value(&r->train[0]), last_value(&r->train[4]),
                               last_value(&r->train[3]));
    }
    anc_sbuf_puts(out, "<h2 id=\"training\">Training</h2>\n");
    if (!st && nr == 0) {
        anc_sbuf_puts(out, "<p class=\"empty\">no training runs found (no metrics.jsonl in the run directory "
                           "or its subfolders up to three levels down)</p>\n");
    } else if (!st) {
        int any_eval = 0;
        for (size_t i = 0; i < nr; i++)
            for (int m = 0; m < N_METRICS; m++) any_eval |= runs[i].eval[m].n > 0;
        runs_table(out, runs, nr);
        legend(out, runs, nr, any_eval);
        anc_sbuf_puts(out, "<div class=\"charts\">\n");
        for (int m = 0; !st && m < N_METRICS; m++) {
            size_t ns = 0;
            for (size_t i = 0; i < nr; i++)
                series[ns++] = (anc_svg_series){runs[i].name, runs[i].train[m].x, runs[i].train[m].y,
                                                runs[i].train[m].n, i, 0};
            for (size_t i = 0; i < nr; i++)
                if (runs[i].eval[m].n)
                    series[ns++] = (anc_svg_series){runs[i].name, runs[i].eval[m].x, runs[i].eval[m].y,
                                                    runs[i].eval[m].n, i, 1};
            st = anc_svg_line_chart(out, metric_names[m], "step", series, ns, err);
            anc_sbuf_putc(out, '\n');
        }
        anc_sbuf_puts(out, "</div>\n");
    }
    for (size_t i = 0; i < nr; i++) run_free(&runs[i]);
    free(runs);
    free(series);
    *n_runs = nr;
    if (!st && out->oom) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering training curves");
    return st;
}
