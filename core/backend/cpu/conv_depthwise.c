/* CPU kernels: depthwise 2-D convolution (one kh x kw filter per channel, as
 * ConvNeXt's 7x7; Liu et al. 2022, "A ConvNet for the 2020s", sec. 2.4).
 *
 * Each output plane is a sum of kh*kw shifted, scaled copies of its input
 * plane, so the kernels walk a plane one filter tap at a time: an axpy over
 * each output row, which vectorises, on a plane that stays in L1 cache.
 * Planes (image, channel) are independent and are shared among threads; the
 * filter gradient is summed per channel, so threads there take channels.
 * On a CPU with AVX-512, float32 stride-1 depthwise convolutions go to
 * vector kernels instead (conv_implicit.c); these loops serve the rest. */
#include <omp.h>
#include <string.h>

#include "backend/cpu/conv.h"

/* Where filter tap (ki, kj) meets the planes: output rows [oh0, oh1) and
 * `len` columns read real input; in0, out0 are the first such elements and
 * each further row is in_step, out_step elements on. */
typedef struct tap {
  int64_t rows, len, in0, out0, in_step, out_step, stride;
} tap;

static tap tap_of(const dx_conv2d_desc *d, int64_t ki, int64_t kj) {
  int64_t oh0, oh1, ow0, ow1;
  dx_conv_valid_range(d->h, d->ho, ki, d->stride, d->pad, &oh0, &oh1);
  dx_conv_valid_range(d->w, d->wo, kj, d->stride, d->pad, &ow0, &ow1);
  tap t = {.rows = oh1 - oh0,
           .len = ow1 - ow0,
           .stride = d->stride,
           .in_step = d->stride * d->w,
           .out_step = d->wo};
  t.in0 = (oh0 * d->stride - d->pad + ki) * d->w + ow0 * d->stride - d->pad + kj;
  t.out0 = oh0 * d->wo + ow0;
  if (t.len <= 0) t.rows = 0;
  return t;
}

/* Forward: dst[out] += a * src[in] over a tap's rows, src the input plane
 * and dst the output plane. Backward-data, its adjoint: dst[in] += a *
 * src[out], src the output gradient and dst the input gradient. */
static void tap_axpy(dx_dtype dt, const tap *t, double a, const void *src, void *dst,
                     bool forward) {
  size_t es = dx_dtype_size(dt);
  for (int64_t r = 0; r < t->rows; r++) {
    size_t in = (size_t)(t->in0 + r * t->in_step) * es,
           out = (size_t)(t->out0 + r * t->out_step) * es;
    if (forward)
      dx_conv_axpy(dt, (char *)dst + out, 1, a, (const char *)src + in, t->stride, t->len);
    else
      dx_conv_axpy(dt, (char *)dst + in, t->stride, a, (const char *)src + out, 1, t->len);
  }
}

/* acc[i] += x[in] * y[out] over a tap's rows, i < len (backward-filter:
 * summed over i at the end, so that this loop has no reduction to serialise) */
static void tap_acc(dx_dtype dt, const tap *t, const void *x, const void *y, void *acc) {
  size_t es = dx_dtype_size(dt);
  for (int64_t r = 0; r < t->rows; r++) {
    int64_t i0 = t->in0 + r * t->in_step, o0 = t->out0 + r * t->out_step;
    dx_conv_mul_acc(dt, acc, (const char *)x + i0 * es, t->stride, (const char *)y + o0 * es,
                    t->len);
  }
}

/* x (H,W), w (kh,kw), bias -> y (Ho,Wo) */
static void fwd_plane(const dx_conv2d_desc *d, const void *x, const void *w, double bias, void *y) {
  for (int64_t i = 0; i < d->ho * d->wo; i++)
    dx_cpu_store(d->dtype, y, i, bias);
  for (int64_t ki = 0; ki < d->kh; ki++)
    for (int64_t kj = 0; kj < d->kw; kj++) {
      tap t = tap_of(d, ki, kj);
      tap_axpy(d->dtype, &t, dx_cpu_load(d->dtype, w, ki * d->kw + kj), x, y, true);
    }
}

