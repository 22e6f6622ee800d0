/* The run report: finds the inputs under a run directory, renders the
 * evaluation tables and assembles the page (see report.h). */
#include "report/report.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileutil.h"
#include "report/html.h"
#include "report/report_internal.h"

/* Limits that keep a pathological run directory from stalling the report. */
#define RPT_MAX_FILES 4096
#define RPT_MAX_DEPTH 3 /* round-K/models/NAME/metrics.jsonl */
#define RPT_MAX_NOTES 200

void anc_report_options_default(anc_report_options *o) {
    o->examples = 3;
    o->title = NULL;
}

void anc_rpt_note(rpt_notes *notes, const char *fmt, ...) {
    if (notes->oom) return;
    if (notes->n >= RPT_MAX_NOTES) {
        notes->n++;  /* counts the dropped notes */
        return;
    }
    if (notes->n == notes->cap) {
        size_t cap = notes->cap ? notes->cap * 2 : 8;
        char **v = realloc(notes->v, sizeof *v * cap);
        if (!v) {
            notes->oom = 1;
            return;
        }
        notes->v = v;
        notes->cap = cap;
    }
    anc_sbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    anc_sbuf_puts(&b, tmp);
    char *s = anc_sbuf_take(&b);
    if (!s) {
        notes->oom = 1;
        return;
    }
    notes->v[notes->n++] = s;
}

static void notes_free(rpt_notes *notes) {
    size_t kept = notes->n < RPT_MAX_NOTES ? notes->n : RPT_MAX_NOTES;
    for (size_t i = 0; i < kept; i++) free(notes->v[i]);
    free(notes->v);
}

int anc_rpt_ends_with(const char *name, const char *suffix) {
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

const char *anc_rpt_base(const char *rel) {
    const char *slash = strrchr(rel, '/');
    return slash ? slash + 1 : rel;
}

/* ---- finding files ----------------------------------------------------------- */

typedef struct file_list {
    rpt_file *v;
    size_t n, cap;
    int truncated;
} file_list;

static void files_free(file_list *fl) {
    for (size_t i = 0; i < fl->n; i++) free(fl->v[i].rel), free(fl->v[i].path);
    free(fl->v);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the regular files of dir (relative path rel, "" for the top) and
 * descends into its subfolders while depth < RPT_MAX_DEPTH. */
static anc_status walk(const char *dir, const char *rel, int depth, file_list *fl, rpt_notes *notes,
                       anc_error *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0)
            return anc_error_set(err, ANC_ERR_IO, "%s: cannot open the run directory: %s", dir, strerror(errno));
        anc_rpt_note(notes, "%s: cannot open folder: %s", rel, strerror(errno));
        return ANC_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    anc_status st = ANC_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(names, sizeof *nv * cap);
            if (!nv) {
                st = ANC_ERR_NOMEM;
                break;
            }
            names = nv;
        }
        if (!(names[n] = strdup(e->d_name))) {
            st = ANC_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!st && n > 1) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; !st && i < n; i++) {
        char *path = anc_path_join(dir, names[i]);
        anc_sbuf r = {0};
        if (*rel) anc_sbuf_printf(&r, "%s/", rel);
        anc_sbuf_puts(&r, names[i]);
        char *relpath = anc_sbuf_take(&r);
        struct stat sb;
        if (!path || !relpath) {
            st = ANC_ERR_NOMEM;
        } else if (lstat(path, &sb) != 0) {
            anc_rpt_note(notes, "%s: cannot stat: %s", relpath, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth < RPT_MAX_DEPTH) st = walk(path, relpath, depth + 1, fl, notes, err);
        } else if (S_ISREG(sb.st_mode) || (S_ISLNK(sb.st_mode) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))) {
            if (fl->n == RPT_MAX_FILES) {
                fl->truncated = 1;
            } else {
                if (fl->n == fl->cap) {
                    size_t c = fl->cap ? fl->cap * 2 : 32;
                    rpt_file *nv = realloc(fl->v, sizeof *nv * c);
                    if (!nv) st = ANC_ERR_NOMEM;
                    else fl->v = nv, fl->cap = c;
                }
                if (!st) {
                    fl->v[fl->n++] = (rpt_file){relpath, path};
                    path = relpath = NULL;
                }
            }
        }
        free(path);
        free(relpath);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (st == ANC_ERR_NOMEM) return anc_error_set(err, st, "out of memory listing %s", dir);
    return st;
}

