/* CPU kernels: the forward pass of a float32 3x3 convolution, stride 1,
 * padding 1, by Winograd's F(4x4, 3x3) (Lavin and Gray 2016), on CPUs with
 * AVX-512. Backward-data and backward-filter stay on F(2x2, 3x3)
 * (conv_winograd.c), whose error is smaller; the forward pass is what a
 * sampling step consists of.
 *
 * A 4x4 block of outputs reads a 6x6 block d of the input, and
 *
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 *
 * with B^T (6x6), G (6x3), A^T (4x6) the matrices of the interpolation
 * points 0, 1, -1, 1/2, -2 (and infinity). Per output tile and channel
 * pair 36 multiply-adds where F(2x2, 3x3) does 64 for the same 16 outputs
 * (4 tiles), and the direct convolution 144. The price is accuracy, as the
 * transforms scale some terms up and others down: Lavin's points 0, +-1,
 * +-2 measured up to 7.7e-6 of the largest output in float32 at 112
 * channels, these 2.6e-6, F(2x2, 3x3) 5.0e-7 and the direct sums 1.0e-6
 * (tests/test_winograd4.c). That the points decide the error is Barabasz
 * et al.'s (2020, "Error analysis and improving the accuracy of Winograd
 * convolution for deep neural networks"); these were chosen with a float32
 * model of the pass over 56 channels (random data, the sum over channels
 * in order): 4.0e-6 for Lavin's, 2.9e-6 for 0, +-1, +-1/2, 1.2e-6 for
 * these. B^T's rows are scaled by powers of two (exact) to integers, G's
 * by the inverse.
 *
 * Layout: the tiles of a group of images are numbered image by image, tile
 * row by tile row, as in conv_winograd.c; V holds (36, C, tpad) and M
 * (36, K, tpad) per thread. The vector lanes take 16 consecutive tiles,
 * whatever rows they come from, so that small images (7x7: 2x2 tiles)
 * fill them. A lane run within one tile row (at most 7 tiles, 30 input
 * columns) is gathered from two row loads by one permute per column of the
 * 6x6 block, and the output rows are scattered back the same way. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"

#define RUN 7 /* tiles per lane run: 4*6 + 6 columns fit two vectors */
/* Below 16 channels either way F(2x2, 3x3) runs the pass: there the
 * products that F(4x4, 3x3) saves are the smallest part of it, and its
 * rounding noise showed most: test_unet's check that a chunked forward
 * pass gives the whole batch's output within 1e-6 read 1.15e-6 with F(4x4,
 * 3x3) on that net's 8-channel level alone, 3.8e-7 and 4.4e-7 on its 16-
 * and 32-channel levels alone (3.5e-7 without it). */
#define MIN_CHANNELS 16

typedef struct w4geo {
  int64_t n, c, k, h, w;
  int64_t th, tw; /* tile rows and tiles per row: ceil(h/4), ceil(w/4) */
  int64_t g;      /* images per group */
  int64_t tpad;   /* a full group's tiles, rounded up to a vector */
  int threads;
} w4geo;

static void w4geo_of(const dx_conv2d_desc *d, w4geo *e) {
  *e = (w4geo){.n = d->n, .c = d->ci, .k = d->co, .h = d->h, .w = d->w};
  e->th = (d->h + 3) / 4;
  e->tw = (d->w + 3) / 4;
  e->threads = omp_get_max_threads();
  int64_t tiles = e->th * e->tw;
  size_t per_image = (size_t)(36 * (e->c + e->k) * tiles) * sizeof(float);
  int64_t gmax = (int64_t)(DX_CONV_GROUP_BYTES / per_image);
  if (gmax < 1) gmax = 1;
  /* The products run over the tiles in vectors of 16: a group of one 28x28
   * image (49 tiles) computes 64 lanes. Up to 4x the bytes, take images
   * until the last vector's unused lanes are at most a tenth. */
  for (int64_t g = gmax; g < 4 * gmax; g++) {
    int64_t q = g * tiles, lanes = (q + 15) / 16 * 16;
    if ((lanes - q) * 10 <= q) {
      gmax = g;
      break;
    }
  }
  e->g = dx_conv_group_images(e->n, e->threads, gmax);
  e->tpad = (e->g * tiles + 15) / 16 * 16;
}

