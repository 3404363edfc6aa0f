/* Runs on every rank of `mpirun -np N comm_probe OUT`: exercises each
 * collective of the communicator and writes what this rank received to
 * OUT.<rank>, for test_mpi.c to compare with sums it computes itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char err[DX_ERRMSG_MAX];
  dx_comm *c;
  if (dx_comm_world(&c, err, sizeof err) != DX_OK) {
    fprintf(stderr, "comm_probe: %s\n", err);
    return 1;
  }
  int rank = dx_comm_rank(c), size = dx_comm_size(c);
  char path[4096];
  snprintf(path, sizeof path, "%s.%d", argv[1], rank);
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  fprintf(f, "rank %d size %d name %s hosts %s\n", rank, size, dx_comm_name(c), dx_comm_hosts(c));
  /* A length that is no multiple of the world size: the padding path. */
  enum { N = 1001 };
  float *x = malloc(N * sizeof *x);
  for (int i = 0; i < N; i++)
    x[i] = (float)sin(0.1 * i + rank) * (float)(1 + rank);
  dx_status st = dx_comm_allreduce_sum(c, x, N, DX_COMM_F32);
  for (int i = 0; i < N && st == DX_OK; i++)
    fprintf(f, "f32 %d %a\n", i, x[i]);
  double d[3] = {rank + 0.5, 0.25 * rank, -(double)rank};
  if (st == DX_OK) st = dx_comm_allreduce_sum(c, d, 3, DX_COMM_F64);
  if (st == DX_OK) fprintf(f, "f64 %a %a %a\n", d[0], d[1], d[2]);
  char msg[32] = "";
  if (rank == size - 1) snprintf(msg, sizeof msg, "from %d", rank);
  if (st == DX_OK) st = dx_comm_bcast(c, msg, sizeof msg, size - 1);
  if (st == DX_OK) fprintf(f, "bcast %s\n", msg);
  int mine = 10 * rank + 7, *all = calloc((size_t)size, sizeof *all);
  if (st == DX_OK) st = dx_comm_allgather(c, &mine, sizeof mine, all);
  for (int r = 0; r < size && st == DX_OK; r++)
    fprintf(f, "gather %d %d\n", r, all[r]);
  if (st == DX_OK) st = dx_comm_barrier(c);
  if (st != DX_OK)
    fprintf(f, "error %s\n", dx_comm_error(c));
  else
    fprintf(f, "done\n");
  fclose(f);
  free(x), free(all);
  dx_comm_free(c);
  return st == DX_OK ? 0 : 1;
}
