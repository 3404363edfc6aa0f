/* CPU kernels: 2-D convolution as im2col + GEMM, forward and both backwards.
 *
 * For one image the convolution is a matrix product (Chellapilla et al. 2006,
 * "High performance convolutional neural networks for document processing"):
 * with col (Ci*kh*kw, Ho*Wo) the unrolled input patches, y = W (Co, Ci*kh*kw) col;
 * group g uses rows [g*Kg, (g+1)*Kg) of col and rows [g*Cog, (g+1)*Cog) of W.
 * Backward-data is dcol = W^T dy folded back by col2im; backward-filter is
 * dW += dy col^T.
 *
 * Threads take whole images (OpenBLAS's OpenMP build runs single-threaded
 * inside our parallel region): the products of different images share
 * nothing, so no thread waits. Each thread unrolls its image in bands of
 * output rows into its own slot of the workspace, sized so that a band stays
 * in cache between im2col and the GEMM that reads it, and so that a batch of
 * any size needs a bounded workspace. With fewer images than threads, images
 * run one after another and BLAS spreads each product over the threads. A
 * 1x1 convolution with stride 1 and no padding is already a product: it reads
 * x in place, with no im2col. Depthwise convolutions have their own loops
 * (conv_depthwise.c); float32 stride-1 convolutions on a CPU with AVX-512
 * an implicit GEMM (conv_implicit.c), or for 3x3 with padding 1
 * Winograd's F(2x2, 3x3) (conv_winograd.c); there a 1x1's backward-filter
 * has register tiles of its own (conv_pointwise.c). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"

/* Bytes of unrolled patches per band: about half a core's L2 cache. */
#define BAND_BYTES ((size_t)512 << 10)

typedef struct plan {
  const dx_conv2d_desc *d;
  size_t es;            /* element size */
  int64_t cig, cog, kg; /* per group: input and output channels, Cig*kh*kw */
  int64_t k;            /* Ci*kh*kw: rows of col */
  int64_t p;            /* Ho*Wo */
  int64_t band_rows, nbands;
  bool direct;    /* 1x1, stride 1, pad 0: col is x itself */
  bool per_image; /* threads over images (else BLAS threads per product) */
  int threads;
  size_t col_bytes, dw_bytes; /* per thread slot */
} plan;

static void plan_of(const dx_conv2d_desc *d, plan *pl) {
  memset(pl, 0, sizeof *pl);
  pl->d = d;
  pl->es = dx_dtype_size(d->dtype);
  pl->cig = d->ci / d->groups;
  pl->cog = d->co / d->groups;
  pl->kg = pl->cig * d->kh * d->kw;
  pl->k = d->ci * d->kh * d->kw;
  pl->p = d->ho * d->wo;
  pl->direct = d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
  size_t row_bytes = (size_t)(pl->k * d->wo) * pl->es;
  pl->nbands =
      pl->direct ? 1 : (int64_t)(((size_t)d->ho * row_bytes + BAND_BYTES - 1) / BAND_BYTES);
  if (pl->nbands > d->ho) pl->nbands = d->ho;
  pl->band_rows = (d->ho + pl->nbands - 1) / pl->nbands;
  pl->nbands = (d->ho + pl->band_rows - 1) / pl->band_rows;
  pl->threads = omp_get_max_threads();
  pl->per_image = d->n >= pl->threads && pl->threads > 1;
  pl->col_bytes = pl->direct ? 0 : dx_conv_round_up((size_t)pl->band_rows * row_bytes);
  pl->dw_bytes = pl->per_image ? dx_conv_round_up((size_t)(d->co * pl->kg) * pl->es) : 0;
}

static int64_t slot_count(const plan *pl) { return pl->per_image ? pl->threads : 1; }

