/* CPU kernels: float32 stride-1 convolution as an implicit GEMM with
 * AVX-512 register tiles, forward and both backwards, for CPUs that have
 * AVX-512 (checked at run time; conv.c falls back to im2col + BLAS).
 *
 * For stride 1, output row oh reads input rows oh - ph + ki. If a group of
 * images is laid out per channel as one tall plane, each image's rows after
 * ph zero rows (shared with the previous image, whose bottom padding they
 * are), then output row r of the group reads input row r + ki of that
 * plane: a constant shift for each kernel row. Columns are made constant
 * shifts the same way by keeping kw copies of the plane, copy kj shifted
 * left by kj - pw with zeros where it reads padding, each row Wo wide. A
 * filter tap (ki, kj) of channel c is then one contiguous row of length Q
 * (the group's output positions, ph garbage rows between images), and
 *
 *   y[co][q] = sum over c, taps of w[co][c][tap] * src[c][tap][q]
 *
 * is a matrix product whose B operand is never unrolled: where im2col
 * writes kh*kw copies of the input and reads them back, this writes kw.
 * The tile of the product kept in registers is 7 output channels by 64
 * positions (28 of the 32 zmm registers): per channel and tap, 4 loads and
 * 7 broadcasts feed 28 fused multiply-adds.
 *
 * Backward-data is the same convolution of dy with the filter transposed
 * (co <-> c) and flipped, padding kh-1-ph (it needs ph < kh). Backward-weights
 * is dw[co][c][tap] = sum_q dy[co][q] src[c][tap][q]: a product whose
 * reduction runs over the positions, held as 4 x 6 vector accumulators
 * summed across lanes once per group of images. dy is copied into the
 * group's layout, with zeros on the garbage rows.
 *
 * Threads take groups of images, each with its own slot of the workspace;
 * the filter gradient is summed per thread, in a fixed order of images
 * (static schedule), and the threads' sums added at the end. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/conv.h"

#define MR DX_CONV_MR /* output channels per forward tile */
#define NV 4          /* vectors of 16 positions per forward tile */
#define NVW 4         /* vectors of 16 output channels per backward-weights tile */
#define NJ 24         /* (channel, tap) rows per backward-weights tile, at most */
#define MAX_TAPS 64   /* kh*kw: up to 8x8 */
#define Q_TARGET 1024 /* positions per group of images: the tiles' B rows stay in L1/L2 */
#define Q_TARGET_FILTER 512

/* The layout of one pass: a stride-1 convolution of c input channels
 * (h, w) into k output channels (ho, wo), kernel kh x kw, padding ph, pw. */
typedef struct geo {
  int64_t n, c, h, w, k, ho, wo, kh, kw, ph, pw;
  int64_t s;    /* rows per image in a shifted plane: ph + h */
  int64_t g;    /* images per group */
  int64_t rows; /* rows of a shifted plane: g*s + ph */
  int64_t qpad; /* output positions of a full group, rounded up to a vector */
  int threads;
} geo;

static void geo_of(geo *e, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t kh,
                   int64_t kw, int64_t ph, int64_t pw, int threads, int64_t q_target) {
  *e = (geo){.n = n, .c = c, .h = h, .w = w, .k = k, .kh = kh, .kw = kw, .ph = ph, .pw = pw};
  e->ho = h + 2 * ph - kh + 1;
  e->wo = w + 2 * pw - kw + 1;
  e->s = h + ph;
  e->threads = threads;
  int64_t gmax = q_target / (e->s * e->wo);
  if (gmax < 1) gmax = 1;
  /* as many groups per thread on every thread: equal shares of the batch */
  int64_t per = (n + (int64_t)threads * gmax - 1) / ((int64_t)threads * gmax);
  int64_t groups = (int64_t)threads * per;
  e->g = (n + groups - 1) / groups;
  e->rows = e->g * e->s + ph;
  e->qpad = ((e->g - 1) * e->s + e->ho) * e->wo;
  e->qpad = (e->qpad + 15) / 16 * 16;
}

static int64_t groups_of(const geo *e) { return (e->n + e->g - 1) / e->g; }
static int64_t taps_of(const geo *e) { return e->kh * e->kw; }
static int64_t plane_of(const geo *e) { return e->rows * e->wo; } /* floats per channel */
/* Where tap t = (ki, kj) of channel 0 starts in the shifted planes. */
static int64_t tap_offset(const geo *e, int64_t t) {
  return t % e->kw * e->c * plane_of(e) + t / e->kw * e->wo;
}
static size_t src_bytes(const geo *e) {
  return dx_conv_round_up((size_t)(e->kw * e->c * plane_of(e)) * sizeof(float));
}
static size_t out_bytes(const geo *e) {
  return dx_conv_round_up((size_t)(e->k * e->qpad) * sizeof(float));
}
static size_t filter_bytes(const geo *e) {
  return dx_conv_round_up((size_t)(e->k * e->c * taps_of(e)) * sizeof(float));
}

/* The forward pass's layout, and backward-data's: dy (k = Ci output
 * channels of the transposed convolution, from Co inputs), flipped padding. */
