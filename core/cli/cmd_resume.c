/* `ddpmx resume RUN`: continues a stopped or failed run from its latest
 * checkpoint. Every random draw of a run is keyed by (seed, step), so the
 * resumed run logs what an uninterrupted one would have (tests/test_train.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/run.h"
#include "cli/stored_run.h"

static int main_resume(int argc, char **argv);

const dx_cli_command dx_cli_resume = {
    "resume", "continue a stopped run from its latest checkpoint",
    "usage: ddpmx resume RUN [--db PATH]\n"
    "\n"
    "Continues run RUN (an id or a name) from its latest checkpoint with the\n"
    "experiment it was started with. Metrics and grids logged after that\n"
    "checkpoint are dropped and logged again; the run ends FINISHED, FAILED or\n"
    "KILLED as `ddpmx run` does.\n"
    "\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_resume};

static int status_of(const dx_run_row *r, void *user) {
  *(dx_run_status *)user = r->status;
  return 1;
}

static int resume(dx_store *st, dx_stored_run *r) {
  dx_run_status status = DX_RUN_RUNNING;
  dx_run_visitor v = {.run = status_of};
  if (dx_store_show_run(st, r->id, &v, &status) != DX_OK)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_DB, "%s", dx_store_errmsg(st));
  if (status == DX_RUN_FINISHED)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_INVALID, "run %" PRId64 " has already finished", r->id);
  if (!r->has_checkpoint)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_INVALID,
                       "run %" PRId64 " has no checkpoint to resume from; start it again with ddpmx run", r->id);
  if (dx_store_run_reopen(st, r->id, r->checkpoint.step) != DX_OK)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_DB, "%s", dx_store_errmsg(st));
  fprintf(stderr, "ddpmx resume: run %" PRId64 " '%s' from step %" PRId64 " (%s)\n", r->id, r->e->name,
          r->checkpoint.step, r->checkpoint.path);
  return dx_cli_train(&dx_cli_resume, r->e, &r->plugins, st, r->id, r->checkpoint.path);
}

static int main_resume(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *ref = NULL;
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_resume);
    int r = dx_cli_option(&dx_cli_resume, argc, argv, &i, "--db", &db);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || ref) return dx_cli_usage(&dx_cli_resume, "unexpected argument '%s'", argv[i]);
    ref = argv[i];
  }
  if (!ref) return dx_cli_usage(&dx_cli_resume, "which run? (an id or a name; see ddpmx runs)");
  dx_store *st;
  int rc = dx_cli_open_existing(&dx_cli_resume, db, &st);
  if (rc != DX_EXIT_OK) return rc;
  dx_stored_run r;
  rc = dx_cli_load_run(&dx_cli_resume, st, ref, &r);
  if (rc == DX_EXIT_OK) rc = resume(st, &r);
  dx_cli_stored_run_free(&r);
  return dx_cli_close(&dx_cli_resume, st, rc);
}