static size_t cpu_conv2d_workspace(dx_backend *be, const dx_conv2d_desc *d) {
  if (dx_conv_depthwise_implicit_ok(d)) return dx_conv_depthwise_implicit_workspace(d);
  if (dx_conv_is_depthwise(d)) return dx_conv_depthwise_workspace(d);
  if (dx_conv_implicit_ok(d)) {
    if (dx_conv_winograd_ok(d)) {
      size_t w2 = dx_conv_winograd_workspace(d), w4 = dx_conv_winograd4_workspace(d);
      return w2 > w4 ? w2 : w4;
    }
    return dx_conv_implicit_workspace(d);
  }
  plan pl;
  plan_of(d, &pl);
  size_t bytes = (size_t)slot_count(&pl) * (pl.col_bytes + pl.dw_bytes);
  if (dx_conv_pointwise_ok(d) && dx_conv_pointwise_workspace(d) > bytes)
    bytes = dx_conv_pointwise_workspace(d);
  return bytes;
}

/* ws is NULL when no slot needs bytes, and NULL + 0 is undefined in C. */
static char *slot_col(const plan *pl, void *ws, int t) {
  return ws ? (char *)ws + (size_t)t * (pl->col_bytes + pl->dw_bytes) : NULL;
}
static char *slot_dw(const plan *pl, void *ws, int t) {
  char *col = slot_col(pl, ws, t);
  return col ? col + pl->col_bytes : NULL;
}

static int this_slot(const plan *pl) { return pl->per_image ? omp_get_thread_num() : 0; }

/* --- element helpers: the only places that know float from double --------- */

#define DX_TYPED_FILE "backend/cpu/conv_typed.inc"
#include "backend/cpu/typed.h"

void dx_conv_axpy(dx_dtype dt, void *dst, int64_t ds, double a, const void *src, int64_t ss,
                  int64_t n) {
  DX_TYPED(dt, axpy, dst, ds, a, src, ss, n);
}

void dx_conv_mul_acc(dx_dtype dt, void *acc, const void *x, int64_t sx, const void *y, int64_t n) {
  DX_TYPED(dt, mul_acc, acc, x, sx, y, n);
}

bool dx_conv_switched_off(const char *name, int *cache) {
  if (*cache < 0) {
    const char *s = getenv(name);
    *cache = s && s[0] == '0';
  }
  return *cache;
}

/* dst[i] = src[i*stride], i < n (a bit copy: 4- or 8-byte elements) */
static void gather_strided(size_t es, void *dst, const void *src, int64_t stride, int64_t n) {
  if (es == 4) {
    uint32_t *y = dst;
    const uint32_t *x = src;
    for (int64_t i = 0; i < n; i++)
      y[i] = x[i * stride];
  } else {
    uint64_t *y = dst;
    const uint64_t *x = src;
    for (int64_t i = 0; i < n; i++)
      y[i] = x[i * stride];
  }
}

/* --- im2col / col2im over a band of output rows ------------------------------ */

/* x (Ci,H,W) -> col (Ci*kh*kw, (oh1-oh0)*Wo): rows (c,ki,kj), columns (oh,ow). */
static void im2col(const plan *pl, const char *x, char *col, int64_t oh0, int64_t oh1) {
  const dx_conv2d_desc *d = pl->d;
  size_t es = pl->es;
  int64_t cols = (oh1 - oh0) * d->wo;
  for (int64_t c = 0; c < d->ci; c++)
    for (int64_t ki = 0; ki < d->kh; ki++)
      for (int64_t kj = 0; kj < d->kw; kj++) {
        int64_t lo, hi;
        dx_conv_valid_range(d->w, d->wo, kj, d->stride, d->pad, &lo, &hi);
        char *row = col + (size_t)(((c * d->kh + ki) * d->kw + kj) * cols) * es;
        for (int64_t oh = oh0; oh < oh1; oh++, row += (size_t)d->wo * es) {
          int64_t ih = oh * d->stride - d->pad + ki;
          if (ih < 0 || ih >= d->h || lo == hi) {
            memset(row, 0, (size_t)d->wo * es);
            continue;
          }
          const char *src =
              x + (size_t)((c * d->h + ih) * d->w + lo * d->stride - d->pad + kj) * es;
          memset(row, 0, (size_t)lo * es);
          if (d->stride == 1)
            memcpy(row + lo * es, src, (size_t)(hi - lo) * es);
          else
            gather_strided(es, row + lo * es, src, d->stride, hi - lo);
          memset(row + hi * es, 0, (size_t)(d->wo - hi) * es);
        }
      }
}

