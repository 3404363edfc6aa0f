/* CPU kernels: float32 3x3 convolution, stride 1, padding 1, by Winograd's
 * minimal filtering F(2x2, 3x3) (Lavin and Gray 2016, "Fast algorithms for
 * convolutional neural networks"), forward and backward-data, on CPUs with
 * AVX-512 (checked at run time; conv.c falls back to the implicit GEMM).
 *
 * A 2x2 block of outputs of one channel pair reads a 4x4 block d of the
 * input, and
 *
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 *
 * with g the 3x3 filter, G (4x3), B^T (4x4), A^T (2x4) constant matrices of
 * 0, +-1 and 1/2. Summed over input channels, each of the 16 elements xi of
 * the transformed tiles is a matrix product of its own:
 *
 *   M[xi] (K, tiles) = U[xi] (K, C) V[xi] (C, tiles)
 *
 * 16 multiply-adds per output tile and channel pair where the direct
 * convolution does 36: 2.25x fewer, for transforms that cost O(C + K) per
 * tile against the product's O(C K). The products run on the implicit
 * GEMM's register tiles (dx_conv_implicit_product), tiles in the vector
 * lanes. The transforms only add, subtract and halve, and each product sums
 * C terms where the direct sum adds 9 C: the float32 error measured no
 * larger than the direct sum's (bench/README.md).
 *
 * Backward-data is the same convolution of dy with the filter transposed
 * (co <-> ci) and flipped, again 3x3 with padding 1.
 *
 * Layout: a group of images' tiles are numbered image by image, tile row by
 * tile row; V holds (16, C, tpad) and M (16, K, tpad) per thread, sized so
 * that a group's pair stays near L2. A tile row is gathered with vector
 * loads: tile j of a row starts at input column 2j - 1, so its four
 * columns are the even and odd lanes of two loads, split by permutes.
 * Threads take groups of images; no two threads write the same output. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"

/* Below this many input or output channels the transforms outweigh what
 * the product saves. */
#define MIN_CHANNELS 8

typedef struct wgeo {
  int64_t n, c, k, h, w; /* c channels (h, w) in, k channels (h, w) out */
  int64_t kp;            /* backward-filter: k rounded up to a vector, else k */
  bool filter;           /* the backward-filter pass's layout */
  int64_t th, tw;        /* tile rows and tiles per row: ceil(h/2), ceil(w/2) */
  int64_t g;             /* images per group */
  int64_t tpad;          /* a full group's tiles, rounded up to a vector */
  int threads;
} wgeo;

static void wgeo_of(wgeo *e, int64_t n, int64_t c, int64_t k, int64_t h, int64_t w, bool filter) {
  *e = (wgeo){.n = n, .c = c, .k = k, .h = h, .w = w, .th = (h + 1) / 2, .tw = (w + 1) / 2};
  e->kp = filter ? (k + 15) / 16 * 16 : k;
  e->filter = filter;
  e->threads = omp_get_max_threads();
  int64_t tiles = e->th * e->tw;
  size_t per_image = (size_t)(16 * (c + e->kp) * tiles) * sizeof(float);
  int64_t gmax = (int64_t)(DX_CONV_GROUP_BYTES / per_image);
  if (gmax < 1) gmax = 1;
  e->g = dx_conv_group_images(e->n, e->threads, gmax);
  e->tpad = (e->g * tiles + 15) / 16 * 16;
}

/* Forward and backward-data share one layout: c + k and the sizes agree. */
static void fwd_wgeo(const dx_conv2d_desc *d, wgeo *e) {
  wgeo_of(e, d->n, d->ci, d->co, d->h, d->w, false);
}
static void bwd_wgeo(const dx_conv2d_desc *d, wgeo *e) {
  wgeo_of(e, d->n, d->co, d->ci, d->h, d->w, false);
}
static void filter_wgeo(const dx_conv2d_desc *d, wgeo *e) {
  wgeo_of(e, d->n, d->ci, d->co, d->h, d->w, true);
}

