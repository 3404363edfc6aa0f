/* CUDA kernels: data movement (permute, channel copies, pixel (un)shuffle,
 * nearest upsampling). A thread per written element: each is written once,
 * so the accumulating (backward) forms need no atomics. */
#include "backend/cuda/cuda.h"

/* Accumulates or copies one element. */
template <typename T> __device__ inline void put(T *d, T v, bool acc) {
  if (acc)
    *d += v;
  else
    *d = v;
}

/* --- permute ------------------------------------------------------------------------ */

typedef struct perm_geo {
  int64_t yshape[4]; /* padded to 4 dims */
  int64_t xst[4];    /* x's element stride along each of y's dims */
  int64_t numel;
} perm_geo;

template <typename T>
__global__ void permute_kernel(perm_geo g, const void *xv, void *yv, bool acc) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  DX_CUDA_FOR(i, g.numel) {
    int64_t rem = i, src = 0;
    for (int d = 3; d >= 0; d--) {
      src += rem % g.yshape[d] * g.xst[d];
      rem /= g.yshape[d];
    }
    put(&y[i], x[src], acc);
  }
}

/* x (X0..X3) -> y with y.shape[k] = x.shape[perm[k]]; lower ranks are padded
 * with leading ones. */
static void cuda_permute(dx_backend *be, const dx_tensor *x, dx_tensor *y, const int *perm,
                         bool acc) {
  perm_geo g;
  int lead = 4 - x->ndim;
  int64_t xshape[4], xstride[4];
  for (int k = 0; k < 4; k++)
    xshape[k] = k < lead ? 1 : x->shape[k - lead];
  xstride[3] = 1;
  for (int k = 2; k >= 0; k--)
    xstride[k] = xstride[k + 1] * xshape[k + 1];
  g.numel = 1;
  for (int k = 0; k < 4; k++) {
    int p = k < lead ? k : lead + perm[k - lead];
    g.yshape[k] = xshape[p];
    g.xst[k] = xstride[p];
    g.numel *= g.yshape[k];
  }
  DX_CUDA_LAUNCH_T(be, x->dtype, g.numel, permute_kernel, g, x->data, y->data, acc);
}

/* --- channel copies ------------------------------------------------------------------ */

/* src (N, Cs, S), dst (N, Cd, S): dst[:, d0 + c] (+)= src[:, s0 + c], c < nc */
template <typename T>
__global__ void copy_channels_kernel(const void *sv, int64_t cs, int64_t s0, void *dv, int64_t cd,
                                     int64_t d0, int64_t nc, int64_t s, int64_t n, bool acc) {
  const T *src = (const T *)sv;
  T *dst = (T *)dv;
  DX_CUDA_FOR(i, n * nc * s) {
    int64_t p = i % s, c = i / s % nc, b = i / (s * nc);
    put(&dst[(b * cd + d0 + c) * s + p], src[(b * cs + s0 + c) * s + p], acc);
  }
}

static int64_t spatial(const dx_tensor *t) {
  int64_t s = 1;
  for (int d = 2; d < t->ndim; d++)
    s *= t->shape[d];
  return s;
}

static void cuda_copy_channels(dx_backend *be, const dx_tensor *src, int64_t s0, dx_tensor *dst,
                               int64_t d0, int64_t nc, bool acc) {
  int64_t n = src->shape[0], s = spatial(src);
  DX_CUDA_LAUNCH_T(be, src->dtype, n * nc * s, copy_channels_kernel, src->data, src->shape[1], s0,
                   dst->data, dst->shape[1], d0, nc, s, n, acc);
}

/* --- pixel (un)shuffle --------------------------------------------------------------- */

/* big (N, C, hs r, ws r) <-> small (N, C r^2, hs, ws):
 * big (c, h r + i, w r + j) is small (c r^2 + i r + j, h, w), torch's order.
 * A thread per big element; unshuffle writes small, shuffle writes big. */
template <typename T>
__global__ void pixel_shuffle_kernel(const void *xv, void *yv, int64_t planes, int64_t hs,
                                     int64_t ws, int r, bool unshuffle, bool acc) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  int64_t wb = ws * r, hb = hs * r;
  DX_CUDA_FOR(bi, planes * hb * wb) {
    int64_t wcol = bi % wb, row = bi / wb % hb, plane = bi / (wb * hb);
    int64_t h = row / r, i = row % r, w = wcol / r, j = wcol % r;
    int64_t si = ((plane * r * r + i * r + j) * hs + h) * ws + w;
    if (unshuffle)
      put(&y[si], x[bi], acc);
    else
      put(&y[bi], x[si], acc);
  }
}

/* unshuffle: x (N, C, H, W) -> y (N, C r^2, H/r, W/r); shuffle: the inverse */
static void cuda_pixel_shuffle(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r,
                               bool unshuffle, bool acc) {
  const dx_tensor *big = unshuffle ? x : y;
  int64_t planes = big->shape[0] * big->shape[1], hs = big->shape[2] / r, ws = big->shape[3] / r;
  DX_CUDA_LAUNCH_T(be, x->dtype, planes * hs * ws * r * r, pixel_shuffle_kernel, x->data, y->data,
                   planes, hs, ws, r, unshuffle, acc);
}

/* --- nearest upsampling -------------------------------------------------------------- */

/* x (P, H, W) -> y (P, H r, W r): y (h, w) = x (h / r, w / r) */
template <typename T>
__global__ void upsample_kernel(const void *xv, void *yv, int64_t planes, int64_t h, int64_t w,
                                int r) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  int64_t wb = w * r, hb = h * r;
  DX_CUDA_FOR(i, planes * hb * wb) {
    int64_t col = i % wb, row = i / wb % hb, p = i / (wb * hb);
    y[i] = x[(p * h + row / r) * w + col / r];
  }
}

static void cuda_upsample_nearest(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r) {
  int64_t planes = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
  DX_CUDA_LAUNCH_T(be, x->dtype, planes * h * w * r * r, upsample_kernel, x->data, y->data, planes,
                   h, w, r);
}

/* dx (P, H, W) += the sums of dy (P, H r, W r) over the r x r blocks */
template <typename T>
__global__ void upsample_bwd_kernel(const void *dyv, void *dxv, int64_t planes, int64_t h,
                                    int64_t w, int r) {
  const T *dy = (const T *)dyv;
  T *dx = (T *)dxv;
  int64_t wb = w * r;
  DX_CUDA_FOR(i, planes * h * w) {
    int64_t col = i % w, row = i / w % h, p = i / (w * h);
    const T *blk = dy + ((p * h + row) * r) * wb + col * r;
    T s = 0;
    for (int a = 0; a < r; a++)
      for (int b = 0; b < r; b++)
        s += blk[a * wb + b];
    dx[i] += s;
  }
}

static void cuda_upsample_nearest_bwd(dx_backend *be, const dx_tensor *dy, dx_tensor *dx, int r) {
  int64_t planes = dx->shape[0] * dx->shape[1], h = dx->shape[2], w = dx->shape[3];
  DX_CUDA_LAUNCH_T(be, dx->dtype, planes * h * w, upsample_bwd_kernel, dy->data, dx->data, planes,
                   h, w, r);
}

void dx_cuda_init_movement(dx_backend *be) {
  be->permute = cuda_permute;
  be->copy_channels = cuda_copy_channels;
  be->pixel_shuffle = cuda_pixel_shuffle;
  be->upsample_nearest = cuda_upsample_nearest;
  be->upsample_nearest_bwd = cuda_upsample_nearest_bwd;
}
