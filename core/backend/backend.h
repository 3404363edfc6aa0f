/* The backend table: every kernel the tensor core dispatches to.
 *
 * core/tensor/ validates arguments, allocates outputs from the arena and
 * records the tape; a backend only computes. The CPU backend fills this table
 * in core/backend/cpu/; a CUDA backend fills the same table with its own
 * kernels. A slot left NULL makes the op fail with DX_ERR_UNSUPPORTED naming
 * the op and the backend, never a crash.
 *
 * Conventions for every kernel:
 * - tensors are contiguous, row-major, and of one dtype per call;
 * - backward kernels ACCUMULATE into gradient outputs (dx += ...), because a
 *   tensor used twice receives two contributions; a NULL gradient output
 *   means "not needed" and is skipped;
 * - kernels cannot fail: the core has already checked shapes and allocated
 *   every buffer, including the workspace a kernel asked for. */
#ifndef DX_BACKEND_H
#define DX_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/tensor.h"

typedef enum dx_unary_op {
  DX_UN_SCALE,      /* y = p0 * x */
  DX_UN_ADD_SCALAR, /* y = x + p0 */
  DX_UN_SILU,
  DX_UN_GELU_ERF,
  DX_UN_GELU_TANH,
  DX_UN_EXP,
  DX_UN_LOG,
  DX_UN_SQRT,
  DX_UN_SQUARE,
  DX_UN_ABS,
  DX_UN_TANH,
  DX_UN_CLAMP,      /* y = min(max(x, p0), p1) */
  DX_UN_COUNT
} dx_unary_op;

typedef enum dx_binary_op { DX_BIN_ADD, DX_BIN_SUB, DX_BIN_MUL, DX_BIN_DIV } dx_binary_op;

typedef enum dx_rand_dist { DX_RAND_UNIFORM, DX_RAND_NORMAL } dx_rand_dist;

/* Geometry of one 2-D convolution, filled by the core from the tensors. */
typedef struct dx_conv2d_desc {
  int64_t n, ci, h, w;   /* input */
  int64_t co, kh, kw;    /* filter: (co, ci/groups, kh, kw) */
  int64_t ho, wo;        /* output */
  int stride, pad, groups;
  dx_dtype dtype;
} dx_conv2d_desc;

/* One Adam step (Kingma & Ba 2015, Algorithm 1) with the bias corrections
 * folded into lr_t and eps_t by the caller; AdamW's decoupled decay
 * (Loshchilov & Hutter 2019) is p -= lr * wd * p before the update, L2
 * (plain Adam) adds wd * p to the gradient. */
typedef struct dx_adam_args {
  double beta1, beta2;
  double step_size;  /* lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
  double eps_hat;    /* eps * sqrt(1 - beta2^t) */
  double decay;      /* AdamW: lr * weight_decay; 0 for none */
  double l2;         /* Adam: weight_decay added to the gradient; 0 for none */
} dx_adam_args;

typedef struct dx_backend dx_backend;
struct dx_backend {
  const char *name;
  dx_device_kind kind;
  void *impl; /* backend-private state */

  /* --- memory and copies --- */
  void (*set_threads)(dx_backend *be, int threads);
  void *(*alloc)(dx_backend *be, size_t bytes); /* 64-byte aligned; NULL on failure */
  void (*free)(dx_backend *be, void *p);
  void (*write)(dx_tensor *t, const void *src, dx_dtype src_dt);
  void (*read)(const dx_tensor *t, void *dst, dx_dtype dst_dt);
  void (*fill)(dx_tensor *t, double v);
  void (*copy)(dx_tensor *dst, const dx_tensor *src); /* same numel, dtypes may differ */
  void (*axpy)(dx_tensor *y, double a, const dx_tensor *x); /* y += a*x, same numel */
  void (*rand)(dx_tensor *t, dx_rand_dist dist, uint64_t seed, uint64_t offset);

  /* --- dense linear algebra (row-major) --- */
  /* C = alpha op(A) op(B) + beta C, repeated batch times with element strides. */
  void (*gemm)(dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
               const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb,
               int64_t stride_b, double beta, void *c, int64_t ldc, int64_t stride_c,
               int64_t batch);

  /* --- convolution --- */
  size_t (*conv2d_workspace)(const dx_conv2d_desc *d);
  /* y = conv(x, w) + b (b may be NULL); y is overwritten */
  void (*conv2d_fwd)(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *w,
                     const dx_tensor *b, dx_tensor *y, void *ws);
  /* dx += conv_transpose(dy, w) */
  void (*conv2d_bwd_data)(const dx_conv2d_desc *d, const dx_tensor *dy, const dx_tensor *w,
                          dx_tensor *dx, void *ws);
  /* dw += corr(x, dy); db += sum(dy) over N,H,W; either may be NULL */
  void (*conv2d_bwd_filter)(const dx_conv2d_desc *d, const dx_tensor *x, const dx_tensor *dy,
                            dx_tensor *dw, dx_tensor *db, void *ws);

