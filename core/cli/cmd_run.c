/* `ddpmx run FILE [key=value...] [--db PATH] [--dry-run]`: check the
 * experiment and its plugins, record the run, train, and record how it
 * ended (DESIGN 2). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"
#include "util/file.h"

static int main_run(int argc, char **argv);

const dx_cli_command dx_cli_run = {
    "run", "check an experiment and train it, recording the run",
    "usage: ddpmx run FILE [KEY=VALUE...] [--db PATH] [--dry-run]\n"
    "\n"
    "Loads the experiment FILE (YAML), applies each KEY=VALUE override\n"
    "(train.lr=1e-4, diffusion.schedule.plugin=linear, ...), checks every key,\n"
    "resolves every plugin and validates its parameters before any work.\n"
    "Then records the run in the results database as RUNNING, trains, and\n"
    "records it as FINISHED, FAILED (with the reason) or KILLED.\n"
    "\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n"
    "  --dry-run   check only: print the resolved experiment and its plugins\n"
    "  --sweep ID --cell K=V,...\n"
    "              record the run as that cell of sweep ID, named NAME[K=V,...]\n"
    "              (ddpmx sweep starts its cells this way)\n"
    "\n"
    "Ctrl-C (or SIGTERM) stops the run at the next step with a checkpoint\n"
    "and its metrics flushed; a second Ctrl-C kills it at once.\n",
    main_run};

#define HELP_SHOWN (-1)

typedef struct run_args {
  const char *file, *db, *sweep, *cell;
  int64_t sweep_id;
  char *run_name; /* a sweep's cell: NAME[KEY=V,...]; NULL: the experiment's name */
  const char **overrides;
  int n_overrides;
  bool dry_run;
} run_args;

static int parse(int argc, char **argv, run_args *a) {
  *a = (run_args){.db = DX_CLI_DEFAULT_DB};
  a->overrides = calloc((size_t)argc, sizeof *a->overrides);
  if (!a->overrides) return dx_cli_fail(&dx_cli_run, DX_ERR_NOMEM, "out of memory");
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = dx_cli_option(&dx_cli_run, argc, argv, &i, "--db", &a->db);
    if (r == 0) r = dx_cli_option(&dx_cli_run, argc, argv, &i, "--sweep", &a->sweep);
    if (r == 0) r = dx_cli_option(&dx_cli_run, argc, argv, &i, "--cell", &a->cell);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (dx_cli_is_help(arg)) {
      dx_cli_help(&dx_cli_run);
      return HELP_SHOWN;
    }
    if (strcmp(arg, "--dry-run") == 0)
      a->dry_run = true;
    else if (arg[0] == '-')
      return dx_cli_usage(&dx_cli_run, "unknown option '%s'", arg);
    else if (!a->file)
      a->file = arg;
    else if (strchr(arg, '='))
      a->overrides[a->n_overrides++] = arg;
    else
      return dx_cli_usage(&dx_cli_run, "'%s' is not KEY=VALUE (one experiment file per run)", arg);
  }
  if (!a->file) return dx_cli_usage(&dx_cli_run, "no experiment file given");
  if (!a->sweep != !a->cell) return dx_cli_usage(&dx_cli_run, "--sweep and --cell go together");
  if (a->sweep && (!dx_cli_parse_count(a->sweep, &a->sweep_id) || a->sweep_id == 0))
    return dx_cli_usage(&dx_cli_run, "--sweep takes a sweep's id, not '%s'", a->sweep);
  return DX_EXIT_OK;
}

/* Errors found while checking are the experiment's or a plugin's, whatever
 * status carried them: a missing file is a configuration problem here. */
static int check_failed(dx_status st, const char *err) {
  dx_status as = st == DX_ERR_PLUGIN || st == DX_ERR_NOMEM ? st : DX_ERR_CONFIG;
  return dx_cli_fail(&dx_cli_run, as, "%s", err);
}

/* Records the run as RUNNING with the experiment and its parameters. */
static dx_status record(int argc, char **argv, const run_args *a, dx_experiment *e, dx_store *store,
                        int64_t *id) {
  dx_cli_params params;
  char *json = dx_experiment_to_json(e), *cmd = dx_cli_command_line(argc, argv);
  dx_status st = dx_cli_params_collect(e, &params);
  if (st == DX_OK && (!json || !cmd)) st = DX_ERR_NOMEM;
  if (st == DX_OK) {
    dx_run_info info = {.name = a->run_name ? a->run_name : e->name,
                        .seed = e->seed,
                        .experiment_yaml = e->source,
                        .experiment_json = json,
                        .command_line = cmd,
                        .param_keys = (const char *const *)params.keys,
                        .param_values = (const char *const *)params.values,
                        .n_params = params.n,
                        .sweep_id = a->sweep_id,
                        .cell = a->cell};
    st = dx_store_run_begin(store, &info, id);
  }
  dx_cli_params_free(&params);
  free(json);
  free(cmd);
  return st;
}

