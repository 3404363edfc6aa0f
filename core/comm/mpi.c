/* The communicator over MPI ranks (built when CMake finds MPI). Errors
 * return (MPI_ERRORS_RETURN) instead of aborting inside MPI, so that the
 * run can record why it failed. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"

typedef struct mpi_impl {
  MPI_Comm comm;
  void *tmp; /* the padded buffer of the reduce-scatter, kept between calls */
  size_t tmp_bytes;
} mpi_impl;

/* MPI counts are ints: larger transfers go in pieces of this many elements. */
#define PIECE ((int64_t)1 << 28)

static dx_status fail(dx_comm *c, const char *call, int rc) {
  char msg[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  snprintf(c->err, sizeof c->err, "%s failed on rank %d (host %s): %s", call, c->rank,
           c->peers ? c->peers[c->rank].host : "?", msg);
  return DX_ERR_IO;
}

static mpi_impl *impl(dx_comm *c) { return c->impl; }

static void *scratch(dx_comm *c, size_t bytes) {
  mpi_impl *m = impl(c);
  if (bytes > m->tmp_bytes) {
    void *p = realloc(m->tmp, bytes);
    if (!p) return NULL;
    m->tmp = p, m->tmp_bytes = bytes;
  }
  return m->tmp;
}

/* Reduce-scatter then all-gather (the ring all-reduce's two halves): the sum
 * of each element is formed once, on the rank that owns its chunk, in an
 * order MPI fixes for the world size, and then copied to every rank. A plain
 * MPI_Allreduce may let ranks sum in different orders and disagree in the
 * last bit. The buffer is padded to a multiple of the world size. */
static dx_status allreduce_piece(dx_comm *c, char *buf, int64_t n, dx_comm_type t) {
  size_t es = dx_comm_type_size(t);
  int64_t chunk = (n + c->size - 1) / c->size, padded = chunk * c->size;
  char *tmp = scratch(c, (size_t)(padded + chunk) * es);
  if (!tmp)
    return snprintf(c->err, sizeof c->err, "out of memory for the all-reduce"), DX_ERR_NOMEM;
  char *mine = tmp + (size_t)padded * es;
  memcpy(tmp, buf, (size_t)n * es);
  memset(tmp + (size_t)n * es, 0, (size_t)(padded - n) * es);
  MPI_Datatype dt = t == DX_COMM_F64 ? MPI_DOUBLE : MPI_FLOAT;
  int rc = MPI_Reduce_scatter_block(tmp, mine, (int)chunk, dt, MPI_SUM, impl(c)->comm);
  if (rc != MPI_SUCCESS) return fail(c, "MPI_Reduce_scatter_block", rc);
  rc = MPI_Allgather(mine, (int)chunk, dt, tmp, (int)chunk, dt, impl(c)->comm);
  if (rc != MPI_SUCCESS) return fail(c, "MPI_Allgather", rc);
  memcpy(buf, tmp, (size_t)n * es);
  return DX_OK;
}

static dx_status allreduce_sum(dx_comm *c, void *buf, int64_t n, dx_comm_type t) {
  size_t es = dx_comm_type_size(t);
  for (int64_t first = 0; first < n; first += PIECE) {
    int64_t k = n - first < PIECE ? n - first : PIECE;
    dx_status st = allreduce_piece(c, (char *)buf + (size_t)first * es, k, t);
    if (st != DX_OK) return st;
  }
  return DX_OK;
}

static dx_status bcast(dx_comm *c, void *buf, size_t bytes, int root) {
  for (size_t first = 0; first < bytes; first += (size_t)PIECE) {
    size_t k = bytes - first < (size_t)PIECE ? bytes - first : (size_t)PIECE;
    int rc = MPI_Bcast((char *)buf + first, (int)k, MPI_BYTE, root, impl(c)->comm);
    if (rc != MPI_SUCCESS) return fail(c, "MPI_Bcast", rc);
  }
  return DX_OK;
}

static dx_status allgather(dx_comm *c, const void *send, size_t bytes, void *recv) {
  if (bytes > (size_t)INT_MAX)
    return snprintf(c->err, sizeof c->err, "all-gather of %zu bytes per rank: too large", bytes),
           DX_ERR_INVALID;
  int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, impl(c)->comm);
  return rc == MPI_SUCCESS ? DX_OK : fail(c, "MPI_Allgather", rc);
}

static dx_status barrier(dx_comm *c) {
  int rc = MPI_Barrier(impl(c)->comm);
  return rc == MPI_SUCCESS ? DX_OK : fail(c, "MPI_Barrier", rc);
}

static void abort_mpi(dx_comm *c, int code) { MPI_Abort(impl(c)->comm, code); }

static void finalize(dx_comm *c) {
  mpi_impl *m = impl(c);
  if (!m) return;
  MPI_Comm_free(&m->comm);
  free(m->tmp);
  free(m);
  MPI_Finalize();
}

static const dx_comm_ops mpi_ops = {"mpi",   allreduce_sum, bcast,   allgather,
                                    barrier, abort_mpi,     finalize};

dx_status dx_comm_mpi_create(dx_comm **out, char *err, size_t errlen) {
  *out = NULL;
  int provided, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS)
    return snprintf(err, errlen, "MPI_Init_thread failed (error %d)", rc), DX_ERR_IO;
  dx_comm *c = calloc(1, sizeof *c);
  mpi_impl *m = calloc(1, sizeof *m);
  if (!c || !m) {
    free(c), free(m);
    MPI_Finalize();
    return snprintf(err, errlen, "out of memory creating the communicator"), DX_ERR_NOMEM;
  }
  /* A communicator of our own, so that its error handler does not change
   * MPI_COMM_WORLD's for anything else in the process. */
  MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
  MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(m->comm, &c->rank);
  MPI_Comm_size(m->comm, &c->size);
  c->ops = &mpi_ops;
  c->impl = m;
  pthread_mutex_init(&c->label_lock, NULL);
  dx_status st = dx_comm_gather_peers(c);
  if (st != DX_OK) {
    snprintf(err, errlen, "%s", c->err);
    dx_comm_free(c);
    return st;
  }
  *out = c;
  return DX_OK;
}
