/* One metric of one run as a curve, for the sparkline of `ddpmx show` and
 * the report's figures. */
#include <math.h>

#include "store/internal.h"

dx_status dx_store_metric_series(dx_store *st, int64_t run_id, const char *name,
                                 dx_metric_point_fn fn, void *user) {
  sqlite3_stmt *q;
  dx_status s = dx_store_prepare(st,
                                 "SELECT step, value FROM metrics WHERE run_id = ? AND name = ?"
                                 " ORDER BY step, rowid",
                                 &q, "cannot read a metric");
  if (s != DX_OK) return s;
  sqlite3_bind_int64(q, 1, run_id);
  dx_store_bind_text(q, 2, name);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    double v = sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
    if (fn(sqlite3_column_int64(q, 0), v, user) != 0) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = dx_store_db_fail(st, "cannot read a metric");
  sqlite3_finalize(q);
  return s;
}
