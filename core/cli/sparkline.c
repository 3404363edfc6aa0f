/* A curve as one line of text: ▁▂▃▄▅▆▇█, one character per bucket of
 * points, each the mean of its bucket, scaled between the curve's min and
 * max. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const bars[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

bool dx_cli_sparkline(const double *v, size_t n, size_t width, char *out, size_t len) {
  if (!width || len < 1) return false;
  out[0] = '\0';
  if (n == 0) return true;
  size_t m = n < width ? n : width;
  double *mean = calloc(m, sizeof *mean), lo = INFINITY, hi = -INFINITY;
  if (!mean) return false;
  for (size_t b = 0; b < m; b++) {
    size_t from = b * n / m, to = (b + 1) * n / m, k = 0;
    for (size_t i = from; i < to; i++)
      if (isfinite(v[i])) mean[b] += v[i], k++;
    mean[b] = k ? mean[b] / (double)k : NAN;
    if (k) lo = fmin(lo, mean[b]), hi = fmax(hi, mean[b]);
  }
  size_t used = 0;
  for (size_t b = 0; b < m; b++) {
    const char *c = " "; /* a bucket of NaNs only */
    if (isfinite(mean[b])) {
      int level = hi > lo ? (int)((mean[b] - lo) / (hi - lo) * 7.0 + 0.5) : 3;
      c = bars[level < 0 ? 0 : level > 7 ? 7 : level];
    }
    size_t cl = strlen(c);
    if (used + cl + 1 > len) break;
    memcpy(out + used, c, cl + 1);
    used += cl;
  }
  free(mean);
  return true;
}