static void fwd_geo(const dx_conv2d_desc *d, geo *e) {
  geo_of(e, d->n, d->ci, d->h, d->w, d->co, d->kh, d->kw, d->pad, d->pad, omp_get_max_threads(),
         Q_TARGET);
}
static void bwd_geo(const dx_conv2d_desc *d, geo *e) {
  geo_of(e, d->n, d->co, d->ho, d->wo, d->ci, d->kh, d->kw, d->kh - 1 - d->pad, d->kw - 1 - d->pad,
         omp_get_max_threads(), Q_TARGET);
}
/* Backward-weights: fewer positions per group, so that dy^T stays in L2. */
static void filter_geo(const dx_conv2d_desc *d, geo *e) {
  geo_of(e, d->n, d->ci, d->h, d->w, d->co, d->kh, d->kw, d->pad, d->pad, omp_get_max_threads(),
         Q_TARGET_FILTER);
}
/* Output channels of backward-weights' dy^T rows, rounded up to vectors. */
static int64_t kpad_of(const geo *e) { return (e->k + 15) / 16 * 16; }
static size_t dyt_bytes(const geo *e) {
  return dx_conv_round_up((size_t)(e->qpad * kpad_of(e)) * sizeof(float));
}
static size_t dwt_bytes(const geo *e) {
  return dx_conv_round_up((size_t)(e->c * taps_of(e) * kpad_of(e)) * sizeof(float));
}
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

bool dx_conv_implicit_ok(const dx_conv2d_desc *d) {
#ifdef DX_CONV_KERNELS
  int threads = omp_get_max_threads();
  /* A 1x1 unpadded convolution is already a product that BLAS runs on x in
   * place (conv.c); here it would only gain the copies. */
  bool direct = d->kh == 1 && d->kw == 1 && d->pad == 0;
  return d->dtype == DX_F32 && d->groups == 1 && !direct && d->stride == 1 && d->pad < d->kh &&
         d->pad < d->kw && d->kh * d->kw <= MAX_TAPS && (d->n >= threads || threads == 1) &&
         __builtin_cpu_supports("avx512f");
#else
  (void)d;
  return false;
#endif
}

/* Workspace: the packed filter, then per thread a shifted plane set, an
 * output (or dy) block and a filter gradient. */
typedef struct slots {
  size_t filter, src, out, dw, per_thread;
} slots;

static slots slots_of(const dx_conv2d_desc *d) {
  geo f, b, w;
  fwd_geo(d, &f);
  bwd_geo(d, &b);
  filter_geo(d, &w);
  slots s = {.filter = filter_bytes(&f)};
  s.src = max_size(max_size(src_bytes(&f), src_bytes(&b)), src_bytes(&w));
  s.out = max_size(max_size(out_bytes(&f), out_bytes(&b)), dyt_bytes(&w));
  s.dw = dwt_bytes(&w);
  s.per_thread = s.src + s.out + s.dw;
  return s;
}

size_t dx_conv_implicit_workspace(const dx_conv2d_desc *d) {
  slots s = slots_of(d);
  return s.filter + (size_t)omp_get_max_threads() * s.per_thread;
}

static float *slot_src(const slots *s, void *ws, int t) {
  return (float *)((char *)ws + s->filter + (size_t)t * s->per_thread);
}
static float *slot_out(const slots *s, void *ws, int t) {
  return (float *)((char *)slot_src(s, ws, t) + s->src);
}
static float *slot_dw(const slots *s, void *ws, int t) {
  return (float *)((char *)slot_out(s, ws, t) + s->out);
}

/* --- layouts ---------------------------------------------------------------------- */

/* Output positions of a group of m images: the last image's garbage rows
 * are not computed. */
static int64_t q_of(const geo *e, int64_t m) { return ((m - 1) * e->s + e->ho) * e->wo; }

/* dy (N,K,Ho,Wo) images [i0, i0+m) -> dyt (q, kpad): position q of the
 * group's layout, output channel k; zero on the garbage rows between images
 * and in the padding channels. */
static void fill_dyt(const geo *e, const float *dy, int64_t i0, int64_t m, float *dyt) {
  int64_t p = e->ho * e->wo, kp = kpad_of(e), q = q_of(e, m);
  memset(dyt, 0, (size_t)(q * kp) * sizeof(float));
  for (int64_t j = 0; j < m; j++) {
    float *seg = dyt + j * e->s * e->wo * kp;
    const float *img = dy + (i0 + j) * e->k * p;
    for (int64_t k = 0; k < e->k; k++)
      for (int64_t i = 0; i < p; i++)
        seg[i * kp + k] = img[k * p + i];
  }
}

/* out (K, qpad) -> y (N,K,Ho,Wo) images [i0, i0+m), ystep floats apart
 * (K*Ho*Wo but for depthwise planes): y = out + b[k]
 * (forward, b may be NULL) or y += out (backward-data). */