static size_t u_bytes(const w4geo *e) {
  return dx_conv_round_up((size_t)(36 * e->k * e->c) * sizeof(float));
}
static size_t v_floats(const w4geo *e) { return (size_t)(36 * e->c * e->tpad); }
static size_t slot_bytes(const w4geo *e) {
  return dx_conv_round_up((v_floats(e) + (size_t)(36 * e->k * e->tpad)) * sizeof(float));
}

/* DDPMX_WINOGRAD4=0 keeps the forward pass on F(2x2, 3x3); read once. */
static bool enabled(void) {
  static int off = -1;
  return !dx_conv_switched_off("DDPMX_WINOGRAD4", &off);
}

bool dx_conv_winograd4_ok(const dx_conv2d_desc *d) {
#ifdef DX_CONV_KERNELS
  return dx_conv_winograd_ok(d) && d->ci >= MIN_CHANNELS && d->co >= MIN_CHANNELS && enabled();
#else
  (void)d;
  return false;
#endif
}

size_t dx_conv_winograd4_workspace(const dx_conv2d_desc *d) {
  w4geo e;
  w4geo_of(d, &e);
  return u_bytes(&e) + (size_t)e.threads * slot_bytes(&e);
}

#ifdef DX_CONV_KERNELS

/* u = G f for one column (f0, f1, f2) of the filter, in double. */
static void g_col(double f0, double f1, double f2, double u[6]) {
  u[0] = f0 / 2;
  u[1] = (f0 + f1 + f2) / 6;
  u[2] = (-f0 + f1 - f2) / 6;
  u[3] = -(16 * f0 + 8 * f1 + 4 * f2) / 15;
  u[4] = (f0 - 2 * f1 + 4 * f2) / 30;
  u[5] = f2 / 2;
}

/* w (K, C, 3, 3) -> u: for each xi of the 36, blocks of DX_CONV_MR output
 * channels, each (C, mr), of G g G^T, rounded to float once. */
static void transform_row(const w4geo *e, const float *g, float *u, int64_t k) {
  int64_t k0 = k / DX_CONV_MR * DX_CONV_MR;
  int64_t mr = e->k - k0 < DX_CONV_MR ? e->k - k0 : DX_CONV_MR;
  for (int64_t c = 0; c < e->c; c++) {
    const float *f = g + (k * e->c + c) * 9;
    double t[3][6], v[6];
    for (int j = 0; j < 3; j++) /* G along the columns: t[j] = G f[:, j] */
      g_col(f[j], f[3 + j], f[6 + j], t[j]);
    for (int a = 0; a < 6; a++) { /* and along the rows */
      g_col(t[0][a], t[1][a], t[2][a], v);
      for (int b = 0; b < 6; b++)
        u[(a * 6 + b) * e->k * e->c + k0 * e->c + c * mr + (k - k0)] = (float)v[b];
    }
  }
}

void dx_conv_winograd4_filter(const dx_conv2d_desc *d, const float *w, float *u) {
  w4geo e;
  w4geo_of(d, &e);
  DX_PAR_IF(e.k * e.c >= 4096, "omp parallel for schedule(static) num_threads(e.threads)",
            for (int64_t k = 0; k < e.k; k++) transform_row(&e, w, u, k););
}

/* A run of lanes [l0, l0 + nt) holding tiles tw0.. of tile row th of image j. */
typedef struct run {
  int l0, nt;
  int64_t j, th, tw0;
} run;

