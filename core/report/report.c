/* The report page: its frame, its style sheet, and the order of its
 * sections. Each section lives in the report_*.c file named for it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report_internal.h"

/* Tableau's ten colours: told apart by most readers, colour-blind ones too. */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

static const char style[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid "
    "#ddd}"
    "p.meta{color:#666;margin:0 0 12px;font-size:13px}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.best{font-weight:bold;background:#eaf5e4}"
    ".swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;"
    "vertical-align:middle}"
    ".panels{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}"
    ".panel{border:1px solid #e5e5e5;padding:6px;background:#fff}"
    "details{font-size:12px;margin-top:4px}pre{background:#f7f7f7;padding:6px;margin:4px 0;"
    "white-space:pre-wrap;max-width:640px}"
    ".grids img{image-rendering:pixelated;width:196px;display:block}"
    ".status-FAILED,.status-KILLED{color:#b00}.note{color:#777;font-size:13px}";

void rp_sql(rp *r, const char *fmt, ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  dx_strbuf_puts(r->b, "<details><summary>SQL</summary><pre>");
  dx_html_text(r->b, sql);
  dx_strbuf_puts(r->b, "</pre></details>");
}

/* A run's legend label: its id and the values of the differing parameters
 * ("3: cosine, huber"), or its name when nothing differs. */
static void label_run(const dx_runset *rs, const dx_rs_run *run, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "%lld:", (long long)run->id);
  for (size_t d = 0; d < rs->n_diff && used < len; d++) {
    const char *v = dx_rs_param(run, rs->diff[d]);
    used += (size_t)snprintf(buf + used, len - used, "%s %s", d ? "," : "", v ? v : "-");
  }
  if (rs->n_diff == 0 && used < len) snprintf(buf + used, len - used, " %s", run->name);
}

static void header(rp *r, const dx_report_opts *o) {
  char when[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
  dx_strbuf_puts(r->b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
  dx_html_text(r->b, o->title);
  dx_strbuf_printf(r->b, "</title><style>%s</style></head><body><h1>", style);
  dx_html_text(r->b, o->title);
  dx_strbuf_printf(r->b, "</h1><p class=\"meta\">%zu run%s from ", r->rs->n,
                   r->rs->n == 1 ? "" : "s");
  dx_html_text(r->b, o->db_path ? o->db_path : "the results database");
  dx_strbuf_printf(r->b,
                   ", %s. Curves are drawn from the <code>metrics</code> table, grids from"
                   " <code>samples</code>; each panel shows its SQL.</p>\n",
                   when);
}

dx_status dx_report_html(dx_store *st, const dx_runset *rs, const dx_report_opts *o, char **html,
                         char *err, size_t errlen) {
  dx_strbuf b = {0};
  rp r = {.st = st, .rs = rs, .b = &b, .err = err, .errlen = errlen};
  *html = NULL;
  r.runs = calloc(rs->n + 1, sizeof *r.runs);
  if (!r.runs) return snprintf(err, errlen, "out of memory"), DX_ERR_NOMEM;
  size_t used = 0;
  for (size_t i = 0; i < rs->n; i++) {
    r.runs[i] = (rp_run){&rs->runs[i], palette[i % N_PALETTE], ""};
    label_run(rs, &rs->runs[i], r.runs[i].label, sizeof r.runs[i].label);
    if (used < sizeof r.ids)
      used += (size_t)snprintf(r.ids + used, sizeof r.ids - used, "%s%lld", i ? ", " : "",
                               (long long)rs->runs[i].id);
  }
  header(&r, o);
  dx_status s = rp_runs_table(&r);
  if (s == DX_OK) s = rp_curves(&r);
  if (s == DX_OK) s = rp_metrics_table(&r);
  if (s == DX_OK) s = rp_grids(&r);
  dx_strbuf_puts(&b, "\n</body></html>\n");
  free(r.runs);
  char *page = dx_strbuf_take(&b);
  if (s == DX_OK && !page)
    s = DX_ERR_NOMEM, snprintf(err, errlen, "out of memory writing the report");
  if (s != DX_OK) {
    free(page);
    return s;
  }
  *html = page;
  return DX_OK;
}