/* dx (Ci,H,W) += fold(col (Ci*kh*kw, (oh1-oh0)*Wo)): the adjoint of im2col. */
static void col2im_add(const plan *pl, const char *col, char *dx, int64_t oh0, int64_t oh1) {
  const dx_conv2d_desc *d = pl->d;
  size_t es = pl->es;
  int64_t cols = (oh1 - oh0) * d->wo;
  for (int64_t c = 0; c < d->ci; c++)
    for (int64_t ki = 0; ki < d->kh; ki++)
      for (int64_t kj = 0; kj < d->kw; kj++) {
        int64_t lo, hi;
        dx_conv_valid_range(d->w, d->wo, kj, d->stride, d->pad, &lo, &hi);
        const char *row = col + (size_t)(((c * d->kh + ki) * d->kw + kj) * cols) * es;
        for (int64_t oh = oh0; oh < oh1; oh++, row += (size_t)d->wo * es) {
          int64_t ih = oh * d->stride - d->pad + ki;
          if (ih < 0 || ih >= d->h || lo == hi) continue;
          char *dst = dx + (size_t)((c * d->h + ih) * d->w + lo * d->stride - d->pad + kj) * es;
          dx_conv_axpy(d->dtype, dst, d->stride, 1.0, row + lo * es, 1, hi - lo);
        }
      }
}

/* The patches of output rows [oh0, oh1) of image x as a matrix (Ci*kh*kw,
 * cols) with leading dimension *ld: x itself for a direct 1x1, else
 * unrolled into colbuf. */
static const char *patches(const plan *pl, const char *x, char *colbuf, int64_t oh0, int64_t oh1,
                           int64_t *ld) {
  if (pl->direct) {
    *ld = pl->p;
    return x + (size_t)(oh0 * pl->d->wo) * pl->es;
  }
  im2col(pl, x, colbuf, oh0, oh1);
  *ld = (oh1 - oh0) * pl->d->wo;
  return colbuf;
}

/* --- images and bands ------------------------------------------------------------ */

/* The operands of one pass, per image: `in` and `aux` are read, `out` is
 * written; each advances by its step (bytes) per image, 0 when shared. */
typedef struct operands {
  const char *in, *aux;
  char *out;
  size_t in_step, aux_step, out_step;
  const void *bias;
} operands;

/* A pass over output rows [oh0, oh1) of one image. */
typedef void (*band_fn)(const plan *pl, const char *in, const char *aux, const void *bias,
                        char *out, char *colbuf, int64_t oh0, int64_t oh1);

static void image_bands(const plan *pl, band_fn fn, const operands *o, int64_t i, char *colbuf) {
  for (int64_t j = 0; j < pl->nbands; j++) {
    int64_t oh0 = j * pl->band_rows, oh1 = oh0 + pl->band_rows;
    fn(pl, o->in + (size_t)i * o->in_step, o->aux + (size_t)i * o->aux_step, o->bias,
       o->out + (size_t)i * o->out_step, colbuf, oh0, oh1 < pl->d->ho ? oh1 : pl->d->ho);
  }
}

/* Every image, a thread per image when there are enough of them. A thread
 * owns whole images: bands of one image overlap in dx (a kernel's halo). */
static void all_images(const plan *pl, band_fn fn, const operands *o, void *ws) {
  DX_PAR_IF(pl->per_image, "omp parallel for schedule(dynamic) num_threads(pl->threads)",
            for (int64_t i = 0; i < pl->d->n; i++)
                image_bands(pl, fn, o, i, slot_col(pl, ws, this_slot(pl))););
}