static size_t u_bytes(const wgeo *e) {
  return dx_conv_round_up((size_t)(16 * e->k * e->c) * sizeof(float));
}
static size_t v_floats(const wgeo *e) { return (size_t)(16 * e->c * e->tpad); }
/* Per thread: V (16, C, tpad), then M (16, K, tpad); backward-filter's
 * W (16, tpad, kp), one image of dy transposed (h*w, kp), dU (16, C, kp),
 * an image's sums of dy (kp floats) and the thread's bias gradient (kp
 * doubles). */
static size_t w_floats(const wgeo *e) { return (size_t)(16 * e->tpad * e->kp); }
static size_t dyt_floats(const wgeo *e) { return (size_t)(e->h * e->w * e->kp); }
static size_t slot_bytes(const wgeo *e) {
  size_t f = v_floats(e) + (!e->filter ? (size_t)(16 * e->k * e->tpad)
                                       : w_floats(e) + dyt_floats(e) + (size_t)(16 * e->c * e->kp) +
                                             (size_t)(3 * e->kp));
  return dx_conv_round_up(f * sizeof(float));
}

/* DDPMX_WINOGRAD=0 keeps these convolutions on the implicit GEMM (exact
 * direct sums, for comparisons); read once. */
static bool enabled(void) {
  static int off = -1;
  return !dx_conv_switched_off("DDPMX_WINOGRAD", &off);
}

bool dx_conv_winograd_ok(const dx_conv2d_desc *d) {
#ifdef DX_CONV_KERNELS
  int threads = omp_get_max_threads();
  return d->dtype == DX_F32 && d->groups == 1 && d->stride == 1 && d->pad == 1 && d->kh == 3 &&
         d->kw == 3 && d->ci >= MIN_CHANNELS && d->co >= MIN_CHANNELS &&
         (d->n >= threads || threads == 1) && __builtin_cpu_supports("avx512f") && enabled();
#else
  (void)d;
  return false;
#endif
}

size_t dx_conv_winograd_workspace(const dx_conv2d_desc *d) {
  wgeo e, f;
  fwd_wgeo(d, &e); /* backward-data's is the same size */
  filter_wgeo(d, &f);
  size_t slot = slot_bytes(&e) > slot_bytes(&f) ? slot_bytes(&e) : slot_bytes(&f);
  return u_bytes(&e) + (size_t)e.threads * slot;
}

#ifdef DX_CONV_KERNELS

/* g (K, C, 3, 3) -> u: for each xi of the 16, blocks of DX_CONV_MR output
 * channels, each (C, mr), of G g G^T. flip: g is the forward filter
 * (Co, Ci, 3, 3) and this pass transforms its transposed, flipped filter. */