static void store_out(const geo *e, const float *out, int64_t i0, int64_t m, float *y,
                      int64_t ystep, const float *b, bool add) {
  int64_t p = e->ho * e->wo;
  for (int64_t j = 0; j < m; j++)
    for (int64_t k = 0; k < e->k; k++) {
      const float *o = out + k * e->qpad + j * e->s * e->wo;
      float *dst = y + (i0 + j) * ystep + k * p;
      if (add)
        for (int64_t q = 0; q < p; q++)
          dst[q] += o[q];
      else {
        float bk = b ? b[k] : 0.0f;
        for (int64_t q = 0; q < p; q++)
          dst[q] = o[q] + bk;
      }
    }
}

/* w (K,C,kh,kw) -> wp: blocks of MR output channels, each (C, taps, mr)
 * with mr = MR but for the last block. flip: w is the forward filter
 * (Co,Ci,kh,kw) of which this pass uses the transposed, flipped one. */
static void pack_filter(const geo *e, const float *w, bool flip, float *wp) {
  int64_t taps = taps_of(e);
  for (int64_t k0 = 0; k0 < e->k; k0 += MR) {
    int64_t mr = e->k - k0 < MR ? e->k - k0 : MR;
    float *blk = wp + k0 * e->c * taps;
    for (int64_t c = 0; c < e->c; c++)
      for (int64_t t = 0; t < taps; t++)
        for (int64_t i = 0; i < mr; i++) {
          int64_t k = k0 + i;
          float v = flip ? w[(c * e->k + k) * taps + (taps - 1 - t)] : w[(k * e->c + c) * taps + t];
          blk[(c * taps + t) * mr + i] = v;
        }
  }
}

#ifdef DX_CONV_KERNELS

