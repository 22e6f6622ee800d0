/* HTML building blocks for the report: escaping of untrusted text, the page
 * frame with its inline stylesheet, and a word-level diff rendered with
 * <del>/<ins>. The page needs no network and no JavaScript. Pure functions
 * over caller memory; no global state. */
#ifndef ANCHOR_REPORT_HTML_H
#define ANCHOR_REPORT_HTML_H

#include <stddef.h>

#include "core/strbuf.h"
#include "core/text.h"
#include "core/error.h"

/* Appends s[0..n) escaped for HTML text and double-quoted attribute values:
 * & < > " ' become entities; NUL and other C0 controls except tab, newline
 * and carriage return become U+FFFD; and the ':' of every "://" is written
 * as "&#58;" so that no URL appears literally in the page (the text reads
 * the same). Returns ANC_ERR_NOMEM when out runs out of memory. */
anc_status anc_html_escape(anc_sbuf *out, const char *s, size_t n);
/* Same for a NUL-terminated string (NULL appends nothing). */
anc_status anc_html_escape_str(anc_sbuf *out, const char *s);

/* Appends the document start: doctype, <meta charset="utf-8">, <title>
 * (escaped), the inline stylesheet and <body><h1> with the title. */
anc_status anc_html_page_begin(anc_sbuf *out, const char *title);
/* Appends </body></html>. */
anc_status anc_html_page_end(anc_sbuf *out);

/* Appends a word-level diff from `old` (the rejected draft) to `new_` (the
 * chosen revision) as a <div class="diff">: words only in the draft inside
 * <del> (red, struck through), words only in the revision inside <ins>
 * (green), common words plain; the whitespace that follows each word is
 * kept (the revision's for common words) so paragraphs survive. Words are
 * whitespace-split (anc_text_split_words) and aligned by a longest common
 * subsequence (anc_word_diff); when the changed middle is too large for the
 * bounded LCS table the whole middle is shown as one deletion and one
 * insertion, and the div says so. */
anc_status anc_html_word_diff(anc_sbuf *out, const char *old, size_t old_len, const char *new_, size_t new_len,
                              anc_error *err);

/* ---- word diff ------------------------------------------------------------ */

typedef enum { ANC_DIFF_EQUAL = 0, ANC_DIFF_DELETE = 1, ANC_DIFF_INSERT = 2 } anc_diff_kind;

/* One step of an edit script: EQUAL consumes a[ia] and b[ib], DELETE a[ia],
 * INSERT b[ib] (the unused index is undefined). */
typedef struct anc_diff_op {
    anc_diff_kind kind;
    size_t ia, ib;
} anc_diff_op;

/* Edit script turning words a[0..na) into b[0..nb) (exact byte comparison)
 * with the fewest insertions + deletions: common prefix and suffix are
 * matched first, then an LCS table over the middle, as long as it has at
 * most max_cells cells; otherwise the middle becomes all deletions then all
 * insertions and *exact (may be NULL) is set to 0. Within a change, the
 * deletions come before the insertions. *ops is malloc'd (caller frees;
 * NULL when *n_ops is 0). */
anc_status anc_word_diff(const anc_span *a, size_t na, const anc_span *b, size_t nb, size_t max_cells,
                         anc_diff_op **ops, size_t *n_ops, int *exact, anc_error *err);

#endif