static void transform_row(const wgeo *e, const float *g, bool flip, float *u, int64_t k) {
  for (int64_t c = 0; c < e->c; c++) {
    float f[3][3], t[4][3], v[4][4];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        f[i][j] = flip ? g[((c * e->k + k) * 3 + 2 - i) * 3 + 2 - j]
                       : g[((k * e->c + c) * 3 + i) * 3 + j];
    for (int j = 0; j < 3; j++) { /* G f: rows */
      t[0][j] = f[0][j];
      t[1][j] = 0.5f * (f[0][j] + f[1][j] + f[2][j]);
      t[2][j] = 0.5f * (f[0][j] - f[1][j] + f[2][j]);
      t[3][j] = f[2][j];
    }
    for (int i = 0; i < 4; i++) { /* (G f) G^T: columns */
      v[i][0] = t[i][0];
      v[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
      v[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
      v[i][3] = t[i][2];
    }
    int64_t k0 = k / DX_CONV_MR * DX_CONV_MR;
    int64_t mr = e->k - k0 < DX_CONV_MR ? e->k - k0 : DX_CONV_MR;
    for (int xi = 0; xi < 16; xi++)
      u[xi * e->k * e->c + k0 * e->c + c * mr + (k - k0)] = v[xi / 4][xi % 4];
  }
}

/* Threads share the output channels: it ran on one thread while the other
 * waited, and a forward pass in chunks of images (unet.c) transforms each
 * filter once per chunk (one-thread perf of a batch-64 sampling step in
 * chunks of 8: 4 % of the samples in dx_conv_winograd_fwd itself). */
static void transform_filter(const wgeo *e, const float *g, bool flip, float *u) {
  DX_PAR_IF(e->k * e->c >= 4096, "omp parallel for schedule(static) num_threads(e->threads)",
            for (int64_t k = 0; k < e->k; k++) transform_row(e, g, flip, u, k););
}

/* x (N,C,H,W) images [i0, i0+m) -> v (16, C, tpad): B^T d B of every tile. */
static DX_AVX512 void input_tiles(const wgeo *e, const float *x, int64_t i0, int64_t m, float *v) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  int64_t hw = e->h * e->w, ld = e->tpad, xs = e->c * ld;
  for (int64_t c = 0; c < e->c; c++)
    for (int64_t j = 0; j < m; j++) {
      const float *img = x + ((i0 + j) * e->c + c) * hw;
      for (int64_t th = 0; th < e->th; th++)
        for (int64_t tw0 = 0; tw0 < e->tw; tw0 += 16) {
          int64_t nt = e->tw - tw0 < 16 ? e->tw - tw0 : 16, col = 2 * tw0 - 1;
          /* lanes of the four loads that fall inside the row */
          __mmask16 m0 = dx_conv_span(-col, e->w - col),
                    m1 = dx_conv_span(-col - 16, e->w - col - 16),
                    m2 = dx_conv_span(-col - 2, e->w - col - 2),
                    m3 = dx_conv_span(-col - 18, e->w - col - 18);
          __m512 u[4][4];
          for (int r = 0; r < 4; r++) {
            int64_t ih = 2 * th - 1 + r;
            __m512 d0, d1, d2, d3;
            if (ih < 0 || ih >= e->h) {
              d0 = d1 = d2 = d3 = _mm512_setzero_ps();
            } else {
              /* column col + i of the row at i; masked lanes are not read */
              const float *row = img + ih * e->w + col;
              __m512 a = _mm512_maskz_loadu_ps(m0, row), b = _mm512_maskz_loadu_ps(m1, row + 16);
              __m512 a2 = _mm512_maskz_loadu_ps(m2, row + 2),
                     b2 = _mm512_maskz_loadu_ps(m3, row + 18);
              d0 = _mm512_permutex2var_ps(a, even, b);
              d1 = _mm512_permutex2var_ps(a, odd, b);
              d2 = _mm512_permutex2var_ps(a2, even, b2);
              d3 = _mm512_permutex2var_ps(a2, odd, b2);
            }
            /* d B along the row */
            u[r][0] = _mm512_sub_ps(d0, d2);
            u[r][1] = _mm512_add_ps(d1, d2);
            u[r][2] = _mm512_sub_ps(d2, d1);
            u[r][3] = _mm512_sub_ps(d1, d3);
          }
          __mmask16 keep = (__mmask16)((1u << nt) - 1);
          float *dst = v + c * ld + (j * e->th + th) * e->tw + tw0;
          for (int b = 0; b < 4; b++) { /* B^T along the column */
            _mm512_mask_storeu_ps(dst + (0 * 4 + b) * xs, keep, _mm512_sub_ps(u[0][b], u[2][b]));
            _mm512_mask_storeu_ps(dst + (1 * 4 + b) * xs, keep, _mm512_add_ps(u[1][b], u[2][b]));
            _mm512_mask_storeu_ps(dst + (2 * 4 + b) * xs, keep, _mm512_sub_ps(u[2][b], u[1][b]));
            _mm512_mask_storeu_ps(dst + (3 * 4 + b) * xs, keep, _mm512_sub_ps(u[1][b], u[3][b]));
          }
        }
    }
}

/* One output row's two vectors (columns 2 tw0 .. 2 tw0 + 31) from the tile
 * row's left and right columns: y = them (+ bias) or y += them. */
static DX_AVX512 void store_row(float *row, int64_t avail, __m512 left, __m512 right, __m512 bias,
                                bool add) {
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  __m512 p = _mm512_permutex2var_ps(left, lo, right), q = _mm512_permutex2var_ps(left, hi, right);
  __mmask16 mp = dx_conv_span(0, avail), mq = dx_conv_span(0, avail - 16);
  if (add) {
    p = _mm512_add_ps(p, _mm512_maskz_loadu_ps(mp, row));
    q = _mm512_add_ps(q, _mm512_maskz_loadu_ps(mq, row + 16));
  } else {
    p = _mm512_add_ps(p, bias);
    q = _mm512_add_ps(q, bias);
  }
  _mm512_mask_storeu_ps(row, mp, p);
  if (mq) _mm512_mask_storeu_ps(row + 16, mq, q);
}

/* mo (16, K, tpad) -> y (N,K,H,W) images [i0, i0+m): A^T M A of every
 * tile, + b[k] (b may be NULL) or (add) accumulated into y. */
static DX_AVX512 void output_tiles(const wgeo *e, const float *mo, int64_t i0, int64_t m, float *y,
                                   const float *b, bool add) {
  int64_t hw = e->h * e->w, ld = e->tpad, ms = e->k * ld;
  for (int64_t k = 0; k < e->k; k++) {
    __m512 bias = _mm512_set1_ps(b ? b[k] : 0.0f);
    for (int64_t j = 0; j < m; j++) {
      float *img = y + ((i0 + j) * e->k + k) * hw;
      for (int64_t th = 0; th < e->th; th++)
        for (int64_t tw0 = 0; tw0 < e->tw; tw0 += 16) {
          int64_t nt = e->tw - tw0 < 16 ? e->tw - tw0 : 16;
          __mmask16 keep = (__mmask16)((1u << nt) - 1);
          const float *src = mo + k * ld + (j * e->th + th) * e->tw + tw0;
          __m512 r0[4], r1[4];
          for (int c = 0; c < 4; c++) { /* A^T along the column */
            __m512 m0 = _mm512_maskz_loadu_ps(keep, src + (0 * 4 + c) * ms),
                   m1 = _mm512_maskz_loadu_ps(keep, src + (1 * 4 + c) * ms),
                   m2 = _mm512_maskz_loadu_ps(keep, src + (2 * 4 + c) * ms),
                   m3 = _mm512_maskz_loadu_ps(keep, src + (3 * 4 + c) * ms);
            __m512 s12 = _mm512_add_ps(m1, m2);
            r0[c] = _mm512_add_ps(m0, s12);
            r1[c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
          }
          /* A along the row: left and right column of each output row */
          __m512 y00 = _mm512_add_ps(r0[0], _mm512_add_ps(r0[1], r0[2]));
          __m512 y01 = _mm512_sub_ps(_mm512_sub_ps(r0[1], r0[2]), r0[3]);
          __m512 y10 = _mm512_add_ps(r1[0], _mm512_add_ps(r1[1], r1[2]));
          __m512 y11 = _mm512_sub_ps(_mm512_sub_ps(r1[1], r1[2]), r1[3]);
          int64_t oh = 2 * th, avail = e->w - 2 * tw0;
          store_row(img + oh * e->w + 2 * tw0, avail, y00, y01, bias, add);
          if (oh + 1 < e->h) store_row(img + (oh + 1) * e->w + 2 * tw0, avail, y10, y11, bias, add);
        }
    }
  }
}

/* This thread's slot: the workspace's largest, whichever pass. */
static float *slot_of(const dx_conv2d_desc *d, const wgeo *e, void *ws, int t) {
  size_t slot = (dx_conv_winograd_workspace(d) - u_bytes(e)) / (size_t)e->threads;
  return (float *)((char *)ws + u_bytes(e) + (size_t)t * slot);
}

/* One group of images: transform, 16 products, transform back. */
static void group(const wgeo *e, const float *u, float *v, const float *in, const float *b,
                  float *y, int64_t gi, bool add) {
  float *mo = v + v_floats(e);
  int64_t i0 = gi * e->g, m = e->n - i0 < e->g ? e->n - i0 : e->g, q = m * e->th * e->tw;
  input_tiles(e, in, i0, m, v);
  for (int xi = 0; xi < 16; xi++)
    dx_conv_implicit_product(e->k, e->c, u + xi * e->k * e->c, v + xi * e->c * e->tpad, e->tpad, q,
                             mo + xi * e->k * e->tpad, e->tpad);
  output_tiles(e, mo, i0, m, y, b, add);
}

static void pass(const dx_conv2d_desc *d, const wgeo *e, void *ws, const float *in, const float *b,
                 float *y, bool add) {
  const float *u = ws;
  int64_t groups = (e->n + e->g - 1) / e->g;
  DX_PAR_IF(groups > 1, "omp parallel for schedule(dynamic) num_threads(e->threads)",
            for (int64_t gi = 0; gi < groups; gi++)
                group(e, u, slot_of(d, e, ws, omp_get_thread_num()), in, b, y, gi, add););
}

/* x (N,Ci,H,W), w (Co,Ci,3,3), b (Co) or NULL -> y (N,Co,H,W) */
void dx_conv_winograd_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws) {
  wgeo e;
  fwd_wgeo(d, &e);
  transform_filter(&e, w, false, ws);
  pass(d, &e, ws, x, b, y, false);
}

/* dy (N,Co,H,W), w (Co,Ci,3,3) -> dx (N,Ci,H,W) += */
void dx_conv_winograd_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws) {
  wgeo e;
  bwd_wgeo(d, &e);
  transform_filter(&e, w, true, ws);
  pass(d, &e, ws, dy, NULL, dx, true);
}