/* Lanes o0 + l < end of a vector starting at o0 (none if end <= o0). */
static DX_INLINE DX_AVX512 __mmask16 lanes(int64_t o0, int64_t end) {
  int64_t n = end - o0;
  return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* x (N,C,H,W) images [i0, i0+m), xstep floats apart (C*H*W but for
 * depthwise planes) -> src (kw, C, rows, Wo): copy kj holds
 * row r = j*s + ph + ih of image j shifted so that column ow reads input
 * column ow + kj - pw, zero outside; rows j*s .. j*s+ph-1 and the ph rows
 * after the last image are zero. Rows are a few dozen floats, so each is
 * written with masked vector loads and stores: a memcpy and two memsets per
 * row cost as much as the product itself. */
static DX_AVX512 void fill_src(const geo *e, const float *x, int64_t xstep, int64_t i0, int64_t m,
                               float *src) {
  int64_t wo = e->wo, plane = plane_of(e);
  size_t img = (size_t)xstep;
  for (int64_t kj = 0; kj < e->kw; kj++) {
    int64_t lo, hi;
    dx_conv_valid_range(e->w, wo, kj, 1, (int)e->pw, &lo, &hi);
    for (int64_t c = 0; c < e->c; c++) {
      float *dst = src + (kj * e->c + c) * plane;
      for (int64_t j = 0; j < m; j++) {
        float *seg = dst + j * e->s * wo;
        memset(seg, 0, (size_t)(e->ph * wo) * sizeof(float));
        const float *plane_in = x + (size_t)(i0 + j) * img + (size_t)(c * e->h * e->w);
        if (lo == 0 && hi == wo && wo == e->w && kj == e->pw) { /* unshifted: the whole plane */
          memcpy(seg + e->ph * wo, plane_in, (size_t)(e->h * wo) * sizeof(float));
          continue;
        }
        for (int64_t ih = 0; ih < e->h; ih++) {
          float *row = seg + (e->ph + ih) * wo;
          /* column ow reads in[ow]: only [lo, hi) is inside the image */
          const float *in = plane_in + ih * e->w + kj - e->pw;
          for (int64_t o0 = 0; o0 < wo; o0 += 16) {
            __mmask16 keep = lanes(o0, wo), real = lanes(o0, hi) & ~lanes(o0, lo);
            _mm512_mask_storeu_ps(row + o0, keep, _mm512_maskz_loadu_ps(real, in + o0));
          }
        }
      }
      memset(dst + m * e->s * wo, 0, (size_t)(e->ph * wo) * sizeof(float));
    }
  }
}

/* --- forward tile: out (mr, 16 nv) = wp (mr, C*taps) src (C*taps, 16 nv) ----- */

typedef struct fwd_args {
  const float *wp;    /* (C, taps, mr) */
  const float *src;   /* the tile's first position in copy 0, channel 0 */
  const int64_t *off; /* taps: offset of tap t from src */
  int64_t c, taps, plane;
  float *out;
  int64_t ldo;
  __mmask16 last; /* lanes of the last vector */
} fwd_args;

static DX_INLINE DX_AVX512 void fwd_tile(int mr, int nv, const fwd_args *a) {
  __m512 acc[MR][NV] = {{{0}}};
  const float *wp = a->wp;
  for (int64_t c = 0; c < a->c; c++) {
    const float *sc = a->src + c * a->plane;
    for (int64_t t = 0; t < a->taps; t++, wp += mr) {
      const float *s = sc + a->off[t];
      __m512 xv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < nv - 1; v++)
        xv[v] = _mm512_loadu_ps(s + 16 * v);
      xv[nv - 1] = _mm512_maskz_loadu_ps(a->last, s + 16 * (nv - 1));
#pragma GCC unroll 8
      for (int i = 0; i < mr; i++) {
        __m512 wv = _mm512_set1_ps(wp[i]);
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
          acc[i][v] = _mm512_fmadd_ps(wv, xv[v], acc[i][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++) {
#pragma GCC unroll 4
    for (int v = 0; v < nv - 1; v++)
      _mm512_storeu_ps(a->out + i * a->ldo + 16 * v, acc[i][v]);
    _mm512_mask_storeu_ps(a->out + i * a->ldo + 16 * (nv - 1), a->last, acc[i][nv - 1]);
  }
}

typedef void (*fwd_fn)(const fwd_args *a);
#define FWD(m, v)                                                                                  \
  static DX_AVX512 void fwd_##m##_##v(const fwd_args *a) { fwd_tile(m, v, a); }
#define FWD_ROW(m) FWD(m, 1) FWD(m, 2) FWD(m, 3) FWD(m, 4)
// clang-format off
FWD_ROW(1)
FWD_ROW(2)
FWD_ROW(3)
FWD_ROW(4)
FWD_ROW(5)
FWD_ROW(6)
FWD_ROW(7)
#define FWD_REF(m)                                                                                 \
  { fwd_##m##_1, fwd_##m##_2, fwd_##m##_3, fwd_##m##_4 }
static const fwd_fn fwd_tiles[MR][NV] = {FWD_REF(1), FWD_REF(2), FWD_REF(3), FWD_REF(4),
                                         FWD_REF(5), FWD_REF(6), FWD_REF(7)};
// clang-format on

/* out (k, ldo) [:, 0:q) = wp (k, c*taps) src: wp packed as pack_filter's
 * blocks of MR output channels, tap t of channel c at src + c*plane + offs[t]. */
static void product(int64_t k, int64_t c, int64_t taps, const int64_t *offs, int64_t plane,
                    const float *wp, const float *src, int64_t q, float *out, int64_t ldo) {
  for (int64_t q0 = 0; q0 < q; q0 += 16 * NV) {
    int64_t len = q - q0 < 16 * NV ? q - q0 : 16 * NV;
    int nv = (int)((len + 15) / 16);
    int rest = (int)(len - 16 * (nv - 1));
    fwd_args a = {.src = src + q0,
                  .off = offs,
                  .c = c,
                  .taps = taps,
                  .plane = plane,
                  .ldo = ldo,
                  .last = (__mmask16)((1u << rest) - 1)};
    for (int64_t k0 = 0; k0 < k; k0 += MR) {
      int mr = (int)(k - k0 < MR ? k - k0 : MR);
      a.wp = wp + k0 * c * taps;
      a.out = out + k0 * ldo + q0;
      fwd_tiles[mr - 1][nv - 1](&a);
    }
  }
}

/* out (K, qpad) [:, 0:q) = wp src for one group of images. */
static void fwd_group(const geo *e, const float *wp, const float *src, int64_t q, float *out) {
  int64_t taps = taps_of(e), offs[MAX_TAPS];
  for (int64_t t = 0; t < taps; t++)
    offs[t] = tap_offset(e, t);
  product(e->k, e->c, taps, offs, plane_of(e), wp, src, q, out, e->qpad);
}

void dx_conv_implicit_product(int64_t k, int64_t c, const float *wp, const float *src, int64_t ld,
                              int64_t q, float *out, int64_t ldo) {
  const int64_t zero = 0;
  product(k, c, 1, &zero, ld, wp, src, q, out, ldo);
}

/* --- backward-weights tile: dwt (nj, 16 nv) += src (nj, q) dyt (q, 16 nv) ----------
 *
 * Vectors run over output channels and the (channel, tap) rows of src are
 * broadcast one position at a time: the sum over positions then stays in
 * the lanes, with no horizontal sums, and each position costs nv vector
 * loads and nj broadcasts for nv*nj fused multiply-adds. */

typedef struct bww_args {
  const float *dyt; /* (q, ldd): the tile's first channel */
  int64_t ldd;
  const float *rows[NJ]; /* src rows (c, tap) of the tile */
  int64_t q;
  float *dwt; /* (nj, ldw): the tile's first row and channel */
  int64_t ldw;
} bww_args;

static DX_INLINE DX_AVX512 void bww_tile(int nv, int nj, const bww_args *a) {
  __m512 acc[NVW][NJ] = {{{0}}};
  const float *dq = a->dyt;
  for (int64_t q = 0; q < a->q; q++, dq += a->ldd) {
    __m512 dv[NVW];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
      dv[v] = _mm512_loadu_ps(dq + 16 * v);
#pragma GCC unroll 24
    for (int j = 0; j < nj; j++) {
      __m512 xv = _mm512_set1_ps(a->rows[j][q]);
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++)
        acc[v][j] = _mm512_fmadd_ps(xv, dv[v], acc[v][j]);
    }
  }
#pragma GCC unroll 24
  for (int j = 0; j < nj; j++)
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
      float *o = a->dwt + j * a->ldw + 16 * v;
      _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[v][j]));
    }
}

/* Rows per tile for nv vectors: about 24 accumulators (32 registers less
 * nv for dy and one broadcast). */
static int rows_for(int nv) { return nv == 1 ? 24 : nv == 2 ? 12 : nv == 3 ? 8 : 6; }

typedef void (*bww_fn)(const bww_args *a);
// clang-format off
#define BWW(v, j)                                                                                  \
  static DX_AVX512 void bww_##v##_##j(const bww_args *a) { bww_tile(v, j, a); }
#define BWW_ROW(v) \
  BWW(v, 1) BWW(v, 2) BWW(v, 3) BWW(v, 4) BWW(v, 5) BWW(v, 6) BWW(v, 7) BWW(v, 8) \
  BWW(v, 9) BWW(v, 10) BWW(v, 11) BWW(v, 12) BWW(v, 13) BWW(v, 14) BWW(v, 15) BWW(v, 16) \
  BWW(v, 17) BWW(v, 18) BWW(v, 19) BWW(v, 20) BWW(v, 21) BWW(v, 22) BWW(v, 23) BWW(v, 24)
BWW_ROW(1)
BWW_ROW(2)
BWW_ROW(3)
BWW_ROW(4)
#define BWW_REF(v) \
  {bww_##v##_1, bww_##v##_2, bww_##v##_3, bww_##v##_4, bww_##v##_5, bww_##v##_6, \
   bww_##v##_7, bww_##v##_8, bww_##v##_9, bww_##v##_10, bww_##v##_11, bww_##v##_12, \
   bww_##v##_13, bww_##v##_14, bww_##v##_15, bww_##v##_16, bww_##v##_17, bww_##v##_18, \
   bww_##v##_19, bww_##v##_20, bww_##v##_21, bww_##v##_22, bww_##v##_23, bww_##v##_24}
static const bww_fn bww_tiles[NVW][NJ] = {BWW_REF(1), BWW_REF(2), BWW_REF(3), BWW_REF(4)};
// clang-format on

/* dwt (n, kp) += src (n, q) dyt (q, kp), row j of src at src + (j / taps) *
 * plane + offs[j % taps]: a channel's taps in the shifted planes (or, with
 * taps = 1 and offs = {0}, rows plane floats apart). */
static void reduce(int64_t n, int64_t taps, const int64_t *offs, int64_t plane, const float *src,
                   const float *dyt, int64_t kp, int64_t q, float *dwt) {
  int64_t kv = kp / 16;
  bww_args a = {.ldd = kp, .q = q, .ldw = kp};
  /* channel blocks inner: a tile's rows stay in L1 while dy^T passes */
  for (int64_t v0 = 0, nv; v0 < kv; v0 += nv) {
    nv = kv - v0 < NVW ? kv - v0 : NVW;
    /* split the rest evenly: 7 vectors as 4 + 3, not 4 + 3 by accident */
    int rj = rows_for((int)nv);
    for (int64_t j0 = 0, nj; j0 < n; j0 += nj) {
      nj = n - j0 < rj ? n - j0 : rj;
      for (int64_t j = 0; j < nj; j++)
        a.rows[j] = src + (j0 + j) / taps * plane + offs[(j0 + j) % taps];
      a.dyt = dyt + 16 * v0;
      a.dwt = dwt + j0 * kp + 16 * v0;
      bww_tiles[nv - 1][nj - 1](&a);
    }
  }
}

/* dwt (C*taps, kpad) += src (C*taps, q) dyt (q, kpad) for one group. */
static void bww_group(const geo *e, const float *dyt, const float *src, int64_t q, float *dwt) {
  int64_t taps = taps_of(e), offs[MAX_TAPS];
  for (int64_t t = 0; t < taps; t++)
    offs[t] = tap_offset(e, t);
  reduce(e->c * taps, taps, offs, plane_of(e), src, dyt, kpad_of(e), q, dwt);
}

void dx_conv_implicit_reduce(int64_t n, const float *src, int64_t ld, const float *dyt, int64_t kp,
                             int64_t q, float *dwt) {
  const int64_t zero = 0;
  reduce(n, 1, &zero, ld, src, dyt, kp, q, dwt);
}

/* --- passes ------------------------------------------------------------------------ */

static int64_t images_in(const geo *e, int64_t gi) {
  int64_t i0 = gi * e->g;
  return e->n - i0 < e->g ? e->n - i0 : e->g;
}

/* One group of images through the forward product: y = conv + b, or
 * (backward-data) dx += conv. */
static void fwd_images(const geo *e, const slots *s, void *ws, const float *wp, const float *in,
                       const float *b, float *y, int64_t gi, bool add) {
  int t = omp_get_thread_num();
  int64_t m = images_in(e, gi);
  float *src = slot_src(s, ws, t), *out = slot_out(s, ws, t);
  fill_src(e, in, e->c * e->h * e->w, gi * e->g, m, src);
  fwd_group(e, wp, src, q_of(e, m), out);
  store_out(e, out, gi * e->g, m, y, e->k * e->ho * e->wo, b, add);
}

static void fwd_pass(const geo *e, const slots *s, void *ws, const float *in, const float *b,
                     float *y, bool add) {
  const float *wp = ws;
  int64_t groups = groups_of(e);
  DX_PAR_IF(groups > 1, "omp parallel for schedule(dynamic) num_threads(e->threads)",
            for (int64_t gi = 0; gi < groups; gi++) fwd_images(e, s, ws, wp, in, b, y, gi, add););
}

/* x (N,Ci,H,W), w (Co,Ci,kh,kw), b (Co) or NULL -> y (N,Co,Ho,Wo) */
void dx_conv_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws) {
  geo e;
  fwd_geo(d, &e);
  slots s = slots_of(d);
  pack_filter(&e, w, false, ws);
  fwd_pass(&e, &s, ws, x, b, y, false);
}

/* dy (N,Co,Ho,Wo), w (Co,Ci,kh,kw) -> dx (N,Ci,H,W) += */
void dx_conv_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws) {
  geo e;
  bwd_geo(d, &e);
  slots s = slots_of(d);
  pack_filter(&e, w, true, ws);
  fwd_pass(&e, &s, ws, dy, NULL, dx, true);
}

