/* The report's curves: each metric of every run overlaid in one SVG chart,
 * the loss raw (pale) and smoothed, the loss by timestep quartile as four
 * small charts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* An exponential moving average, corrected for its start as TensorBoard's
 * smoothing is, with more weight the more points there are. */
static double *smooth(const dx_metric_series *p) {
  double *s = malloc((p->n + 1) * sizeof *s), w = p->n > 200  ? 0.95
                                                  : p->n > 50 ? 0.9
                                                  : p->n > 10 ? 0.7
                                                              : 0;
  double acc = 0, norm = 0;
  for (size_t i = 0; s && i < p->n; i++) {
    if (isfinite(p->value[i])) acc = w * acc + (1 - w) * p->value[i], norm = w * norm + (1 - w);
    s[i] = norm > 0 && isfinite(p->value[i]) ? acc / norm : NAN;
  }
  return s;
}

typedef struct panel {
  const char *metric, *title, *y_label;
  int width, height;
  bool smoothed, legend;
} panel;

/* Loads the metric of every run and draws it. *drawn says whether any run
 * had a point. */
static dx_status chart(rp *r, const panel *p, bool *drawn) {
  size_t n = r->rs->n;
  dx_metric_series *pts = calloc(n + 1, sizeof *pts);
  dx_chart_series *ser = calloc(2 * n + 1, sizeof *ser);
  double **sm = calloc(n + 1, sizeof *sm);
  dx_status s = pts && ser && sm ? DX_OK : DX_ERR_NOMEM;
  size_t ns = 0;
  *drawn = false;
  for (size_t i = 0; s == DX_OK && i < n; i++) {
    s = dx_store_metric_series(r->st, r->runs[i].run->id, p->metric, &pts[i]);
    if (s != DX_OK) snprintf(r->err, r->errlen, "%s", dx_store_errmsg(r->st));
    if (s != DX_OK || pts[i].n == 0) continue;
    *drawn = true;
    dx_chart_series base = {r->runs[i].label,
                            r->runs[i].color,
                            r->runs[i].run->id,
                            pts[i].step,
                            pts[i].value,
                            pts[i].n,
                            false};
    if (p->smoothed && pts[i].n > 10 && (sm[i] = smooth(&pts[i]))) {
      ser[ns] = base, ser[ns++].faint = true;
      base.y = sm[i];
    }
    ser[ns++] = base;
  }
  if (s == DX_OK && *drawn) {
    char id[64];
    snprintf(id, sizeof id, "chart-%s", p->metric);
    dx_chart c = {
        id,        p->title, "step", p->y_label, p->width, p->height, dx_chart_wants_log(ser, ns),
        p->legend, ser,      ns};
    dx_strbuf_printf(r->b, "<div class=\"panel\" data-metric=\"%s\">", p->metric);
    dx_chart_svg(r->b, &c);
    rp_sql(r,
           "SELECT run_id, step, value FROM metrics\n WHERE name = '%s' AND run_id IN (%s)\n"
           " ORDER BY run_id, step;",
           p->metric, r->ids);
    dx_strbuf_puts(r->b, "</div>");
  }
  for (size_t i = 0; pts && i < n; i++)
    dx_metric_series_free(&pts[i]), free(sm[i]);
  free(pts), free(ser), free(sm);
  return s;
}

/* Swatches and labels in HTML, for charts drawn without their own legend. */
static void html_legend(rp *r) {
  dx_strbuf_puts(r->b, "<p class=\"legend\">");
  for (size_t i = 0; i < r->rs->n; i++) {
    dx_strbuf_printf(
        r->b,
        "<span style=\"margin-right:14px\"><span class=\"swatch\" style=\"background:%s\"></span>",
        r->runs[i].color);
    dx_html_text(r->b, r->runs[i].label);
    dx_strbuf_puts(r->b, "</span>");
  }
  dx_strbuf_puts(r->b, "</p>");
}

dx_status rp_curves(rp *r) {
  static const panel main_panels[] = {
      {"loss", "Training loss (pale: as logged; bold: smoothed)", "loss", 640, 340, true, true},
      {"grad_norm", "Gradient norm (before clipping)", "grad norm", 440, 300, false, true},
      {"lr", "Learning rate", "lr", 440, 300, false, true},
  };
  static const panel quartiles[] = {
      {"loss_q1", "Loss, t in the 1st quarter (least noise)", "loss", 300, 220, false, false},
      {"loss_q2", "Loss, t in the 2nd quarter", "loss", 300, 220, false, false},
      {"loss_q3", "Loss, t in the 3rd quarter", "loss", 300, 220, false, false},
      {"loss_q4", "Loss, t in the 4th quarter (most noise)", "loss", 300, 220, false, false},
  };
  static const panel bpd = {
      "bpd", "Bits/dim on test images (lower is better)", "bits/dim", 440, 300, false, true};
  dx_strbuf *b = r->b;
  bool drawn;
  dx_strbuf_puts(b, "<h2 id=\"curves\">Curves</h2><div class=\"panels\">");
  dx_status s = chart(r, &main_panels[0], &drawn);
  if (s == DX_OK) s = chart(r, &bpd, &drawn);
  if (s == DX_OK && !drawn)
    dx_strbuf_puts(
        b, "<div class=\"panel note\" data-metric=\"bpd\">No run logged bits/dim (set eval.every"
           " to evaluate it).</div>");
  for (size_t k = 1; s == DX_OK && k < sizeof main_panels / sizeof main_panels[0]; k++)
    s = chart(r, &main_panels[k], &drawn);
  dx_strbuf_puts(b, "</div><h3>Loss by timestep quartile</h3>");
  html_legend(r);
  dx_strbuf_puts(b, "<div class=\"panels\">");
  for (size_t k = 0; s == DX_OK && k < sizeof quartiles / sizeof quartiles[0]; k++)
    s = chart(r, &quartiles[k], &drawn);
  dx_strbuf_puts(b, "</div>");
  return s == DX_OK && b->nomem ? DX_ERR_NOMEM : s;
}
