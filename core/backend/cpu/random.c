/* CPU kernels: counter-based random draws and dropout masks. The generator
 * itself (Philox-4x32-10) is in backend/philox.h, shared with the CUDA
 * backend so that both produce the same numbers for the same (seed, offset). */
#include "backend/cpu/cpu.h"
#include "backend/philox.h"

/* t (n) <- draws of (seed, offset + i) */
static void cpu_rand(dx_backend *be, dx_tensor *t, dx_rand_dist dist, uint64_t seed,
                     uint64_t offset) {
  int64_t n = dx_numel(t);
  DX_PAR_IF(
      n > 4096, "omp parallel for", for (int64_t i = 0; i < n; i++) {
        double v = dist == DX_RAND_NORMAL ? dx_philox_normal(seed, offset + (uint64_t)i)
                                          : dx_philox_uniform(seed, offset + (uint64_t)i);
        dx_cpu_store(t->dtype, t->data, i, v);
      });
}

/* mask (n) <- (u >= p) / (1 - p) */
static void cpu_dropout_mask(dx_backend *be, dx_tensor *mask, double p, uint64_t seed,
                             uint64_t offset) {
  int64_t n = dx_numel(mask);
  double keep = 1.0 / (1.0 - p);
  DX_PAR_IF(
      n > 4096, "omp parallel for", for (int64_t i = 0; i < n; i++) {
        double v = dx_philox_uniform(seed, offset + (uint64_t)i) >= p ? keep : 0.0;
        dx_cpu_store(mask->dtype, mask->data, i, v);
      });
}

void dx_cpu_init_random(dx_backend *be) {
  be->rand = cpu_rand;
  be->dropout_mask = cpu_dropout_mask;
}
