/* CUDA kernels for the optimiser: fused Adam, sum of squares (for gradient
 * clipping), in-place scaling and the EMA's lerp. */
#include "backend/cuda/cuda.h"

/* p, g, m, v (n): one Adam/AdamW step with the bias corrections folded into
 * step_size and eps_hat (Kingma & Ba 2015, Algorithm 1; see dx_adam_args).
 * The square root and the update are in double, as the CPU backend's loop
 * (optim_typed.inc) has them, so that float32 steps round alike. */
template <typename T>
__global__ void adam_kernel(void *pv, const void *gv, void *mv, void *vv, int64_t n, T b1, T b2,
                            T ss, T eh, T dec, T l2) {
  T *p = (T *)pv, *m = (T *)mv, *v = (T *)vv;
  const T *g = (const T *)gv;
  DX_CUDA_FOR(i, n) {
    T gi = g[i] + l2 * p[i];
    T mi = b1 * m[i] + (1 - b1) * gi;
    T vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= dec * p[i] + ss * mi / (sqrt((double)vi) + eh);
  }
}

static void cuda_adam(dx_backend *be, dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v,
                      const dx_adam_args *a) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = dx_cuda_numel(p);
  if (n == 0) return;
  unsigned blocks = dx_cuda_blocks(c, n);
  if (p->dtype == DX_F32)
    adam_kernel<float><<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(
        p->data, g->data, m->data, v->data, n, (float)a->beta1, (float)a->beta2,
        (float)a->step_size, (float)a->eps_hat, (float)a->decay, (float)a->l2);
  else
    adam_kernel<double><<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(
        p->data, g->data, m->data, v->data, n, a->beta1, a->beta2, a->step_size, a->eps_hat,
        a->decay, a->l2);
  dx_cuda_launched(be, "adam_kernel");
}

/* Partial sums of squares: block b sums a fixed grid-stride share in double.
 * The number of blocks is fixed (SUMSQ_BLOCKS), and the second pass adds the
 * partials in block order, so the result is the same on every run. */
#define SUMSQ_BLOCKS DX_CUDA_SUM_SLOTS
template <typename T> __global__ void sumsq_partial(const void *xv, int64_t n, double *part) {
  const T *x = (const T *)xv;
  double s = 0;
  DX_CUDA_FOR(i, n) s += (double)x[i] * (double)x[i];
  s = dx_cuda_block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

/* acc[0] += the partials, in order */
__global__ void sumsq_final(const double *part, int count, double *acc) {
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x)
    s += part[i];
  s = dx_cuda_block_sum(s);
  if (threadIdx.x == 0) acc[0] += s;
}

/* acc (1, float64) += sum of t^2, in double; stays on the device, so a
 * gradient norm over every parameter reads back once. */
static void cuda_sum_squares(dx_backend *be, const dx_tensor *t, dx_tensor *acc) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = dx_cuda_numel(t);
  if (n == 0) return;
  if (t->dtype == DX_F32)
    sumsq_partial<float><<<SUMSQ_BLOCKS, DX_CUDA_THREADS, 0, c->stream>>>(t->data, n, c->d_sum);
  else
    sumsq_partial<double><<<SUMSQ_BLOCKS, DX_CUDA_THREADS, 0, c->stream>>>(t->data, n, c->d_sum);
  dx_cuda_launched(be, "sumsq_partial");
  sumsq_final<<<1, DX_CUDA_THREADS, 0, c->stream>>>(c->d_sum, SUMSQ_BLOCKS, (double *)acc->data);
  dx_cuda_launched(be, "sumsq_final");
}

template <typename T> __global__ void scale_kernel(void *yv, int64_t n, double s) {
  T *y = (T *)yv, f = (T)s;
  DX_CUDA_FOR(i, n) y[i] *= f;
}

/* t (n) *= s */
static void cuda_scale_inplace(dx_backend *be, dx_tensor *t, double s) {
  int64_t n = dx_cuda_numel(t);
  DX_CUDA_LAUNCH_T(be, t->dtype, n, scale_kernel, t->data, n, s);
}

template <typename T> __global__ void lerp_kernel(void *yv, const void *xv, int64_t n, double w) {
  T *y = (T *)yv, f = (T)w;
  const T *x = (const T *)xv;
  DX_CUDA_FOR(i, n) y[i] += f * (x[i] - y[i]);
}

/* y (n) += w * (x (n) - y) */
static void cuda_lerp(dx_backend *be, dx_tensor *y, const dx_tensor *x, double w) {
  int64_t n = dx_cuda_numel(y);
  DX_CUDA_LAUNCH_T(be, y->dtype, n, lerp_kernel, y->data, x->data, n, w);
}

void dx_cuda_init_optim(dx_backend *be) {
  be->adam = cuda_adam;
  be->sum_squares = cuda_sum_squares;
  be->scale_inplace = cuda_scale_inplace;
  be->lerp = cuda_lerp;
}
