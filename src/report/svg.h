/* Inline SVG line charts for the HTML report (design notes §2: "report ->
 * report.html"). Everything is drawn by anchor into an anc_sbuf: no
 * scripts, no external fonts or stylesheets; the markup is meant to be
 * embedded in an HTML5 page (no xmlns attribute, so the page holds no URL).
 * Pure functions over caller memory; no global state. */
#ifndef ANCHOR_REPORT_SVG_H
#define ANCHOR_REPORT_SVG_H

#include <stddef.h>

#include "core/strbuf.h"
#include "core/text.h"
#include "core/error.h"

/* Colour of series number i (cycles through a 10-colour palette that stays
 * distinguishable for common colour-vision deficiencies). Never NULL. */
const char *anc_svg_color(size_t i);

/* "Nice" axis ticks (Heckbert's 1-2-5 rule) covering [lo, hi] with about
 * `target` intervals: *first is the first tick (a multiple of *step that is
 * <= lo), *count the number of ticks (first + k*step, k < count, the last
 * >= hi). lo == hi is widened around the value. Non-finite input or
 * target < 1 returns ANC_ERR_INVALID. */
anc_status anc_svg_nice_ticks(double lo, double hi, int target, double *first, double *step, int *count,
                              anc_error *err);

/* Formats tick value v for an axis whose ticks are `step` apart: enough
 * decimals to tell neighbours apart, no trailing noise ("0.3", not
 * "0.30000000000000004"), "0" for values within step*1e-9 of zero, and
 * exponent form for magnitudes >= 1e6 or tiny steps. */
void anc_svg_format_tick(double v, double step, anc_sbuf *out);

/* One line of a chart: points (x[i], y[i]) in order; non-finite points are
 * skipped. color_index picks anc_svg_color. A series with `markers_only`
 * is drawn as dots (evaluation points) instead of a <polyline>. */
typedef struct anc_svg_series {
    const char *name;      /* shown in the tooltip <title>; escaped */
    const double *x, *y;
    size_t n;
    size_t color_index;
    int markers_only;
} anc_svg_series;

/* Appends an <svg class="chart"> line chart of the series: title (escaped)
 * above, nice round ticks and grid lines on both axes, x_label below. Each
 * series with at least one finite point is exactly one
 * <polyline class="series"> (or, markers_only, one <g class="markers"> of
 * <circle>s); a lone point of a line series also gets a dot. When no series
 * has a finite point, the chart says "no data". Returns ANC_ERR_NOMEM when
 * out grows out of memory. */
anc_status anc_svg_line_chart(anc_sbuf *out, const char *title, const char *x_label, const anc_svg_series *series,
                              size_t n_series, anc_error *err);

#endif
