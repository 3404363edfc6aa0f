/* `ddpmx runs [--db PATH]`: one line per run, oldest first. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"

static int main_runs(int argc, char **argv);

const dx_cli_command dx_cli_runs = {
    "runs", "list the runs in the results database",
    "usage: ddpmx runs [--db PATH]\n"
    "\n"
    "Lists every run in the database, oldest first: id, name, status, start\n"
    "and end time (UTC), the last step with a metric and the loss there.\n"
    "\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_runs};

static int add_run(const dx_run_summary *r, void *user) {
  char id[32], step[32] = "-", loss[32] = "-";
  snprintf(id, sizeof id, "%" PRId64, r->id);
  if (r->has_step) snprintf(step, sizeof step, "%" PRId64, r->last_step);
  if (r->has_loss) snprintf(loss, sizeof loss, "%.5g", r->last_loss);
  const char *row[] = {id,   r->name, dx_run_status_str(r->status), r->started_at, r->ended_at,
                       step, loss};
  return dx_table_add(user, row) ? 0 : 1;
}

static int list(dx_store *st) {
  dx_table t;
  dx_table_init(&t, 7);
  const char *head[] = {"ID", "NAME", "STATUS", "STARTED", "ENDED", "STEP", "LOSS"};
  dx_status s = dx_table_add(&t, head) ? dx_store_list_runs(st, add_run, &t) : DX_ERR_NOMEM;
  int rc = DX_EXIT_OK;
  if (s != DX_OK)
    rc = dx_cli_fail(&dx_cli_runs, DX_ERR_DB, "%s", dx_store_errmsg(st));
  else if (t.nrows == 1)
    printf("no runs yet\n");
  else
    dx_table_print(&t, stdout);
  dx_table_free(&t);
  return rc;
}

static int main_runs(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB;
  for (int i = 1; i < argc; i++) {
    int r = dx_cli_option(&dx_cli_runs, argc, argv, &i, "--db", &db);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_runs);
    return dx_cli_usage(&dx_cli_runs, "unexpected argument '%s'", argv[i]);
  }
  dx_store *st;
  int rc = dx_cli_open_existing(&dx_cli_runs, db, &st);
  if (rc != DX_EXIT_OK) return rc;
  return dx_cli_close(&dx_cli_runs, st, list(st));
}