/* The runs of the 16 tiles from q0 (q tiles in the group); their count. */
static int runs_of(const w4geo *e, int64_t q0, int64_t q, run *r) {
  int count = 0;
  int64_t per = e->th * e->tw;
  for (int64_t l = 0; l < 16 && q0 + l < q;) {
    int64_t t = q0 + l, rem = t % per, tw0 = rem % e->tw;
    int64_t nt = e->tw - tw0;
    if (nt > RUN) nt = RUN;
    if (nt > 16 - l) nt = 16 - l;
    if (nt > q - t) nt = q - t;
    r[count++] = (run){.l0 = (int)l, .nt = (int)nt, .j = t / per, .th = rem / e->tw, .tw0 = tw0};
    l += nt;
  }
  return count;
}

/* B^T applied to six vectors:
 *   t0 = 2 (d0 + d4) + 3 (d3 - d1) - 4 d2,   t1 = 2 (d4 - d1) + 5 d3 + d2,
 *   t2 = 2 (d4 + d1) - 5 d2 + d3,           t3 = 2 (d3 - d1) + (d4 - d2),
 *   t4 = 2 (d4 - d2) + (d1 - d3),           t5 = 2 (d1 + d5) + 3 (d4 - d2) - 4 d3. */
static DX_INLINE DX_AVX512 void bt6(const __m512 d[6], __m512 t[6]) {
  const __m512 two = _mm512_set1_ps(2.0f), three = _mm512_set1_ps(3.0f),
               four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f);
  __m512 d31 = _mm512_sub_ps(d[3], d[1]), d42 = _mm512_sub_ps(d[4], d[2]);
  t[0] = _mm512_fnmadd_ps(
      four, d[2], _mm512_fmadd_ps(three, d31, _mm512_mul_ps(two, _mm512_add_ps(d[0], d[4]))));
  t[1] = _mm512_fmadd_ps(two, _mm512_sub_ps(d[4], d[1]), _mm512_fmadd_ps(five, d[3], d[2]));
  t[2] = _mm512_fmadd_ps(two, _mm512_add_ps(d[4], d[1]), _mm512_fnmadd_ps(five, d[2], d[3]));
  t[3] = _mm512_fmadd_ps(two, d31, d42);
  t[4] = _mm512_fmsub_ps(two, d42, d31);
  t[5] = _mm512_fnmadd_ps(
      four, d[3], _mm512_fmadd_ps(three, d42, _mm512_mul_ps(two, _mm512_add_ps(d[1], d[5]))));
}

/* A^T applied to six vectors: y0 = m0 + m1 + m2 + m3 + m4,
 * y1 = m1 - m2 + m3 / 2 - 2 m4, y2 = m1 + m2 + m3 / 4 + 4 m4,
 * y3 = m1 - m2 + m3 / 8 - 8 m4 + m5. */
static DX_INLINE DX_AVX512 void at6(const __m512 m[6], __m512 y[4]) {
  __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), _mm512_add_ps(m[3], m[4]));
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(0.5f), m[3],
                         _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), m[4], d12));
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), m[3],
                         _mm512_fmadd_ps(_mm512_set1_ps(4.0f), m[4], s12));
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.125f), m[3],
                                       _mm512_fnmadd_ps(_mm512_set1_ps(8.0f), m[4], d12)),
                       m[5]);
}

/* What a lane run reads, the same for every channel: its image's offset
 * (channel 0), first input column, the loads' lanes inside the image, its
 * own lanes, and per lane the column (4 (l - l0)) of its tile in the loads. */
typedef struct run_src {
  int64_t img, col, th;
  __mmask16 ma, mb, lanes;
  __m512i base;
} run_src;

static DX_AVX512 void run_srcs(const w4geo *e, int64_t i0, const run *runs, int nruns,
                               run_src *rs) {
  const __m512i lane4 =
      _mm512_set_epi32(60, 56, 52, 48, 44, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4, 0);
  for (int s = 0; s < nruns; s++) {
    const run *u = &runs[s];
    int64_t col = 4 * u->tw0 - 1;
    rs[s] = (run_src){.img = (i0 + u->j) * e->c * e->h * e->w,
                      .col = col,
                      .th = u->th,
                      .ma = dx_conv_span(-col, e->w - col),
                      .mb = dx_conv_span(-col - 16, e->w - col - 16),
                      .lanes = (__mmask16)(((1u << u->nt) - 1) << u->l0),
                      .base = _mm512_sub_epi32(lane4, _mm512_set1_epi32(4 * u->l0))};
  }
}

