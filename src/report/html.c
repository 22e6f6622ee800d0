/* HTML escaping, page frame and word diff (see html.h). */
#include "report/html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

anc_status anc_html_escape(anc_sbuf *out, const char *s, size_t n) {
    size_t run = 0;  /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case ':':
            if (i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') rep = "&#58;";
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) rep = "&#xFFFD;";
        }
        if (!rep) continue;
        anc_sbuf_append(out, s + run, i - run);
        anc_sbuf_puts(out, rep);
        run = i + 1;
    }
    anc_sbuf_append(out, s + run, n - run);
    return out->oom ? ANC_ERR_NOMEM : ANC_OK;
}

anc_status anc_html_escape_str(anc_sbuf *out, const char *s) {
    return s ? anc_html_escape(out, s, strlen(s)) : (out->oom ? ANC_ERR_NOMEM : ANC_OK);
}

static const char stylesheet[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:24px auto;"
    "max-width:1220px;padding:0 16px;color:#1f2328;background:#fff;line-height:1.45}"
    "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:28px 0 8px;padding-bottom:4px;"
    "border-bottom:1px solid #d0d7de}h3{font-size:1.05em;margin:18px 0 6px}"
    "p.meta{color:#59636e;margin:0 0 12px}nav a{margin-right:14px;color:#0969da;text-decoration:none}"
    "table{border-collapse:collapse;margin:8px 0 14px;font-size:.9em}"
    "th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:top}"
    "th{background:#f6f8fa}td.name,th.name{text-align:left;font-family:ui-monospace,'DejaVu Sans Mono',monospace}"
    "p.empty{color:#59636e;font-style:italic}p.note{color:#9a6700}"
    ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:6px 0 10px;font-size:.9em}"
    ".legend span{display:inline-flex;align-items:center;gap:6px;font-family:ui-monospace,'DejaVu Sans Mono',monospace}"
    ".legend svg{width:34px;height:12px}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}"
    "svg.chart{width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}"
    "svg .bg{fill:#fff}svg .frame{fill:none;stroke:#8c959f;stroke-width:1}"
    "svg .grid{stroke:#eaeef2;stroke-width:1}svg text{font-size:12px;fill:#424a53}"
    "svg .ctitle{font-size:14px;font-weight:600;fill:#1f2328}svg .xlabel{font-size:12px}"
    "svg .nodata{font-size:14px;fill:#8c959f}"
    "svg .series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}"
    "svg .eval{stroke-width:2}"
    ".pair{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:10px 0}"
    ".pair .label{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;color:#59636e;margin:6px 0 2px}"
    ".prompt,.diff,.rationale{white-space:pre-wrap;word-wrap:break-word;max-height:26em;overflow:auto;"
    "font-size:.92em;background:#f6f8fa;border-radius:4px;padding:6px 8px}"
    ".diff del{background:#ffebe9;color:#b62324;text-decoration:line-through}"
    ".diff ins{background:#dafbe1;color:#116329;text-decoration:none}.diff del+ins{margin-left:.2em}"
    ".keys{font-size:.85em;color:#59636e}.keys del,.keys ins{padding:0 3px}"
    ".keys del{background:#ffebe9;color:#b62324}.keys ins{background:#dafbe1;color:#116329;text-decoration:none}";

anc_status anc_html_page_begin(anc_sbuf *out, const char *title) {
    anc_sbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    anc_html_escape_str(out, title);
    anc_sbuf_puts(out, "</title>\n<style>");
    anc_sbuf_puts(out, stylesheet);
    anc_sbuf_puts(out, "</style>\n</head>\n<body>\n<h1>");
    anc_html_escape_str(out, title);
    anc_sbuf_puts(out, "</h1>\n");
    return out->oom ? ANC_ERR_NOMEM : ANC_OK;
}

anc_status anc_html_page_end(anc_sbuf *out) {
    anc_sbuf_puts(out, "</body>\n</html>\n");
    return out->oom ? ANC_ERR_NOMEM : ANC_OK;
}

/* ---- word diff ------------------------------------------------------------ */

static int span_eq(const anc_span *a, const anc_span *b) {
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static uint64_t span_hash(const anc_span *s) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s->len; i++) h = (h ^ (unsigned char)s->p[i]) * 1099511628211ull;
    return h;
}

