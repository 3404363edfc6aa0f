/* What the report's sections share (report.c and the report_*.c files). */
#ifndef DX_REPORT_INTERNAL_H
#define DX_REPORT_INTERNAL_H

#include "report/chart.h"
#include "report/report.h"

/* One run's colour and legend label, in the order of rs->runs. */
typedef struct rp_run {
  const dx_rs_run *run;
  const char *color;
  char label[160];
} rp_run;

typedef struct rp {
  dx_store *st;
  const dx_runset *rs;
  rp_run *runs;
  char ids[1024]; /* "1, 2, 3" for the SQL shown under each panel */
  dx_strbuf *b;
  char *err;
  size_t errlen;
} rp;

/* "<details><summary>SQL</summary><pre>...</pre></details>" */
void rp_sql(rp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

dx_status rp_runs_table(rp *r);
dx_status rp_curves(rp *r);
dx_status rp_metrics_table(rp *r);
dx_status rp_grids(rp *r);

#endif
