/* `ddpmx sweep FILE key=a,b key2=x,y [--jobs N]`: the Cartesian product of
 * override lists, each cell an ordinary run grouped under one sweep
 * (DESIGN 9). Every cell is checked before any starts; a second call with
 * the same arguments skips finished cells and resumes stopped ones. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "cli/sweep.h"
#include "util/cpus.h"

static int main_sweep(int argc, char **argv);

const dx_cli_command dx_cli_sweep = {
    "sweep", "run every combination of a few override lists, as one sweep",
    "usage: ddpmx sweep FILE KEY=V1,V2,... [KEY=V...] [--jobs N] [--name NAME] [--db PATH]\n"
    "                   [--dry-run]\n"
    "\n"
    "Runs the experiment FILE once per combination of the comma lists (the\n"
    "Cartesian product). Values are written as for ddpmx run; a comma inside\n"
    "brackets does not split, so model.dim_mults=[1,2],[1,2,4] is two values.\n"
    "A KEY=V with one value applies to every run; seed=0,1,2 gives repeats.\n"
    "\n"
    "Every combination is checked before any starts. Each is an ordinary run\n"
    "named NAME[KEY=V,...] after its values, recorded under one sweep. Run\n"
    "again with the same arguments, the sweep skips finished runs, resumes\n"
    "killed or failed ones from their checkpoints and starts the rest. A run\n"
    "that fails is recorded and the others go on.\n"
    "\n"
    "  --jobs N    runs at once, each a process of its own with 1/N of the\n"
    "              cores (DDPMX_THREADS, or every core it may use, divided);\n"
    "              default 1\n"
    "  --name NAME the sweep's name (default: the experiment's, with -sweep)\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n"
    "  --dry-run   check every run and list them; record nothing\n"
    "\n"
    "Ctrl-C stops the running cells with a checkpoint (they end KILLED) and\n"
    "starts no more; the next `ddpmx sweep` with the same arguments goes on.\n",
    main_sweep};

typedef struct sweep_args {
  const char *file, *db, *name;
  int64_t jobs;
  bool dry_run;
  dx_sweep_plan plan;
} sweep_args;

#define HELP_SHOWN (-1)

static int parse(int argc, char **argv, sweep_args *a) {
  *a = (sweep_args){.db = DX_CLI_DEFAULT_DB, .jobs = 1};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = dx_cli_option(&dx_cli_sweep, argc, argv, &i, "--db", &a->db);
    if (r == 0) r = dx_cli_option(&dx_cli_sweep, argc, argv, &i, "--name", &a->name);
    if (r == 0) r = dx_cli_count_option(&dx_cli_sweep, argc, argv, &i, "--jobs", true, &a->jobs);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (dx_cli_is_help(arg)) {
      dx_cli_help(&dx_cli_sweep);
      return HELP_SHOWN;
    }
    char err[512] = "";
    if (strcmp(arg, "--dry-run") == 0)
      a->dry_run = true;
    else if (arg[0] == '-')
      return dx_cli_usage(&dx_cli_sweep, "unknown option '%s'", arg);
    else if (!a->file)
      a->file = arg;
    else if (!dx_sweep_plan_add(&a->plan, arg, err, sizeof err))
      return dx_cli_usage(&dx_cli_sweep, "%s", err);
  }
  if (!a->file) return dx_cli_usage(&dx_cli_sweep, "no experiment file given");
  if (a->plan.n_cells == 0) a->plan.n_cells = 1;
  return DX_EXIT_OK;
}

/* Loads, resolves and checks the data of one cell, as `ddpmx run` would. */
static dx_status check_cell(const char *file, const dx_sweep_cell *c, char **name, char *err,
                            size_t errlen) {
  dx_experiment *e = NULL;
  dx_run_plugins rp = {0};
  dx_status st = dx_experiment_load(file, (const char *const *)c->overrides, c->n, &e, err, errlen);
  if (st == DX_OK) st = dx_run_plugins_resolve(e, &rp, err, errlen);
  if (st == DX_OK) st = dx_experiment_check_data(e, err, errlen);
  if (st == DX_OK && name && !*name && !(*name = strdup(e->name))) st = DX_ERR_NOMEM;
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
  return st;
}

/* Every cell checked, every error printed: a typo in the fifth cell is
 * found before the first starts. */
static int check_all(const sweep_args *a, dx_sweep_job *jobs, char **name) {
  int rc = DX_EXIT_OK;
  for (int64_t i = 0; i < a->plan.n_cells; i++) {
    char err[DX_ERRMSG_MAX] = "";
    dx_status st = check_cell(a->file, &jobs[i].cell, name, err, sizeof err);
    if (st == DX_OK) continue;
    dx_status as = st == DX_ERR_PLUGIN || st == DX_ERR_NOMEM ? st : DX_ERR_CONFIG;
    int r =
        dx_cli_fail(&dx_cli_sweep, as, "cell %" PRId64 " [%s]: %s", i + 1, jobs[i].cell.cell, err);
    if (rc == DX_EXIT_OK) rc = r;
  }
  if (rc != DX_EXIT_OK) fprintf(stderr, "ddpmx sweep: nothing started\n");
  return rc;
}

