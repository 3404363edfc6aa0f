/* What an implementation of the communicator provides (single.c, mpi.c):
 * the collectives on host buffers, each returning a status with its message
 * in c->err. comm.c wraps them with the watchdog's bookkeeping. */
#ifndef DX_COMM_IMPL_H
#define DX_COMM_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "comm/comm.h"

#define DX_COMM_HOST_MAX 64

typedef struct dx_comm_ops {
  const char *name;
  dx_status (*allreduce_sum)(dx_comm *c, void *buf, int64_t n, dx_comm_type t);
  dx_status (*bcast)(dx_comm *c, void *buf, size_t bytes, int root);
  dx_status (*allgather)(dx_comm *c, const void *send, size_t bytes, void *recv);
  dx_status (*barrier)(dx_comm *c);
  void (*abort)(dx_comm *c, int code);
  void (*finalize)(dx_comm *c);
} dx_comm_ops;

typedef struct dx_comm_peer {
  char host[DX_COMM_HOST_MAX];
  int64_t pid;
} dx_comm_peer;

struct dx_comm {
  const dx_comm_ops *ops;
  void *impl;
  int rank, size;
  dx_comm_peer *peers; /* size entries */
  char *hosts;         /* distinct hosts, comma-separated */
  char err[DX_ERRMSG_MAX];
  /* The watchdog's view of the main thread: when the collective in progress
   * began (0: none), and what it is for. */
  _Atomic double busy_since;
  pthread_mutex_t label_lock;
  char label[160];
  dx_comm_watch_opts watch;
  pthread_t watchdog;
  bool watching;
  bool broken; /* a collective failed: the others may wait forever */
  atomic_bool closing;
};

/* Fills c->peers and c->hosts from every rank's (host, pid), gathered with
 * c->ops->allgather; c->rank and c->size must be set. */
dx_status dx_comm_gather_peers(dx_comm *c);
size_t dx_comm_type_size(dx_comm_type t);
double dx_comm_now(void); /* CLOCK_MONOTONIC seconds */

/* mpi.c, when built with MPI: the world of MPI ranks. */
dx_status dx_comm_mpi_create(dx_comm **out, char *err, size_t errlen);

#endif
