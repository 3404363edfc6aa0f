/* The backend table: every kernel the tensor core dispatches to.
 *
 * core/tensor/ validates arguments, allocates outputs from the arena and
 * records the tape; a backend only computes. The CPU backend fills this table
 * in core/backend/cpu/; a CUDA backend fills the same table with its own
 * kernels, built as a module of its own (module.h). A slot left NULL makes the op fail with
 * DX_ERR_UNSUPPORTED naming the op and the backend, never a crash.
 *
 * Conventions for every kernel:
 * - tensors are contiguous, row-major, and of one dtype per call;
 * - backward kernels ACCUMULATE into gradient outputs (dx += ...), because a
 *   tensor used twice receives two contributions; a NULL gradient output
 *   means "not needed" and is skipped;
 * - every slot receives the backend first, so that a backend reaches its
 *   private state (be->impl) without globals;
 * - kernels cannot fail: the core has already checked shapes and allocated
 *   every buffer, including the workspace a kernel asked for. A device
 *   whose kernels run asynchronously records its failure and reports it at
 *   the next synchronize. */
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
  DX_UN_CLAMP, /* y = min(max(x, p0), p1) */
  DX_UN_COUNT
} dx_unary_op;

typedef enum dx_binary_op { DX_BIN_ADD, DX_BIN_SUB, DX_BIN_MUL, DX_BIN_DIV } dx_binary_op;

typedef enum dx_rand_dist { DX_RAND_UNIFORM, DX_RAND_NORMAL } dx_rand_dist;

/* Geometry of one 2-D convolution, filled by the core from the tensors. */
typedef struct dx_conv2d_desc {
  int64_t n, ci, h, w; /* input */
  int64_t co, kh, kw;  /* filter: (co, ci/groups, kh, kw) */
  int64_t ho, wo;      /* output */
  int stride, pad, groups;
  dx_dtype dtype;
} dx_conv2d_desc;

/* One Adam step (Kingma & Ba 2015, Algorithm 1) with the bias corrections
 * folded into lr_t and eps_t by the caller; AdamW's decoupled decay
 * (Loshchilov & Hutter 2019) is p -= lr * wd * p before the update, L2
 * (plain Adam) adds wd * p to the gradient. */
typedef struct dx_adam_args {
  double beta1, beta2;
  double step_size; /* lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
  double eps_hat;   /* eps * sqrt(1 - beta2^t) */
  double decay;     /* AdamW: lr * weight_decay; 0 for none */
  double l2;        /* Adam: weight_decay added to the gradient; 0 for none */
} dx_adam_args;

typedef struct dx_backend dx_backend;
struct dx_backend {
  int abi;          /* DX_BACKEND_ABI of the code that filled the table */
  const char *name; /* "cpu", "cuda" */
  dx_device_kind kind;
  int device_index;      /* cuda:N; 0 for the CPU */
  char device_name[128]; /* what the run records: "cpu", the GPU's name */
  void *impl;            /* backend-private state: handles, streams, pools */

  /* From here to the end only function pointers: a worker context takes
   * its parent's as they are (tensor/pieces.c). */

  /* --- lifetime --- */
  /* Frees the backend and everything it owns, the table included. */
  void (*destroy)(dx_backend *be);
  /* Waits for every kernel queued so far and reports the first failure
   * since the last call (out of memory, a launch error) as a status and one
   * line in err. The core calls it before it trusts what it read back
   * (dx_tensor_read, dx_synchronize). A synchronous backend returns DX_OK. */
  dx_status (*synchronize)(dx_backend *be, char *err, size_t errlen);
  void (*set_threads)(dx_backend *be, int threads);

