/* CUDA kernels: sums over axes and their adjoint, the broadcast-accumulate.
 * The sum writes each element of y from one thread (short folds) or one block
 * (long ones) summing in double in a fixed order, as the CPU backend does. */
#include "backend/cuda/broadcast.cuh"

/* Operand 0 is x (full), operand 1 is y (stretched): y[j] = scale * sum. */
template <typename T>
__global__ void sum_serial(dx_cuda_bcast g, int64_t count, int64_t fold, const void *xv, void *yv,
                           double scale) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  DX_CUDA_FOR(j, count) {
    double s = 0;
    for (int64_t r = 0; r < fold; r++) {
      int64_t off[3];
      dx_cuda_bcast_fold(g, 1, j, r, off);
      s += (double)x[off[0]];
    }
    y[j] = (T)(scale * s);
  }
}

template <typename T>
__global__ void sum_block(dx_cuda_bcast g, int64_t count, int64_t fold, const void *xv, void *yv,
                          double scale) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  for (int64_t j = blockIdx.x; j < count; j += gridDim.x) {
    double s = 0;
    for (int64_t r = threadIdx.x; r < fold; r += blockDim.x) {
      int64_t off[3];
      dx_cuda_bcast_fold(g, 1, j, r, off);
      s += (double)x[off[0]];
    }
    s = dx_cuda_block_sum(s);
    if (threadIdx.x == 0) y[j] = (T)(scale * s);
  }
}

/* x (any), y (x's rank, reduced dims of size 1): y = scale * sum over them */
static void cuda_reduce_sum(dx_backend *be, const dx_tensor *x, dx_tensor *y, double scale) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_bcast g = dx_cuda_bcast_of(x, y, NULL);
  int64_t count = dx_cuda_bcast_count(g, 1), fold = count ? g.numel / count : 0;
  if (count == 0) return;
  if (fold <= DX_CUDA_FOLD_SERIAL) {
    DX_CUDA_LAUNCH_T(be, x->dtype, count, sum_serial, g, count, fold, x->data, y->data, scale);
    return;
  }
  unsigned blocks = (unsigned)(count < 65535 ? count : 65535);
  if (x->dtype == DX_F32)
    sum_block<float>
        <<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(g, count, fold, x->data, y->data, scale);
  else
    sum_block<double>
        <<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(g, count, fold, x->data, y->data, scale);
  dx_cuda_launched(be, "sum_block");
}

/* Operand 0 is dx (full), operand 1 is dy (stretched): dx += scale * dy. */
template <typename T>
__global__ void bcast_acc_kernel(dx_cuda_bcast g, const void *dyv, void *dxv, double scale) {
  const T *dy = (const T *)dyv;
  T *dx = (T *)dxv, s = (T)scale;
  DX_CUDA_FOR(i, g.numel) {
    int64_t off[3];
    dx_cuda_bcast_at(g, i, off);
    dx[i] += s * dy[off[1]];
  }
}

/* dy (dx's rank, stretched dims of size 1), dx (any): dx += scale * dy */
static void cuda_broadcast_acc(dx_backend *be, const dx_tensor *dy, dx_tensor *dx, double scale) {
  dx_cuda_bcast g = dx_cuda_bcast_of(dx, dy, NULL);
  DX_CUDA_LAUNCH_T(be, dx->dtype, g.numel, bcast_acc_kernel, g, dy->data, dx->data, scale);
}

void dx_cuda_init_reduce(dx_backend *be) {
  be->reduce_sum = cuda_reduce_sum;
  be->broadcast_acc = cuda_broadcast_acc;
}