/* --- backward-filter ----------------------------------------------------------------
 *
 * With U = G g G^T and M = sum over c of U .* V, the forward pass gives
 * dL/dM = A dY A^T per tile, so dL/dU = sum over tiles of (A dY A^T) .* V
 * and dL/dg = G^T (dL/dU) G: per xi again a product, now reducing over the
 * tiles, dU[xi] (C, K) = V[xi] (C, tiles) W[xi] (tiles, K) with
 * W = A dY A^T. W is built with output channels in the lanes (dy transposed
 * per image), so that the product is backward-weights' reduction with the
 * sum over tiles kept in the lanes (dx_conv_implicit_reduce). */

/* r[j][c] -> r[c][j], 16 x 16 floats in registers: floats interleaved
 * within 128-bit lanes, then pairs of floats, then the 4 x 4 lanes. */
static DX_INLINE DX_AVX512 void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; g++) { /* u[4g + e], lane l: rows 4g..4g+3 of column 4l + e */
    __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int e = 0; e < 4; e++) { /* column 4l + e gathers lane l of u[e], u[4+e], u[8+e], u[12+e] */
    __m512 s0 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);
    __m512 s1 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xdd);
    __m512 s2 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88);
    __m512 s3 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xdd);
    t[e] = _mm512_shuffle_f32x4(s0, s2, 0x88);
    t[4 + e] = _mm512_shuffle_f32x4(s1, s3, 0x88);
    t[8 + e] = _mm512_shuffle_f32x4(s0, s2, 0xdd);
    t[12 + e] = _mm512_shuffle_f32x4(s1, s3, 0xdd);
  }
  for (int i = 0; i < 16; i++)
    r[i] = t[i];
}

