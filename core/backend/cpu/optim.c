/* CPU kernels for the optimiser: fused Adam, squared norms, scaling, EMA. */
#include <math.h>

#include "backend/cpu/cpu.h"

/* p, g, m, v (n), one dtype. The bias corrections arrive folded into
 * step_size and eps_hat, the form of Kingma & Ba's Algorithm 1 that saves
 * two divisions per element. */
#define ADAM_LOOP(T)                                                                               \
  do {                                                                                             \
    T *restrict pd = p->data, *restrict md = m->data, *restrict vd = v->data;                      \
    const T *restrict gd = g->data;                                                                \
    const T b1 = (T)a->beta1, b2 = (T)a->beta2, ss = (T)a->step_size, eh = (T)a->eps_hat;          \
    const T dec = (T)a->decay, l2 = (T)a->l2;                                                      \
    DX_PAR_IF(                                                                                     \
        n > DX_CPU_PAR_MIN, "omp parallel for simd", for (int64_t i = 0; i < n; i++) {             \
          T gi = gd[i] + l2 * pd[i];                                                               \
          md[i] = b1 * md[i] + (1 - b1) * gi;                                                      \
          vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;                                                 \
          pd[i] -= dec * pd[i] + ss * md[i] / (sqrt(vd[i]) + eh);                                  \
        });                                                                                        \
  } while (0)

static void cpu_adam(dx_backend *be, dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v,
                     const dx_adam_args *a) {
  int64_t n = dx_numel(p);
  if (p->dtype == DX_F32)
    ADAM_LOOP(float);
  else
    ADAM_LOOP(double);
}

/* Sum of squares of x[lo, hi) in double. */
static double sumsq_range(const dx_tensor *t, int64_t lo, int64_t hi) {
  double s = 0;
  if (t->dtype == DX_F32) {
    const float *d = t->data;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; i++)
      s += (double)d[i] * d[i];
  } else {
    const double *d = t->data;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; i++)
      s += d[i] * d[i];
  }
  return s;
}

/* acc (1, float64) += sum t (n)^2, in double. Fixed chunks added in a fixed order: an OpenMP
 * reduction would combine the threads' partial sums in the order they finish,
 * and the gradient norm (hence clipping) would change from run to run. */
#define SUMSQ_CHUNKS 64
static void cpu_sum_squares(dx_backend *be, const dx_tensor *t, dx_tensor *acc) {
  int64_t n = dx_numel(t), per = (n + SUMSQ_CHUNKS - 1) / SUMSQ_CHUNKS;
  double part[SUMSQ_CHUNKS] = {0}, s = 0;
  DX_PAR_IF(
      n > DX_CPU_PAR_MIN, "omp parallel for", for (int k = 0; k < SUMSQ_CHUNKS; k++) {
        int64_t lo = k * per, hi = lo + per < n ? lo + per : n;
        part[k] = lo < hi ? sumsq_range(t, lo, hi) : 0.0;
      });
  for (int k = 0; k < SUMSQ_CHUNKS; k++)
    s += part[k];
  *(double *)acc->data += s;
}

/* t (n) *= s */
static void cpu_scale_inplace(dx_backend *be, dx_tensor *t, double s) {
  int64_t n = dx_numel(t);
  if (t->dtype == DX_F32) {
    float *d = t->data, f = (float)s;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for simd",
              for (int64_t i = 0; i < n; i++) d[i] *= f;);
  } else {
    double *d = t->data;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for simd",
              for (int64_t i = 0; i < n; i++) d[i] *= s;);
  }
}

/* y (n) += w * (x (n) - y) */
static void cpu_lerp(dx_backend *be, dx_tensor *y, const dx_tensor *x, double w) {
  int64_t n = dx_numel(y);
  if (y->dtype == DX_F32) {
    float *yd = y->data, f = (float)w;
    const float *xd = x->data;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for simd",
              for (int64_t i = 0; i < n; i++) yd[i] += f * (xd[i] - yd[i]););
  } else {
    double *yd = y->data;
    const double *xd = x->data;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for simd",
              for (int64_t i = 0; i < n; i++) yd[i] += w * (xd[i] - yd[i]););
  }
}

void dx_cpu_init_optim(dx_backend *be) {
  be->adam = cpu_adam;
  be->sum_squares = cpu_sum_squares;
  be->scale_inplace = cpu_scale_inplace;
  be->lerp = cpu_lerp;
}