/* What each cell needs, from what its newest run says. */
static dx_status plan_cell(dx_store *st, int64_t sweep_id, dx_sweep_job *j) {
  int64_t id = 0;
  dx_run_status status = DX_RUN_RUNNING;
  bool found = false, has_ckpt = false;
  dx_status s = dx_store_sweep_cell(st, sweep_id, j->cell.cell, &id, &status, &found);
  j->action = DX_SWEEP_START;
  j->run_id = found ? id : 0;
  if (s != DX_OK || !found) return s;
  if (status == DX_RUN_FINISHED || status == DX_RUN_RUNNING) {
    /* RUNNING: its process is alive (or on another host): another sweep
     * is at it. One whose process is gone reads LOST and is resumed. */
    j->action = DX_SWEEP_SKIP;
    return DX_OK;
  }
  dx_store_checkpoint ck;
  s = dx_store_latest_checkpoint(st, id, &ck, &has_ckpt);
  if (s == DX_OK && has_ckpt) j->action = DX_SWEEP_RESUME;
  return s;
}

static int cores(void) {
  const char *s = getenv("DDPMX_THREADS");
  int64_t n = 0;
  if (s && dx_cli_parse_count(s, &n) && n > 0 && n < 4096) return (int)n;
  return dx_cpus_usable();
}

static int summary_row(dx_store *st, const dx_sweep_job *j, dx_table *t, int64_t sweep_id,
                       bool *all_finished) {
  int64_t id = 0;
  dx_run_status status = DX_RUN_RUNNING;
  bool found = false;
  if (dx_store_sweep_cell(st, sweep_id, j->cell.cell, &id, &status, &found) != DX_OK)
    return dx_cli_fail(&dx_cli_sweep, DX_ERR_DB, "%s", dx_store_errmsg(st));
  char num[32], run[32] = "-", secs[32] = "-";
  snprintf(num, sizeof num, "%" PRId64, j->index + 1);
  if (found) snprintf(run, sizeof run, "%" PRId64, id);
  if (j->exit_code >= 0) snprintf(secs, sizeof secs, "%.1f", j->seconds);
  const char *what = j->action == DX_SWEEP_SKIP     ? "skipped"
                     : j->action == DX_SWEEP_RESUME ? "resumed"
                                                    : "started";
  if (j->exit_code < 0 && j->action != DX_SWEEP_SKIP) what = "not started";
  const char *row[] = {num,  j->cell.cell[0] ? j->cell.cell : "-",
                       run,  found ? dx_run_status_str(status) : "-",
                       what, secs};
  if (!found || status != DX_RUN_FINISHED) *all_finished = false;
  return dx_table_add(t, row) ? DX_EXIT_OK
                              : dx_cli_fail(&dx_cli_sweep, DX_ERR_NOMEM, "out of memory");
}

/* One line per cell on stdout: what it is now and what this call did. */
static int summarize(const sweep_args *a, const dx_sweep_job *jobs, int64_t sweep_id, int sig) {
  dx_store *st;
  int rc = dx_cli_open_existing(&dx_cli_sweep, a->db, &st);
  if (rc != DX_EXIT_OK) return rc;
  dx_table t;
  dx_table_init(&t, 6);
  const char *head[] = {"CELL", "VALUES", "RUN", "STATUS", "THIS CALL", "SECONDS"};
  bool all_finished = true;
  rc = dx_table_add(&t, head) ? DX_EXIT_OK : DX_EXIT_FAILED;
  for (int64_t i = 0; rc == DX_EXIT_OK && i < a->plan.n_cells; i++)
    rc = summary_row(st, &jobs[i], &t, sweep_id, &all_finished);
  if (rc == DX_EXIT_OK) dx_table_print(&t, stdout);
  dx_table_free(&t);
  if (rc == DX_EXIT_OK && sig)
    rc = DX_EXIT_SIGNAL + sig;
  else if (rc == DX_EXIT_OK && !all_finished)
    rc = DX_EXIT_FAILED;
  return dx_cli_close(&dx_cli_sweep, st, rc);
}

static char *self_path(void) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return NULL;
  buf[n] = '\0';
  return strdup(buf);
}

