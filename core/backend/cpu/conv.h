/* Private to the CPU convolution kernels (conv.c, conv_depthwise.c). */
#ifndef DX_CPU_CONV_H
#define DX_CPU_CONV_H

#include "backend/cpu/cpu.h"

/* Output positions [lo, hi) along one axis (input size in, output size out)
 * whose input position o*stride - pad + k lies in [0, in): the rest read
 * zero padding. */
static inline void dx_conv_valid_range(int64_t in, int64_t out, int64_t k, int stride, int pad,
                                       int64_t *lo, int64_t *hi) {
  int64_t off = pad - k,
          last = in - 1 + off; /* o*stride - off in [0, in): off <= o*stride <= last */
  if (stride == 1) {           /* the common case, without divisions */
    *lo = off > 0 ? off : 0;
    *hi = last < 0 ? 0 : last + 1;
  } else {
    *lo = off > 0 ? (off + stride - 1) / stride : 0;
    *hi = last < 0 ? 0 : last / stride + 1;
  }
  if (*hi > out) *hi = out;
  if (*lo > *hi) *lo = *hi;
}

/* One filter per channel (groups = Ci = Co): a GEMM per channel would be a
 * product with one row, so these loop directly over the planes. */
static inline bool dx_conv_is_depthwise(const dx_conv2d_desc *d) {
  return d->groups > 1 && d->groups == d->ci && d->co == d->ci;
}
void dx_conv_depthwise_fwd(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *w,
                           const dx_tensor *b, dx_tensor *y);
void dx_conv_depthwise_bwd_data(const dx_conv2d_desc *d, const dx_tensor *dy, const dx_tensor *w,
                                dx_tensor *dx);
void dx_conv_depthwise_bwd_filter(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *dy,
                                  dx_tensor *dw, void *ws);
size_t dx_conv_depthwise_workspace(const dx_conv2d_desc *d);

/* float32, stride 1, groups 1 on a CPU with AVX-512 (conv_implicit.c): an
 * implicit GEMM with register tiles, faster than im2col + BLAS there. Each
 * pass needs dx_conv_implicit_workspace(d) bytes of ws. */
bool dx_conv_implicit_ok(const dx_conv2d_desc *d);
size_t dx_conv_implicit_workspace(const dx_conv2d_desc *d);
void dx_conv_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws);
void dx_conv_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws);
void dx_conv_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, void *ws);

/* float32 1x1 convolutions (stride 1, no padding, groups 1) on a CPU with
 * AVX-512 (conv_pointwise.c): backward-filter (dw +=, and db += when db is
 * not NULL) as register tiles of dot products along the positions,
 * operands read in place. Needs dx_conv_pointwise_workspace(d) bytes of ws. */
bool dx_conv_pointwise_ok(const dx_conv2d_desc *d);
size_t dx_conv_pointwise_workspace(const dx_conv2d_desc *d);
void dx_conv_pointwise_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                  float *dw, float *db, void *ws);

/* Output channels per register tile of the implicit GEMM's product. */
#define DX_CONV_MR 7
/* out (k, ldo) [:, 0:q) = wp (k, c) src (c, ld) [:, 0:q), float32, AVX-512
 * only: wp holds blocks of DX_CONV_MR output channels (the last may be
 * fewer), block k0 at wp + k0*c laid out (c, mr). The implicit GEMM's
 * register tiles, for other layouts of the same product (Winograd's). */
void dx_conv_implicit_product(int64_t k, int64_t c, const float *wp, const float *src, int64_t ld,
                              int64_t q, float *out, int64_t ldo);
/* dwt (n, kp) += src (n, ld) [:, 0:q) dyt (q, kp), float32, AVX-512 only,
 * kp a multiple of 16: backward-weights' register tiles (vectors over kp,
 * the sum over q kept in the lanes), for Winograd's layout too. */
void dx_conv_implicit_reduce(int64_t n, const float *src, int64_t ld, const float *dyt, int64_t kp,
                             int64_t q, float *dwt);

/* float32 3x3 convolutions with stride 1 and padding 1 on a CPU with
 * AVX-512 (conv_winograd.c): Winograd's F(2x2, 3x3), forward and both
 * backwards. Each pass needs dx_conv_winograd_workspace(d) bytes of ws. */