/* ---- eval / A/B tables ----------------------------------------------------- */

static int is_result_file(const char *rel) {
    const char *b = anc_rpt_base(rel);
    return anc_rpt_ends_with(b, ".json") && (strncmp(b, "eval", 4) == 0 || strncmp(b, "ab", 2) == 0);
}

static void put_number(anc_sbuf *out, const json_t *v) {
    if (json_is_integer(v))
        anc_sbuf_printf(out, "%lld", (long long)json_integer_value(v));
    else
        anc_sbuf_printf(out, "%.6g", json_real_value(v));
}

/* One table row for key (prefix.key) = v when v is a number, a [lo, hi]
 * interval or a short string; returns 1 when a row was written. */
static int result_row(anc_sbuf *out, const char *prefix, const char *key, const json_t *v) {
    int interval = json_is_array(v) && json_array_size(v) == 2 && json_is_number(json_array_get(v, 0)) &&
                   json_is_number(json_array_get(v, 1));
    int text = json_is_string(v) && json_string_length(v) <= 200;
    if (!json_is_number(v) && !interval && !text && !json_is_boolean(v)) return 0;
    anc_sbuf_puts(out, "<tr><td class=\"name\">");
    if (prefix) {
        anc_html_escape_str(out, prefix);
        anc_sbuf_putc(out, '.');
    }
    anc_html_escape_str(out, key);
    anc_sbuf_puts(out, "</td><td>");
    if (json_is_number(v)) {
        put_number(out, v);
    } else if (interval) {
        put_number(out, json_array_get(v, 0));
        anc_sbuf_puts(out, " &ndash; ");
        put_number(out, json_array_get(v, 1));
    } else if (text) {
        anc_html_escape(out, json_string_value(v), json_string_length(v));
    } else {
        anc_sbuf_puts(out, json_is_true(v) ? "true" : "false");
    }
    anc_sbuf_puts(out, "</td></tr>");
    return 1;
}

/* IFEval's per-type breakdown (`anchor eval --task ifeval --json`: by_type
 * maps each instruction type to {n, strict, loose} counts): one row per
 * type with its strict and loose accuracy. */
static void ifeval_table(anc_sbuf *out, const json_t *by_type) {
    anc_sbuf_puts(out, "<table><tr><th class=\"name\">IFEval instruction type</th><th>n</th><th>strict</th>"
                       "<th>loose</th></tr>");
    const char *id;
    json_t *c;
    json_object_foreach((json_t *)by_type, id, c) {
        json_int_t n = json_integer_value(json_object_get(c, "n"));
        if (n <= 0) continue;
        anc_sbuf_puts(out, "<tr><td class=\"name\">");
        anc_html_escape_str(out, id);
        anc_sbuf_printf(out, "</td><td>%lld</td><td>%.4f</td><td>%.4f</td></tr>", (long long)n,
                        (double)json_integer_value(json_object_get(c, "strict")) / (double)n,
                        (double)json_integer_value(json_object_get(c, "loose")) / (double)n);
    }
    anc_sbuf_puts(out, "</table>\n");
}

/* A leaderboard (`anchor ab --system ... --json`: systems is a list of
 * {rank, system, rating, ci_95: [lo, hi], comparisons, wins, ties,
 * losses}, best first; an unrated system has a null rating). */