  /* --- memory and copies --- */
  /* Backend memory: parameters, optimiser state, the arena's chunks and the
   * scratch buffer all come from here, so a device backend can serve them
   * from its own pool. 64-byte aligned; NULL on failure. */
  void *(*alloc)(dx_backend *be, size_t bytes);
  void (*free)(dx_backend *be, void *p);
  /* Host -> backend (upload) and backend -> host (download), converting
   * between float32 and float64; src/dst are host memory of numel(t) values. */
  void (*write)(dx_backend *be, dx_tensor *t, const void *src, dx_dtype src_dt);
  void (*read)(dx_backend *be, const dx_tensor *t, void *dst, dx_dtype dst_dt);
  /* An upload that may overlap kernels (the next batch while a step runs):
   * write_start copies src into t like write (src may be reused as soon as
   * it returns) but need not wait for the copy; kernels queued after
   * write_finish(t) see the new values, those queued between the two may
   * not. The copy itself comes after every kernel queued before
   * write_start, so t may still be in use by them. Freeing t finishes it.
   * A synchronous backend leaves both NULL: the core then calls write. */
  void (*write_start)(dx_backend *be, dx_tensor *t, const void *src, dx_dtype src_dt);
  void (*write_finish)(dx_backend *be, const dx_tensor *t);
  void (*fill)(dx_backend *be, dx_tensor *t, double v);
  void (*copy)(dx_backend *be, dx_tensor *dst,
               const dx_tensor *src); /* same numel, dtypes may differ */
  void (*axpy)(dx_backend *be, dx_tensor *y, double a,
               const dx_tensor *x); /* y += a*x, same numel */
  void (*rand)(dx_backend *be, dx_tensor *t, dx_rand_dist dist, uint64_t seed, uint64_t offset);

  /* --- dense linear algebra (row-major) --- */
  /* C = alpha op(A) op(B) + beta C, repeated batch times with element strides. */
  void (*gemm)(dx_backend *be, dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
               double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
               int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc, int64_t stride_c,
               int64_t batch);

  /* --- convolution --- */
  size_t (*conv2d_workspace)(dx_backend *be, const dx_conv2d_desc *d);
  /* y = conv(x, w) + b (b may be NULL); y is overwritten */
  void (*conv2d_fwd)(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                     const dx_tensor *w, const dx_tensor *b, dx_tensor *y, void *ws);
  /* dx += conv_transpose(dy, w) */
  void (*conv2d_bwd_data)(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *dy,
                          const dx_tensor *w, dx_tensor *dx, void *ws);
  /* dw += corr(x, dy); db += sum(dy) over N,H,W; either may be NULL */
  void (*conv2d_bwd_filter)(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                            const dx_tensor *dy, dx_tensor *dw, dx_tensor *db, void *ws);

  /* --- element-wise --- */
  void (*unary)(dx_backend *be, dx_unary_op op, const dx_tensor *x, dx_tensor *y, double p0,
                double p1);
  /* dx += dy * f'(x); y = f(x) is given for ops whose derivative reuses it */
  void (*unary_bwd)(dx_backend *be, dx_unary_op op, const dx_tensor *x, const dx_tensor *y,
                    const dx_tensor *dy, dx_tensor *dx, double p0, double p1);
  /* y = a op b with NumPy broadcasting to y's shape */
  void (*binary)(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                 dx_tensor *y);
  /* da += reduce(dy * d(a op b)/da) over a's broadcast dims; likewise db */
  void (*binary_bwd)(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                     const dx_tensor *dy, dx_tensor *da, dx_tensor *db);
  void (*compare)(dx_backend *be, dx_cmp_op op, const dx_tensor *x, double v, dx_tensor *y);
  void (*where)(dx_backend *be, const dx_tensor *cond, const dx_tensor *a, const dx_tensor *b,
                dx_tensor *y);
  void (*where_bwd)(dx_backend *be, const dx_tensor *cond, const dx_tensor *dy, dx_tensor *da,
                    dx_tensor *db);

  /* --- reductions: y has x's rank with reduced dims of size 1 --- */
  void (*reduce_sum)(dx_backend *be, const dx_tensor *x, dx_tensor *y,
                     double scale); /* y = scale * sum */
  void (*broadcast_acc)(dx_backend *be, const dx_tensor *dy, dx_tensor *dx,
                        double scale); /* dx += scale*bcast(dy) */

