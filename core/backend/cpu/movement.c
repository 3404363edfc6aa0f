/* CPU kernels: data movement (permute, channel copies, pixel (un)shuffle,
 * nearest upsampling). Every kernel is built from one strided loop, move(),
 * which copies or, for backward passes, accumulates. */
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu.h"

/* Side of the square tiles a transposing permute walks, so that the rows read
 * and the rows written both stay in L1 (32 x 32 doubles = 8 KiB). */
#define TILE 32

#define DEFINE_MOVE(T)                                                                           \
  static void move_##T(void *dv, int64_t ds, const void *sv, int64_t ss, int64_t n, bool acc) { \
    T *d = dv;                                                                                   \
    const T *s = sv;                                                                             \
    if (acc)                                                                                     \
      for (int64_t i = 0; i < n; i++) d[i * ds] += s[i * ss];                                    \
    else                                                                                         \
      for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];                                     \
  }
DEFINE_MOVE(float)
DEFINE_MOVE(double)

/* dst[i ds] (+)= src[i ss] for i < n, elements of type dt. */
static void move(dx_dtype dt, void *dst, int64_t ds, const void *src, int64_t ss, int64_t n,
                 bool acc) {
  if (!acc && ds == 1 && ss == 1) memcpy(dst, src, (size_t)n * dx_dtype_size(dt));
  else if (dt == DX_F32) move_float(dst, ds, src, ss, n, acc);
  else move_double(dst, ds, src, ss, n, acc);
}

/* Address of element i of t. */
static inline void *elem(const dx_tensor *t, int64_t i) {
  return (char *)t->data + i * (int64_t)dx_dtype_size(t->dtype);
}

static inline void *advance(const void *p, int64_t i, dx_dtype dt) {
  return (char *)p + i * (int64_t)dx_dtype_size(dt);
}

/* Product of the dims after the channel dim (1 for a 2-D tensor). */
static int64_t spatial(const dx_tensor *t) {
  int64_t s = 1;
  for (int d = 2; d < t->ndim; d++) s *= t->shape[d];
  return s;
}

/* --- permute ------------------------------------------------------------------------ */

/* y rows [r0, r0+nr) of a (rows, cols) plane (+)= x read with strides (sr, sc).
 * When y's columns are not contiguous in x (sc != 1: the attention transpose
 * (0,1,3,2) is this case), the plane is walked in TILE x TILE tiles. */
static void permute_rows(dx_dtype dt, void *y, int64_t cols, const void *x, int64_t sr,
                         int64_t sc, int64_t r0, int64_t nr, bool acc) {
  if (sc == 1 || nr == 1) {
    for (int64_t r = r0; r < r0 + nr; r++)
      move(dt, advance(y, r * cols, dt), 1, advance(x, r * sr, dt), sc, cols, acc);
    return;
  }
  for (int64_t c0 = 0; c0 < cols; c0 += TILE)
    for (int64_t c = c0; c < c0 + TILE && c < cols; c++)
      move(dt, advance(y, r0 * cols + c, dt), cols, advance(x, r0 * sr + c * sc, dt), sr, nr, acc);
}

/* x (X0..X3) -> y with y.shape[k] = x.shape[perm[k]]; lower ranks are padded
 * with leading ones. y is walked in (plane, block of TILE rows) tasks, a
 * plane being y's last two dims. */
static void permute(const dx_tensor *x, dx_tensor *y, const int *perm, bool acc) {
  int lead = 4 - x->ndim;
  int64_t xshape[4], xstride[4], yshape[4], st[4];
  for (int k = 0; k < 4; k++) xshape[k] = k < lead ? 1 : x->shape[k - lead];
  xstride[3] = 1;
  for (int k = 2; k >= 0; k--) xstride[k] = xstride[k + 1] * xshape[k + 1];
  for (int k = 0; k < 4; k++) {
    int p = k < lead ? k : lead + perm[k - lead];
    yshape[k] = xshape[p];
    st[k] = xstride[p];
  }
  int64_t rows = yshape[2], cols = yshape[3], blocks = (rows + TILE - 1) / TILE;
#pragma omp parallel for if (dx_numel(y) > DX_CPU_PAR_MIN)
  for (int64_t t = 0; t < yshape[0] * yshape[1] * blocks; t++) {
    int64_t plane = t / blocks, r0 = t % blocks * TILE, nr = rows - r0 < TILE ? rows - r0 : TILE;
    int64_t src = plane / yshape[1] * st[0] + plane % yshape[1] * st[1];
    permute_rows(y->dtype, elem(y, plane * rows * cols), cols, elem(x, src), st[2], st[3], r0,
                 nr, acc);
  }
}