static void leaderboard_table(anc_sbuf *out, const json_t *systems) {
    anc_sbuf_puts(out, "<table><tr><th>rank</th><th class=\"name\">system</th><th>rating</th><th>95% CI</th>"
                       "<th>comparisons</th><th>wins / ties / losses</th></tr>");
    size_t i;
    json_t *sy;
    json_array_foreach((json_t *)systems, i, sy) {
        const json_t *rating = json_object_get(sy, "rating"), *ci = json_object_get(sy, "ci_95");
        anc_sbuf_puts(out, "<tr><td>");
        if (json_is_integer(json_object_get(sy, "rank")))
            anc_sbuf_printf(out, "%lld", (long long)json_integer_value(json_object_get(sy, "rank")));
        else
            anc_sbuf_puts(out, "&ndash;");
        anc_sbuf_puts(out, "</td><td class=\"name\">");
        anc_html_escape_str(out, json_string_value(json_object_get(sy, "system")));
        if (json_is_number(rating)) anc_sbuf_printf(out, "</td><td>%.1f</td><td>", json_number_value(rating));
        else anc_sbuf_puts(out, "</td><td>&ndash;</td><td>");
        if (json_is_array(ci) && json_array_size(ci) == 2)
            anc_sbuf_printf(out, "%.1f &ndash; %.1f", json_number_value(json_array_get(ci, 0)),
                            json_number_value(json_array_get(ci, 1)));
        anc_sbuf_printf(out, "</td><td>%lld</td><td>%lld / %lld / %lld</td></tr>",
                        (long long)json_integer_value(json_object_get(sy, "comparisons")),
                        (long long)json_integer_value(json_object_get(sy, "wins")),
                        (long long)json_integer_value(json_object_get(sy, "ties")),
                        (long long)json_integer_value(json_object_get(sy, "losses")));
    }
    anc_sbuf_puts(out, "</table>\n");
}

static anc_status results_section(anc_sbuf *out, const file_list *fl, rpt_notes *notes, rpt_rounds *rounds,
                                  size_t *n_tables, anc_error *err) {
    anc_sbuf_puts(out, "<h2 id=\"results\">Evaluation and A/B results</h2>\n");
    *n_tables = 0;
    for (size_t i = 0; i < fl->n; i++) {
        if (!is_result_file(fl->v[i].rel)) continue;
        json_error_t je;
        json_t *root = json_load_file(fl->v[i].path, 0, &je);
        if (!root) {
            anc_rpt_note(notes, "%s:%d:%d: not valid JSON (%s); expected one JSON object", fl->v[i].rel, je.line,
                     je.column, je.text);
            continue;
        }
        if (!json_is_object(root)) {
            anc_rpt_note(notes, "%s: expected a JSON object at the top level, found a JSON %s", fl->v[i].rel,
                     json_is_array(root) ? "array" : "scalar");
            json_decref(root);
            continue;
        }
        anc_rpt_rounds_result(rounds, fl->v[i].rel, root);
        anc_sbuf_puts(out, "<h3>");
        anc_html_escape_str(out, fl->v[i].rel);
        anc_sbuf_puts(out, "</h3>\n<table><tr><th class=\"name\">field</th><th>value</th></tr>");
        size_t rows = 0;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            if (json_is_object(v)) {
                const char *k2;
                json_t *v2;
                json_object_foreach(v, k2, v2) rows += (size_t)result_row(out, key, k2, v2);
            } else {
                rows += (size_t)result_row(out, NULL, key, v);
            }
        }
        if (rows == 0) anc_sbuf_puts(out, "<tr><td colspan=\"2\" class=\"name\">(no numeric fields)</td></tr>");
        anc_sbuf_puts(out, "</table>\n");
        const json_t *by_type = json_object_get(root, "by_type");
        if (json_is_object(by_type)) ifeval_table(out, by_type);
        const json_t *systems = json_object_get(root, "systems");
        if (json_is_array(systems)) leaderboard_table(out, systems);
        json_decref(root);
        (*n_tables)++;
    }
    if (*n_tables == 0)
        anc_sbuf_puts(out, "<p class=\"empty\">no evaluation or A/B results found (eval*.json, ab*.json)</p>\n");
    return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering results") : ANC_OK;
}

/* ---- the page ------------------------------------------------------------------ */