/* dy (K, h*w) of one image -> dyt (h*w, kp), zero in the padding channels:
 * blocks of 16 channels by 16 positions transposed in registers (a scalar
 * loop here took a tenth of backward-filter's time). bsum (kp), unless
 * NULL, += each channel's sum over the image: the bias gradient, summed
 * here while dy is in registers instead of in a pass of its own. */
static DX_AVX512 void transpose_dy(const wgeo *e, const float *dy, float *dyt, float *bsum) {
  int64_t p = e->h * e->w;
  for (int64_t i0 = 0; i0 < p; i0 += 16) {
    int64_t np = p - i0 < 16 ? p - i0 : 16;
    __mmask16 m = (__mmask16)((1u << np) - 1);
    for (int64_t k0 = 0; k0 < e->kp; k0 += 16) {
      __m512 r[16];
      for (int j = 0; j < 16; j++)
        r[j] =
            k0 + j < e->k ? _mm512_maskz_loadu_ps(m, dy + (k0 + j) * p + i0) : _mm512_setzero_ps();
      transpose16(r);
      __m512 sum = _mm512_setzero_ps();
      for (int64_t j = 0; j < np; j++) {
        _mm512_storeu_ps(dyt + (i0 + j) * e->kp + k0, r[j]);
        sum = _mm512_add_ps(sum, r[j]);
      }
      if (bsum) _mm512_storeu_ps(bsum + k0, _mm512_add_ps(_mm512_loadu_ps(bsum + k0), sum));
    }
  }
}

