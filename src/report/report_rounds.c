/* The report's "Rounds" section: when the run directory has round-K/
 * folders (pipelines with a rounds block, pipeline/rounds.h), each round's
 * pair datasets (contrast statistics), training runs (final logged loss,
 * reward accuracy and margin) and evaluation results side by side, in round
 * order. The other sections hand their per-file figures in as they read
 * them (anc_rpt_rounds_*); nothing is read twice. */
#include <stdlib.h>
#include <string.h>

#include "report/html.h"
#include "report/report_internal.h"

int anc_rpt_round_of(const char *rel) {
    if (strncmp(rel, "round-", 6)) return 0;
    char *end = NULL;
    long k = strtol(rel + 6, &end, 10);
    return end != rel + 6 && *end == '/' && k > 0 && k <= 100000 ? (int)k : 0;
}

static rpt_round_item *add(rpt_rounds *r, const char *rel, int kind) {
    int round = anc_rpt_round_of(rel);
    if (!round || r->oom) return NULL;
    if (r->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 16;
        rpt_round_item *nv = realloc(r->v, nc * sizeof *nv);
        if (!nv) {
            r->oom = 1;
            return NULL;
        }
        r->v = nv;
        r->cap = nc;
    }
    rpt_round_item *it = &r->v[r->n];
    memset(it, 0, sizeof *it);
    if (!(it->rel = strdup(rel))) {
        r->oom = 1;
        return NULL;
    }
    it->round = round;
    it->kind = kind;
    r->n++;
    return it;
}

void anc_rpt_rounds_pairs(rpt_rounds *r, const char *rel, const anc_contrast_stats *s) {
    rpt_round_item *it = add(r, rel, RPT_ROUND_PAIRS);
    if (!it) return;
    it->rows = s->rows;
    it->v[0] = s->identical_share;
    it->v[1] = s->jaccard;
    it->v[2] = s->levenshtein;
}

void anc_rpt_rounds_run(rpt_rounds *r, const char *rel, double loss, double accuracy, double margin) {
    rpt_round_item *it = add(r, rel, RPT_ROUND_RUN);
    if (!it) return;
    it->v[0] = loss;
    it->v[1] = accuracy;
    it->v[2] = margin;
}

void anc_rpt_rounds_result(rpt_rounds *r, const char *rel, const json_t *root) {
    rpt_round_item *it = add(r, rel, RPT_ROUND_RESULT);
    if (!it) return;
    /* the first four numeric top-level fields, "key value" */
    anc_sbuf b = {0};
    const char *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach((json_t *)root, key, v) {
        if (!json_is_number(v) || k == 4) continue;
        anc_sbuf_printf(&b, "%s%s %.4g", k++ ? ", " : "", key, json_number_value(v));
    }
    it->text = anc_sbuf_take(&b);
}

void anc_rpt_rounds_free(rpt_rounds *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].rel);
        free(r->v[i].text);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

static int by_round(const void *a, const void *b) {
    const rpt_round_item *x = a, *y = b;
    if (x->round != y->round) return x->round < y->round ? -1 : 1;
    return strcmp(x->rel, y->rel);
}

static void num(anc_sbuf *out, double v) {
    if (v != v) anc_sbuf_puts(out, "<td>&ndash;</td>");
    else anc_sbuf_printf(out, "<td>%.4g</td>", v);
}

static void table(anc_sbuf *out, const rpt_rounds *r, int kind, const char *head) {
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->v[i].kind == kind;
    if (!n) return;
    anc_sbuf_puts(out, head);
    for (size_t i = 0; i < r->n; i++) {
        const rpt_round_item *it = &r->v[i];
        if (it->kind != kind) continue;
        anc_sbuf_printf(out, "<tr><td>%d</td><td class=\"name\">", it->round);
        anc_html_escape_str(out, it->rel);
        anc_sbuf_puts(out, "</td>");
        if (kind == RPT_ROUND_PAIRS) anc_sbuf_printf(out, "<td>%zu</td>", it->rows);
        if (kind == RPT_ROUND_RESULT) {
            anc_sbuf_puts(out, "<td class=\"name\">");
            anc_html_escape_str(out, it->text ? it->text : "");
            anc_sbuf_puts(out, "</td>");
        } else {
            for (int k = 0; k < 3; k++) num(out, it->v[k]);
        }
        anc_sbuf_puts(out, "</tr>\n");
    }
    anc_sbuf_puts(out, "</table>\n");
}

anc_status anc_rpt_rounds_section(anc_sbuf *out, rpt_rounds *r, anc_error *err) {
    if (r->oom) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory collecting the rounds");
    if (!r->n) return ANC_OK;
    qsort(r->v, r->n, sizeof *r->v, by_round);
    int last = r->v[r->n - 1].round;
    anc_sbuf_printf(out, "<h2 id=\"rounds\">Rounds</h2>\n<p class=\"meta\">%d rounds (folders round-1/ ... round-%d/): "
                         "each round drafts with the model the round before trained.</p>\n", last, last);
    table(out, r, RPT_ROUND_PAIRS,
          "<table><tr><th>round</th><th class=\"name\">pairs</th><th>rows</th><th>identical</th>"
          "<th>word Jaccard &uarr;</th><th>Levenshtein &darr;</th></tr>\n");
    table(out, r, RPT_ROUND_RUN,
          "<table><tr><th>round</th><th class=\"name\">training run</th><th>final loss</th>"
          "<th>rewards/accuracies</th><th>rewards/margins</th></tr>\n");
    table(out, r, RPT_ROUND_RESULT,
          "<table><tr><th>round</th><th class=\"name\">results</th><th class=\"name\">figures</th></tr>\n");
    return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering the rounds") : ANC_OK;
}
