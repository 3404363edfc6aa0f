/* `mpirun -np N ddpmx run|resume`: rank 0 records and writes; the others
 * follow (run.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "cli/stored_run.h"

int dx_cli_world_open(const dx_cli_command *c, dx_cli_world *w) {
  char err[DX_ERRMSG_MAX];
  *w = (dx_cli_world){0};
  dx_status st = dx_comm_world(&w->comm, err, sizeof err);
  return st == DX_OK ? DX_EXIT_OK : dx_cli_fail(c, st, "%s", err);
}

bool dx_cli_world_leader(const dx_cli_world *w) { return dx_comm_rank(w->comm) == 0; }

/* What rank 0 sends before the experiment's JSON. */
typedef struct word {
  int64_t id, json_len;
  int32_t go, rc;
} word;

void dx_cli_world_release(dx_cli_world *w, int64_t id, const char *json, int rc) {
  if (w->released || dx_comm_size(w->comm) == 1) return;
  w->released = true;
  word m = {id, json ? (int64_t)strlen(json) + 1 : 0, json != NULL, rc};
  dx_comm_label(w->comm, "rank 0's word to start");
  if (dx_comm_bcast(w->comm, &m, sizeof m, 0) == DX_OK && json)
    dx_comm_bcast(w->comm, (void *)json, (size_t)m.json_len, 0);
}

int dx_cli_world_follow(const dx_cli_command *c, dx_cli_world *w) {
  word m;
  if (dx_comm_bcast(w->comm, &m, sizeof m, 0) != DX_OK)
    return dx_cli_fail(c, DX_ERR_IO, "rank %d: %s", dx_comm_rank(w->comm), dx_comm_error(w->comm));
  if (!m.go) return m.rc;
  char *json = malloc((size_t)m.json_len), err[DX_ERRMSG_MAX];
  if (!json) return dx_cli_fail(c, DX_ERR_NOMEM, "out of memory");
  if (dx_comm_bcast(w->comm, json, (size_t)m.json_len, 0) != DX_OK) {
    free(json);
    return dx_cli_fail(c, DX_ERR_IO, "rank %d: %s", dx_comm_rank(w->comm), dx_comm_error(w->comm));
  }
  dx_experiment *e = NULL;
  dx_run_plugins rp = {0};
  dx_status st = dx_cli_experiment_from_json(json, &e, err, sizeof err);
  if (st == DX_OK) st = dx_run_plugins_resolve(e, &rp, err, sizeof err);
  free(json);
  int rc;
  if (st == DX_OK) {
    rc = dx_cli_train(c, e, &rp, NULL, m.id, NULL, w);
  } else {
    /* Rank 0 is already waiting in the first collective: end the job; its
     * watchdog records the run. */
    rc = dx_cli_fail(c, st, "rank %d (host %s): %s", dx_comm_rank(w->comm),
                     dx_comm_host(w->comm, dx_comm_rank(w->comm)), err);
    dx_comm_abort(w->comm, rc);
  }
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
  return rc;
}

void dx_cli_world_close(dx_cli_world *w, int rc) {
  if (!w->comm) return;
  if (dx_cli_world_leader(w)) dx_cli_world_release(w, 0, NULL, rc);
  dx_comm_free(w->comm);
  w->comm = NULL;
}

/* --- the watchdog's end of a run --------------------------------------------------- */

static void on_stuck(void *user, dx_comm_stuck why, const char *line) {
  dx_cli_world *wt = user;
  int rank = dx_comm_rank(wt->comm);
  bool signalled = why == DX_COMM_SIGNALLED;
  if (wt->store) {
    dx_store_run_end(wt->store, wt->id, signalled ? DX_RUN_KILLED : DX_RUN_FAILED, line);
    fprintf(stderr, "ddpmx %s: run %" PRId64 " %s: %s\n", wt->c->name, wt->id,
            signalled ? "KILLED" : "FAILED", line);
  } else {
    fprintf(stderr, "ddpmx %s: rank %d: %s\n", wt->c->name, rank, line);
  }
  /* The main thread is blocked inside MPI and cannot return: end here. */
  _exit(signalled ? DX_EXIT_SIGNAL + SIGTERM : DX_EXIT_FAILED);
}

/* Open MPI's launcher, told to stop, sends SIGCONT, then SIGTERM and SIGKILL
 * odls_base_sigkill_timeout seconds apart (1 by default): a rank waiting in
 * a collective whose peer is gone has until then to record the run. */
static double grace_s(void) {
  const char *s = getenv("OMPI_MCA_odls_base_sigkill_timeout");
  double t = s && *s ? strtod(s, NULL) : 1.0;
  return t > 0 ? 1.5 * t : 1.5;
}

void dx_cli_world_watch(const dx_cli_command *c, dx_cli_world *w, dx_store *store, int64_t id,
                        volatile sig_atomic_t *stop) {
  if (!w || dx_comm_size(w->comm) == 1) return;
  w->c = c, w->store = store, w->id = id;
  const char *t = getenv("DDPMX_COMM_TIMEOUT");
  dx_comm_watch_opts o = {t && *t ? strtod(t, NULL) : 0, grace_s(), stop, on_stuck, w};
  if (dx_comm_watch(w->comm, &o) != DX_OK)
    fprintf(stderr, "ddpmx %s: %s; a dead rank may hang the run\n", c->name,
            dx_comm_error(w->comm));
}
