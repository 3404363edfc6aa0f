/* CPU kernels: data movement (permute, channel copies, pixel (un)shuffle,
 * nearest upsampling). Every kernel is built from one strided loop, move(),
 * which copies or, for backward passes, accumulates. */
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/broadcast.h" /* dx_cpu_for */
#include "backend/cpu/cpu.h"

/* Side of the square tiles a transposing permute walks, so that the rows read
 * and the rows written both stay in L1 (32 x 32 doubles = 8 KiB). */
#define TILE 32

#define DX_TYPED_FILE "backend/cpu/movement_typed.inc"
#include "backend/cpu/typed.h"

/* dst[i ds] (+)= src[i ss] for i < n, elements of type dt. */
static void move(dx_dtype dt, void *dst, int64_t ds, const void *src, int64_t ss, int64_t n,
                 bool acc) {
  if (!acc && ds == 1 && ss == 1)
    memcpy(dst, src, (size_t)n * dx_dtype_size(dt));
  else
    DX_TYPED(dt, move, dst, ds, src, ss, n, acc);
}

/* Product of the dims after the channel dim (1 for a 2-D tensor). */
static int64_t spatial(const dx_tensor *t) {
  int64_t s = 1;
  for (int d = 2; d < t->ndim; d++)
    s *= t->shape[d];
  return s;
}

/* --- permute ------------------------------------------------------------------------ */

/* y rows [r0, r0+nr) of a (rows, cols) plane (+)= x read with strides (sr, sc).
 * When y's columns are not contiguous in x (sc != 1: the attention transpose
 * (0,1,3,2) is this case), the plane is walked in TILE x TILE tiles, each
 * written a contiguous row at a time (strided reads cost less than strided
 * writes: twice less for (128, 4, 32, 784) -> (128, 4, 784, 32)). */
static void permute_rows(dx_dtype dt, void *y, int64_t cols, const void *x, int64_t sr, int64_t sc,
                         int64_t r0, int64_t nr, bool acc) {
  if (sc == 1 || nr == 1) {
    for (int64_t r = r0; r < r0 + nr; r++)
      move(dt, dx_cpu_at(dt, y, r * cols), 1, dx_cpu_at(dt, x, r * sr), sc, cols, acc);
    return;
  }
  for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
    int64_t nc = cols - c0 < TILE ? cols - c0 : TILE;
    for (int64_t r = r0; r < r0 + nr; r++)
      move(dt, dx_cpu_at(dt, y, r * cols + c0), 1, dx_cpu_at(dt, x, r * sr + c0 * sc), sc, nc, acc);
  }
}

/* One permute call: y (Y0, Y1, rows, cols) with x's strides st[k] along y's
 * dims; a task is a block of TILE rows of one (rows, cols) plane. */
typedef struct perm_job {
  const dx_tensor *x;
  dx_tensor *y;
  int64_t yshape[4], st[4], blocks;
  bool acc;
} perm_job;

static void permute_task(const void *arg, int64_t t) {
  const perm_job *j = arg;
  int64_t rows = j->yshape[2], cols = j->yshape[3];
  int64_t plane = t / j->blocks, r0 = t % j->blocks * TILE,
          nr = rows - r0 < TILE ? rows - r0 : TILE;
  int64_t src = plane / j->yshape[1] * j->st[0] + plane % j->yshape[1] * j->st[1];
  permute_rows(j->y->dtype, dx_cpu_elem(j->y, plane * rows * cols), cols, dx_cpu_elem(j->x, src),
               j->st[2], j->st[3], r0, nr, j->acc);
}

/* x (X0..X3) -> y with y.shape[k] = x.shape[perm[k]]; lower ranks are padded
 * with leading ones. */
static void permute(dx_backend *be, const dx_tensor *x, dx_tensor *y, const int *perm, bool acc) {
  perm_job j = {.x = x, .y = y, .acc = acc};
  int lead = 4 - x->ndim;
  int64_t xshape[4], xstride[4];
  for (int k = 0; k < 4; k++)
    xshape[k] = k < lead ? 1 : x->shape[k - lead];
  xstride[3] = 1;
  for (int k = 2; k >= 0; k--)
    xstride[k] = xstride[k + 1] * xshape[k + 1];
  for (int k = 0; k < 4; k++) {
    int p = k < lead ? k : lead + perm[k - lead];
    j.yshape[k] = xshape[p];
    j.st[k] = xstride[p];
  }
  j.blocks = (j.yshape[2] + TILE - 1) / TILE;
  dx_cpu_for(j.yshape[0] * j.yshape[1] * j.blocks, dx_numel(y) > DX_CPU_PAR_MIN, permute_task, &j);
}

/* --- channel copies, pixel (un)shuffle, nearest upsampling ----------------------------- */

/* The arguments of one call of the kernels below, shared by their tasks. */
typedef struct move_job {
  const dx_tensor *src;
  dx_tensor *dst;
  int64_t s0, d0, nc; /* copy_channels */
  int r;
  bool unshuffle, acc;
} move_job;