/* This thread's groups of images into its own dw (K, C*taps). */
static void bww_images(const geo *e, const slots *s, void *ws, const float *x, const float *dy,
                       int64_t gi) {
  int t = omp_get_thread_num();
  int64_t m = images_in(e, gi);
  float *src = slot_src(s, ws, t), *dyt = slot_out(s, ws, t);
  fill_src(e, x, e->c * e->h * e->w, gi * e->g, m, src);
  fill_dyt(e, dy, gi * e->g, m, dyt);
  bww_group(e, dyt, src, q_of(e, m), slot_dw(s, ws, t));
}

/* x (N,Ci,H,W), dy (N,Co,Ho,Wo) -> dw (Co,Ci,kh,kw) += */
void dx_conv_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, void *ws) {
  geo e;
  filter_geo(d, &e);
  slots s = slots_of(d);
  int64_t groups = groups_of(&e), rows = e.c * taps_of(&e), kp = kpad_of(&e);
  for (int t = 0; t < e.threads; t++)
    memset(slot_dw(&s, ws, t), 0, (size_t)(rows * kp) * sizeof(float));
  /* static: which images a thread sums, and in what order, must not depend
   * on timing (reproducible runs) */
  DX_PAR_IF(groups > 1, "omp parallel for schedule(static) num_threads(e.threads)",
            for (int64_t gi = 0; gi < groups; gi++) bww_images(&e, &s, ws, x, dy, gi););
  /* the threads' dw^T (C*taps, kpad), in thread order, into dw (K, C*taps) */
  for (int t = 1; t < e.threads; t++)
    dx_conv_axpy(DX_F32, slot_dw(&s, ws, 0), 1, 1.0, slot_dw(&s, ws, t), 1, rows * kp);
  const float *dwt = slot_dw(&s, ws, 0);
  for (int64_t k = 0; k < e.k; k++)
    for (int64_t j = 0; j < rows; j++)
      dw[k * rows + j] += dwt[j * kp + k];
}

