/* Counter-based random numbers shared by every backend: Philox-4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 *
 * Element i of a draw keyed by (seed, offset) depends only on
 * (seed, offset + i), so the value does not depend on the thread count or
 * the device. This header is the one source of the round function and of
 * the mapping to uniform and normal numbers: the CPU backend includes it as
 * C, the CUDA backend as C++ under nvcc, where every function becomes
 * __host__ __device__, so the two cannot drift apart. */
#ifndef DX_PHILOX_H
#define DX_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define DX_PHILOX_FN __host__ __device__ static inline
#else
#include <math.h>
#define DX_PHILOX_FN static inline
#endif

#define DX_PHILOX_M0 0xD2511F53u
#define DX_PHILOX_M1 0xCD9E8D57u
#define DX_PHILOX_W0 0x9E3779B9u /* the golden ratio */
#define DX_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */
#define DX_PHILOX_TWO_PI 6.283185307179586476925286766559

/* Ten rounds over the counter c (4 words) with key (k0, k1), in place. */
DX_PHILOX_FN void dx_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)DX_PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)DX_PHILOX_M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = (uint32_t)p1;
    c[2] = n2;
    c[3] = (uint32_t)p0;
    k0 += DX_PHILOX_W0;
    k1 += DX_PHILOX_W1;
  }
}

/* The four words of element `index` of the stream keyed by seed. */
DX_PHILOX_FN void dx_philox_block(uint64_t seed, uint64_t index, uint32_t out[4]) {
  out[0] = (uint32_t)index;
  out[1] = (uint32_t)(index >> 32);
  out[2] = 0;
  out[3] = 0;
  dx_philox4x32_10(out, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* 53 bits from two words -> [0, 1) */
DX_PHILOX_FN double dx_philox_unit(uint32_t hi, uint32_t lo) {
  return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0); /* 2^-53 */
}

/* Uniform in [0, 1) with 53 random bits. */
DX_PHILOX_FN double dx_philox_uniform(uint64_t seed, uint64_t index) {
  uint32_t r[4];
  dx_philox_block(seed, index, r);
  return dx_philox_unit(r[0], r[1]);
}

/* Standard normal by Box-Muller on two independent uniforms of one block;
 * 1 - u keeps the log finite. */
DX_PHILOX_FN double dx_philox_normal(uint64_t seed, uint64_t index) {
  uint32_t r[4];
  dx_philox_block(seed, index, r);
  double u1 = 1.0 - dx_philox_unit(r[0], r[1]);
  double u2 = dx_philox_unit(r[2], r[3]);
  return sqrt(-2.0 * log(u1)) * cos(DX_PHILOX_TWO_PI * u2);
}

#endif