  /* --- element-wise --- */
  void (*unary)(dx_unary_op op, const dx_tensor *x, dx_tensor *y, double p0, double p1);
  /* dx += dy * f'(x); y = f(x) is given for ops whose derivative reuses it */
  void (*unary_bwd)(dx_unary_op op, const dx_tensor *x, const dx_tensor *y,
                    const dx_tensor *dy, dx_tensor *dx, double p0, double p1);
  /* y = a op b with NumPy broadcasting to y's shape */
  void (*binary)(dx_binary_op op, const dx_tensor *a, const dx_tensor *b, dx_tensor *y);
  /* da += reduce(dy * d(a op b)/da) over a's broadcast dims; likewise db */
  void (*binary_bwd)(dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                     const dx_tensor *dy, dx_tensor *da, dx_tensor *db);
  void (*compare)(dx_cmp_op op, const dx_tensor *x, double v, dx_tensor *y);
  void (*where)(const dx_tensor *cond, const dx_tensor *a, const dx_tensor *b, dx_tensor *y);
  void (*where_bwd)(const dx_tensor *cond, const dx_tensor *dy, dx_tensor *da, dx_tensor *db);

  /* --- reductions: y has x's rank with reduced dims of size 1 --- */
  void (*reduce_sum)(const dx_tensor *x, dx_tensor *y, double scale); /* y = scale * sum */
  void (*broadcast_acc)(const dx_tensor *dy, dx_tensor *dx, double scale); /* dx += scale*bcast(dy) */

  /* --- normalisation, softmax --- */
  /* x (N,C,S...): mean, rstd hold N*groups values saved for backward */
  void (*group_norm_fwd)(const dx_tensor *x, const dx_tensor *gamma, const dx_tensor *beta,
                         int groups, double eps, dx_tensor *y, dx_tensor *mean, dx_tensor *rstd);
  void (*group_norm_bwd)(const dx_tensor *x, const dx_tensor *gamma, const dx_tensor *mean,
                         const dx_tensor *rstd, int groups, const dx_tensor *dy, dx_tensor *dx,
                         dx_tensor *dgamma, dx_tensor *dbeta);
  void (*softmax_fwd)(const dx_tensor *x, dx_tensor *y, int axis);
  void (*softmax_bwd)(const dx_tensor *y, const dx_tensor *dy, dx_tensor *dx, int axis);

  /* --- data movement --- */
  /* y[perm-indexed] = x (or += when accumulate) */
  void (*permute)(const dx_tensor *x, dx_tensor *y, const int *perm, bool accumulate);
  /* dst[:, dst_c0:dst_c0+nc] (+)= src[:, src_c0:src_c0+nc] over 4-D NCHW */
  void (*copy_channels)(const dx_tensor *src, int64_t src_c0, dx_tensor *dst, int64_t dst_c0,
                        int64_t nc, bool accumulate);
  /* unshuffle: x (N,C,H,W) -> y (N,C*r*r,H/r,W/r); shuffle is its inverse */
  void (*pixel_shuffle)(const dx_tensor *x, dx_tensor *y, int r, bool unshuffle, bool accumulate);
  void (*upsample_nearest)(const dx_tensor *x, dx_tensor *y, int r);
  void (*upsample_nearest_bwd)(const dx_tensor *dy, dx_tensor *dx, int r);

  /* --- stochastic, embedding --- */
  /* mask = (u >= p) / (1 - p), u ~ U[0,1) from (seed, offset + i) */
  void (*dropout_mask)(dx_tensor *mask, double p, uint64_t seed, uint64_t offset);
  /* t (N) -> y (N, dim) */
  void (*time_embedding)(const dx_tensor *t, dx_tensor *y);

  /* --- optimiser and parameter maintenance (in place, fused) --- */
  /* Adam/AdamW on one parameter; see dx_adam_args */
  void (*adam)(dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v, const dx_adam_args *a);
  double (*sum_squares)(const dx_tensor *t);   /* sum of t^2, accumulated in double */
  void (*scale_inplace)(dx_tensor *t, double s);
  void (*lerp)(dx_tensor *y, const dx_tensor *x, double w); /* y += w * (x - y) */
};

/* The CPU backend (core/backend/cpu/backend.c). */
dx_backend *dx_cpu_backend_create(void);
void dx_cpu_backend_free(dx_backend *be);

#endif