anc_status anc_report_render(const char *run_dir, const anc_report_options *opt, anc_sbuf *html,
                             anc_report_summary *summary, anc_error *err) {
    anc_report_options def;
    anc_report_options_default(&def);
    if (!opt) opt = &def;
    struct stat sb;
    if (stat(run_dir, &sb) != 0)
        return anc_error_set(err, ANC_ERR_IO, "%s: cannot open the run directory: %s", run_dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return anc_error_set(err, ANC_ERR_IO, "%s: expected a run directory, found a file", run_dir);
    file_list fl = {0};
    rpt_notes notes = {0};
    anc_report_summary sum = {0};
    anc_status st = walk(run_dir, "", 0, &fl, &notes, err);
    if (fl.truncated)
        anc_rpt_note(&notes, "more than %d files under the run directory: only the first %d (in name order) were read",
                 RPT_MAX_FILES, RPT_MAX_FILES);
    anc_sbuf title = {0};
    if (opt->title)
        anc_sbuf_puts(&title, opt->title);
    else
        anc_sbuf_printf(&title, "anchor report: %s", run_dir);
    /* the sections first: the rounds they report go on top of the page */
    anc_sbuf body = {0};
    rpt_rounds rounds = {0};
    if (!st) st = anc_rpt_pairs_section(&body, fl.v, fl.n, opt->examples, &notes, &rounds, &sum.datasets, err);
    if (!st) st = anc_rpt_train_section(&body, fl.v, fl.n, &notes, &rounds, &sum.runs, err);
    if (!st) st = results_section(&body, &fl, &notes, &rounds, &sum.results, err);
    if (!st) st = anc_html_page_begin(html, anc_sbuf_str(&title));
    if (!st) {
        anc_sbuf_puts(html, "<p class=\"meta\">Run directory <code>");
        anc_html_escape_str(html, run_dir);
        anc_sbuf_printf(html, "</code>: %zu files read (up to %d folder levels down).</p>\n", fl.n, RPT_MAX_DEPTH);
        anc_sbuf_puts(html, "<nav>");
        if (rounds.n) anc_sbuf_puts(html, "<a href=\"#rounds\">Rounds</a>");
        anc_sbuf_puts(html, "<a href=\"#pairs\">Preference pairs</a><a href=\"#training\">Training</a>"
                            "<a href=\"#results\">Evaluation</a><a href=\"#notes\">Notes</a></nav>\n");
    }
    if (!st) st = anc_rpt_rounds_section(html, &rounds, err);
    if (!st && (body.oom || anc_sbuf_append(html, body.data ? body.data : "", body.len)))
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering the report");
    anc_sbuf_free(&body);
    anc_rpt_rounds_free(&rounds);
    if (!st) {
        anc_sbuf_puts(html, "<h2 id=\"notes\">Notes</h2>\n");
        if (notes.n == 0) {
            anc_sbuf_puts(html, "<p class=\"empty\">every input was read without problems</p>\n");
        } else {
            anc_sbuf_puts(html, "<ul>");
            for (size_t i = 0; i < notes.n && i < RPT_MAX_NOTES; i++) {
                anc_sbuf_puts(html, "<li>");
                anc_html_escape_str(html, notes.v[i]);
                anc_sbuf_puts(html, "</li>");
            }
            if (notes.n > RPT_MAX_NOTES) anc_sbuf_printf(html, "<li>... and %zu more</li>", notes.n - RPT_MAX_NOTES);
            anc_sbuf_puts(html, "</ul>\n");
        }
        st = anc_html_page_end(html);
        if (st) anc_error_set(err, st, "out of memory rendering the report");
    }
    if (!st && notes.oom) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory collecting notes");
    sum.notes = notes.n;
    if (summary) *summary = sum;
    anc_sbuf_free(&title);
    notes_free(&notes);
    files_free(&fl);
    return st;
}

anc_status anc_report_write(const char *run_dir, const char *out_path, const anc_report_options *opt,
                            anc_report_summary *summary, anc_error *err) {
    char *def = NULL;
    if (!out_path) {
        def = anc_path_join(run_dir, "report.html");
        if (!def) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        out_path = def;
    }
    anc_sbuf html = {0};
    anc_status st = anc_report_render(run_dir, opt, &html, summary, err);
    if (!st) st = anc_write_file_atomic(out_path, html.data, html.len, err);
    anc_sbuf_free(&html);
    free(def);
    return st;
}