/* dyt of image j of the group -> w (16, tpad, kp): A dY A^T of its tiles;
 * outputs past the image's edge (odd sizes) read zero. */
static DX_AVX512 void dy_tiles(const wgeo *e, const float *dyt, int64_t j, float *w) {
  int64_t kp = e->kp, ws = e->tpad * kp;
  for (int64_t th = 0; th < e->th; th++)
    for (int64_t tw = 0; tw < e->tw; tw++) {
      int64_t oh = 2 * th, ow = 2 * tw;
      bool down = oh + 1 < e->h, right = ow + 1 < e->w;
      const float *p00 = dyt + (oh * e->w + ow) * kp;
      float *dst = w + ((j * e->th + th) * e->tw + tw) * kp;
      for (int64_t v = 0; v < kp; v += 16) {
        __m512 z = _mm512_setzero_ps();
        __m512 d00 = _mm512_loadu_ps(p00 + v), d01 = right ? _mm512_loadu_ps(p00 + kp + v) : z;
        __m512 d10 = down ? _mm512_loadu_ps(p00 + e->w * kp + v) : z;
        __m512 d11 = down && right ? _mm512_loadu_ps(p00 + (e->w + 1) * kp + v) : z;
        /* A along the column, then along the row */
        __m512 r[4][2] = {{d00, d01},
                          {_mm512_add_ps(d00, d10), _mm512_add_ps(d01, d11)},
                          {_mm512_sub_ps(d00, d10), _mm512_sub_ps(d01, d11)},
                          {_mm512_sub_ps(z, d10), _mm512_sub_ps(z, d11)}};
        for (int a = 0; a < 4; a++) {
          float *o = dst + a * 4 * ws + v;
          _mm512_storeu_ps(o, r[a][0]);
          _mm512_storeu_ps(o + ws, _mm512_add_ps(r[a][0], r[a][1]));
          _mm512_storeu_ps(o + 2 * ws, _mm512_sub_ps(r[a][0], r[a][1]));
          _mm512_storeu_ps(o + 3 * ws, _mm512_sub_ps(z, r[a][1]));
        }
      }
    }
}

/* One group of images into this thread's du (16, C, kp), and with bias
 * into its bias gradient (kp doubles after du and an image's sums). */
