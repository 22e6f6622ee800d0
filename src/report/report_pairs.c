/* The report's "Preference pairs" section: contrast table and example pairs
 * with word diffs (see report.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clair/import.h"
#include "clair/stats.h"
#include "data/jsonl.h"
#include "report/html.h"
#include "report/report_internal.h"

/* Characters of a prompt shown above an example before it is cut. */
#define PROMPT_SHOW_BYTES 2000

/* 1 when a row looks like a preference pair (TRL standard/conversational or
 * LLaMA-Factory message keys). */
static int is_pair_row(const json_t *row) {
    return (json_object_get(row, "chosen") || json_object_get(row, "chosen_messages")) &&
           (json_object_get(row, "rejected") || json_object_get(row, "rejected_messages"));
}

/* The prompt of a row as text: a string, or the content of the last "user"
 * message of a message list. NULL when there is none. Points into row. */
static const char *prompt_text(const json_t *row) {
    const json_t *p = json_object_get(row, "prompt");
    if (json_is_string(p)) return json_string_value(p);
    if (!json_is_array(p)) return NULL;
    for (size_t i = json_array_size(p); i-- > 0;) {
        const json_t *m = json_array_get(p, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *c = json_object_get(m, "content");
        if (role && strcmp(role, "user") == 0 && json_is_string(c)) return json_string_value(c);
    }
    return NULL;
}

/* One example pair: prompt, rationale, diff from rejected to chosen. */
static anc_status render_example(anc_sbuf *out, const json_t *row, size_t line, const char *chosen,
                                 const char *rejected, anc_error *err) {
    anc_sbuf_printf(out, "<div class=\"pair\"><div class=\"label\">line %zu", line);
    const char *id = json_string_value(json_object_get(row, "id"));
    const char *source = json_string_value(json_object_get(row, "source"));
    if (id) {
        anc_sbuf_puts(out, " &middot; id ");
        anc_html_escape_str(out, id);
    }
    if (source) {
        anc_sbuf_puts(out, " &middot; source ");
        anc_html_escape_str(out, source);
    }
    anc_sbuf_puts(out, "</div>");
    const char *prompt = prompt_text(row);
    if (prompt) {
        size_t n = strlen(prompt);
        anc_sbuf_puts(out, "<div class=\"label\">prompt</div><div class=\"prompt\">");
        if (n > PROMPT_SHOW_BYTES) {
            size_t cut = PROMPT_SHOW_BYTES;
            while (cut > 0 && ((unsigned char)prompt[cut] & 0xC0) == 0x80) cut--;  /* whole code points */
            anc_html_escape(out, prompt, cut);
            anc_sbuf_printf(out, " [&hellip; %zu more bytes]", n - cut);
        } else {
            anc_html_escape(out, prompt, n);
        }
        anc_sbuf_puts(out, "</div>");
    }
    const char *rationale = json_string_value(json_object_get(row, "rationale"));
    if (!rationale) rationale = json_string_value(json_object_get(row, "rational"));
    if (rationale && *rationale) {
        anc_sbuf_puts(out, "<div class=\"label\">reviser's rationale</div><div class=\"rationale\">");
        anc_html_escape_str(out, rationale);
        anc_sbuf_puts(out, "</div>");
    }
    anc_sbuf_puts(out, "<div class=\"label\">rejected &rarr; chosen</div>");
    anc_status st = anc_html_word_diff(out, rejected, strlen(rejected), chosen, strlen(chosen), err);
    anc_sbuf_puts(out, "</div>\n");
    return st;
}

typedef struct dataset {
    const char *rel;
    anc_contrast_stats stats;
} dataset;

/* Reads one candidate file: when it is a pairs dataset, appends its example
 * pairs to ex and fills *ds, returning 1; 0 when it is not a pairs file (or
 * is unusable: then a note says why). */
static int read_dataset(const rpt_file *f, size_t examples, anc_sbuf *ex, dataset *ds, rpt_notes *notes,
                        anc_status *fatal, anc_error *err) {
    anc_rows rows;
    anc_error lerr = {0};
    if (anc_rows_load(&rows, f->path, &lerr)) {
        if (lerr.code == ANC_ERR_NOMEM) *fatal = anc_error_set(err, ANC_ERR_NOMEM, "%s", lerr.message);
        else anc_rpt_note(notes, "%s: skipped: %s", f->rel, lerr.message);
        return 0;
    }
    if (rows.n == 0 || !is_pair_row(rows.rows[0])) {
        anc_rows_free(&rows);
        return 0;
    }
    anc_contrast *acc = NULL;
    anc_status st = anc_contrast_create(&acc, err);
    size_t bad = 0, shown = 0;
    anc_sbuf_puts(ex, "<h4>");
    anc_html_escape_str(ex, f->rel);
    anc_sbuf_puts(ex, "</h4>\n");
    for (size_t i = 0; !st && i < rows.n; i++) {
        char *c = NULL, *r = NULL;
        anc_error rerr = {0};
        anc_status rs = anc_pair_text(rows.rows[i], "chosen", &c, f->rel, rows.lines[i], &rerr);
        if (!rs) rs = anc_pair_text(rows.rows[i], "rejected", &r, f->rel, rows.lines[i], &rerr);
        if (rs == ANC_ERR_NOMEM) {
            st = anc_error_set(err, rs, "%s", rerr.message);
        } else if (rs) {
            if (bad++ == 0) anc_rpt_note(notes, "%s", rerr.message);
        } else {
            st = anc_contrast_add(acc, c, strlen(c), r, strlen(r), err);
            if (!st && shown < examples) {
                st = render_example(ex, rows.rows[i], rows.lines[i], c, r, err);
                shown++;
            }
        }
        free(c);
        free(r);
        if (!st && json_object_get(rows.rows[i], "chosen_ids") && json_object_get(rows.rows[i], "rejected_ids")) {
            int32_t *ci = NULL, *ri = NULL;
            size_t nc = 0, nr = 0;
            anc_error ierr = {0};
            if (!anc_row_ids(rows.rows[i], "chosen_ids", 0, 0, &ci, &nc, f->rel, rows.lines[i], &ierr) &&
                !anc_row_ids(rows.rows[i], "rejected_ids", 0, 0, &ri, &nr, f->rel, rows.lines[i], &ierr))
                st = anc_contrast_add_tokens(acc, ci, nc, ri, nr, err);
            free(ci);
            free(ri);
        }
    }
    if (bad > 1) anc_rpt_note(notes, "%s: %zu rows in all were skipped as unreadable pairs", f->rel, bad);
    if (!st && shown == 0) anc_sbuf_puts(ex, "<p class=\"empty\">no readable pairs</p>\n");
    if (!st) st = anc_contrast_result(acc, &ds->stats, err);
    anc_contrast_free(acc);
    anc_rows_free(&rows);
    if (st) *fatal = st;
    ds->rel = f->rel;
    return !st;
}

static void cell_len(anc_sbuf *out, const anc_length_stats *s) {
    anc_sbuf_printf(out, "<td>%.1f</td><td>%.1f</td>", s->mean, s->median);
}

static void contrast_table(anc_sbuf *out, const dataset *ds, size_t n) {
    int tokens = 0;
    for (size_t i = 0; i < n; i++) tokens |= ds[i].stats.token_rows > 0;
    anc_sbuf_puts(out, "<table><tr><th class=\"name\" rowspan=\"2\">dataset</th><th rowspan=\"2\">rows</th>"
                       "<th colspan=\"2\">chosen chars</th><th colspan=\"2\">rejected chars</th>"
                       "<th colspan=\"2\">chosen words</th><th colspan=\"2\">rejected words</th>"
                       "<th rowspan=\"2\">word Jaccard &uarr;</th><th rowspan=\"2\">Levenshtein &darr;</th>"
                       "<th rowspan=\"2\">identical</th>");
    if (tokens) anc_sbuf_puts(out, "<th rowspan=\"2\">token Jaccard &uarr;</th>");
    anc_sbuf_puts(out, "</tr><tr>");
    for (int k = 0; k < 4; k++) anc_sbuf_puts(out, "<th>mean</th><th>median</th>");
    anc_sbuf_puts(out, "</tr>\n");
    for (size_t i = 0; i < n; i++) {
        const anc_contrast_stats *s = &ds[i].stats;
        anc_sbuf_puts(out, "<tr><td class=\"name\">");
        anc_html_escape_str(out, ds[i].rel);
        anc_sbuf_printf(out, "</td><td>%zu</td>", s->rows);
        cell_len(out, &s->chosen_chars);
        cell_len(out, &s->rejected_chars);
        cell_len(out, &s->chosen_words);
        cell_len(out, &s->rejected_words);
        anc_sbuf_printf(out, "<td>%.3f</td><td>%.1f</td><td>%.1f%%</td>", s->jaccard, s->levenshtein,
                        100.0 * s->identical_share);
        if (tokens) {
            if (s->token_rows) anc_sbuf_printf(out, "<td>%.3f</td>", s->token_jaccard);
            else anc_sbuf_puts(out, "<td>&ndash;</td>");
        }
        anc_sbuf_puts(out, "</tr>\n");
    }
    anc_sbuf_puts(out, "</table>\n<p class=\"keys\">Characters are Unicode code points, words whitespace-split. "
                       "Word Jaccard: overlap of the word sets of chosen and rejected (higher = more contrastive, "
                       "i.e. more minimal edits); Levenshtein: mean character edit distance (lower = more "
                       "contrastive); identical: share of pairs with chosen = rejected.</p>\n");
}

anc_status anc_rpt_pairs_section(anc_sbuf *out, const rpt_file *files, size_t n, size_t examples, rpt_notes *notes,
                             rpt_rounds *rounds, size_t *n_datasets, anc_error *err) {
    dataset *ds = calloc(n ? n : 1, sizeof *ds);
    if (!ds) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_sbuf ex = {0};
    anc_status st = ANC_OK;
    size_t k = 0;
    for (size_t i = 0; !st && i < n; i++) {
        const char *base = anc_rpt_base(files[i].rel);
        if (!anc_rpt_ends_with(base, ".jsonl") || strcmp(base, "metrics.jsonl") == 0) continue;
        if (read_dataset(&files[i], examples, &ex, &ds[k], notes, &st, err)) {
            anc_rpt_rounds_pairs(rounds, ds[k].rel, &ds[k].stats);
            k++;
        }
    }
    anc_sbuf_puts(out, "<h2 id=\"pairs\">Preference pairs</h2>\n");
    if (!st && k == 0) {
        anc_sbuf_puts(out, "<p class=\"empty\">no preference pairs found (*.jsonl files whose rows have "
                           "&quot;chosen&quot; and &quot;rejected&quot;)</p>\n");
    } else if (!st) {
        contrast_table(out, ds, k);
        if (examples > 0) {
            anc_sbuf_printf(out, "<h3 style=\"margin-top:20px\">Example pairs (first %zu per dataset)</h3>\n"
                                 "<p class=\"keys\">Word diff from the rejected response (the draft) to the chosen "
                                 "one (the revision): <del>removed</del> <ins>added</ins></p>\n", examples);
            anc_sbuf_append(out, ex.data ? ex.data : "", ex.len);
        }
    }
    anc_sbuf_free(&ex);
    free(ds);
    *n_datasets = k;
    if (!st && out->oom) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering pairs");
    return st;
}