/* Sample i: dst[i, d0:d0+nc] (+)= src[i, s0:s0+nc]; src (N, Cs, S...), dst (N, Cd, S...). */
static void copy_channels_task(const void *arg, int64_t i) {
  const move_job *j = arg;
  int64_t s = spatial(j->src);
  move(j->src->dtype, dx_cpu_elem(j->dst, (i * j->dst->shape[1] + j->d0) * s), 1,
       dx_cpu_elem(j->src, (i * j->src->shape[1] + j->s0) * s), 1, j->nc * s, j->acc);
}

/* src (N, Cs, S...), dst (N, Cd, S...); channels [s0, s0+nc) -> [d0, d0+nc) */
static void copy_channels(dx_backend *be, const dx_tensor *src, int64_t s0, dx_tensor *dst,
                          int64_t d0, int64_t nc, bool acc) {
  move_job j = {.src = src, .dst = dst, .s0 = s0, .d0 = d0, .nc = nc, .acc = acc};
  int64_t n = src->shape[0];
  dx_cpu_for(n, n * nc * spatial(src) > DX_CPU_PAR_MIN, copy_channels_task, &j);
}

/* big (N, C, H r, W r) <-> small (N, C r^2, H, W): big (c, h r + i, w r + j) is
 * small (c r^2 + i r + j, h, w), torch.nn.PixelUnshuffle's order. Unshuffle
 * moves big -> small (src big), shuffle small -> big (dst big). A task is one
 * row of big. */
static void pixel_shuffle_task(const void *arg, int64_t row) {
  const move_job *j = arg;
  const dx_tensor *big = j->unshuffle ? j->src : j->dst, *small = j->unshuffle ? j->dst : j->src;
  int64_t r = j->r, hb = big->shape[2], wb = big->shape[3], hs = hb / r, ws = wb / r;
  int64_t plane = row / hb, h = row % hb / r, i = row % hb % r;
  for (int64_t k = 0; k < r; k++) {
    void *b = dx_cpu_elem(big, row * wb + k),
         *s = dx_cpu_elem(small, ((plane * r * r + i * r + k) * hs + h) * ws);
    if (j->unshuffle)
      move(big->dtype, s, 1, b, r, ws, j->acc);
    else
      move(big->dtype, b, r, s, 1, ws, j->acc);
  }
}

/* unshuffle: x (N, C, H, W) -> y (N, C r^2, H/r, W/r); shuffle: the inverse. */
static void pixel_shuffle(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r, bool unshuffle,
                          bool acc) {
  move_job j = {.src = x, .dst = y, .r = r, .unshuffle = unshuffle, .acc = acc};
  const dx_tensor *big = unshuffle ? x : y;
  dx_cpu_for(big->shape[0] * big->shape[1] * big->shape[2], dx_numel(x) > DX_CPU_PAR_MIN,
             pixel_shuffle_task, &j);
}

/* Row `row` of x (N, C, H, W) fills rows row r .. row r + r-1 of y (N, C, H r, W r):
 * y (h, w) = x (h / r, w / r). The first is spread out, the others copy it. */
static void upsample_task(const void *arg, int64_t row) {
  const move_job *j = arg;
  dx_dtype dt = j->dst->dtype;
  int64_t r = j->r, w = j->src->shape[3], wb = w * r;
  void *first = dx_cpu_elem(j->dst, row * r * wb);
  for (int64_t k = 0; k < r; k++)
    move(dt, dx_cpu_at(dt, first, k), r, dx_cpu_elem(j->src, row * w), 1, w, false);
  for (int64_t i = 1; i < r; i++)
    move(dt, dx_cpu_elem(j->dst, (row * r + i) * wb), 1, first, 1, wb, false);
}

/* x (N, C, H, W) -> y (N, C, H r, W r) */
static void upsample_nearest(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r) {
  move_job j = {.src = x, .dst = y, .r = r};
  dx_cpu_for(x->shape[0] * x->shape[1] * x->shape[2], dx_numel(y) > DX_CPU_PAR_MIN, upsample_task,
             &j);
}

/* Row `row` of dx (N, C, H, W) += the sums of dy (N, C, H r, W r) over the
 * r x r blocks its elements were copied to. */
static void upsample_bwd_task(const void *arg, int64_t row) {
  const move_job *j = arg;
  int64_t r = j->r, w = j->dst->shape[3], wb = w * r;
  for (int64_t i = 0; i < r; i++)
    for (int64_t k = 0; k < r; k++)
      move(j->dst->dtype, dx_cpu_elem(j->dst, row * w), 1,
           dx_cpu_elem(j->src, (row * r + i) * wb + k), r, w, true);
}

/* dy (N, C, H r, W r), dx (N, C, H, W) accumulates */
static void upsample_nearest_bwd(dx_backend *be, const dx_tensor *dy, dx_tensor *dx, int r) {
  move_job j = {.src = dy, .dst = dx, .r = r};
  dx_cpu_for(dx->shape[0] * dx->shape[1] * dx->shape[2], dx_numel(dy) > DX_CPU_PAR_MIN,
             upsample_bwd_task, &j);
}

void dx_cpu_init_movement(dx_backend *be) {
  be->permute = permute;
  be->copy_channels = copy_channels;
  be->pixel_shuffle = pixel_shuffle;
  be->upsample_nearest = upsample_nearest;
  be->upsample_nearest_bwd = upsample_nearest_bwd;
}
