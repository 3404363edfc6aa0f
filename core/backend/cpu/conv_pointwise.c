/* CPU kernels: backward-filter of a float32 1x1 convolution (stride 1, no
 * padding, groups 1) with AVX-512 register tiles.
 *
 * For a 1x1 convolution dw[k][c] = sum over images i and positions q of
 * dy[i][k][q] x[i][c][q]: both operands are rows along q in NCHW, so each
 * weight is a dot product of two rows read in place. A tile keeps 4 rows of
 * dy against 6 rows of x in 24 vector accumulators: per 16 positions, 10
 * loads feed 24 fused multiply-adds, and no operand is packed or
 * transposed. The lanes are summed once per tile and group of images.
 * Through BLAS (conv.c) the same pass is one sgemm per image, dw += dy
 * x^T, with an N of Ci (28 to 168 in the U-Net) and both operands packed
 * per call: 35 to 69 GFLOP/s on one thread at the U-Net's shapes, where
 * its forward reaches 60 to 96.
 *
 * Threads take images in a static schedule, each summing into its own
 * slot of the workspace; the slots are added to dw in thread order, so the
 * result does not depend on timing. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/conv.h"

#ifdef DX_CONV_KERNELS
/* Keeps a loaded vector in its register: left alone, GCC folds x's loads
 * into the multiply-adds as memory operands, 24 loads instead of 6 per 16
 * positions, and the tile runs at the load ports' pace (half the speed). */
#define IN_REGISTER(v) __asm__("" : "+v"(v))
#endif

#define MK 4 /* dy rows (output channels) per tile */
#define MC 6 /* x rows (input channels) per tile */
/* Floats of x and dy per group of images: a group's rows stay in half a
 * core's L2 while the tiles pass over them. */
#define GROUP_FLOATS ((int64_t)128 << 10)

/* A thread's slot: its sum of dw (Co*Ci floats), then of db (Co doubles). */
static size_t dw_bytes(const dx_conv2d_desc *d) {
  return dx_conv_round_up((size_t)(d->co * d->ci) * sizeof(float));
}
static size_t slot_bytes(const dx_conv2d_desc *d) {
  return dw_bytes(d) + dx_conv_round_up((size_t)d->co * sizeof(double));
}

static int threads_for(const dx_conv2d_desc *d) {
  int t = omp_get_max_threads();
  return d->n >= t ? t : 1;
}

size_t dx_conv_pointwise_workspace(const dx_conv2d_desc *d) {
  return (size_t)threads_for(d) * slot_bytes(d);
}

#ifdef DX_CONV_KERNELS

bool dx_conv_pointwise_ok(const dx_conv2d_desc *d) {
  return d->dtype == DX_F32 && d->groups == 1 && d->kh == 1 && d->kw == 1 && d->stride == 1 &&
         d->pad == 0 && __builtin_cpu_supports("avx512f");
}

typedef struct tile_args {
  const float *dy, *x;     /* the tile's first row of dy and of x, image 0 */
  int64_t m;               /* images */
  int64_t p;               /* positions per row */
  int64_t dy_step, x_step; /* floats from one image to the next */
  float *dw;               /* dw[k0][c0], rows ldw apart */
  int64_t ldw;
} tile_args;

/* acc[i][j] += dy[i] x[j] lane by lane over the 16 positions at q (the lanes
 * of m: a short last vector reads nothing past the row). */
