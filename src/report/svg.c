/* Inline SVG line charts (see svg.h). */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>

#include "report/html.h"

/* Okabe-Ito and Tableau hues, chosen to stay apart in print and for common
 * colour-vision deficiencies. */
static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                      "#56b4e9", "#6a3d9a", "#7f7f7f", "#b15928", "#1b9e77"};

const char *anc_svg_color(size_t i) { return palette[i % (sizeof palette / sizeof palette[0])]; }

/* Heckbert's nice number: 1, 2, 5 or 10 times a power of ten near x. */
static double nice_num(double x, int round_it) {
    double e = floor(log10(x));
    double p = pow(10.0, e);
    double f = x / p, nf;
    if (round_it)
        nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * p;
}

anc_status anc_svg_nice_ticks(double lo, double hi, int target, double *first, double *step, int *count,
                              anc_error *err) {
    if (!isfinite(lo) || !isfinite(hi) || target < 1)
        return anc_error_set(err, ANC_ERR_INVALID, "axis range [%g, %g] with %d ticks: expected finite bounds", lo,
                             hi, target);
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo <= fabs(hi) * 1e-12 || hi - lo < 1e-300) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    double range = nice_num(hi - lo, 0);
    double s = nice_num(range / target, 1);
    double f = floor(lo / s) * s;
    double l = ceil(hi / s) * s;
    int c = (int)llround((l - f) / s) + 1;
    if (c < 2) c = 2;
    if (c > 100) c = 100;
    *first = f;
    *step = s;
    *count = c;
    return ANC_OK;
}

void anc_svg_format_tick(double v, double step, anc_sbuf *out) {
    if (fabs(v) <= fabs(step) * 1e-9) {
        anc_sbuf_putc(out, '0');
        return;
    }
    if (fabs(v) >= 1e6 || fabs(step) < 1e-4) {
        anc_sbuf_printf(out, "%.3g", v);
        return;
    }
    int d = 0;
    for (; d < 8; d++) {
        double scaled = step * pow(10.0, d);
        if (fabs(scaled - nearbyint(scaled)) < 1e-6 * fmax(1.0, fabs(scaled))) break;
    }
    anc_sbuf_printf(out, "%.*f", d, v);
}

/* Chart geometry (user units of the viewBox; the page scales it). */
enum { CH_W = 560, CH_H = 300, CH_ML = 64, CH_MR = 16, CH_MT = 32, CH_MB = 44 };
/* Lines on the lowest and highest tick stay clear of the frame by this much. */
enum { CH_INSET = 6 };

typedef struct axis {
    double first, step, lo, hi;
    int count;
} axis;

static double map_x(const axis *a, double v) {
    return CH_ML + (v - a->lo) / (a->hi - a->lo) * (CH_W - CH_ML - CH_MR);
}
static double map_y(const axis *a, double v) {
    return CH_H - CH_MB - CH_INSET - (v - a->lo) / (a->hi - a->lo) * (CH_H - CH_MT - CH_MB - 2 * CH_INSET);
}

static anc_status make_axis(double lo, double hi, int target, axis *a, anc_error *err) {
    anc_status st = anc_svg_nice_ticks(lo, hi, target, &a->first, &a->step, &a->count, err);
    if (st) return st;
    a->lo = a->first;
    a->hi = a->first + (a->count - 1) * a->step;
    return ANC_OK;
}

static void chart_frame(anc_sbuf *out, const char *title) {
    anc_sbuf_printf(out, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CH_W, CH_H);
    anc_html_escape_str(out, title);
    anc_sbuf_printf(out, "\"><rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>", CH_W, CH_H);
    anc_sbuf_printf(out, "<text class=\"ctitle\" x=\"%d\" y=\"20\">", CH_ML);
    anc_html_escape_str(out, title);
    anc_sbuf_puts(out, "</text>");
}