/* --- depthwise: one filter per channel (ConvNeXt's 7x7) ---------------------------
 *
 * The same layout one channel at a time: a thread owns channels and walks
 * the batch in groups of images, building the channel's kw shifted planes
 * for a group (they stay in cache), and each output vector is a sum of one
 * vector per tap scaled by that tap, broadcast. Backward-data is the
 * forward pass of dy with the flipped filter; backward-filter sums dy times
 * each tap's plane, up to NTD taps at a time in registers, across lanes
 * once per group. The threads own channels, so each filter's gradient is
 * summed by one thread in a fixed order. */

#define NVD 8  /* output vectors per depthwise tile */
#define NTD 24 /* taps per depthwise backward-filter tile */

static void dw_geo(const dx_conv2d_desc *d, bool backward, geo *e) {
  if (backward)
    geo_of(e, d->n, 1, d->ho, d->wo, 1, d->kh, d->kw, d->kh - 1 - d->pad, d->kw - 1 - d->pad, 1,
           Q_TARGET);
  else
    geo_of(e, d->n, 1, d->h, d->w, 1, d->kh, d->kw, d->pad, d->pad, 1, Q_TARGET);
}

bool dx_conv_depthwise_implicit_ok(const dx_conv2d_desc *d) {
  return d->dtype == DX_F32 && dx_conv_is_depthwise(d) && d->stride == 1 && d->pad < d->kh &&
         d->pad < d->kw && d->kh * d->kw <= MAX_TAPS && __builtin_cpu_supports("avx512f");
}

/* Per thread: one channel's shifted planes, then one output (or dy) plane. */
static size_t dw_src_bytes(const dx_conv2d_desc *d) {
  geo f, b;
  dw_geo(d, false, &f);
  dw_geo(d, true, &b);
  return max_size(src_bytes(&f), src_bytes(&b));
}
static size_t dw_slot(const dx_conv2d_desc *d) {
  geo f, b;
  dw_geo(d, false, &f);
  dw_geo(d, true, &b);
  return dw_src_bytes(d) + max_size(out_bytes(&f), out_bytes(&b));
}
static float *dw_mine_src(const dx_conv2d_desc *d, void *ws) {
  return (float *)((char *)ws + (size_t)omp_get_thread_num() * dw_slot(d));
}
static float *dw_mine_out(const dx_conv2d_desc *d, void *ws) {
  return (float *)((char *)dw_mine_src(d, ws) + dw_src_bytes(d));
}