static size_t image_bytes(const plan *pl) {
  return (size_t)(pl->d->ci * pl->d->h * pl->d->w) * pl->es;
}
static size_t out_image_bytes(const plan *pl) { return (size_t)(pl->d->co * pl->p) * pl->es; }

/* --- forward ------------------------------------------------------------------- */

/* x (Ci,H,W), w (Co,Cig,kh,kw), b (Co) or NULL -> y (Co,Ho,Wo) rows [oh0,oh1) */
static void fwd_band(const plan *pl, const char *x, const char *w, const void *b, char *y,
                     char *colbuf, int64_t oh0, int64_t oh1) {
  const dx_conv2d_desc *d = pl->d;
  size_t es = pl->es;
  int64_t cols = (oh1 - oh0) * d->wo, off = oh0 * d->wo, ldcol;
  const char *col = patches(pl, x, colbuf, oh0, oh1, &ldcol);
  if (b) DX_TYPED(d->dtype, fill_rows, (void *)(y + (size_t)off * es), d->co, cols, pl->p, b);
  for (int64_t g = 0; g < d->groups; g++)
    dx_cpu_gemm(d->dtype, false, false, pl->cog, cols, pl->kg, 1.0,
                w + (size_t)(g * pl->cog * pl->kg) * es, pl->kg,
                col + (size_t)(g * pl->kg * ldcol) * es, ldcol, b ? 1.0 : 0.0,
                y + (size_t)(g * pl->cog * pl->p + off) * es, pl->p);
}

/* x (N,Ci,H,W), w (Co,Ci/groups,kh,kw), b (Co) or NULL -> y (N,Co,Ho,Wo) */
static void cpu_conv2d_fwd(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                           const dx_tensor *w, const dx_tensor *b, dx_tensor *y, void *ws) {
  if (dx_conv_depthwise_implicit_ok(d)) {
    dx_conv_depthwise_implicit_fwd(d, x->data, w->data, b ? b->data : NULL, y->data, ws);
    return;
  }
  if (dx_conv_is_depthwise(d)) {
    dx_conv_depthwise_fwd(d, x, w, b, y);
    return;
  }
  if (dx_conv_winograd4_ok(d)) {
    size_t wn = (size_t)(d->co * d->ci * 9), un = (size_t)(36 * d->co * d->ci);
    const float *u =
        dx_cpu_transformed_filter(be, d, w->data, wn, un, dx_conv_winograd4_filter, ws);
    dx_conv_winograd4_fwd(d, x->data, u, b ? b->data : NULL, y->data, ws);
    return;
  }
  if (dx_conv_winograd_ok(d)) {
    dx_conv_winograd_fwd(d, x->data, w->data, b ? b->data : NULL, y->data, ws);
    return;
  }
  if (dx_conv_implicit_ok(d)) {
    dx_conv_implicit_fwd(d, x->data, w->data, b ? b->data : NULL, y->data, ws);
    return;
  }
  plan pl;
  plan_of(d, &pl);
  operands o = {.in = x->data,
                .in_step = image_bytes(&pl),
                .aux = w->data,
                .bias = b ? b->data : NULL,
                .out = y->data,
                .out_step = out_image_bytes(&pl)};
  all_images(&pl, fwd_band, &o, ws);
}

/* --- backward: data ---------------------------------------------------------------- */

