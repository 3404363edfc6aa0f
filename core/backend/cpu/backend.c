/* The CPU backend: assembles the kernel table from the families. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

/* OpenBLAS's own knob; declared here so that only this file depends on it. */
void openblas_set_num_threads(int num_threads);

static void cpu_set_threads(dx_backend *be, int threads) {
  (void)be;
  /* We link OpenBLAS's OpenMP build: one libgomp team serves both our loops
   * and BLAS. Inside our parallel regions OpenBLAS runs single-threaded, so
   * the two never oversubscribe the cores. */
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

/* Every kernel has finished when it returns: nothing can fail later. */
static dx_status cpu_synchronize(dx_backend *be, char *err, size_t errlen) {
  (void)be, (void)err, (void)errlen;
  return DX_OK;
}

/* The table and what the CPU kernels keep between calls. be->impl stays
 * free for a module that wraps this backend (tests/modules/fake_cuda.c). */
typedef struct cpu_backend {
  dx_backend be; /* first: a dx_backend * is a cpu_backend * */
  struct dx_cpu_filter_cache *filters;
} cpu_backend;

struct dx_cpu_filter_cache **dx_cpu_filters(dx_backend *be) {
  return &((cpu_backend *)be)->filters;
}

static void cpu_destroy(dx_backend *be) {
  dx_cpu_filter_cache_free(be);
  free(be);
}

dx_backend *dx_cpu_backend_create(void) {
  cpu_backend *cb = calloc(1, sizeof *cb);
  if (!cb) return NULL;
  dx_backend *be = &cb->be;
  be->abi = DX_BACKEND_ABI;
  be->name = "cpu";
  be->kind = DX_DEVICE_CPU;
  snprintf(be->device_name, sizeof be->device_name, "cpu");
  be->destroy = cpu_destroy;
  be->synchronize = cpu_synchronize;
  be->set_threads = cpu_set_threads;
  dx_cpu_init_memory(be);
  dx_cpu_init_random(be);
  dx_cpu_init_gemm(be);
  dx_cpu_init_conv(be);
  dx_cpu_init_elementwise(be);
  dx_cpu_init_reduce(be);
  dx_cpu_init_norm(be);
  dx_cpu_init_movement(be);
  dx_cpu_init_embedding(be);
  dx_cpu_init_optim(be);
  return be;
}
