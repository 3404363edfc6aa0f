/* `ddpmx show RUN [--db PATH]`: everything recorded about one run. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "store/store.h"

static int main_show(int argc, char **argv);

const dx_cli_command dx_cli_show = {
    "show", "show one run: status, parameters, metrics, plugins, checkpoints, samples",
    "usage: ddpmx show RUN [--db PATH]\n"
    "\n"
    "RUN is a run's id, or a name (the newest run of that name). Prints the\n"
    "run's status (and error), times, seed and command line, its parameters,\n"
    "the last value of each metric, the loss curve as a one-line sparkline,\n"
    "the plugins it used with their checksums, its checkpoints and its sample\n"
    "grids (see ddpmx export).\n"
    "\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_show};

static const char *or_dash(const char *s) { return s ? s : "-"; }

/* Prints a section's title before its first row only. */
static void title(void *user, const char *name) {
  const char **last = user;
  if (*last != name) printf("\n%s\n", name);
  *last = name;
}

static int run(const dx_run_row *r, void *user) {
  (void)user;
  printf("run %" PRId64 ": %s\n", r->id, r->name);
  if (r->status == DX_RUN_LOST)
    printf("  status   LOST: its process (pid %" PRId64
           " on %s) is gone; resume with: ddpmx resume %" PRId64 "\n",
           r->pid, or_dash(r->host), r->id);
  else
    printf("  status   %s%s%s\n", dx_run_status_str(r->status), r->error ? ": " : "",
           r->error ? r->error : "");
  if (r->status == DX_RUN_RUNNING || r->status == DX_RUN_LOST)
    printf("  process  pid %" PRId64 " on %s%s, last heartbeat %s\n", r->pid, or_dash(r->host),
           r->process == DX_PROCESS_ALIVE ? " (alive)" : "", or_dash(r->heartbeat_at));
  printf("  started  %s\n  ended    %s\n", r->started_at, or_dash(r->ended_at));
  printf("  seed     %" PRId64 "\n", r->seed);
  printf("  ddpmx    %s on %s\n", or_dash(r->ddpmx_version), or_dash(r->host));
  printf("  command  %s\n", or_dash(r->command_line));
  return 0;
}

static int param(const char *key, const char *value, void *user) {
  title(user, "parameters");
  printf("  %s = %s\n", key, value);
  return 0;
}

static int metric(const dx_metric_row *m, void *user) {
  title(user, "metrics (last value)");
  if (m->is_null)
    printf("  %-20s step %-8" PRId64 " NaN\n", m->name, m->step);
  else
    printf("  %-20s step %-8" PRId64 " %.6g\n", m->name, m->step, m->value);
  return 0;
}

/* The loss from first to last report as one line, after the metrics. */
static void sparkline(dx_store *st, int64_t id) {
  dx_metric_series c;
  char line[64 * 4];
  if (dx_store_metric_series(st, id, "loss", &c) == DX_OK && c.n > 1 &&
      dx_cli_sparkline(c.value, c.n, 60, line, sizeof line))
    printf("  %-20s %s  %.4g at step %" PRId64 " to %.4g at step %" PRId64 "\n", "loss curve", line,
           c.value[0], (int64_t)c.step[0], c.value[c.n - 1], (int64_t)c.step[c.n - 1]);
  dx_metric_series_free(&c);
}

static int plugin(const dx_store_plugin *p, void *user) {
  title(user, "plugins");
  printf("  %-9s %s %s  %s  sha256 %s\n", p->kind, p->name, or_dash(p->version), or_dash(p->path),
         or_dash(p->sha256));
  return 0;
}

static int checkpoint(const dx_checkpoint_row *c, void *user) {
  title(user, "checkpoints");
  printf("  step %-8" PRId64 " %s  sha256 %s\n", c->step, c->path, or_dash(c->sha256));
  return 0;
}

static int sample(const dx_sample_row *s, void *user) {
  title(user, "samples");
  printf("  step %-8" PRId64 " tag %-10s %" PRId64 " images, %" PRId64 "x%" PRId64 " PNG, %" PRId64
         " bytes\n",
         s->step, s->tag, s->count, s->width, s->height, s->bytes);
  return 0;
}

static int show(dx_store *st, const char *ref) {
  int64_t id;
  if (dx_store_find_run(st, ref, &id) != DX_OK)
    return dx_cli_fail(&dx_cli_show, DX_ERR_DB, "%s", dx_store_errmsg(st));
  const char *section = NULL;
  dx_run_visitor head = {.run = run, .param = param, .metric = metric},
                 tail = {.plugin = plugin, .checkpoint = checkpoint, .sample = sample};
  if (dx_store_show_run(st, id, &head, &section) != DX_OK)
    return dx_cli_fail(&dx_cli_show, DX_ERR_DB, "%s", dx_store_errmsg(st));
  sparkline(st, id);
  if (dx_store_show_run(st, id, &tail, &section) != DX_OK)
    return dx_cli_fail(&dx_cli_show, DX_ERR_DB, "%s", dx_store_errmsg(st));
  return DX_EXIT_OK;
}

static int main_show(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *ref = NULL;
  for (int i = 1; i < argc; i++) {
    int r = dx_cli_option(&dx_cli_show, argc, argv, &i, "--db", &db);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_show);
    if (argv[i][0] == '-' || ref)
      return dx_cli_usage(&dx_cli_show, "unexpected argument '%s'", argv[i]);
    ref = argv[i];
  }
  if (!ref) return dx_cli_usage(&dx_cli_show, "which run? (an id or a name; see ddpmx runs)");
  dx_store *st;
  int rc = dx_cli_open_existing(&dx_cli_show, db, &st);
  if (rc != DX_EXIT_OK) return rc;
  return dx_cli_close(&dx_cli_show, st, show(st, ref));
}