bool dx_conv_winograd_ok(const dx_conv2d_desc *d);
size_t dx_conv_winograd_workspace(const dx_conv2d_desc *d);
void dx_conv_winograd_fwd(const dx_conv2d_desc *d, const float *x, const float *w, const float *b,
                          float *y, void *ws);
void dx_conv_winograd_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w, float *dx,
                               void *ws);
void dx_conv_winograd_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                 float *dw, float *db, void *ws); /* db += too, unless NULL */

/* The forward pass of the same convolutions by F(4x4, 3x3)
 * (conv_winograd4.c): fewer multiplications, larger rounding errors.
 * dx_conv_winograd4_filter writes the transformed filter u (the first
 * bytes of a workspace will do) that dx_conv_winograd4_fwd reads; ws
 * holds dx_conv_winograd4_workspace(d) bytes. */
bool dx_conv_winograd4_ok(const dx_conv2d_desc *d);
size_t dx_conv_winograd4_workspace(const dx_conv2d_desc *d);
void dx_conv_winograd4_filter(const dx_conv2d_desc *d, const float *w, float *u);
void dx_conv_winograd4_fwd(const dx_conv2d_desc *d, const float *x, const float *u, const float *b,
                           float *y, void *ws);

/* The same for depthwise float32 stride-1 convolutions (ConvNeXt's 7x7). */
bool dx_conv_depthwise_implicit_ok(const dx_conv2d_desc *d);
size_t dx_conv_depthwise_implicit_workspace(const dx_conv2d_desc *d);
void dx_conv_depthwise_implicit_fwd(const dx_conv2d_desc *d, const float *x, const float *w,
                                    const float *b, float *y, void *ws);
void dx_conv_depthwise_implicit_bwd_data(const dx_conv2d_desc *d, const float *dy, const float *w,
                                         float *dx, void *ws);
void dx_conv_depthwise_implicit_bwd_filter(const dx_conv2d_desc *d, const float *x, const float *dy,
                                           float *dw, void *ws);

/* An environment switch of the kernels (DDPMX_WINOGRAD=0 and the like),
 * read once into *cache (-1 until then): true when name's value starts
 * with 0 (conv.c). */
bool dx_conv_switched_off(const char *name, int *cache);

/* Images per group for n images on threads threads, at most gmax in a
 * group: as many groups on every thread, equal shares of the batch. */
static inline int64_t dx_conv_group_images(int64_t n, int threads, int64_t gmax) {
  int64_t per = (n + (int64_t)threads * gmax - 1) / ((int64_t)threads * gmax);
  int64_t groups = (int64_t)threads * per;
  return (n + groups - 1) / groups;
}

/* What the convolution files share. Their AVX-512 kernels carry the
 * target attribute (the library is built for any x86-64; the kernels run
 * only where the CPU has AVX-512, as each file's _ok() checks), and are
 * inlined where a loop needs them whole. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DX_CONV_KERNELS 1
#define DX_AVX512 __attribute__((target("avx512f,fma")))
#define DX_INLINE inline __attribute__((always_inline))
#include <immintrin.h>
#endif
/* Workspace pieces start on a cache line. */
#define DX_CONV_ALIGN 64
static inline size_t dx_conv_round_up(size_t v) {
  return (v + DX_CONV_ALIGN - 1) / DX_CONV_ALIGN * DX_CONV_ALIGN;
}
/* Bytes of Winograd's V and M per group of images: half a core's L2 (1 MiB
 * here); a whole L2 measured 20 % slower at the 7x7 level with F(2x2,
 * 3x3), about the same elsewhere. */
#define DX_CONV_GROUP_BYTES ((size_t)1 << 19)

#ifdef DX_CONV_KERNELS
/* Lanes [lo, hi) of a 16-lane vector, clipped to [0, 16). */
static inline __mmask16 dx_conv_span(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << (hi - lo)) - 1) << lo);
}
#endif

/* dst[i*ds] += a * src[i*ss], i < n (conv.c) */
void dx_conv_axpy(dx_dtype dt, void *dst, int64_t ds, double a, const void *src, int64_t ss,
                  int64_t n);
/* acc[i] += x[i*sx] * y[i], i < n (conv.c) */
void dx_conv_mul_acc(dx_dtype dt, void *acc, const void *x, int64_t sx, const void *y, int64_t n);

/* dy (N,Co,Ho,Wo) -> db (Co) += sum over N, Ho, Wo */
void dx_conv_bias_grad(const dx_conv2d_desc *d, const dx_tensor *dy, dx_tensor *db);

#endif