/* Row r of the 6x6 input blocks of channel c (plane xc) of the 16 tiles:
 * d[i], tile per lane, zero outside the image and past the last tile. Rows
 * outer and runs inner, so that the six vectors stay in registers. */
static DX_INLINE DX_AVX512 void gather_row(const w4geo *e, const float *xc, const run_src *rs,
                                           int nruns, int r, __m512 d[6]) {
  for (int i = 0; i < 6; i++)
    d[i] = _mm512_setzero_ps();
  for (int s = 0; s < nruns; s++) {
    int64_t ih = 4 * rs[s].th - 1 + r;
    if (ih < 0 || ih >= e->h) continue;
    const float *row = xc + rs[s].img + ih * e->w + rs[s].col;
    __m512 a = _mm512_maskz_loadu_ps(rs[s].ma, row), b = _mm512_maskz_loadu_ps(rs[s].mb, row + 16);
    for (int i = 0; i < 6; i++) {
      __m512 p = _mm512_permutex2var_ps(a, _mm512_add_epi32(rs[s].base, _mm512_set1_epi32(i)), b);
      d[i] = _mm512_mask_mov_ps(d[i], rs[s].lanes, p);
    }
  }
}

/* x (N,C,H,W) images [i0, i0+m) -> v (36, C, tpad): B^T d B of every tile. */
static DX_AVX512 void input_tiles(const w4geo *e, const float *x, int64_t i0, int64_t m, float *v) {
  int64_t ld = e->tpad, xs = e->c * ld, q = m * e->th * e->tw, hw = e->h * e->w;
  run runs[16];
  run_src rs[16];
  for (int64_t q0 = 0; q0 < q; q0 += 16) {
    int nruns = runs_of(e, q0, q, runs);
    run_srcs(e, i0, runs, nruns, rs);
    for (int64_t c = 0; c < e->c; c++) {
      __m512 t[6][6];
      for (int r = 0; r < 6; r++) { /* B along each row */
        __m512 d[6];
        gather_row(e, x + c * hw, rs, nruns, r, d);
        bt6(d, t[r]);
      }
      float *dst = v + c * ld + q0;
      for (int i = 0; i < 6; i++) { /* B^T along each column */
        __m512 col[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]}, o[6];
        bt6(col, o);
        for (int a = 0; a < 6; a++)
          _mm512_storeu_ps(dst + (a * 6 + i) * xs, o[a]);
      }
    }
  }
}

/* y0..y3: one output row (4 columns per lane) of the 16 tiles -> the
 * row's floats of run u at out (avail columns left in the image). */
static DX_INLINE DX_AVX512 void store_run(const run *u, const __m512 y[4], float *out,
                                          int64_t avail, __m512 bias) {
  /* pairs: lane 2p + e of t01 is y[e] of tile l0 + p, of t23 y[2 + e] */
  const __m512i pair = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  /* column 4p + b of the run: lane 2p + (b & 1) of t01 (b < 2) or t23 */
  const __m512i lo = _mm512_set_epi32(23, 22, 7, 6, 21, 20, 5, 4, 19, 18, 3, 2, 17, 16, 1, 0);
  const __m512i hi = _mm512_set_epi32(31, 30, 15, 14, 29, 28, 13, 12, 27, 26, 11, 10, 25, 24, 9, 8);
  __m512i idx = _mm512_add_epi32(pair, _mm512_set1_epi32(u->l0));
  __m512 t01 = _mm512_permutex2var_ps(y[0], idx, y[1]),
         t23 = _mm512_permutex2var_ps(y[2], idx, y[3]);
  int64_t n = 4 * (int64_t)u->nt < avail ? 4 * (int64_t)u->nt : avail;
  _mm512_mask_storeu_ps(out, dx_conv_span(0, n),
                        _mm512_add_ps(_mm512_permutex2var_ps(t01, lo, t23), bias));
  if (n > 16)
    _mm512_mask_storeu_ps(out + 16, dx_conv_span(0, n - 16),
                          _mm512_add_ps(_mm512_permutex2var_ps(t01, hi, t23), bias));
}

