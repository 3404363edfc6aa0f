/* CPU kernel: the sinusoidal time embedding (Vaswani et al. 2017, sec. 3.5,
 * as used for the timestep in Ho et al. 2020, appendix B). */
#include <math.h>

#include "backend/cpu/broadcast.h"

typedef struct emb_args {
  const dx_tensor *t;
  dx_tensor *y;
  int64_t half;
  double step; /* ln(10000) / (half - 1) */
} emb_args;

/* Row i of y: sin(t_i f_k) then cos(t_i f_k), in double whatever the dtype:
 * t reaches 1000, where a float32 product t * f_k would already be off by
 * ~1e-4 rad before the sine. */
static void emb_row(const void *p, int64_t i) {
  const emb_args *a = p;
  double ti = dx_cpu_load(a->t->dtype, a->t->data, i);
  for (int64_t k = 0; k < a->half; k++) {
    double e = ti * exp(-(double)k * a->step), s = sin(e), c = cos(e);
    int64_t at = i * 2 * a->half + k;
    dx_cpu_store(a->y->dtype, a->y->data, at, s);
    dx_cpu_store(a->y->dtype, a->y->data, at + a->half, c);
  }
}

/* t (N), y (N, dim): y[n, k] = sin(t_n f_k), y[n, half + k] = cos(t_n f_k),
 * f_k = exp(-k ln(10000) / (half - 1)), half = dim / 2 (DESIGN 6). */
static void cpu_time_embedding(dx_backend *be, const dx_tensor *t, dx_tensor *y) {
  int64_t n = t->shape[0], half = y->shape[1] / 2;
  emb_args a = {t, y, half, log(10000.0) / (double)(half - 1)};
  /* a sine costs some 20 flops: parallel from a few thousand of them */
  dx_cpu_for(n, n * half > DX_CPU_PAR_MIN / 8, emb_row, &a);
}

void dx_cpu_init_embedding(dx_backend *be) { be->time_embedding = cpu_time_embedding; }