static int begin(int argc, char **argv, const run_args *a, dx_experiment *e,
                 const dx_run_plugins *rp, dx_store *store, int64_t *id) {
  dx_status st = record(argc, argv, a, e, store, id);
  if (st == DX_ERR_NOMEM) return dx_cli_fail(&dx_cli_run, st, "out of memory");
  if (st != DX_OK) return dx_cli_fail(&dx_cli_run, DX_ERR_DB, "%s", dx_store_errmsg(store));
  if (dx_cli_record_plugins(store, *id, rp) != DX_OK) {
    /* A run row must never stay RUNNING for a run that did not start. */
    char why[DX_ERRMSG_MAX];
    snprintf(why, sizeof why, "%s", dx_store_errmsg(store));
    dx_store_run_end(store, *id, DX_RUN_FAILED, why);
    return dx_cli_fail(&dx_cli_run, DX_ERR_DB, "%s", why);
  }
  fprintf(stderr, "ddpmx run: run %" PRId64 " '%s' recorded\n", *id,
          a->run_name ? a->run_name : e->name);
  return DX_EXIT_OK;
}

/* Bad input is normal, and it leaves a trace (DESIGN 7): a run row that says
 * FAILED and why, named after the experiment or, if it did not load, after
 * its file. */
static void record_failure(int argc, char **argv, const run_args *a, const dx_experiment *e,
                           const char *why) {
  dx_store *store;
  if (dx_cli_open_for_run(&dx_cli_run, a->db, &store) != DX_EXIT_OK) return;
  char name[256];
  const char *base = strrchr(a->file, '/') ? strrchr(a->file, '/') + 1 : a->file;
  snprintf(name, sizeof name, "%s", a->run_name ? a->run_name : e ? e->name : base);
  char *dot = e ? NULL : strrchr(name, '.');
  if (dot && dot != name) *dot = '\0';
  uint8_t *yaml; /* the experiment's file as written, for the record; NULL if unreadable */
  size_t yaml_len;
  dx_file_read(a->file, &yaml, &yaml_len, NULL, 0);
  char *cmd = dx_cli_command_line(argc, argv);
  dx_run_info info = {.name = name,
                      .seed = e ? e->seed : 0,
                      .experiment_yaml = (const char *)yaml,
                      .command_line = cmd,
                      .sweep_id = a->sweep_id,
                      .cell = a->cell};
  int64_t id;
  if (dx_store_run_begin(store, &info, &id) == DX_OK &&
      dx_store_run_end(store, id, DX_RUN_FAILED, why) == DX_OK)
    fprintf(stderr, "ddpmx run: recorded as run %" PRId64 ", FAILED\n", id);
  free(yaml), free(cmd);
  dx_cli_close(&dx_cli_run, store, DX_EXIT_OK);
}

static int run_checked(int argc, char **argv, const run_args *a, dx_experiment *e,
                       const dx_run_plugins *rp, dx_cli_world *w) {
  if (a->dry_run) return dx_cli_dry_run(e, rp);
  dx_store *store;
  int rc = dx_cli_open_for_run(&dx_cli_run, a->db, &store);
  if (rc != DX_EXIT_OK) return rc;
  int64_t id = 0;
  rc = begin(argc, argv, a, e, rp, store, &id);
  if (rc == DX_EXIT_OK) rc = dx_cli_train(&dx_cli_run, e, rp, store, id, NULL, w);
  return dx_cli_close(&dx_cli_run, store, rc);
}

static int main_run(int argc, char **argv) {
  run_args a;
  int rc = parse(argc, argv, &a);
  if (rc != DX_EXIT_OK) {
    free(a.overrides);
    return rc == HELP_SHOWN ? DX_EXIT_OK : rc;
  }
  /* Under mpirun: rank 0 does all that follows, the others train with it. */
  dx_cli_world w;
  if (!a.dry_run && (rc = dx_cli_world_open(&dx_cli_run, &w)) != DX_EXIT_OK) {
    free(a.overrides);
    return rc;
  }
  if (!a.dry_run && !dx_cli_world_leader(&w)) {
    rc = dx_cli_world_follow(&dx_cli_run, &w);
    dx_cli_world_close(&w, rc);
    free(a.overrides);
    return rc;
  }
  char err[DX_ERRMSG_MAX] = "";
  dx_experiment *e = NULL;
  dx_run_plugins rp = {0};
  dx_status st = dx_experiment_load(a.file, a.overrides, a.n_overrides, &e, err, sizeof err);
  if (st == DX_OK && a.cell && !(a.run_name = dx_cli_cell_name(e->name, a.cell))) st = DX_ERR_NOMEM;
  if (st == DX_OK) st = dx_run_plugins_resolve(e, &rp, err, sizeof err);
  if (st == DX_OK) st = dx_experiment_check_data(e, err, sizeof err);
  if (st == DX_OK) {
    rc = run_checked(argc, argv, &a, e, &rp, a.dry_run ? NULL : &w);
  } else {
    rc = check_failed(st, err);
    if (!a.dry_run) record_failure(argc, argv, &a, e, err);
  }
  if (!a.dry_run) dx_cli_world_close(&w, rc);
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
  free(a.overrides);
  free(a.run_name);
  return rc;
}