/* --- channel copies --------------------------------------------------------------------- */

/* src (N, Cs, S...), dst (N, Cd, S...): dst[:, d0:d0+nc] (+)= src[:, s0:s0+nc]. */
static void copy_channels(const dx_tensor *src, int64_t s0, dx_tensor *dst, int64_t d0, int64_t nc,
                          bool acc) {
  int64_t n = src->shape[0], cs = src->shape[1], cd = dst->shape[1], s = spatial(src);
#pragma omp parallel for if (n * nc * s > DX_CPU_PAR_MIN)
  for (int64_t i = 0; i < n; i++)
    move(src->dtype, elem(dst, (i * cd + d0) * s), 1, elem(src, (i * cs + s0) * s), 1, nc * s, acc);
}

/* --- pixel (un)shuffle, nearest upsampling -------------------------------------------- */

/* big (N, C, H r, W r) <-> small (N, C r^2, H, W): big (c, h r + i, w r + j) is
 * small (c r^2 + i r + j, h, w), torch.nn.PixelUnshuffle's order. Unshuffle
 * moves big -> small (x big, y small); shuffle small -> big (x small, y big). */
static void pixel_shuffle(const dx_tensor *x, dx_tensor *y, int r, bool unshuffle, bool acc) {
  const dx_tensor *big = unshuffle ? x : y, *small = unshuffle ? y : x;
  int64_t hb = big->shape[2], wb = big->shape[3], hs = hb / r, ws = wb / r;
  dx_dtype dt = x->dtype;
#pragma omp parallel for if (dx_numel(x) > DX_CPU_PAR_MIN)
  for (int64_t row = 0; row < big->shape[0] * big->shape[1] * hb; row++) {
    int64_t plane = row / hb, h = row % hb / r, i = row % hb % r;
    for (int64_t j = 0; j < r; j++) {
      void *b = elem(big, row * wb + j), *s = elem(small, ((plane * r * r + i * r + j) * hs + h) * ws);
      if (unshuffle) move(dt, s, 1, b, r, ws, acc);
      else move(dt, b, r, s, 1, ws, acc);
    }
  }
}

/* x (N, C, H, W) -> y (N, C, H r, W r), y (h, w) = x (h / r, w / r): each
 * small row fills one big row, which is then copied r - 1 times. */
static void upsample_nearest(const dx_tensor *x, dx_tensor *y, int r) {
  int64_t w = x->shape[3], wb = w * r;
#pragma omp parallel for if (dx_numel(y) > DX_CPU_PAR_MIN)
  for (int64_t row = 0; row < x->shape[0] * x->shape[1] * x->shape[2]; row++) {
    void *first = elem(y, row * r * wb);
    for (int64_t j = 0; j < r; j++) move(y->dtype, advance(first, j, y->dtype), r, elem(x, row * w), 1, w, false);
    for (int64_t i = 1; i < r; i++) move(y->dtype, elem(y, (row * r + i) * wb), 1, first, 1, wb, false);
  }
}

/* dy (N, C, H r, W r), dx (N, C, H, W): dx (h, w) += the sum of dy over the
 * r x r block that (h, w) was copied to. */
static void upsample_nearest_bwd(const dx_tensor *dy, dx_tensor *dx, int r) {
  int64_t w = dx->shape[3], wb = w * r;
#pragma omp parallel for if (dx_numel(dy) > DX_CPU_PAR_MIN)
  for (int64_t row = 0; row < dx->shape[0] * dx->shape[1] * dx->shape[2]; row++)
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < r; j++)
        move(dx->dtype, elem(dx, row * w), 1, elem(dy, (row * r + i) * wb + j), r, w, true);
}

void dx_cpu_init_movement(dx_backend *be) {
  be->permute = permute;
  be->copy_channels = copy_channels;
  be->pixel_shuffle = pixel_shuffle;
  be->upsample_nearest = upsample_nearest;
  be->upsample_nearest_bwd = upsample_nearest_bwd;
}