  /* --- normalisation, softmax --- */
  /* x (N,C,S...): mean, rstd hold N*groups values saved for backward */
  void (*group_norm_fwd)(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                         const dx_tensor *beta, int groups, double eps, dx_tensor *y,
                         dx_tensor *mean, dx_tensor *rstd);
  void (*group_norm_bwd)(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                         const dx_tensor *mean, const dx_tensor *rstd, int groups,
                         const dx_tensor *dy, dx_tensor *dx, dx_tensor *dgamma, dx_tensor *dbeta);
  /* y = SiLU(GN(x) (1 + s) + b) with (s, b) = film (N, 2C) split in halves,
   * or no FiLM when film is NULL: the ResNet block's norm, conditioning and
   * activation in one pass. mean, rstd as group_norm_fwd's. Optional: when
   * NULL the core composes the op from group norm, mul, add and SiLU. */
  void (*group_norm_silu_fwd)(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                              const dx_tensor *beta, const dx_tensor *film, int groups, double eps,
                              dx_tensor *y, dx_tensor *mean, dx_tensor *rstd);
  /* ws: 2*N*C float64 values of workspace */
  void (*group_norm_silu_bwd)(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                              const dx_tensor *beta, const dx_tensor *film, const dx_tensor *mean,
                              const dx_tensor *rstd, int groups, const dx_tensor *dy, dx_tensor *ws,
                              dx_tensor *dx, dx_tensor *dgamma, dx_tensor *dbeta, dx_tensor *dfilm);
  void (*softmax_fwd)(dx_backend *be, const dx_tensor *x, dx_tensor *y, int axis);
  void (*softmax_bwd)(dx_backend *be, const dx_tensor *y, const dx_tensor *dy, dx_tensor *dx,
                      int axis);

  /* --- data movement --- */
  /* y[perm-indexed] = x (or += when accumulate) */
  void (*permute)(dx_backend *be, const dx_tensor *x, dx_tensor *y, const int *perm,
                  bool accumulate);
  /* dst[:, dst_c0:dst_c0+nc] (+)= src[:, src_c0:src_c0+nc] over 4-D NCHW */
  void (*copy_channels)(dx_backend *be, const dx_tensor *src, int64_t src_c0, dx_tensor *dst,
                        int64_t dst_c0, int64_t nc, bool accumulate);
  /* unshuffle: x (N,C,H,W) -> y (N,C*r*r,H/r,W/r); shuffle is its inverse */
  void (*pixel_shuffle)(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r, bool unshuffle,
                        bool accumulate);
  void (*upsample_nearest)(dx_backend *be, const dx_tensor *x, dx_tensor *y, int r);
  void (*upsample_nearest_bwd)(dx_backend *be, const dx_tensor *dy, dx_tensor *dx, int r);

  /* --- stochastic, embedding --- */
  /* mask = (u >= p) / (1 - p), u ~ U[0,1) from (seed, offset + i) */
  void (*dropout_mask)(dx_backend *be, dx_tensor *mask, double p, uint64_t seed, uint64_t offset);
  /* t (N) -> y (N, dim) */
  void (*time_embedding)(dx_backend *be, const dx_tensor *t, dx_tensor *y);

  /* --- optimiser and parameter maintenance (in place, fused) --- */
  /* Adam/AdamW on one parameter; see dx_adam_args */
  void (*adam)(dx_backend *be, dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v,
               const dx_adam_args *a);
  /* acc (1, float64) += sum of t^2, accumulated in double: the sum stays in
   * backend memory, so a gradient norm over many tensors reads back once. */
  void (*sum_squares)(dx_backend *be, const dx_tensor *t, dx_tensor *acc);
  void (*scale_inplace)(dx_backend *be, dx_tensor *t, double s);
  void (*lerp)(dx_backend *be, dx_tensor *y, const dx_tensor *x, double w); /* y += w * (x - y) */
};

/* The version of this table's layout and of the conventions above. A module
 * built against another version is refused before any of its slots is
 * called (core/backend/module.h). Bump it whenever a slot is added,
 * removed, reordered or changes meaning. */
#define DX_BACKEND_ABI 3

/* The CPU backend (core/backend/cpu/backend.c); freed through be->destroy. */
dx_backend *dx_cpu_backend_create(void);

/* Opens the backend a device names (core/backend/registry.c): cpu; cuda:N
 * through the CUDA module, with the settings gpu (NULL: the defaults);
 * DX_DEVICE_AUTO: CUDA when the module loads and reports a device, else the
 * CPU. On failure returns the status (DX_ERR_DEVICE when the device cannot
 * be had) and one line in err. Free with be->destroy(be). */
dx_status dx_backend_open(dx_device dev, const dx_gpu_opts *gpu, dx_backend **out, char *err,
                          size_t errlen);

#endif