/* mo (36, K, tpad) -> y (N,K,H,W) images [i0, i0+m): A^T M A of every
 * tile, + b[k] (b may be NULL). */
static DX_AVX512 void output_tiles(const w4geo *e, const float *mo, int64_t i0, int64_t m, float *y,
                                   const float *b) {
  int64_t hw = e->h * e->w, ld = e->tpad, ms = e->k * ld, q = m * e->th * e->tw;
  run runs[16];
  for (int64_t q0 = 0; q0 < q; q0 += 16) {
    int nruns = runs_of(e, q0, q, runs);
    for (int64_t k = 0; k < e->k; k++) {
      __m512 bias = _mm512_set1_ps(b ? b[k] : 0.0f);
      const float *src = mo + k * ld + q0;
      __m512 r[4][6];
      for (int j = 0; j < 6; j++) { /* A^T along each column */
        __m512 col[6], o[4];
        /* one pointer stepping down the column: GCC otherwise keeps the
         * 36 offsets (invariant over k) in registers, and spills them */
        const float *pj = src + j * ms;
        __asm__("" : "+r"(pj));
        for (int i = 0; i < 6; i++, pj += 6 * ms)
          col[i] = _mm512_loadu_ps(pj);
        at6(col, o);
        for (int a = 0; a < 4; a++)
          r[a][j] = o[a];
      }
      for (int a = 0; a < 4; a++) {
        __m512 yr[4];
        at6(r[a], yr); /* A along the row */
        for (int s = 0; s < nruns; s++) {
          const run *u = &runs[s];
          int64_t oh = 4 * u->th + a;
          if (oh >= e->h) continue;
          float *out = y + ((i0 + u->j) * e->k + k) * hw + oh * e->w + 4 * u->tw0;
          store_run(u, yr, out, e->w - 4 * u->tw0, bias);
        }
      }
    }
  }
}

/* One group of images: transform, 36 products, transform back. */
static void group(const w4geo *e, const float *u, float *v, const float *x, const float *b,
                  float *y, int64_t gi) {
  float *mo = v + v_floats(e);
  int64_t i0 = gi * e->g, m = e->n - i0 < e->g ? e->n - i0 : e->g, q = m * e->th * e->tw;
  input_tiles(e, x, i0, m, v);
  for (int xi = 0; xi < 36; xi++)
    dx_conv_implicit_product(e->k, e->c, u + xi * e->k * e->c, v + xi * e->c * e->tpad, e->tpad, q,
                             mo + xi * e->k * e->tpad, e->tpad);
  output_tiles(e, mo, i0, m, y, b);
}

/* x (N,Ci,H,W), u from dx_conv_winograd4_filter, b (Co) or NULL -> y
 * (N,Co,H,W); ws holds dx_conv_winograd4_workspace(d) bytes, u may be its
 * first u_bytes. */
void dx_conv_winograd4_fwd(const dx_conv2d_desc *d, const float *x, const float *u, const float *b,
                           float *y, void *ws) {
  w4geo e;
  w4geo_of(d, &e);
  int64_t groups = (e.n + e.g - 1) / e.g;
  size_t slot = slot_bytes(&e);
  char *slots = (char *)ws + u_bytes(&e);
  DX_PAR_IF(groups > 1, "omp parallel for schedule(dynamic) num_threads(e.threads)",
            for (int64_t gi = 0; gi < groups; gi++)
                group(&e, u, (float *)(slots + (size_t)omp_get_thread_num() * slot), x, b, y, gi););
}

#else /* no AVX-512 kernels on this target: dx_conv_winograd4_ok() says no */

void dx_conv_winograd4_filter(const dx_conv2d_desc *d, const float *w, float *u) {}
void dx_conv_winograd4_fwd(const dx_conv2d_desc *d, const float *x, const float *u, const float *b,
                           float *y, void *ws) {}
#endif