/* x (N,C,H,W), w (C,1,kh,kw), b (C) or NULL -> y (N,C,Ho,Wo) */
void dx_conv_depthwise_fwd(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *w,
                           const dx_tensor *b, dx_tensor *y) {
  size_t es = dx_dtype_size(d->dtype), xp = (size_t)(d->h * d->w), yp = (size_t)(d->ho * d->wo);
  int64_t planes = d->n * d->ci, taps = d->kh * d->kw;
  DX_PAR_IF(
      planes * (int64_t)yp * taps > DX_CPU_PAR_MIN, "omp parallel for schedule(static)",
      for (int64_t q = 0; q < planes; q++) {
        int64_t c = q % d->ci;
        fwd_plane(d, (const char *)x->data + q * xp * es, (const char *)w->data + c * taps * es,
                  b ? dx_cpu_load(d->dtype, b->data, c) : 0.0, (char *)y->data + q * yp * es);
      });
}

/* dy (Ho,Wo), w (kh,kw) -> dx (H,W) += */
static void bwd_data_plane(const dx_conv2d_desc *d, const void *dy, const void *w, void *dx) {
  for (int64_t ki = 0; ki < d->kh; ki++)
    for (int64_t kj = 0; kj < d->kw; kj++) {
      tap t = tap_of(d, ki, kj);
      tap_axpy(d->dtype, &t, dx_cpu_load(d->dtype, w, ki * d->kw + kj), dy, dx, false);
    }
}

/* dy (N,C,Ho,Wo), w (C,1,kh,kw) -> dx (N,C,H,W) += */
void dx_conv_depthwise_bwd_data(const dx_conv2d_desc *d, const dx_tensor *dy, const dx_tensor *w,
                                dx_tensor *dx) {
  size_t es = dx_dtype_size(d->dtype), xp = (size_t)(d->h * d->w), yp = (size_t)(d->ho * d->wo);
  int64_t planes = d->n * d->ci, taps = d->kh * d->kw;
  DX_PAR_IF(planes * (int64_t)yp * taps > DX_CPU_PAR_MIN, "omp parallel for schedule(static)",
            for (int64_t q = 0; q < planes; q++) bwd_data_plane(
                d, (const char *)dy->data + q * yp * es,
                (const char *)w->data + (q % d->ci) * taps * es, (char *)dx->data + q * xp * es););
}

/* Backward-filter sums per tap and output column into a (kh*kw, Wo) slot
 * per thread. */
static int threads_of(void) { return omp_get_max_threads(); }
static size_t slot_bytes(const dx_conv2d_desc *d) {
  return dx_conv_round_up((size_t)(d->kh * d->kw * d->wo) * dx_dtype_size(d->dtype));
}

size_t dx_conv_depthwise_workspace(const dx_conv2d_desc *d) {
  return (size_t)threads_of() * slot_bytes(d);
}

/* x (H,W), dy (Ho,Wo) -> acc (kh*kw, Wo) += per tap and column */
static void bwd_filter_plane(const dx_conv2d_desc *d, const void *x, const void *dy, char *acc) {
  size_t row = (size_t)d->wo * dx_dtype_size(d->dtype);
  for (int64_t ki = 0; ki < d->kh; ki++)
    for (int64_t kj = 0; kj < d->kw; kj++) {
      tap t = tap_of(d, ki, kj);
      tap_acc(d->dtype, &t, x, dy, acc + (size_t)(ki * d->kw + kj) * row);
    }
}

/* x (N,C,H,W), dy (N,C,Ho,Wo) -> dw (C,1,kh,kw) += */
void dx_conv_depthwise_bwd_filter(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *dy,
                                  dx_tensor *dw, void *ws) {
  size_t es = dx_dtype_size(d->dtype), xp = (size_t)(d->h * d->w), yp = (size_t)(d->ho * d->wo);
  int64_t taps = d->kh * d->kw;
  int threads = threads_of();
  /* A thread owns a channel's filter and sums every image into it. */
  DX_PAR_IF(
      d->n * d->ci * (int64_t)yp * taps > DX_CPU_PAR_MIN && threads > 1,
      "omp parallel for schedule(dynamic) num_threads(threads)",
      for (int64_t c = 0; c < d->ci; c++) {
        char *acc = (char *)ws + (size_t)omp_get_thread_num() * slot_bytes(d);
        memset(acc, 0, (size_t)(taps * d->wo) * es);
        for (int64_t i = 0; i < d->n; i++) {
          size_t q = (size_t)(i * d->ci + c);
          bwd_filter_plane(d, (const char *)x->data + q * xp * es,
                           (const char *)dy->data + q * yp * es, acc);
        }
        for (int64_t k = 0; k < taps; k++) {
          double s = 0;
          for (int64_t j = 0; j < d->wo; j++)
            s += dx_cpu_load(d->dtype, acc, k * d->wo + j);
          dx_cpu_add(d->dtype, dw->data, c * taps + k, s);
        }
      });
}
