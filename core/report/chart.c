/* Inline SVG line charts for the report. Coordinates are computed here and
 * written as numbers: the page needs no script to draw them. */
#include "report/chart.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MARGIN_L 64
#define MARGIN_R 14
#define MARGIN_T 26
#define MARGIN_B 40
#define LEGEND_ROW 16
#define MAX_TICKS 12

void dx_html_text(dx_strbuf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': dx_strbuf_puts(b, "&amp;"); break;
    case '<': dx_strbuf_puts(b, "&lt;"); break;
    case '>': dx_strbuf_puts(b, "&gt;"); break;
    case '"': dx_strbuf_puts(b, "&quot;"); break;
    case '\'': dx_strbuf_puts(b, "&#39;"); break;
    default: dx_strbuf_add(b, s, 1);
    }
  }
}

typedef struct range {
  double lo, hi;
} range;

static range data_range(const dx_chart *c, bool y, bool positive_only) {
  range r = {DBL_MAX, -DBL_MAX};
  for (size_t s = 0; s < c->n_series; s++)
    for (size_t i = 0; i < c->series[s].n; i++) {
      double v = y ? c->series[s].y[i] : c->series[s].x[i];
      if (!isfinite(c->series[s].y[i]) || (positive_only && y && v <= 0)) continue;
      r.lo = fmin(r.lo, v), r.hi = fmax(r.hi, v);
    }
  return r;
}

bool dx_chart_wants_log(const dx_chart_series *s, size_t n) {
  double lo = DBL_MAX, hi = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t i = 0; i < s[k].n; i++) {
      double v = s[k].y[i];
      if (!isfinite(v)) continue;
      if (v <= 0) return false;
      lo = fmin(lo, v), hi = fmax(hi, v);
    }
  return hi > 0 && hi / lo >= 20;
}

/* 1, 2 or 5 times a power of ten, near span / 5. */
static double nice_step(double span) {
  double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* Ticks over [lo, hi]; widens the range to whole steps. Returns the count. */
static int linear_ticks(range *r, double *t) {
  if (r->hi <= r->lo) {
    double pad = r->lo != 0 ? fabs(r->lo) * 0.1 : 1;
    r->lo -= pad, r->hi += pad;
  }
  double step = nice_step(r->hi - r->lo);
  r->lo = floor(r->lo / step) * step;
  r->hi = ceil(r->hi / step) * step;
  int n = 0;
  for (double v = r->lo; v <= r->hi + step * 1e-9 && n < MAX_TICKS; v += step)
    t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
  return n;
}

/* Decades, with 2 and 5 between them when the range spans few. */
static int log_ticks(range *r, double *t) {
  double a = floor(log10(r->lo)), b = ceil(log10(r->hi));
  if (b <= a) b = a + 1;
  r->lo = pow(10, a), r->hi = pow(10, b);
  int n = 0;
  bool fine = b - a <= 2;
  for (double e = a; e <= b && n < MAX_TICKS; e++) {
    t[n++] = pow(10, e);
    if (fine && e < b && n + 2 <= MAX_TICKS) t[n++] = 2 * pow(10, e), t[n++] = 5 * pow(10, e);
  }
  return n;
}

typedef struct frame {
  double x0, x1, y0, y1; /* plot area in pixels */
  range xr, yr;
  bool log_y;
} frame;

static double px(const frame *f, double x) {
  return f->x0 + (x - f->xr.lo) / (f->xr.hi - f->xr.lo) * (f->x1 - f->x0);
}

static double py(const frame *f, double y) {
  double a = f->log_y ? log10(y) : y, lo = f->log_y ? log10(f->yr.lo) : f->yr.lo,
         hi = f->log_y ? log10(f->yr.hi) : f->yr.hi;
  return f->y1 - (a - lo) / (hi - lo) * (f->y1 - f->y0);
}

/* Enough decimals to tell neighbouring ticks apart, and no more. */
static void tick_label(double v, double step, char *buf, size_t len) {
  double a = fabs(v);
  if (v == 0)
    snprintf(buf, len, "0");
  else if (a >= 1e-3 && a < 1e6 && step > 0) {
    int decimals = (int)-floor(log10(step) + 1e-9);
    snprintf(buf, len, "%.*f", decimals < 0 ? 0 : decimals > 8 ? 8 : decimals, v);
  } else
    snprintf(buf, len, "%.2g", v);
}

static void axes(dx_strbuf *b, const dx_chart *c, const frame *f, const double *xt, int nx,
                 const double *yt, int ny) {
  char label[32];
  dx_strbuf_puts(b, "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">");
  for (int i = 0; i < ny; i++)
    dx_strbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", f->x0, f->x1,
                     py(f, yt[i]), py(f, yt[i]));
  dx_strbuf_puts(b, "</g><g class=\"axes\" stroke=\"#555\" stroke-width=\"1\">");
  dx_strbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", f->x0, f->x1,
                   f->y1, f->y1);
  dx_strbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", f->x0, f->x0,
                   f->y0, f->y1);
  for (int i = 0; i < nx; i++)
    dx_strbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", px(f, xt[i]),
                     px(f, xt[i]), f->y1, f->y1 + 4);
  for (int i = 0; i < ny; i++)
    dx_strbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", f->x0 - 4, f->x0,
                     py(f, yt[i]), py(f, yt[i]));
  dx_strbuf_puts(b, "</g><g class=\"ticks\" font-size=\"10\" fill=\"#333\">");
  double xstep = nx > 1 ? xt[1] - xt[0] : 0, ystep = ny > 1 && !f->log_y ? yt[1] - yt[0] : 0;
  for (int i = 0; i < nx; i++) {
    tick_label(xt[i], xstep, label, sizeof label);
    dx_strbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                     px(f, xt[i]), f->y1 + 15, label);
  }
  for (int i = 0; i < ny; i++) {
    tick_label(yt[i], f->log_y ? yt[i] : ystep, label, sizeof label);
    dx_strbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", f->x0 - 6,
                     py(f, yt[i]) + 3.5, label);
  }
  dx_strbuf_puts(b, "</g>");
  dx_strbuf_printf(
      b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">",
      (f->x0 + f->x1) / 2, f->y1 + 32);
  dx_html_text(b, c->x_label);
  dx_strbuf_printf(b,
                   "</text><text transform=\"translate(14 %.1f) rotate(-90)\" font-size=\"11\""
                   " text-anchor=\"middle\" fill=\"#333\">",
                   (f->y0 + f->y1) / 2);
  dx_html_text(b, c->y_label);
  if (f->log_y) dx_strbuf_puts(b, " (log)");
  dx_strbuf_puts(b, "</text>");
}

