/* `ddpmx compare A B [C...] [--metric NAME]`: the parameters that differ
 * between runs and their final metrics, side by side, with the difference
 * from the first run and which run is best. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/runset.h"

static int main_compare(int argc, char **argv);

const dx_cli_command dx_cli_compare = {
    "compare", "compare runs: the parameters that differ and the final metrics",
    "usage: ddpmx compare A B [C...] [--metric NAME] [--db PATH]\n"
    "\n"
    "A, B, ... are runs (ids or names) or sweeps (names, or sweep:ID), whose\n"
    "runs all join. Prints the parameters whose values are not the same in\n"
    "every run, then the last logged value of each metric per run, its\n"
    "difference from the first run, and the best run where a direction is\n"
    "known (lower loss and bits/dim, more images per second).\n"
    "\n"
    "  --metric NAME  only this metric (loss, loss_q1..loss_q4, bpd, ...)\n"
    "  --db PATH      results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_compare};

static const char *run_label(const dx_rs_run *r, char *buf, size_t len) {
  snprintf(buf, len, "run %" PRId64, r->id);
  return buf;
}

static int print_params(const dx_runset *rs) {
  dx_table t;
  dx_table_init(&t, rs->n + 1);
  const char **row = calloc(rs->n + 1, sizeof *row);
  char(*labels)[32] = calloc(rs->n, sizeof *labels);
  bool ok = row && labels;
  if (ok) {
    row[0] = "PARAMETER";
    for (size_t i = 0; i < rs->n; i++)
      row[i + 1] = run_label(&rs->runs[i], labels[i], sizeof labels[i]);
    ok = dx_table_add(&t, row);
  }
  for (size_t d = 0; ok && d < rs->n_diff; d++) {
    row[0] = rs->diff[d];
    for (size_t i = 0; i < rs->n; i++)
      row[i + 1] = dx_rs_param(&rs->runs[i], rs->diff[d]);
    ok = dx_table_add(&t, row);
  }
  if (ok && rs->n_diff == 0)
    printf("the runs have the same parameters\n");
  else if (ok)
    dx_table_print(&t, stdout);
  if (ok && rs->hidden)
    printf("(and %zu parameter%s of the plugins that differ; see ddpmx show)\n", rs->hidden,
           rs->hidden == 1 ? "" : "s");
  dx_table_free(&t);
  free(row), free(labels);
  return ok ? DX_EXIT_OK : dx_cli_fail(&dx_cli_compare, DX_ERR_NOMEM, "out of memory");
}

static void number(double v, char *buf, size_t len) {
  if (isnan(v))
    snprintf(buf, len, "NaN");
  else
    snprintf(buf, len, "%.5g", v);
}

/* The run with the best value of metric m, or -1. */
static long best_run(const dx_runset *rs, const char *m) {
  int sense = dx_rs_metric_sense(m);
  long best = -1;
  for (size_t i = 0; sense && i < rs->n; i++) {
    const dx_rs_metric *x = dx_rs_metric_of(&rs->runs[i], m);
    if (!x || isnan(x->value)) continue;
    const dx_rs_metric *b = best >= 0 ? dx_rs_metric_of(&rs->runs[best], m) : NULL;
    if (!b || (sense < 0 ? x->value < b->value : x->value > b->value)) best = (long)i;
  }
  return best;
}

/* One row per metric: each run's value, then each later run's difference
 * from the first, then the best. */
static bool metric_row(const dx_runset *rs, const char *m, dx_table *t) {
  size_t ncols = 2 * rs->n + 1;
  char(*cells)[48] = calloc(ncols, sizeof *cells);
  const char **row = calloc(ncols + 1, sizeof *row);
  if (!cells || !row) return free(cells), free(row), false;
  row[0] = m;
  const dx_rs_metric *a = dx_rs_metric_of(&rs->runs[0], m);
  for (size_t i = 0; i < rs->n; i++) {
    const dx_rs_metric *x = dx_rs_metric_of(&rs->runs[i], m);
    if (x) number(x->value, cells[i], sizeof cells[i]), row[1 + i] = cells[i];
    if (i > 0 && a && x) {
      snprintf(cells[rs->n + i - 1], sizeof cells[0], "%+.3g", x->value - a->value);
      if (a->value != 0 && !isnan(a->value))
        snprintf(cells[rs->n + i - 1] + strlen(cells[rs->n + i - 1]), 16, " (%+.1f%%)",
                 100.0 * (x->value - a->value) / fabs(a->value));
      row[rs->n + i] = cells[rs->n + i - 1];
    }
  }
  long best = best_run(rs, m);
  if (best >= 0) snprintf(cells[ncols - 1], sizeof cells[0], "run %" PRId64, rs->runs[best].id);
  row[2 * rs->n] = best >= 0 ? cells[ncols - 1] : "-";
  bool ok = dx_table_add(t, row);
  free(cells), free(row);
  return ok;
}

