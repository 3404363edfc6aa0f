/* Private to the CUDA backend: NumPy broadcasting geometry for the
 * element-wise and reduction kernels (elementwise.cu, reduce.cu).
 *
 * Three operands, padded to 4 dims: operand 0 has the full shape, 1 and 2
 * stretch to it (stride 0 along a stretched dim). A kernel that writes a
 * stretched operand owns each of its elements in one thread or one block and
 * sums what maps onto it there, in a fixed order: no atomics, the same bits
 * on every run. The index functions are host functions too, so that
 * tests/test_cuda_geometry.cu checks them against NumPy's rule without a GPU. */
#ifndef DX_CUDA_BROADCAST_CUH
#define DX_CUDA_BROADCAST_CUH

#include "backend/cuda/cuda.h"

typedef struct dx_cuda_bcast {
  int64_t size[4];  /* full shape */
  int64_t st[3][4]; /* element strides of each operand; 0 where stretched */
  int64_t numel;    /* of the full shape */
} dx_cuda_bcast;

/* t's shape right-aligned into 4 dims; NULL is all ones. */
static inline void dx_cuda_padded(const dx_tensor *t, int64_t out[4]) {
  int lead = t ? 4 - t->ndim : 4;
  for (int d = 0; d < 4; d++)
    out[d] = d < lead ? 1 : t->shape[d - lead];
}

static inline dx_cuda_bcast dx_cuda_bcast_of(const dx_tensor *full, const dx_tensor *x1,
                                             const dx_tensor *x2) {
  dx_cuda_bcast g;
  const dx_tensor *ops[3] = {full, x1, x2};
  dx_cuda_padded(full, g.size);
  g.numel = 1;
  for (int d = 0; d < 4; d++)
    g.numel *= g.size[d];
  for (int k = 0; k < 3; k++) {
    int64_t shape[4], s = 1;
    dx_cuda_padded(ops[k], shape);
    for (int d = 3; d >= 0; d--) {
      g.st[k][d] = shape[d] == 1 && g.size[d] != 1 ? 0 : s;
      s *= shape[d];
    }
  }
  return g;
}

/* Offsets of every operand at full index i. */
static __host__ __device__ inline void dx_cuda_bcast_at(const dx_cuda_bcast &g, int64_t i,
                                                        int64_t off[3]) {
  off[0] = off[1] = off[2] = 0;
  for (int d = 3; d >= 0; d--) {
    int64_t c = i % g.size[d];
    i /= g.size[d];
    for (int k = 0; k < 3; k++)
      off[k] += c * g.st[k][d];
  }
}

/* Offsets of every operand at the r-th point that maps onto element j of
 * operand k (a stretched one): j walks k's own dims, r the dims along which
 * k is stretched. */
static __host__ __device__ inline void dx_cuda_bcast_fold(const dx_cuda_bcast &g, int k, int64_t j,
                                                          int64_t r, int64_t off[3]) {
  off[0] = off[1] = off[2] = 0;
  for (int d = 3; d >= 0; d--) {
    int64_t c;
    if (g.st[k][d] != 0 || g.size[d] == 1) {
      c = j % g.size[d];
      j /= g.size[d];
    } else {
      c = r % g.size[d];
      r /= g.size[d];
    }
    for (int o = 0; o < 3; o++)
      off[o] += c * g.st[o][d];
  }
}

/* Elements of operand k, and how many full elements fold onto each. */
static inline int64_t dx_cuda_bcast_count(const dx_cuda_bcast &g, int k) {
  int64_t n = 1;
  for (int d = 0; d < 4; d++)
    if (g.st[k][d] != 0) n *= g.size[d];
  return n;
}

/* Fold lengths up to this are summed by one thread per element; longer ones
 * by a block per element. */
#define DX_CUDA_FOLD_SERIAL 64

#endif