size_t dx_conv_depthwise_implicit_workspace(const dx_conv2d_desc *d) {
  return (size_t)omp_get_max_threads() * dw_slot(d);
}

/* out (16 nv) = sum over taps t of w[t] src[off[t] ...] */
static DX_INLINE DX_AVX512 void dwf_tile(int nv, const float *src, const int64_t *off,
                                         const float *w, int64_t taps, float *out, __mmask16 last) {
  __m512 acc[NVD] = {{0}};
  for (int64_t t = 0; t < taps; t++) {
    __m512 wv = _mm512_set1_ps(w[t]);
    const float *sp = src + off[t];
#pragma GCC unroll 8
    for (int v = 0; v < nv - 1; v++)
      acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(sp + 16 * v), acc[v]);
    acc[nv - 1] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(last, sp + 16 * (nv - 1)), acc[nv - 1]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < nv - 1; v++)
    _mm512_storeu_ps(out + 16 * v, acc[v]);
  _mm512_mask_storeu_ps(out + 16 * (nv - 1), last, acc[nv - 1]);
}

typedef void (*dwf_fn)(const float *src, const int64_t *off, const float *w, int64_t taps,
                       float *out, __mmask16 last);
#define DWF(v)                                                                                     \
  static DX_AVX512 void dwf_##v(const float *src, const int64_t *off, const float *w,              \
                                int64_t taps, float *out, __mmask16 last) {                        \
    dwf_tile(v, src, off, w, taps, out, last);                                                     \
  }
// clang-format off
DWF(1)
DWF(2)
DWF(3)
DWF(4)
DWF(5)
DWF(6)
DWF(7)
DWF(8) static const dwf_fn dwf_tiles[NVD] = {dwf_1, dwf_2, dwf_3, dwf_4,
                                                           dwf_5, dwf_6, dwf_7, dwf_8};
// clang-format on

/* dw[t] += sum_q dyc[q] src[off[t] + q], t < nt */
static DX_INLINE DX_AVX512 void dwb_tile(int nt, const float *dyc, const float *src,
                                         const int64_t *off, int64_t q, float *dw) {
  __m512 acc[NTD] = {{0}};
  for (int64_t q0 = 0; q0 < q; q0 += 16) {
    __mmask16 m = lanes(q0, q);
    __m512 dv = _mm512_maskz_loadu_ps(m, dyc + q0);
#pragma GCC unroll 24
    for (int t = 0; t < nt; t++)
      acc[t] = _mm512_fmadd_ps(dv, _mm512_maskz_loadu_ps(m, src + off[t] + q0), acc[t]);
  }
#pragma GCC unroll 24
  for (int t = 0; t < nt; t++)
    dw[t] += _mm512_reduce_add_ps(acc[t]);
}

typedef void (*dwb_fn)(const float *dyc, const float *src, const int64_t *off, int64_t q,
                       float *dw);
#define DWB(t)                                                                                     \
  static DX_AVX512 void dwb_##t(const float *dyc, const float *src, const int64_t *off, int64_t q, \
                                float *dw) {                                                       \
    dwb_tile(t, dyc, src, off, q, dw);                                                             \
  }
// clang-format off
DWB(1)
DWB(2)
DWB(3)
DWB(4)
DWB(5)
DWB(6)
DWB(7)
DWB(8)
DWB(9)
DWB(10)
DWB(11)
DWB(12)
DWB(13)
DWB(14)
DWB(15)
DWB(16)
DWB(17)
DWB(18)
DWB(19)
DWB(20)
DWB(21)
DWB(22)
DWB(23)
DWB(24)
static const dwb_fn dwb_tiles[NTD] = {
    dwb_1,  dwb_2,  dwb_3,  dwb_4,  dwb_5,  dwb_6,  dwb_7,  dwb_8,
    dwb_9,  dwb_10, dwb_11, dwb_12, dwb_13, dwb_14, dwb_15, dwb_16,
    dwb_17, dwb_18, dwb_19, dwb_20, dwb_21, dwb_22, dwb_23, dwb_24};
// clang-format on

static void tap_offsets(const geo *e, int64_t *offs) {
  for (int64_t t = 0; t < taps_of(e); t++)
    offs[t] = tap_offset(e, t);
}

/* One channel through the forward product, every image: in (N,C,H,W)
 * channel c -> out plane y (N,C,Ho,Wo) channel c, = conv + b[c] or (add) +=.
 * wc: the channel's taps. */
static DX_AVX512 void dw_channel(const geo *e, int64_t cs, const float *in, const float *wc,
                                 const float *b, float *y, bool add, float *src, float *out) {
  int64_t taps = taps_of(e), offs[MAX_TAPS];
  tap_offsets(e, offs);
  for (int64_t gi = 0; gi < groups_of(e); gi++) {
    int64_t m = images_in(e, gi), q = q_of(e, m);
    fill_src(e, in, cs * e->h * e->w, gi * e->g, m, src);
    for (int64_t q0 = 0; q0 < q; q0 += 16 * NVD) {
      int64_t len = q - q0 < 16 * NVD ? q - q0 : 16 * NVD;
      int nv = (int)((len + 15) / 16);
      dwf_tiles[nv - 1](src + q0, offs, wc, taps, out + q0, lanes(16 * (nv - 1), len));
    }
    store_out(e, out, gi * e->g, m, y, cs * e->ho * e->wo, b, add);
  }
}