static void curve(dx_strbuf *b, const frame *f, const dx_chart_series *s) {
  size_t finite = 0, last = 0;
  for (size_t i = 0; i < s->n; i++)
    if (isfinite(s->y[i]) && (!f->log_y || s->y[i] > 0)) finite++, last = i;
  const char *cls = s->faint ? "curve raw" : "curve";
  if (finite == 1) { /* one point: a dot, which a line could not show */
    dx_strbuf_printf(
        b, "<circle class=\"%s\" data-run=\"%lld\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>",
        cls, (long long)s->run_id, px(f, s->x[last]), py(f, s->y[last]), s->color);
    return;
  }
  if (finite == 0) return;
  dx_strbuf_printf(
      b,
      "<path class=\"%s\" data-run=\"%lld\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s d=\"",
      cls, (long long)s->run_id, s->color, s->faint ? "1" : "1.8",
      s->faint ? " stroke-opacity=\"0.3\"" : "");
  bool pen = false;
  for (size_t i = 0; i < s->n; i++) {
    if (!isfinite(s->y[i]) || (f->log_y && s->y[i] <= 0)) {
      pen = false;
      continue;
    }
    dx_strbuf_printf(b, "%c%.1f %.1f", pen ? 'L' : 'M', px(f, s->x[i]), py(f, s->y[i]));
    pen = true;
  }
  dx_strbuf_puts(b, "\"/>");
}

/* Legend rows under the plot: a swatch and the label, three to a row. */
static int legend_rows(const dx_chart *c) {
  int n = 0;
  for (size_t s = 0; s < c->n_series; s++)
    n += !c->series[s].faint;
  return c->legend ? (n + 2) / 3 : 0;
}

static void legend(dx_strbuf *b, const dx_chart *c) {
  int k = 0;
  double col = (c->width - MARGIN_L) / 3.0;
  dx_strbuf_puts(b, "<g class=\"legend\" font-size=\"11\" fill=\"#222\">");
  for (size_t s = 0; s < c->n_series; s++) {
    if (c->series[s].faint) continue;
    double x = MARGIN_L + (k % 3) * col, y = c->height + LEGEND_ROW * (k / 3) + 6;
    dx_strbuf_printf(
        b,
        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>",
        x, x + 16, y, y, c->series[s].color);
    dx_strbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 20, y + 4);
    dx_html_text(b, c->series[s].label);
    dx_strbuf_puts(b, "</text>");
    k++;
  }
  dx_strbuf_puts(b, "</g>");
}

void dx_chart_svg(dx_strbuf *b, const dx_chart *c) {
  int h = c->height + legend_rows(c) * LEGEND_ROW + (c->legend ? 8 : 0);
  dx_strbuf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"%s\" "
                   "width=\"%d\" height=\"%d\""
                   " viewBox=\"0 0 %d %d\" role=\"img\" font-family=\"sans-serif\"><title>",
                   c->id, c->width, h, c->width, h);
  dx_html_text(b, c->title);
  dx_strbuf_printf(
      b, "</title><text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#111\">",
      MARGIN_L);
  dx_html_text(b, c->title);
  dx_strbuf_puts(b, "</text>");
  frame f = {MARGIN_L,
             c->width - MARGIN_R,
             MARGIN_T,
             c->height - MARGIN_B,
             data_range(c, false, false),
             data_range(c, true, c->log_y),
             c->log_y};
  if (f.yr.hi < f.yr.lo) {
    dx_strbuf_printf(
        b,
        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#777\" text-anchor=\"middle\">"
        "no run logged this metric</text></svg>",
        (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2);
    return;
  }
  double xt[MAX_TICKS], yt[MAX_TICKS];
  int nx = linear_ticks(&f.xr, xt), ny = f.log_y ? log_ticks(&f.yr, yt) : linear_ticks(&f.yr, yt);
  axes(b, c, &f, xt, nx, yt, ny);
  dx_strbuf_puts(b, "<g class=\"curves\">");
  for (size_t s = 0; s < c->n_series; s++)
    curve(b, &f, &c->series[s]);
  dx_strbuf_puts(b, "</g>");
  if (c->legend) legend(b, c);
  dx_strbuf_puts(b, "</svg>");
}
