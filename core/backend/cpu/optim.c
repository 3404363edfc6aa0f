/* CPU kernels for the optimiser: fused Adam, squared norms, scaling, EMA. */
#include <math.h>

#include "backend/cpu/cpu.h"

#define DX_TYPED_FILE "backend/cpu/optim_typed.inc"
#include "backend/cpu/typed.h"

static void cpu_adam(dx_backend *be, dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v,
                     const dx_adam_args *a) {
  DX_TYPED(p->dtype, adam, p->data, g->data, m->data, v->data, dx_numel(p), a);
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
        part[k] = lo < hi ? DX_TYPED(t->dtype, sumsq_range, t->data, lo, hi) : 0.0;
      });
  for (int k = 0; k < SUMSQ_CHUNKS; k++)
    s += part[k];
  *(double *)acc->data += s;
}

static void cpu_scale_inplace(dx_backend *be, dx_tensor *t, double s) {
  DX_TYPED(t->dtype, scale, t->data, dx_numel(t), s);
}

static void cpu_lerp(dx_backend *be, dx_tensor *y, const dx_tensor *x, double w) {
  DX_TYPED(y->dtype, lerp, y->data, x->data, dx_numel(y), w);
}

void dx_cpu_init_optim(dx_backend *be) {
  be->adam = cpu_adam;
  be->sum_squares = cpu_sum_squares;
  be->scale_inplace = cpu_scale_inplace;
  be->lerp = cpu_lerp;
}
