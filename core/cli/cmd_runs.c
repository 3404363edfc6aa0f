/* `ddpmx runs [--sweep S] [--status S] [--name GLOB] [--db PATH]`: one line
 * per run, oldest first. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static int main_runs(int argc, char **argv);

const dx_cli_command dx_cli_runs = {
    "runs", "list the runs in the results database",
    "usage: ddpmx runs [--sweep S] [--status S] [--name GLOB] [--db PATH]\n"
    "\n"
    "Lists every run in the database, oldest first: id, name, status, start\n"
    "and end time (UTC), the last step with a metric and the loss there.\n"
    "\n"
    "  --sweep S     only the runs of sweep S (its name, or its id as 3 or sweep:3)\n"
    "  --status S    only the runs with status S (finished, failed, killed,\n"
    "                running, lost)\n"
    "  --name GLOB   only the runs whose name matches GLOB (* ? [...]; quote it,\n"
    "                and write a literal [ as [[]: 'quickstart[[]*huber*')\n"
    "  --db PATH     results database (default " DX_CLI_DEFAULT_DB ")\n",
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

static int list(dx_store *st, const dx_run_filter *f) {
  dx_table t;
  dx_table_init(&t, 7);
  const char *head[] = {"ID", "NAME", "STATUS", "STARTED", "ENDED", "STEP", "LOSS"};
  dx_status s =
      dx_table_add(&t, head) ? dx_store_list_runs_where(st, f, add_run, &t) : DX_ERR_NOMEM;
  int rc = DX_EXIT_OK;
  if (s != DX_OK)
    rc = dx_cli_fail(&dx_cli_runs, DX_ERR_DB, "%s", dx_store_errmsg(st));
  else if (t.nrows == 1)
    printf(f->sweep_id || f->status || f->name_glob ? "no runs match\n" : "no runs yet\n");
  else
    dx_table_print(&t, stdout);
  dx_table_free(&t);
  return rc;
}

/* "finished" -> "FINISHED", if it is a status a run can have; else NULL. */
static const char *status_word(const char *s, char *buf, size_t len) {
  size_t n = strlen(s);
  if (n >= len) return NULL;
  for (size_t i = 0; i <= n; i++)
    buf[i] = (char)toupper((unsigned char)s[i]);
  for (int k = 0; strcmp(dx_run_status_str((dx_run_status)k), "UNKNOWN") != 0; k++)
    if (strcmp(buf, dx_run_status_str((dx_run_status)k)) == 0) return buf;
  return NULL;
}

static const char *statuses(void) {
  static char buf[128];
  buf[0] = '\0';
  for (int k = 0; strcmp(dx_run_status_str((dx_run_status)k), "UNKNOWN") != 0; k++) {
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof buf - used, "%s%s", k ? ", " : "",
             dx_run_status_str((dx_run_status)k));
  }
  return buf;
}

static int main_runs(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *sweep = NULL, *status = NULL;
  dx_run_filter f = {0};
  for (int i = 1; i < argc; i++) {
    int r = dx_cli_option(&dx_cli_runs, argc, argv, &i, "--db", &db);
    if (r == 0) r = dx_cli_option(&dx_cli_runs, argc, argv, &i, "--sweep", &sweep);
    if (r == 0) r = dx_cli_option(&dx_cli_runs, argc, argv, &i, "--status", &status);
    if (r == 0) r = dx_cli_option(&dx_cli_runs, argc, argv, &i, "--name", &f.name_glob);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_runs);
    return dx_cli_usage(&dx_cli_runs, "unexpected argument '%s'", argv[i]);
  }
  char upper[16];
  if (status && !(f.status = status_word(status, upper, sizeof upper)))
    return dx_cli_usage(&dx_cli_runs, "--status takes one of %s, not '%s'", statuses(), status);
  dx_store *st;
  int rc = dx_cli_open_existing(&dx_cli_runs, db, &st);
  if (rc == DX_EXIT_OK && sweep && dx_store_find_sweep(st, sweep, &f.sweep_id) != DX_OK)
    rc = dx_cli_fail(&dx_cli_runs, DX_ERR_INVALID, "%s", dx_store_errmsg(st));
  if (rc != DX_EXIT_OK) return dx_cli_close(&dx_cli_runs, st, rc);
  return dx_cli_close(&dx_cli_runs, st, list(st, &f));
}