/* dy (Co,Ho,Wo) rows [oh0,oh1), w (Co,Cig,kh,kw) -> dx (Ci,H,W) += */
static void bwd_data_band(const plan *pl, const char *dy, const char *w, const void *unused,
                          char *dx, char *colbuf, int64_t oh0, int64_t oh1) {
  (void)unused;
  const dx_conv2d_desc *d = pl->d;
  size_t es = pl->es;
  int64_t cols = (oh1 - oh0) * d->wo, off = oh0 * d->wo;
  /* direct: dx itself is the product's output, accumulated with beta = 1 */
  char *col = pl->direct ? dx + (size_t)off * es : colbuf;
  int64_t ldcol = pl->direct ? pl->p : cols;
  for (int64_t g = 0; g < d->groups; g++)
    dx_cpu_gemm(d->dtype, true, false, pl->kg, cols, pl->cog, 1.0,
                w + (size_t)(g * pl->cog * pl->kg) * es, pl->kg,
                dy + (size_t)(g * pl->cog * pl->p + off) * es, pl->p, pl->direct ? 1.0 : 0.0,
                col + (size_t)(g * pl->kg * ldcol) * es, ldcol);
  if (!pl->direct) col2im_add(pl, colbuf, dx, oh0, oh1);
}

/* dy (N,Co,Ho,Wo), w (Co,Ci/groups,kh,kw) -> dx (N,Ci,H,W) += */
static void cpu_conv2d_bwd_data(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *dy,
                                const dx_tensor *w, dx_tensor *dx, void *ws) {
  if (dx_conv_depthwise_implicit_ok(d)) {
    dx_conv_depthwise_implicit_bwd_data(d, dy->data, w->data, dx->data, ws);
    return;
  }
  if (dx_conv_is_depthwise(d)) {
    dx_conv_depthwise_bwd_data(d, dy, w, dx);
    return;
  }
  if (dx_conv_winograd_ok(d)) {
    dx_conv_winograd_bwd_data(d, dy->data, w->data, dx->data, ws);
    return;
  }
  if (dx_conv_implicit_ok(d)) {
    dx_conv_implicit_bwd_data(d, dy->data, w->data, dx->data, ws);
    return;
  }
  plan pl;
  plan_of(d, &pl);
  operands o = {.in = dy->data,
                .in_step = out_image_bytes(&pl),
                .aux = w->data,
                .out = dx->data,
                .out_step = image_bytes(&pl)};
  all_images(&pl, bwd_data_band, &o, ws);
}

/* --- backward: filter and bias -------------------------------------------------------- */

/* x (Ci,H,W), dy (Co,Ho,Wo) rows [oh0,oh1) -> dw (Co,Cig*kh*kw) += dy col^T */
static void bwd_filter_band(const plan *pl, const char *x, const char *dy, const void *unused,
                            char *dw, char *colbuf, int64_t oh0, int64_t oh1) {
  (void)unused;
  const dx_conv2d_desc *d = pl->d;
  size_t es = pl->es;
  int64_t cols = (oh1 - oh0) * d->wo, off = oh0 * d->wo, ldcol;
  const char *col = patches(pl, x, colbuf, oh0, oh1, &ldcol);
  for (int64_t g = 0; g < d->groups; g++)
    dx_cpu_gemm(d->dtype, false, true, pl->cog, pl->kg, cols, 1.0,
                dy + (size_t)(g * pl->cog * pl->p + off) * es, pl->p,
                col + (size_t)(g * pl->kg * ldcol) * es, ldcol, 1.0,
                dw + (size_t)(g * pl->cog * pl->kg) * es, pl->kg);
}

/* dy (N,Co,Ho,Wo) -> db[c] += sum over N, Ho, Wo of channel c */
static void bias_grad_channel(const dx_conv2d_desc *d, const dx_tensor *dy, dx_tensor *db,
                              int64_t c) {
  int64_t p = d->ho * d->wo;
  size_t es = dx_dtype_size(d->dtype);
  double s = 0;
  for (int64_t i = 0; i < d->n; i++)
    s += DX_TYPED(d->dtype, plane_sum,
                  (const void *)((const char *)dy->data + (size_t)((i * d->co + c) * p) * es), p);
  dx_cpu_add(d->dtype, db->data, c, s);
}

