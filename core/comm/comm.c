/* The communicator's front: picking the world, the ranks' hosts, and the
 * collectives wrapped with the watchdog's bookkeeping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm_impl.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* How many ranks a launcher started: 0 when none started this process, -1
 * when one did but did not say how many. Open MPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE; MPICH's and Slurm's PMI set PMI_SIZE; PMIx (srun
 * --mpi=pmix) sets PMIX_RANK, with the count in SLURM_NTASKS. */
static long launcher_size(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *s = getenv(vars[i]);
    if (s && *s) return strtol(s, NULL, 10);
  }
  if (getenv("PMIX_RANK")) {
    const char *s = getenv("SLURM_NTASKS");
    return s && *s ? strtol(s, NULL, 10) : -1;
  }
  return 0;
}

bool dx_comm_have_mpi(void) {
#ifdef DDPMX_HAVE_MPI
  return true;
#else
  return false;
#endif
}

dx_status dx_comm_world(dx_comm **out, char *err, size_t errlen) {
  *out = NULL;
  long n = launcher_size();
  if (n != 0 && dx_comm_have_mpi()) {
#ifdef DDPMX_HAVE_MPI
    return dx_comm_mpi_create(out, err, errlen);
#endif
  }
  if (n > 1 || n < 0)
    return snprintf(err, errlen,
                    "started by an MPI launcher as one of %s ranks, but this ddpmx was built "
                    "without MPI; "
                    "install libopenmpi-dev (scripts/install-deps.sh) and build again",
                    n > 1 ? "several" : "an unknown number of"),
           DX_ERR_UNSUPPORTED;
  *out = dx_comm_single();
  if (!*out) return snprintf(err, errlen, "out of memory creating the communicator"), DX_ERR_NOMEM;
  return DX_OK;
}

size_t dx_comm_type_size(dx_comm_type t) {
  return t == DX_COMM_F64 ? sizeof(double) : sizeof(float);
}

dx_status dx_comm_gather_peers(dx_comm *c) {
  dx_comm_peer me = {.pid = (int64_t)getpid()};
  if (gethostname(me.host, sizeof me.host) != 0) snprintf(me.host, sizeof me.host, "unknown");
  me.host[sizeof me.host - 1] = '\0';
  c->peers = calloc((size_t)c->size, sizeof *c->peers);
  c->hosts = calloc((size_t)c->size, sizeof me.host + 1);
  if (!c->peers || !c->hosts) return snprintf(c->err, sizeof c->err, "out of memory"), DX_ERR_NOMEM;
  dx_status st = c->ops->allgather(c, &me, sizeof me, c->peers);
  if (st != DX_OK) return st;
  for (int r = 0; r < c->size; r++) {
    bool seen = false;
    for (int q = 0; q < r && !seen; q++)
      seen = !strcmp(c->peers[q].host, c->peers[r].host);
    if (seen) continue;
    if (c->hosts[0]) strcat(c->hosts, ",");
    strcat(c->hosts, c->peers[r].host);
  }
  return DX_OK;
}

void dx_comm_free(dx_comm *c) {
  if (!c) return;
  if (c->watching) {
    atomic_store(&c->closing, true);
    pthread_join(c->watchdog, NULL);
  }
  /* After a failed collective MPI_Finalize may wait for ranks that will
   * never come: end them all instead. */
  if (c->broken && c->size > 1) c->ops->abort(c, 1);
  c->ops->finalize(c);
  pthread_mutex_destroy(&c->label_lock);
  free(c->peers);
  free(c->hosts);
  free(c);
}

void dx_comm_abort(dx_comm *c, int code) {
  if (c && c->size > 1) c->ops->abort(c, code);
}

int dx_comm_rank(const dx_comm *c) { return c->rank; }
int dx_comm_size(const dx_comm *c) { return c->size; }
const char *dx_comm_name(const dx_comm *c) { return c->ops->name; }
const char *dx_comm_host(const dx_comm *c, int r) {
  return r >= 0 && r < c->size ? c->peers[r].host : "?";
}
pid_t dx_comm_pid(const dx_comm *c, int r) {
  return r >= 0 && r < c->size ? (pid_t)c->peers[r].pid : 0;
}
const char *dx_comm_hosts(const dx_comm *c) { return c->hosts; }
const char *dx_comm_error(const dx_comm *c) { return c->err; }

void dx_comm_label(dx_comm *c, const char *what) {
  pthread_mutex_lock(&c->label_lock);
  snprintf(c->label, sizeof c->label, "%s", what);
  pthread_mutex_unlock(&c->label_lock);
}

/* The watchdog reads busy_since; a collective of one rank cannot hang. */
static void enter(dx_comm *c) {
  if (c->size > 1) atomic_store(&c->busy_since, now());
}
static dx_status leave(dx_comm *c, dx_status st) {
  if (c->size > 1) atomic_store(&c->busy_since, 0.0);
  if (st != DX_OK) c->broken = true;
  return st;
}

dx_status dx_comm_allreduce_sum(dx_comm *c, void *buf, int64_t n, dx_comm_type t) {
  enter(c);
  return leave(c, c->ops->allreduce_sum(c, buf, n, t));
}

dx_status dx_comm_bcast(dx_comm *c, void *buf, size_t bytes, int root) {
  enter(c);
  return leave(c, c->ops->bcast(c, buf, bytes, root));
}

dx_status dx_comm_allgather(dx_comm *c, const void *send, size_t bytes, void *recv) {
  enter(c);
  return leave(c, c->ops->allgather(c, send, bytes, recv));
}

dx_status dx_comm_barrier(dx_comm *c) {
  enter(c);
  return leave(c, c->ops->barrier(c));
}

double dx_comm_now(void) { return now(); }
