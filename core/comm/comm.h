/* The communicator (DESIGN 9): the ranks of a data-parallel run and the four
 * collectives the trainer needs. The trainer talks only to this header; an
 * implementation is a table of functions (comm_impl.h), so that a GPU build
 * can add NCCL or CUDA-aware MPI beside the two that exist today: one process
 * (single.c) and MPI ranks (mpi.c, built when CMake finds MPI).
 *
 * Every collective returns a status and leaves one line in dx_comm_error().
 * Every rank must call the same collectives in the same order. */
#ifndef DX_COMM_COMM_H
#define DX_COMM_COMM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ddpmx/status.h"

typedef struct dx_comm dx_comm;

typedef enum dx_comm_type { DX_COMM_F32, DX_COMM_F64 } dx_comm_type;

/* The world this process belongs to: the MPI ranks when an MPI launcher
 * (mpirun, srun) started it and ddpmx was built with MPI, else one rank.
 * A process started by a launcher as one of several ranks, in a build
 * without MPI, is refused: it would train alone and record a run per rank. */
dx_status dx_comm_world(dx_comm **out, char *err, size_t errlen);
/* One rank, no launcher: what tests and library users get by default. */
dx_comm *dx_comm_single(void);
/* Ends the communicator; for MPI, MPI_Finalize. */
void dx_comm_free(dx_comm *c);
/* Ends every rank of the job at once (MPI_Abort): for a rank that fails
 * while the others may be waiting in a collective. Returns only for one rank. */
void dx_comm_abort(dx_comm *c, int code);
/* Whether this build can run several ranks (it was built with MPI). */
bool dx_comm_have_mpi(void);

int dx_comm_rank(const dx_comm *c);
int dx_comm_size(const dx_comm *c);
const char *dx_comm_name(const dx_comm *c); /* "single", "mpi" */
/* Host name and process id of rank r, gathered when the world was made. */
const char *dx_comm_host(const dx_comm *c, int r);
pid_t dx_comm_pid(const dx_comm *c, int r);
/* The distinct hosts of the ranks, comma-separated, in rank order: for the run
 * row. */
const char *dx_comm_hosts(const dx_comm *c);
const char *dx_comm_error(const dx_comm *c);

/* buf (n values) <- its sum over the ranks, in place. The sum of each
 * element is formed on one rank, in an order fixed for a given world size,
 * and sent to the others: every rank gets the same bits, and two runs with
 * the same world size get the same bits. */
dx_status dx_comm_allreduce_sum(dx_comm *c, void *buf, int64_t n, dx_comm_type t);
/* buf (bytes) <- root's buf. */
dx_status dx_comm_bcast(dx_comm *c, void *buf, size_t bytes, int root);
/* recv (size x bytes) <- each rank's send (bytes), in rank order. */
dx_status dx_comm_allgather(dx_comm *c, const void *send, size_t bytes, void *recv);
dx_status dx_comm_barrier(dx_comm *c);

/* --- the watchdog: no hang when a rank dies ---------------------------------------
 * A rank blocked in a collective cannot return from it when a peer died.
 * dx_comm_watch starts a thread that looks, twice a second, at a collective in
 * progress: when a rank on this host has died, when the collective has lasted
 * timeout_s, or when *stop has been set (a signal) and it has lasted grace_s,
 * it calls on_stuck with a line that names the stuck collective and, where it
 * can tell, the dead rank and its host. on_stuck runs on the watchdog thread
 * while the main thread is still blocked; it must end the process (its caller,
 * the CLI, records the run first). */
typedef enum dx_comm_stuck { DX_COMM_PEER_DIED, DX_COMM_TIMEOUT, DX_COMM_SIGNALLED } dx_comm_stuck;
typedef void (*dx_comm_stuck_fn)(void *user, dx_comm_stuck why, const char *line);
typedef struct dx_comm_watch_opts {
  double timeout_s; /* <= 0: no time limit, only dead peers and signals */
  double grace_s;   /* after a stop signal */
  volatile sig_atomic_t *stop;
  dx_comm_stuck_fn on_stuck;
  void *user;
} dx_comm_watch_opts;
dx_status dx_comm_watch(dx_comm *c, const dx_comm_watch_opts *o);
/* What the next collectives are for ("the gradient all-reduce of step 12"),
 * for the watchdog's line; s must outlive them (a static or owned buffer). */
void dx_comm_label(dx_comm *c, const char *what);

#endif