static void filter_group(const wgeo *e, const float *x, const float *dy, float *slot, int64_t gi,
                         bool bias) {
  float *v = slot, *w = v + v_floats(e), *dyt = w + w_floats(e), *du = dyt + dyt_floats(e);
  float *bsum = du + 16 * e->c * e->kp;
  double *db = (double *)(bsum + e->kp);
  int64_t i0 = gi * e->g, m = e->n - i0 < e->g ? e->n - i0 : e->g, q = m * e->th * e->tw;
  input_tiles(e, x, i0, m, v);
  for (int64_t j = 0; j < m; j++) {
    if (bias) memset(bsum, 0, (size_t)e->kp * sizeof(float));
    transpose_dy(e, dy + (i0 + j) * e->k * e->h * e->w, dyt, bias ? bsum : NULL);
    if (bias)
      for (int64_t k = 0; k < e->kp; k++)
        db[k] += bsum[k];
    dy_tiles(e, dyt, j, w);
  }
  for (int xi = 0; xi < 16; xi++)
    dx_conv_implicit_reduce(e->c, v + xi * e->c * e->tpad, e->tpad, w + xi * e->tpad * e->kp, e->kp,
                            q, du + xi * e->c * e->kp);
}

/* du (16, C, kp) -> dw (K, C, 3, 3) += G^T dU G */
static void filter_back(const wgeo *e, const float *du, float *dw) {
  size_t xs = (size_t)(e->c * e->kp);
  for (int64_t k = 0; k < e->k; k++)
    for (int64_t c = 0; c < e->c; c++) {
      float u[4][4], t[3][4];
      for (int xi = 0; xi < 16; xi++)
        u[xi / 4][xi % 4] = du[xi * xs + c * e->kp + k];
      for (int b = 0; b < 4; b++) { /* G^T along the column */
        t[0][b] = u[0][b] + 0.5f * (u[1][b] + u[2][b]);
        t[1][b] = 0.5f * (u[1][b] - u[2][b]);
        t[2][b] = 0.5f * (u[1][b] + u[2][b]) + u[3][b];
      }
      float *g = dw + (k * e->c + c) * 9;
      for (int i = 0; i < 3; i++) { /* G along the row */
        g[i * 3 + 0] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
        g[i * 3 + 1] += 0.5f * (t[i][1] - t[i][2]);
        g[i * 3 + 2] += 0.5f * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
}

/* x (N,Ci,H,W), dy (N,Co,H,W) -> dw (Co,Ci,3,3) +=, db (Co) += (db may be NULL) */
void dx_conv_winograd_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, float *db, void *ws) {
  wgeo e;
  filter_wgeo(d, &e);
  int64_t groups = (e.n + e.g - 1) / e.g;
  size_t dun = (size_t)(16 * e.c * e.kp), off = v_floats(&e) + w_floats(&e) + dyt_floats(&e);
  for (int t = 0; t < e.threads; t++) {
    float *du = slot_of(d, &e, ws, t) + off;
    memset(du, 0, dun * sizeof(float));
    memset(du + dun + e.kp, 0, (size_t)e.kp * sizeof(double));
  }
  /* static: which images a thread sums, and in what order, must not depend
   * on timing (reproducible runs) */
  DX_PAR_IF(groups > 1, "omp parallel for schedule(static) num_threads(e.threads)",
            for (int64_t gi = 0; gi < groups; gi++)
                filter_group(&e, x, dy, slot_of(d, &e, ws, omp_get_thread_num()), gi, db););
  float *du = slot_of(d, &e, ws, 0) + off;
  for (int t = 1; t < e.threads; t++)
    dx_conv_axpy(DX_F32, du, 1, 1.0, slot_of(d, &e, ws, t) + off, 1, (int64_t)dun);
  filter_back(&e, du, dw);
  for (int64_t k = 0; db && k < e.k; k++) { /* the threads' sums, in thread order */
    double sk = 0;
    for (int t = 0; t < e.threads; t++)
      sk += ((const double *)(slot_of(d, &e, ws, t) + off + dun + e.kp))[k];
    db[k] += (float)sk;
  }
}

#else /* no AVX-512 kernels on this target: dx_conv_winograd_ok() says no */

void dx_conv_winograd_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws) {}
void dx_conv_winograd_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws) {}
void dx_conv_winograd_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, float *db, void *ws) {}
#endif
