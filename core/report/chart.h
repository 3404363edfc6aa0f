/* Line charts as inline SVG: axes, ticks, grid lines, a legend, and a log
 * scale on y when asked. One function, data in, markup out. */
#ifndef DX_REPORT_CHART_H
#define DX_REPORT_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

typedef struct dx_chart_series {
  const char *label; /* for the legend */
  const char *color; /* CSS colour */
  int64_t run_id;    /* written as data-run, so a reader can count curves */
  const double *x, *y;
  size_t n;   /* NaN in y breaks the line */
  bool faint; /* raw values under a smoothed curve: thin and pale, no legend entry */
} dx_chart_series;

typedef struct dx_chart {
  const char *id, *title, *x_label, *y_label;
  int width, height; /* of the plot and its axes, legend excluded */
  bool log_y;
  bool legend;
  const dx_chart_series *series;
  size_t n_series;
} dx_chart;

/* Appends <svg ...>...</svg>. A chart with no finite point says so in
 * its frame instead of drawing axes. */
void dx_chart_svg(dx_strbuf *b, const dx_chart *c);

/* Whether y values this spread read better on a log scale: all positive
 * and a max/min ratio of 20 or more. */
bool dx_chart_wants_log(const dx_chart_series *s, size_t n);

/* Text escaped for HTML and SVG (& < > " '). */
void dx_html_text(dx_strbuf *b, const char *s);

#endif