static void draw_axes(anc_sbuf *out, const axis *ax, const axis *ay, const char *x_label) {
    const int x0 = CH_ML, x1 = CH_W - CH_MR, y0 = CH_H - CH_MB, y1 = CH_MT;
    for (int i = 0; i < ay->count; i++) {
        double v = ay->first + i * ay->step;
        double y = map_y(ay, v);
        anc_sbuf_printf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", x0, y, x1, y);
        anc_sbuf_printf(out, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6, y + 4);
        anc_svg_format_tick(v, ay->step, out);
        anc_sbuf_puts(out, "</text>");
    }
    for (int i = 0; i < ax->count; i++) {
        double v = ax->first + i * ax->step;
        double x = map_x(ax, v);
        anc_sbuf_printf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, y1, x, y0);
        anc_sbuf_printf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, y0 + 16);
        anc_svg_format_tick(v, ax->step, out);
        anc_sbuf_puts(out, "</text>");
    }
    anc_sbuf_printf(out, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", x0, y1, x1 - x0,
                    y0 - y1);
    anc_sbuf_printf(out, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2, CH_H - 8);
    anc_html_escape_str(out, x_label);
    anc_sbuf_puts(out, "</text>");
}

static void draw_dot(anc_sbuf *out, const axis *ax, const axis *ay, double x, double y, const char *color,
                     const char *cls, const char *name) {
    anc_sbuf_printf(out, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" stroke=\"%s\"><title>",
                    cls, map_x(ax, x), map_y(ay, y), *cls == 'e' ? "4" : "3", *cls == 'e' ? "#fff" : color, color);
    anc_html_escape_str(out, name);
    anc_sbuf_printf(out, ": %.6g at %.6g</title></circle>", y, x);
}

static void draw_series(anc_sbuf *out, const axis *ax, const axis *ay, const anc_svg_series *s) {
    const char *color = anc_svg_color(s->color_index);
    size_t n_ok = 0, last = 0;
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i])) n_ok++, last = i;
    if (n_ok == 0) return;
    if (s->markers_only) {
        anc_sbuf_puts(out, "<g class=\"markers\">");
        for (size_t i = 0; i < s->n; i++)
            if (isfinite(s->x[i]) && isfinite(s->y[i]))
                draw_dot(out, ax, ay, s->x[i], s->y[i], color, "eval", s->name);
        anc_sbuf_puts(out, "</g>");
        return;
    }
    anc_sbuf_printf(out, "<polyline class=\"series\" stroke=\"%s\" points=\"", color);
    int firstpt = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
        anc_sbuf_printf(out, "%s%.1f,%.1f", firstpt ? "" : " ", map_x(ax, s->x[i]), map_y(ay, s->y[i]));
        firstpt = 0;
    }
    anc_sbuf_puts(out, "\"><title>");
    anc_html_escape_str(out, s->name);
    anc_sbuf_puts(out, "</title></polyline>");
    if (n_ok == 1) draw_dot(out, ax, ay, s->x[last], s->y[last], color, "dot", s->name);
}

anc_status anc_svg_line_chart(anc_sbuf *out, const char *title, const char *x_label, const anc_svg_series *series,
                              size_t n_series, anc_error *err) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; i < series[k].n; i++) {
            double x = series[k].x[i], y = series[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    chart_frame(out, title);
    if (!isfinite(xlo)) {
        anc_sbuf_printf(out, "<text class=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data</text></svg>",
                        CH_W / 2, CH_H / 2);
        return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory drawing chart") : ANC_OK;
    }
    axis ax, ay;
    anc_status st = make_axis(xlo, xhi, 6, &ax, err);
    if (!st) st = make_axis(ylo, yhi, 5, &ay, err);
    if (st) return st;
    draw_axes(out, &ax, &ay, x_label);
    for (size_t k = 0; k < n_series; k++) draw_series(out, &ax, &ay, &series[k]);
    anc_sbuf_puts(out, "</svg>");
    return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory drawing chart") : ANC_OK;
}