anc_status anc_word_diff(const anc_span *a, size_t na, const anc_span *b, size_t nb, size_t max_cells,
                         anc_diff_op **ops, size_t *n_ops, int *exact, anc_error *err) {
    *ops = NULL;
    *n_ops = 0;
    if (exact) *exact = 1;
    if (na + nb == 0) return ANC_OK;
    anc_diff_op *o = malloc(sizeof *o * (na + nb));
    if (!o) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for a diff of %zu and %zu words", na, nb);
    size_t k = 0, pre = 0, suf = 0;
    while (pre < na && pre < nb && span_eq(&a[pre], &b[pre])) pre++;
    while (suf < na - pre && suf < nb - pre && span_eq(&a[na - 1 - suf], &b[nb - 1 - suf])) suf++;
    for (size_t i = 0; i < pre; i++) o[k++] = (anc_diff_op){ANC_DIFF_EQUAL, i, i};
    size_t m = na - pre - suf, n = nb - pre - suf;  /* middle sizes */
    const anc_span *ma = a + pre, *mb = b + pre;
    uint32_t *t = NULL;
    uint64_t *ha = NULL, *hb = NULL;
    int use_table = m > 0 && n > 0 && (m + 1) <= max_cells / (n + 1);
    if (use_table) {
        t = malloc(sizeof *t * (m + 1) * (n + 1));
        ha = malloc(sizeof *ha * m);
        hb = malloc(sizeof *hb * n);
        if (!t || !ha || !hb) {
            free(t), free(ha), free(hb), free(o);
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for a %zu x %zu diff table", m, n);
        }
        for (size_t i = 0; i < m; i++) ha[i] = span_hash(&ma[i]);
        for (size_t j = 0; j < n; j++) hb[j] = span_hash(&mb[j]);
        /* t[i][j] = LCS length of ma[i..m) and mb[j..n) */
#define T(i, j) t[(size_t)(i) * (n + 1) + (j)]
        for (size_t j = 0; j <= n; j++) T(m, j) = 0;
        for (size_t i = m; i-- > 0;) {
            T(i, n) = 0;
            for (size_t j = n; j-- > 0;) {
                if (ha[i] == hb[j] && span_eq(&ma[i], &mb[j]))
                    T(i, j) = T(i + 1, j + 1) + 1;
                else
                    T(i, j) = T(i + 1, j) >= T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
            }
        }
        size_t i = 0, j = 0;
        while (i < m || j < n) {
            if (i < m && j < n && ha[i] == hb[j] && T(i, j) == T(i + 1, j + 1) + 1 && span_eq(&ma[i], &mb[j])) {
                o[k++] = (anc_diff_op){ANC_DIFF_EQUAL, pre + i, pre + j};
                i++, j++;
            } else if (i < m && (j == n || T(i + 1, j) >= T(i, j + 1))) {
                o[k++] = (anc_diff_op){ANC_DIFF_DELETE, pre + i, 0};
                i++;
            } else {
                o[k++] = (anc_diff_op){ANC_DIFF_INSERT, 0, pre + j};
                j++;
            }
        }
#undef T
        free(t), free(ha), free(hb);
    } else {
        if (m > 0 && n > 0 && exact) *exact = 0;
        for (size_t i = 0; i < m; i++) o[k++] = (anc_diff_op){ANC_DIFF_DELETE, pre + i, 0};
        for (size_t j = 0; j < n; j++) o[k++] = (anc_diff_op){ANC_DIFF_INSERT, 0, pre + j};
    }
    for (size_t i = 0; i < suf; i++) o[k++] = (anc_diff_op){ANC_DIFF_EQUAL, na - suf + i, nb - suf + i};
    *ops = o;
    *n_ops = k;
    return ANC_OK;
}

/* The word at w[i] followed by the whitespace up to the next word (or the end
 * of the text), escaped. */
static void put_word(anc_sbuf *out, const anc_span *w, size_t nw, size_t i, const char *text, size_t len) {
    const char *end = i + 1 < nw ? w[i + 1].p : text + len;
    anc_html_escape(out, w[i].p, (size_t)(end - w[i].p));
}

/* Cells of the LCS table over the changed middle of a pair: 4M cells are
 * 16 MB, a few thousand words on each side. */
#define DIFF_MAX_CELLS ((size_t)4 << 20)

anc_status anc_html_word_diff(anc_sbuf *out, const char *old, size_t old_len, const char *new_, size_t new_len,
                              anc_error *err) {
    anc_span *wa = NULL, *wb = NULL;
    size_t na = 0, nb = 0, n_ops = 0;
    anc_diff_op *ops = NULL;
    int exact = 1;
    anc_status st = anc_text_split_words(old, old_len, &wa, &na, err);
    if (!st) st = anc_text_split_words(new_, new_len, &wb, &nb, err);
    if (!st) st = anc_word_diff(wa, na, wb, nb, DIFF_MAX_CELLS, &ops, &n_ops, &exact, err);
    if (st) {
        free(wa), free(wb);
        return st;
    }
    anc_sbuf_puts(out, "<div class=\"diff\">");
    anc_diff_kind open = ANC_DIFF_EQUAL;
    for (size_t k = 0; k < n_ops; k++) {
        const anc_diff_op *op = &ops[k];
        if (op->kind != open) {
            if (open == ANC_DIFF_DELETE) anc_sbuf_puts(out, "</del>");
            if (open == ANC_DIFF_INSERT) anc_sbuf_puts(out, "</ins>");
            if (op->kind == ANC_DIFF_DELETE) anc_sbuf_puts(out, "<del>");
            if (op->kind == ANC_DIFF_INSERT) anc_sbuf_puts(out, "<ins>");
            open = op->kind;
        }
        if (op->kind == ANC_DIFF_DELETE)
            put_word(out, wa, na, op->ia, old, old_len);
        else
            put_word(out, wb, nb, op->ib, new_, new_len);
    }
    if (open == ANC_DIFF_DELETE) anc_sbuf_puts(out, "</del>");
    if (open == ANC_DIFF_INSERT) anc_sbuf_puts(out, "</ins>");
    if (na + nb == 0) anc_sbuf_puts(out, "<span class=\"empty\">(both empty)</span>");
    anc_sbuf_puts(out, "</div>");
    if (!exact)
        anc_sbuf_printf(out, "<p class=\"note\">The changed middle (%zu and %zu words) is too long for a word "
                             "alignment; shown as one deletion and one insertion.</p>", na, nb);
    free(wa), free(wb), free(ops);
    return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering a diff") : ANC_OK;
}
