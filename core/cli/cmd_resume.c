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
    "KILLED as `ddpmx run` does. RUN may be KILLED, FAILED or LOST (its\n"
    "process died without saying so), not still running. A checkpoint whose\n"
    "SHA-256 no longer matches the one recorded is refused, and the one before\n"
    "it taken; a run without a usable checkpoint starts again at step 0.\n"
    "\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_resume};

typedef struct run_state {
  dx_run_status status;
  dx_process_state process;
  int64_t pid;
  char host[256];
} run_state;

static int state_of(const dx_run_row *r, void *user) {
  run_state *s = user;
  *s = (run_state){r->status, r->process, r->pid, ""};
  snprintf(s->host, sizeof s->host, "%s", r->host ? r->host : "?");
  return 1;
}

/* A checkpoint that cannot be trusted is passed over, and the user told. */
static void refused(const dx_store_checkpoint *c, const char *why, void *user) {
  (void)user;
  fprintf(stderr, "ddpmx resume: refusing the checkpoint of step %" PRId64 ": %s\n", c->step, why);
}

static int resume(dx_store *st, dx_stored_run *r, dx_cli_world *w) {
  run_state s = {.status = DX_RUN_RUNNING};
  dx_run_visitor v = {.run = state_of};
  if (dx_store_show_run(st, r->id, &v, &s) != DX_OK)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_DB, "%s", dx_store_errmsg(st));
  if (s.status == DX_RUN_FINISHED)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_INVALID, "run %" PRId64 " has already finished",
                       r->id);
  /* Two processes training one run would interleave their rows. A RUNNING
   * run on another host, or from before processes were recorded, cannot be
   * checked from here and is taken at its word that it is gone. */
  if (s.status == DX_RUN_RUNNING && s.process == DX_PROCESS_ALIVE)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_INVALID,
                       "run %" PRId64 " is still running (pid %" PRId64 " on %s); stop it first",
                       r->id, s.pid, s.host);
  dx_store_checkpoint c = {0};
  bool found = false;
  if (dx_store_good_checkpoint(st, r->id, &c, &found, refused, NULL) != DX_OK)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_DB, "%s", dx_store_errmsg(st));
  if (dx_store_run_reopen(st, r->id, found ? c.step : 0) != DX_OK)
    return dx_cli_fail(&dx_cli_resume, DX_ERR_DB, "%s", dx_store_errmsg(st));
  /* Every draw is keyed by (seed, step): starting over from step 0 under
   * the same run id gives what the first attempt would have. */
  if (found)
    fprintf(stderr, "ddpmx resume: run %" PRId64 " '%s' from step %" PRId64 " (%s)\n", r->id,
            r->e->name, c.step, c.path);
  else
    fprintf(stderr,
            "ddpmx resume: run %" PRId64
            " '%s' has no checkpoint to resume from; starting it again at step 0\n",
            r->id, r->e->name);
  return dx_cli_train(&dx_cli_resume, r->e, &r->plugins, st, r->id, found ? c.path : NULL, w);
}

static int main_resume(int argc, char **argv) {
  const char *db = DX_CLI_DEFAULT_DB, *ref = NULL;
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_resume);
    int r = dx_cli_option(&dx_cli_resume, argc, argv, &i, "--db", &db);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || ref)
      return dx_cli_usage(&dx_cli_resume, "unexpected argument '%s'", argv[i]);
    ref = argv[i];
  }
  if (!ref) return dx_cli_usage(&dx_cli_resume, "which run? (an id or a name; see ddpmx runs)");
  /* Under mpirun, with as many ranks as wanted: rank 0 reads the store and
   * the checkpoint, and sends the others the experiment and the state. */
  dx_cli_world w;
  int rc = dx_cli_world_open(&dx_cli_resume, &w);
  if (rc != DX_EXIT_OK) return rc;
  if (!dx_cli_world_leader(&w)) {
    rc = dx_cli_world_follow(&dx_cli_resume, &w);
    dx_cli_world_close(&w, rc);
    return rc;
  }
  dx_store *st;
  rc = dx_cli_open_existing(&dx_cli_resume, db, &st);
  if (rc != DX_EXIT_OK) {
    dx_cli_world_close(&w, rc);
    return rc;
  }
  dx_stored_run r;
  rc = dx_cli_load_run(&dx_cli_resume, st, ref, &r);
  if (rc == DX_EXIT_OK) rc = resume(st, &r, &w);
  dx_cli_stored_run_free(&r);
  rc = dx_cli_close(&dx_cli_resume, st, rc);
  dx_cli_world_close(&w, rc);
  return rc;
}