static int print_metrics(const dx_runset *rs, const char *only) {
  size_t n = 0;
  const char **names = dx_runset_metric_names(rs, &n);
  if (only) {
    bool found = false;
    for (size_t k = 0; k < n; k++)
      found = found || strcmp(names[k], only) == 0;
    if (!found) {
      free(names);
      return dx_cli_fail(&dx_cli_compare, DX_ERR_INVALID, "none of the runs logged a metric '%s'",
                         only);
    }
  }
  dx_table t;
  size_t ncols = 2 * rs->n + 1;
  dx_table_init(&t, ncols);
  const char **head = calloc(ncols, sizeof *head);
  char(*labels)[48] = calloc(2 * rs->n, sizeof *labels);
  bool ok = head && labels;
  for (size_t i = 0; ok && i < rs->n; i++) {
    snprintf(labels[i], sizeof labels[i], "run %" PRId64, rs->runs[i].id);
    head[1 + i] = labels[i];
    if (i > 0) {
      snprintf(labels[rs->n + i], sizeof labels[0], "%" PRId64 " - %" PRId64, rs->runs[i].id,
               rs->runs[0].id);
      head[rs->n + i] = labels[rs->n + i];
    }
  }
  if (ok) {
    head[0] = "METRIC (last value)";
    head[ncols - 1] = "BEST";
    ok = dx_table_add(&t, head);
  }
  for (size_t k = 0; ok && k < n; k++)
    if (!only || strcmp(names[k], only) == 0) ok = metric_row(rs, names[k], &t);
  if (ok) dx_table_print(&t, stdout);
  dx_table_free(&t);
  free(head), free(labels), free(names);
  return ok ? DX_EXIT_OK : dx_cli_fail(&dx_cli_compare, DX_ERR_NOMEM, "out of memory");
}

static int compare(dx_store *st, const char *const *refs, int n, const char *metric) {
  dx_runset rs = {0};
  dx_status s = DX_OK;
  for (int i = 0; s == DX_OK && i < n; i++)
    s = dx_runset_add(&rs, st, refs[i]);
  if (s == DX_OK) s = dx_runset_load(&rs, st);
  int rc = DX_EXIT_OK;
  if (s != DX_OK)
    rc = dx_cli_fail(&dx_cli_compare, s == DX_ERR_INVALID ? s : DX_ERR_DB, "%s",
                     dx_store_errmsg(st));
  else if (rs.n < 2)
    rc = dx_cli_usage(&dx_cli_compare, "these name %zu run; compare needs two or more", rs.n);
  if (rc == DX_EXIT_OK) {
    for (size_t i = 0; i < rs.n; i++)
      printf("run %" PRId64 "  %s  %s\n", rs.runs[i].id, dx_run_status_str(rs.runs[i].status),
             rs.runs[i].name);
    printf("\n");
    rc = print_params(&rs);
  }
  if (rc == DX_EXIT_OK) {
    printf("\n");
    rc = print_metrics(&rs, metric);
  }
  dx_runset_free(&rs);
  return rc;
}

static int main_compare(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *metric = NULL;
  const char **refs = calloc((size_t)argc, sizeof *refs);
  int n = 0, rc = refs ? DX_EXIT_OK : dx_cli_fail(&dx_cli_compare, DX_ERR_NOMEM, "out of memory");
  for (int i = 1; rc == DX_EXIT_OK && i < argc; i++) {
    int r = dx_cli_option(&dx_cli_compare, argc, argv, &i, "--db", &db);
    if (r == 0) r = dx_cli_option(&dx_cli_compare, argc, argv, &i, "--metric", &metric);
    if (r < 0)
      rc = DX_EXIT_USAGE;
    else if (r > 0)
      continue;
    else if (dx_cli_is_help(argv[i]))
      rc = dx_cli_help(&dx_cli_compare), free(refs), refs = NULL;
    else if (argv[i][0] == '-')
      rc = dx_cli_usage(&dx_cli_compare, "unknown option '%s'", argv[i]);
    else
      refs[n++] = argv[i];
    if (!refs) return DX_EXIT_OK;
  }
  if (rc == DX_EXIT_OK && n < 1)
    rc = dx_cli_usage(&dx_cli_compare, "which runs? (ids, names or sweeps)");
  dx_store *st = NULL;
  if (rc == DX_EXIT_OK) rc = dx_cli_open_existing(&dx_cli_compare, db, &st);
  if (rc == DX_EXIT_OK) rc = dx_cli_close(&dx_cli_compare, st, compare(st, refs, n, metric));
  free(refs);
  return rc;
}