static DX_INLINE DX_AVX512 void step(int mk, int mc, const float *dy, const float *x, int64_t p,
                                     int64_t q, __mmask16 m, __m512 acc[MK][MC]) {
  __m512 xv[MC];
#pragma GCC unroll 6
  for (int j = 0; j < mc; j++) {
    xv[j] = _mm512_maskz_loadu_ps(m, x + j * p + q);
    IN_REGISTER(xv[j]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < mk; i++) {
    __m512 dv = _mm512_maskz_loadu_ps(m, dy + i * p + q);
#pragma GCC unroll 6
    for (int j = 0; j < mc; j++)
      acc[i][j] = _mm512_fmadd_ps(dv, xv[j], acc[i][j]);
  }
}

/* dw[k][c] += sum over the group's images and positions of dy[k] x[c]. */
static DX_INLINE DX_AVX512 void tile(int mk, int mc, const tile_args *a) {
  __m512 acc[MK][MC];
#pragma GCC unroll 4
  for (int i = 0; i < mk; i++)
#pragma GCC unroll 6
    for (int j = 0; j < mc; j++)
      acc[i][j] = _mm512_setzero_ps();
  int64_t full = a->p / 16 * 16;
  __mmask16 last = (__mmask16)((1u << (a->p - full)) - 1);
  for (int64_t im = 0; im < a->m; im++) {
    const float *dy = a->dy + im * a->dy_step, *x = a->x + im * a->x_step;
    for (int64_t q = 0; q < full; q += 16)
      step(mk, mc, dy, x, a->p, q, (__mmask16)0xffff, acc);
    if (last) step(mk, mc, dy, x, a->p, full, last, acc);
  }
#pragma GCC unroll 4
  for (int i = 0; i < mk; i++)
#pragma GCC unroll 6
    for (int j = 0; j < mc; j++)
      a->dw[i * a->ldw + j] += _mm512_reduce_add_ps(acc[i][j]);
}

typedef void (*tile_fn)(const tile_args *a);
#define TILE(k, c)                                                                                 \
  static DX_AVX512 void tile_##k##_##c(const tile_args *a) { tile(k, c, a); }
#define TILE_ROW(k) TILE(k, 1) TILE(k, 2) TILE(k, 3) TILE(k, 4) TILE(k, 5) TILE(k, 6)
TILE_ROW(1)
TILE_ROW(2)
TILE_ROW(3)
TILE_ROW(4)
#define TILE_REF(k)                                                                                \
  { tile_##k##_1, tile_##k##_2, tile_##k##_3, tile_##k##_4, tile_##k##_5, tile_##k##_6 }
static const tile_fn tiles[MK][MC] = {TILE_REF(1), TILE_REF(2), TILE_REF(3), TILE_REF(4)};

/* The sum of a row of n floats: float lanes, the total in double (as
 * conv.c's bias gradient sums a plane). */
static DX_AVX512 double row_sum(const float *v, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t q = 0;
  for (; q <= n - 16; q += 16)
    acc = _mm512_add_ps(acc, _mm512_loadu_ps(v + q));
  acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - q)) - 1), v + q));
  return (double)_mm512_reduce_add_ps(acc);
}

/* dw (K, C) += sum over images [i0, i1) of dy_i (K, P) x_i^T, in groups of
 * images; within a group, x's rows of a tile column stay in L1 while the dy
 * tiles pass. db (K) += the sum of each dy row, when db is not NULL, read
 * while the group's dy is still in cache. */
static void images(const dx_conv2d_desc *d, const float *x, const float *dy, int64_t i0, int64_t i1,
                   float *dw, double *db) {
  int64_t p = d->ho * d->wo, k = d->co, c = d->ci;
  int64_t g = GROUP_FLOATS / ((k + c) * p);
  if (g < 1) g = 1;
  tile_args a = {.p = p, .dy_step = k * p, .x_step = c * p, .ldw = c};
  for (int64_t s = i0; s < i1; s += g) {
    a.m = i1 - s < g ? i1 - s : g;
    for (int64_t c0 = 0; c0 < c; c0 += MC) {
      int mc = (int)(c - c0 < MC ? c - c0 : MC);
      for (int64_t k0 = 0; k0 < k; k0 += MK) {
        int mk = (int)(k - k0 < MK ? k - k0 : MK);
        a.dy = dy + (s * k + k0) * p;
        a.x = x + (s * c + c0) * p;
        a.dw = dw + k0 * c + c0;
        tiles[mk - 1][mc - 1](&a);
      }
    }
    if (db)
      for (int64_t im = s; im < s + a.m; im++)
        for (int64_t r = 0; r < k; r++)
          db[r] += row_sum(dy + (im * k + r) * p, p);
  }
}

/* x (N,Ci,H,W), dy (N,Co,H,W) -> dw (Co,Ci,1,1) += sum over images of dy x^T,
 * db (Co) += sum over images and positions of dy (db may be NULL) */
void dx_conv_pointwise_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                  float *dw, float *db, void *ws) {
  int t = threads_for(d);
  int64_t wn = d->co * d->ci;
  DX_PAR_IF(
      t > 1, "omp parallel for schedule(static) num_threads(t)", for (int s = 0; s < t; s++) {
        char *slot = (char *)ws + (size_t)s * slot_bytes(d);
        float *mine = (float *)slot;
        double *bias = db ? (double *)(slot + dw_bytes(d)) : NULL;
        memset(mine, 0, (size_t)wn * sizeof(float));
        if (bias) memset(bias, 0, (size_t)d->co * sizeof(double));
        int64_t per = (d->n + t - 1) / t, i0 = s * per, i1 = i0 + per < d->n ? i0 + per : d->n;
        if (i0 < i1) images(d, x, dy, i0, i1, mine, bias);
      });
  for (int s = 0; s < t; s++) {
    const char *slot = (const char *)ws + (size_t)s * slot_bytes(d);
    dx_conv_axpy(DX_F32, dw, 1, 1.0, slot, 1, wn);
    if (db)
      for (int64_t r = 0; r < d->co; r++)
        db[r] += (float)((const double *)(slot + dw_bytes(d)))[r];
  }
}

#else /* no AVX-512 kernels on this target: dx_conv_pointwise_ok() says no */

bool dx_conv_pointwise_ok(const dx_conv2d_desc *d) {
  (void)d;
  return false;
}
void dx_conv_pointwise_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                  float *dw, float *db, void *ws) {}

#endif
