/* One metric of one run as a curve, for the sparkline of `ddpmx show` and
 * the report's figures. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "store/internal.h"

/* Doubles the arrays' room; false when memory is out. */
static bool grow(dx_metric_series *out, size_t *cap) {
  size_t c = *cap ? 2 * *cap : 256;
  double *x = realloc(out->step, c * sizeof *x);
  if (x) out->step = x;
  double *y = x ? realloc(out->value, c * sizeof *y) : NULL;
  if (y) out->value = y;
  if (!x || !y) return false;
  *cap = c;
  return true;
}

dx_status dx_store_metric_series(dx_store *st, int64_t run_id, const char *name,
                                 dx_metric_series *out) {
  *out = (dx_metric_series){0};
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "SELECT step, value FROM metrics WHERE run_id = ? AND name = ?"
                                 " ORDER BY step, rowid",
                                 &q, "cannot read a metric");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  dx_store_bind_text(q, 2, name);
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (out->n == cap && !grow(out, &cap)) {
      s = dx_store_db_fail(st, "cannot read a metric: out of memory");
      break;
    }
    out->step[out->n] = (double)sqlite3_column_int64(q, 0);
    out->value[out->n++] =
        sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
  }
  if (s == DX_OK && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot read a metric");
  sqlite3_finalize(q);
  if (s != DX_OK) dx_metric_series_free(out);
  return s;
}

void dx_metric_series_free(dx_metric_series *s) {
  free(s->step), free(s->value);
  *s = (dx_metric_series){0};
}
