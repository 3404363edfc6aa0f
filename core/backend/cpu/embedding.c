/* CPU kernel: the sinusoidal time embedding (Vaswani et al. 2017, sec. 3.5,
 * as used for the timestep in Ho et al. 2020, appendix B). */
#include <math.h>

#include "backend/cpu/cpu.h"

/* t (N), y (N, dim): y[n, k] = sin(t_n f_k), y[n, half + k] = cos(t_n f_k),
 * f_k = exp(-k ln(10000) / (half - 1)), half = dim / 2 (DESIGN 6). Computed
 * in double whatever the dtype: t reaches 1000, where a float32 product
 * t * f_k would already be off by ~1e-4 rad before the sine. */
static void cpu_time_embedding(const dx_tensor *t, dx_tensor *y) {
  int64_t n = t->shape[0], half = y->shape[1] / 2;
  double step = log(10000.0) / (double)(half - 1);
  bool f32 = y->dtype == DX_F32;
#pragma omp parallel for if (n * half > DX_CPU_PAR_MIN / 8)
  for (int64_t i = 0; i < n; i++) {
    double ti = f32 ? (double)((const float *)t->data)[i] : ((const double *)t->data)[i];
    for (int64_t k = 0; k < half; k++) {
      double e = ti * exp(-(double)k * step), s = sin(e), c = cos(e);
      int64_t at = i * 2 * half + k;
      if (f32) {
        ((float *)y->data)[at] = (float)s;
        ((float *)y->data)[at + half] = (float)c;
      } else {
        ((double *)y->data)[at] = s;
        ((double *)y->data)[at + half] = c;
      }
    }
  }
}

void dx_cpu_init_embedding(dx_backend *be) { be->time_embedding = cpu_time_embedding; }
