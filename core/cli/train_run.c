/* Training a recorded run and recording how it ended: shared by `run` and
 * `resume`. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/run.h"

static const char *signal_name(int sig) {
  return sig == SIGTERM   ? "SIGTERM"
         : sig == SIGINT  ? "SIGINT"
         : sig == SIGCONT ? "the MPI launcher (mpirun was sent SIGINT or SIGTERM)"
                          : "a signal";
}

int dx_cli_train(const dx_cli_command *c, dx_experiment *e, const dx_run_plugins *rp,
                 dx_store *store, int64_t id, const char *resume_from, dx_cli_world *w) {
  char err[DX_ERRMSG_MAX] = "", why[DX_ERRMSG_MAX + 32];
  bool ranks = w && dx_comm_size(w->comm) > 1, leader = !w || dx_cli_world_leader(w);
  if (leader && ranks) {
    char *json = dx_experiment_to_json(e);
    dx_cli_world_release(w, json ? id : 0, json, DX_EXIT_FAILED);
    free(json);
    if (!json) {
      dx_store_run_end(store, id, DX_RUN_FAILED, "out of memory");
      return dx_cli_fail(c, DX_ERR_NOMEM, "out of memory");
    }
  }
  volatile sig_atomic_t *stop = dx_cli_catch_signals(ranks);
  dx_cli_world_watch(c, w, store, id, stop);
  dx_train_env env = {.store = store,
                      .run_id = id,
                      .plugins = rp,
                      .resume_from = resume_from,
                      .stop = stop,
                      .progress = leader ? dx_cli_progress : NULL,
                      .comm = w ? w->comm : NULL};
  dx_status st = dx_train(e, &env, err, sizeof err);
  dx_run_status end = DX_RUN_FINISHED;
  int rc = DX_EXIT_OK;
  if (st == DX_ERR_INTERRUPTED) {
    int sig = *stop ? (int)*stop : SIGINT;
    snprintf(why, sizeof why, "interrupted by %s", signal_name(sig));
    end = DX_RUN_KILLED;
    rc = DX_EXIT_SIGNAL + (sig == SIGCONT ? SIGTERM : sig);
  } else if (st != DX_OK) {
    snprintf(why, sizeof why, "%s", err);
    end = DX_RUN_FAILED;
    rc = st == DX_ERR_DEVICE ? DX_EXIT_DEVICE : DX_EXIT_FAILED;
  }
  if (!leader) return rc; /* rank 0 records and says how the run ended */
  dx_status s = dx_store_run_end(store, id, end, end == DX_RUN_FINISHED ? NULL : why);
  if (s != DX_OK) /* the reason first: it may be why the store cannot be written */
    return dx_cli_fail(c, DX_ERR_DB, "run %" PRId64 " %s%s%s; recording that failed too: %s", id,
                       dx_run_status_str(end), end == DX_RUN_FINISHED ? "" : ": ",
                       end == DX_RUN_FINISHED ? "" : why, dx_store_errmsg(store));
  if (end == DX_RUN_FINISHED)
    fprintf(stderr, "ddpmx %s: run %" PRId64 " FINISHED\n", c->name, id);
  else
    fprintf(stderr, "ddpmx %s: run %" PRId64 " %s: %s\n", c->name, id, dx_run_status_str(end), why);
  if (end == DX_RUN_KILLED) fprintf(stderr, "ddpmx %s: %s\n", c->name, err); /* where to resume */
  return rc;
}