/* x (N,C,H,W), w (C,1,kh,kw), b (C) or NULL -> y (N,C,Ho,Wo) */
void dx_conv_depthwise_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w,
                                    const float *b, float *y, void *ws) {
  geo e;
  dw_geo(d, false, &e);
  int64_t taps = taps_of(&e), hw = d->h * d->w, p = d->ho * d->wo;
  DX_PAR_IF(d->ci > 1, "omp parallel for schedule(static)",
            for (int64_t c = 0; c < d->ci; c++)
                dw_channel(&e, d->ci, x + c * hw, w + c * taps, b ? b + c : NULL, y + c * p, false,
                           dw_mine_src(d, ws), dw_mine_out(d, ws)););
}

/* dy (N,C,Ho,Wo), w (C,1,kh,kw) -> dx (N,C,H,W) += */
void dx_conv_depthwise_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w,
                                         float *dx, void *ws) {
  geo e;
  dw_geo(d, true, &e);
  int64_t taps = taps_of(&e), hw = d->h * d->w, p = d->ho * d->wo;
  DX_PAR_IF(
      d->ci > 1, "omp parallel for schedule(static)", for (int64_t c = 0; c < d->ci; c++) {
        float flip[MAX_TAPS];
        for (int64_t t = 0; t < taps; t++)
          flip[t] = w[c * taps + taps - 1 - t];
        dw_channel(&e, d->ci, dy + c * p, flip, NULL, dx + c * hw, true, dw_mine_src(d, ws),
                   dw_mine_out(d, ws));
      });
}

/* dy (N,C,Ho,Wo) channel c, images [i0, i0+m) -> dyc in the group's layout,
 * zero on the garbage rows between images. */
static void fill_dy_plane(const geo *e, const float *dy, int64_t step, int64_t i0, int64_t m,
                          float *dyc) {
  int64_t p = e->ho * e->wo;
  for (int64_t j = 0; j < m; j++) {
    float *seg = dyc + j * e->s * e->wo;
    memcpy(seg, dy + (i0 + j) * step, (size_t)p * sizeof(float));
    if (j + 1 < m) memset(seg + p, 0, (size_t)((e->s - e->ho) * e->wo) * sizeof(float));
  }
}

/* One channel's filter gradient over every image: dwc (taps) += */
static void dw_filter_channel(const geo *e, int64_t cs, const float *x, const float *dy, float *dwc,
                              float *src, float *dyc) {
  int64_t taps = taps_of(e), offs[MAX_TAPS];
  tap_offsets(e, offs);
  for (int64_t gi = 0; gi < groups_of(e); gi++) {
    int64_t m = images_in(e, gi), q = q_of(e, m);
    fill_src(e, x, cs * e->h * e->w, gi * e->g, m, src);
    fill_dy_plane(e, dy, cs * e->ho * e->wo, gi * e->g, m, dyc);
    for (int64_t t0 = 0, nt; t0 < taps; t0 += nt) {
      nt = taps - t0 < NTD ? taps - t0 : NTD;
      dwb_tiles[nt - 1](dyc, src, offs + t0, q, dwc + t0);
    }
  }
}

/* x (N,C,H,W), dy (N,C,Ho,Wo) -> dw (C,1,kh,kw) += */
void dx_conv_depthwise_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                           float *dw, void *ws) {
  geo e;
  dw_geo(d, false, &e);
  int64_t taps = taps_of(&e), hw = d->h * d->w, p = d->ho * d->wo;
  DX_PAR_IF(d->ci > 1, "omp parallel for schedule(static)",
            for (int64_t c = 0; c < d->ci; c++)
                dw_filter_channel(&e, d->ci, x + c * hw, dy + c * p, dw + c * taps,
                                  dw_mine_src(d, ws), dw_mine_out(d, ws)););
}

#else /* no AVX-512 kernels on this target: dx_conv_implicit_ok() says no */

void dx_conv_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws) {}
void dx_conv_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws) {}
void dx_conv_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, void *ws) {}
void dx_conv_implicit_product(int64_t k, int64_t c, const float *wp, const float *src, int64_t ld,
                              int64_t q, float *out, int64_t ldo) {}
void dx_conv_implicit_reduce(int64_t n, const float *src, int64_t ld, const float *dyt, int64_t kp,
                             int64_t q, float *dwt) {}
bool dx_conv_depthwise_implicit_ok(const dx_conv2d_desc *d) { return false; }
size_t dx_conv_depthwise_implicit_workspace(const dx_conv2d_desc *d) { return 0; }
void dx_conv_depthwise_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w,
                                    const float *b, float *y, void *ws) {}
void dx_conv_depthwise_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w,
                                         float *dx, void *ws) {}
void dx_conv_depthwise_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                           float *dw, void *ws) {}
#endif