/* dy (N,Co,Ho,Wo) -> db (Co) += sum over N, Ho, Wo */
void dx_conv_bias_grad(const dx_conv2d_desc *d, const dx_tensor *dy, dx_tensor *db) {
  DX_PAR_IF(d->n * d->co * d->ho * d->wo > DX_CPU_PAR_MIN, "omp parallel for",
            for (int64_t c = 0; c < d->co; c++) bias_grad_channel(d, dy, db, c););
}

/* The images' share of dw: this thread's images into its own copy of dw
 * (team), or every image straight into dw (one thread: no region at all,
 * since libgomp allocates for a one-thread team and an orphaned loop). */
static void filter_images(const plan *pl, const dx_tensor *x, const dx_tensor *dy, dx_tensor *dw,
                          void *ws, bool team) {
  const dx_conv2d_desc *d = pl->d;
  int t = team ? this_slot(pl) : 0;
  operands o = {.in = x->data,
                .in_step = image_bytes(pl),
                .aux = dy->data,
                .aux_step = out_image_bytes(pl),
                .out = pl->per_image ? slot_dw(pl, ws, t) : dw->data};
  if (pl->per_image) memset(o.out, 0, (size_t)(d->co * pl->kg) * pl->es);
  if (team) {
    /* static: a thread's share of images, and so the order its copy of dw
     * sums them in, must not depend on timing (reproducible runs) */
#pragma omp for schedule(static)
    for (int64_t i = 0; i < d->n; i++)
      image_bands(pl, bwd_filter_band, &o, i, slot_col(pl, ws, t));
  } else {
    for (int64_t i = 0; i < d->n; i++)
      image_bands(pl, bwd_filter_band, &o, i, slot_col(pl, ws, t));
  }
}

/* x (N,Ci,H,W), dy (N,Co,Ho,Wo) -> dw (Co,Ci/groups,kh,kw) +=, db (Co) += */
static void cpu_conv2d_bwd_filter(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                                  const dx_tensor *dy, dx_tensor *dw, dx_tensor *db, void *ws) {
  if (dw && dx_conv_pointwise_ok(d)) { /* sums db as it goes */
    dx_conv_pointwise_bwd_filter(d, x->data, dy->data, dw->data, db ? db->data : NULL, ws);
    return;
  }
  if (dw && dx_conv_winograd_ok(d)) { /* likewise */
    dx_conv_winograd_bwd_filter(d, x->data, dy->data, dw->data, db ? db->data : NULL, ws);
    return;
  }
  if (db) dx_conv_bias_grad(d, dy, db);
  if (!dw) return;
  if (dx_conv_depthwise_implicit_ok(d)) {
    dx_conv_depthwise_implicit_bwd_filter(d, x->data, dy->data, dw->data, ws);
    return;
  }
  if (dx_conv_is_depthwise(d)) {
    dx_conv_depthwise_bwd_filter(d, x, dy, dw, ws);
    return;
  }
  if (dx_conv_implicit_ok(d)) {
    dx_conv_implicit_bwd_filter(d, x->data, dy->data, dw->data, ws);
    return;
  }
  plan pl;
  plan_of(d, &pl);
  int64_t wn = d->co * pl.kg;
  /* Per image, threads sum into private copies of dw, added at the end:
   * the products then need no locks. */
  if (pl.per_image && pl.threads > 1) {
#pragma omp parallel num_threads(pl.threads)
    filter_images(&pl, x, dy, dw, ws, true);
  } else {
    filter_images(&pl, x, dy, dw, ws, false);
  }
  if (pl.per_image)
    for (int t = 0; t < pl.threads; t++)
      dx_conv_axpy(d->dtype, dw->data, 1, 1.0, slot_dw(&pl, ws, t), 1, wn);
}

void dx_cpu_init_conv(dx_backend *be) {
  be->conv2d_workspace = cpu_conv2d_workspace;
  be->conv2d_fwd = cpu_conv2d_fwd;
  be->conv2d_bwd_data = cpu_conv2d_bwd_data;
  be->conv2d_bwd_filter = cpu_conv2d_bwd_filter;
}
