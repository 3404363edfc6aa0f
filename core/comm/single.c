/* The communicator of one process: every collective is the identity. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm_impl.h"

static dx_status allreduce_sum(dx_comm *c, void *buf, int64_t n, dx_comm_type t) {
  (void)c, (void)buf, (void)n, (void)t;
  return DX_OK;
}

static dx_status bcast(dx_comm *c, void *buf, size_t bytes, int root) {
  (void)c, (void)buf, (void)bytes, (void)root;
  return DX_OK;
}

static dx_status allgather(dx_comm *c, const void *send, size_t bytes, void *recv) {
  (void)c;
  if (recv != send) memmove(recv, send, bytes);
  return DX_OK;
}

static dx_status barrier(dx_comm *c) {
  (void)c;
  return DX_OK;
}

static void abort_single(dx_comm *c, int code) { (void)c, (void)code; }
static void finalize(dx_comm *c) { (void)c; }

static const dx_comm_ops single_ops = {"single", allreduce_sum, bcast,   allgather,
                                       barrier,  abort_single,  finalize};

dx_comm *dx_comm_single(void) {
  dx_comm *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->ops = &single_ops;
  c->size = 1;
  pthread_mutex_init(&c->label_lock, NULL);
  if (dx_comm_gather_peers(c) != DX_OK) {
    dx_comm_free(c);
    return NULL;
  }
  return c;
}