static int record_sweep(const sweep_args *a, const char *exp_name, dx_sweep_job *jobs,
                        int64_t *sweep_id) {
  dx_store *st;
  int rc = dx_cli_open_for_run(&dx_cli_sweep, a->db, &st);
  if (rc != DX_EXIT_OK) return rc;
  char name[512];
  snprintf(name, sizeof name, "%s-sweep", exp_name);
  char *axes = dx_sweep_plan_axes_json(&a->plan), *fixed = dx_sweep_plan_fixed_json(&a->plan);
  dx_sweep_info info = {a->name ? a->name : name, a->file, axes, fixed};
  bool created = false;
  dx_status s = axes && fixed ? dx_store_sweep_open(st, &info, sweep_id, &created) : DX_ERR_NOMEM;
  for (int64_t i = 0; s == DX_OK && i < a->plan.n_cells; i++)
    s = plan_cell(st, *sweep_id, &jobs[i]);
  free(axes), free(fixed);
  if (s != DX_OK)
    rc = dx_cli_fail(&dx_cli_sweep, s, "%s",
                     s == DX_ERR_NOMEM ? "out of memory" : dx_store_errmsg(st));
  return dx_cli_close(&dx_cli_sweep, st, rc);
}

static int execute(const sweep_args *a, dx_sweep_job *jobs, int64_t sweep_id) {
  int64_t by_action[3] = {0};
  for (int64_t i = 0; i < a->plan.n_cells; i++)
    by_action[jobs[i].action]++;
  int64_t work = by_action[DX_SWEEP_START] + by_action[DX_SWEEP_RESUME];
  int width = (int)(a->jobs < work ? a->jobs : work > 0 ? work : 1);
  int threads = cores() / width > 0 ? cores() / width : 1;
  fprintf(stderr,
          "ddpmx sweep: sweep %" PRId64 ", %" PRId64 " cells: %" PRId64 " done or running, %" PRId64
          " to start, %" PRId64 " to resume; %d at a time, %d thread%s each\n",
          sweep_id, a->plan.n_cells, by_action[DX_SWEEP_SKIP], by_action[DX_SWEEP_START],
          by_action[DX_SWEEP_RESUME], width, threads, threads == 1 ? "" : "s");
  int sig = 0;
  if (work > 0) {
    char *self = self_path();
    if (!self)
      return dx_cli_fail(&dx_cli_sweep, DX_ERR_IO, "cannot find this program (/proc/self/exe)");
    dx_sweep_env env = {self,  a->file, a->db,           sweep_id,
                        width, threads, a->plan.n_cells, dx_cli_catch_signals(false)};
    sig = dx_sweep_run_jobs(&env, jobs, a->plan.n_cells);
    free(self);
    if (sig < 0) return DX_EXIT_FAILED;
  } else {
    fprintf(stderr, "ddpmx sweep: nothing to do\n");
  }
  return summarize(a, jobs, sweep_id, sig);
}

static int dry_run(const sweep_args *a, const dx_sweep_job *jobs, const char *name) {
  for (int64_t i = 0; i < a->plan.n_cells; i++) {
    char *run = dx_cli_cell_name(name, jobs[i].cell.cell);
    if (!run) return dx_cli_fail(&dx_cli_sweep, DX_ERR_NOMEM, "out of memory");
    printf("%s\n", run);
    free(run);
  }
  return DX_EXIT_OK;
}

static int main_sweep(int argc, char **argv) {
  sweep_args a;
  int rc = parse(argc, argv, &a);
  dx_sweep_job *jobs = rc == DX_EXIT_OK ? calloc((size_t)a.plan.n_cells, sizeof *jobs) : NULL;
  if (rc == DX_EXIT_OK && !jobs) rc = dx_cli_fail(&dx_cli_sweep, DX_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; rc == DX_EXIT_OK && i < a.plan.n_cells; i++) {
    jobs[i] = (dx_sweep_job){.index = i, .exit_code = -1};
    if (!dx_sweep_plan_cell(&a.plan, i, &jobs[i].cell))
      rc = dx_cli_fail(&dx_cli_sweep, DX_ERR_NOMEM, "out of memory");
  }
  char *name = NULL;
  if (rc == DX_EXIT_OK) rc = check_all(&a, jobs, &name);
  int64_t sweep_id = 0;
  if (rc == DX_EXIT_OK && a.dry_run)
    rc = dry_run(&a, jobs, name);
  else if (rc == DX_EXIT_OK)
    rc = record_sweep(&a, name, jobs, &sweep_id);
  if (rc == DX_EXIT_OK && !a.dry_run) rc = execute(&a, jobs, sweep_id);
  for (int64_t i = 0; jobs && i < a.plan.n_cells; i++)
    dx_sweep_cell_free(&jobs[i].cell);
  free(jobs);
  free(name);
  dx_sweep_plan_free(&a.plan);
  return rc == HELP_SHOWN ? DX_EXIT_OK : rc;
}
