/* `ddpmx report [RUN|SWEEP...] [-o report.html]`: one HTML file that shows
 * which variant is better at a glance (core/report/). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"

static int main_report(int argc, char **argv);

const dx_cli_command dx_cli_report = {
    "report", "write one HTML page comparing runs: tables, curves, grids",
    "usage: ddpmx report [RUN|SWEEP...] [-o FILE.html] [--title TEXT] [--db PATH]\n"
    "\n"
    "Writes one self-contained HTML file (no script, no network, nothing beside\n"
    "it) about the runs named: run ids or names, and sweeps by name or as\n"
    "sweep:ID, whose runs all join. With none, the newest sweep; with no sweep\n"
    "in the database, every run.\n"
    "\n"
    "The page has the runs with their status, time and checkpoint size and the\n"
    "parameters that differ; the curves (loss raw and smoothed, loss by\n"
    "timestep quartile, bits/dim, gradient norm, learning rate) overlaid per\n"
    "run as SVG; the final metrics with the best of each marked, and mean ± sd\n"
    "over seeds when the runs differ by seed; the sample grids side by side.\n"
    "Each panel shows the SQL that reads its data.\n"
    "\n"
    "  -o FILE       where to write (default report.html)\n"
    "  --title TEXT  the page's heading\n"
    "  --db PATH     results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_report};

/* No names given: the newest sweep, or every run. */
static dx_status default_runs(dx_store *st, dx_runset *rs, char *title, size_t len) {
  int64_t id;
  bool found = false;
  dx_status s = dx_store_latest_sweep(st, &id, &found);
  if (s != DX_OK) return s;
  if (found) {
    snprintf(title, len, "sweep:%" PRId64, id);
    return dx_runset_add_sweep(rs, st, id);
  }
  snprintf(title, len, "all runs");
  return dx_runset_add_sweep(rs, st, 0);
}

static int write_file(const char *path, const char *html) {
  FILE *f = fopen(path, "wb");
  size_t n = strlen(html);
  bool ok = f && fwrite(html, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = false;
  if (!ok)
    return dx_cli_fail(&dx_cli_report, DX_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  return DX_EXIT_OK;
}

static int report(dx_store *st, const char *const *refs, int n, const char *out, const char *db,
                  const char *title) {
  dx_runset rs = {0};
  char what[512] = "", err[DX_ERRMSG_MAX] = "";
  dx_status s = DX_OK;
  for (int i = 0; s == DX_OK && i < n; i++) {
    s = dx_runset_add(&rs, st, refs[i]);
    size_t used = strlen(what);
    snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "", refs[i]);
  }
  if (s == DX_OK && n == 0) s = default_runs(st, &rs, what, sizeof what);
  if (s == DX_OK) s = dx_runset_load(&rs, st);
  int rc = DX_EXIT_OK;
  if (s != DX_OK)
    rc =
        dx_cli_fail(&dx_cli_report, s == DX_ERR_INVALID ? s : DX_ERR_DB, "%s", dx_store_errmsg(st));
  else if (rs.n == 0)
    rc = dx_cli_fail(&dx_cli_report, DX_ERR_INVALID, "no runs to report on (%s)", what);
  char heading[600];
  snprintf(heading, sizeof heading, "ddpmx report: %s", what);
  dx_report_opts o = {title ? title : heading, db};
  char *html = NULL;
  if (rc == DX_EXIT_OK && (s = dx_report_html(st, &rs, &o, &html, err, sizeof err)) != DX_OK)
    rc = dx_cli_fail(&dx_cli_report, s, "%s", err[0] ? err : "out of memory");
  if (rc == DX_EXIT_OK) rc = write_file(out, html);
  if (rc == DX_EXIT_OK)
    fprintf(stderr, "ddpmx report: %zu run%s, %zu differing parameter%s: %s\n", rs.n,
            rs.n == 1 ? "" : "s", rs.n_diff, rs.n_diff == 1 ? "" : "s", out);
  free(html);
  dx_runset_free(&rs);
  return rc;
}

static int main_report(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *out = "report.html", *title = NULL;
  const char **refs = calloc((size_t)argc, sizeof *refs);
  if (!refs) return dx_cli_fail(&dx_cli_report, DX_ERR_NOMEM, "out of memory");
  int n = 0, rc = DX_EXIT_OK;
  for (int i = 1; rc == DX_EXIT_OK && i < argc; i++) {
    int r = dx_cli_option(&dx_cli_report, argc, argv, &i, "--db", &db);
    if (r == 0) r = dx_cli_option(&dx_cli_report, argc, argv, &i, "-o", &out);
    if (r == 0) r = dx_cli_option(&dx_cli_report, argc, argv, &i, "--title", &title);
    if (r < 0)
      rc = DX_EXIT_USAGE;
    else if (r > 0)
      continue;
    else if (dx_cli_is_help(argv[i])) {
      free(refs);
      return dx_cli_help(&dx_cli_report);
    } else if (argv[i][0] == '-')
      rc = dx_cli_usage(&dx_cli_report, "unknown option '%s'", argv[i]);
    else
      refs[n++] = argv[i];
  }
  dx_store *st = NULL;
  if (rc == DX_EXIT_OK) rc = dx_cli_open_existing(&dx_cli_report, db, &st);
  if (rc == DX_EXIT_OK) rc = dx_cli_close(&dx_cli_report, st, report(st, refs, n, out, db, title));
  free(refs);
  return rc;
}
