/* CUDA kernels: counter-based random draws, dropout masks and the sinusoidal
 * time embedding. The draws come from backend/philox.h, the header the CPU
 * backend compiles too, so both give the same numbers for the same
 * (seed, offset); the double-precision Box-Muller may differ from glibc's in
 * the last bit of a double, which float32 storage rounds away nearly always. */
#include "backend/cuda/cuda.h"
#include "backend/philox.h"

/* t (n) <- draws of (seed, offset + i) */
template <typename T>
__global__ void rand_kernel(void *yv, int64_t n, int normal, uint64_t seed, uint64_t offset) {
  T *y = (T *)yv;
  DX_CUDA_FOR(i, n) {
    uint64_t at = offset + (uint64_t)i;
    y[i] = (T)(normal ? dx_philox_normal(seed, at) : dx_philox_uniform(seed, at));
  }
}

static void cuda_rand(dx_backend *be, dx_tensor *t, dx_rand_dist dist, uint64_t seed,
                      uint64_t offset) {
  int64_t n = dx_cuda_numel(t);
  DX_CUDA_LAUNCH_T(be, t->dtype, n, rand_kernel, t->data, n, dist == DX_RAND_NORMAL ? 1 : 0, seed,
                   offset);
}

/* mask (n) <- (u >= p) / (1 - p), u the uniform draw of (seed, offset + i) */
template <typename T>
__global__ void dropout_kernel(void *mv, int64_t n, double p, uint64_t seed, uint64_t offset) {
  T *m = (T *)mv;
  double keep = 1.0 / (1.0 - p);
  DX_CUDA_FOR(i, n) m[i] = (T)(dx_philox_uniform(seed, offset + (uint64_t)i) >= p ? keep : 0.0);
}

static void cuda_dropout_mask(dx_backend *be, dx_tensor *mask, double p, uint64_t seed,
                              uint64_t offset) {
  int64_t n = dx_cuda_numel(mask);
  DX_CUDA_LAUNCH_T(be, mask->dtype, n, dropout_kernel, mask->data, n, p, seed, offset);
}

/* t (N), y (N, 2 half): y[n, k] = sin(t_n f_k), y[n, half + k] = cos(t_n f_k),
 * f_k = exp(-k ln(10000) / (half - 1)) (DESIGN 6), in double as on the CPU:
 * at t = 1000 a float32 product would be off by ~1e-4 rad. */
template <typename T>
__global__ void time_embedding_kernel(const void *tv, void *yv, int64_t n, int64_t half,
                                      double step) {
  const T *t = (const T *)tv;
  T *y = (T *)yv;
  DX_CUDA_FOR(i, n * half) {
    int64_t row = i / half, k = i % half;
    double e = (double)t[row] * exp(-(double)k * step), s, c;
    sincos(e, &s, &c);
    y[row * 2 * half + k] = (T)s;
    y[row * 2 * half + half + k] = (T)c;
  }
}

static void cuda_time_embedding(dx_backend *be, const dx_tensor *t, dx_tensor *y) {
  int64_t n = t->shape[0], half = y->shape[1] / 2;
  DX_CUDA_LAUNCH_T(be, y->dtype, n * half, time_embedding_kernel, t->data, y->data, n, half,
                   log(10000.0) / (double)(half - 1));
}

void dx_cuda_init_random(dx_backend *be) {
  be->rand = cuda_rand;
  be->dropout_mask = cuda_dropout_mask;
  be->time_embedding = cuda_time_embedding;
}
