/* Counter-based random numbers: Philox-4x32-10 (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011). Element i of a draw keyed by
 * (seed, offset) depends only on (seed, offset + i), so results do not depend
 * on the thread count and a CUDA kernel can reproduce them exactly. */
#include <math.h>

#include "backend/cpu/cpu.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void dx_philox4x32(uint32_t c[4], const uint32_t key[2]) {
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = (uint32_t)p1;
    c[2] = n2;
    c[3] = (uint32_t)p0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
}

static void block(uint64_t seed, uint64_t index, uint32_t out[4]) {
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  out[0] = (uint32_t)index;
  out[1] = (uint32_t)(index >> 32);
  out[2] = 0;
  out[3] = 0;
  dx_philox4x32(out, key);
}

/* 53 bits from two words -> [0, 1) */
static double to_unit(uint32_t hi, uint32_t lo) {
  return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * 0x1.0p-53;
}

double dx_philox_uniform(uint64_t seed, uint64_t index) {
  uint32_t r[4];
  block(seed, index, r);
  return to_unit(r[0], r[1]);
}

/* Box-Muller on two independent uniforms; 1 - u keeps the log finite. */
double dx_philox_normal(uint64_t seed, uint64_t index) {
  uint32_t r[4];
  block(seed, index, r);
  double u1 = 1.0 - to_unit(r[0], r[1]);
  double u2 = to_unit(r[2], r[3]);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* t (n) <- draws of (seed, offset + i) */
static void cpu_rand(dx_tensor *t, dx_rand_dist dist, uint64_t seed, uint64_t offset) {
  int64_t n = dx_numel(t);
  bool f32 = t->dtype == DX_F32;
  DX_PAR_IF(n > 4096, "omp parallel for", for (int64_t i = 0; i < n; i++) {
    double v = dist == DX_RAND_NORMAL ? dx_philox_normal(seed, offset + (uint64_t)i)
                                      : dx_philox_uniform(seed, offset + (uint64_t)i);
    if (f32) ((float *)t->data)[i] = (float)v;
    else ((double *)t->data)[i] = v;
  });
}

/* mask (n) <- (u >= p) / (1 - p) */
static void cpu_dropout_mask(dx_tensor *mask, double p, uint64_t seed, uint64_t offset) {
  int64_t n = dx_numel(mask);
  double keep = 1.0 / (1.0 - p);
  bool f32 = mask->dtype == DX_F32;
  DX_PAR_IF(n > 4096, "omp parallel for", for (int64_t i = 0; i < n; i++) {
    double v = dx_philox_uniform(seed, offset + (uint64_t)i) >= p ? keep : 0.0;
    if (f32) ((float *)mask->data)[i] = (float)v;
    else ((double *)mask->data)[i] = v;
  });
}

void dx_cpu_init_random(dx_backend *be) {
  be->rand = cpu_rand;
  be->dropout_mask = cpu_dropout_mask;
}
