/* Tensors, the autograd tape and every op a plugin may compose.
 *
 * A tensor is dense and contiguous, up to 4-D (NCHW), float32 or float64, and
 * lives on a device. Its data pointer belongs to the backend: code outside
 * core/backend/ never dereferences it, which is what lets a CUDA backend slot
 * in beside the CPU one. Read and write values with dx_tensor_read/write.
 *
 * Ops run eagerly and, while grad mode is on and an input requires a
 * gradient, record a node on the context's tape. dx_backward() walks the tape
 * in reverse. Plugin code therefore writes only the forward composition.
 *
 * Error handling follows ggml's chaining style: an op that fails returns NULL
 * and records the reason in the context; an op given a NULL input returns
 * NULL at once without touching the message. A block can compose ten ops and
 * check once at the end with dx_status_of(ctx). */
#ifndef DDPMX_TENSOR_H
#define DDPMX_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DX_MAX_DIMS 4

typedef enum dx_dtype { DX_F32 = 0, DX_F64 = 1 } dx_dtype;

enum {
  DX_TENSOR_REQUIRES_GRAD = 1u << 0, /* gradients flow into this tensor */
  DX_TENSOR_PERSISTENT = 1u << 1     /* lives outside the arena (parameters, state) */
};

typedef struct dx_node dx_node;

typedef struct dx_tensor {
  int ndim;
  int64_t shape[DX_MAX_DIMS];
  dx_dtype dtype;
  dx_device device;
  void *data;             /* backend memory: only core/backend/ touches it */
  struct dx_tensor *grad; /* same shape; NULL until a gradient reaches it */
  dx_node *node;          /* the op that made it; NULL for leaves */
  uint32_t flags;
  const char *name; /* parameters: the state_dict name; else NULL */
} dx_tensor;

/* Inline so that backends use them without calling up into core/tensor. */
static inline size_t dx_dtype_size(dx_dtype dt) { return dt == DX_F64 ? 8 : 4; }
static inline int64_t dx_numel(const dx_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}
DX_API const char *dx_dtype_name(dx_dtype dt);
DX_API bool dx_same_shape(const dx_tensor *a, const dx_tensor *b);
/* "(2, 8, 16, 16)" into buf; returns buf. */
DX_API const char *dx_shape_str(const dx_tensor *t, char *buf, size_t len);

/* --- creation ----------------------------------------------------------- */

/* Activations: from the arena, gone at the next dx_step_reset. Contents
 * uninitialised unless the name says otherwise. */
DX_API dx_tensor *dx_tensor_new(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape);
DX_API dx_tensor *dx_tensor_new_like(dx_ctx *ctx, const dx_tensor *t);
DX_API dx_tensor *dx_tensor_zeros(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape);
DX_API dx_tensor *dx_tensor_full(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape,
                                 double v);

/* Persistent tensors (parameters, EMA weights, optimiser state): outside the
 * arena, freed by dx_tensor_free or with the context. A parameter requires a
 * gradient and owns a zeroed gradient buffer of its own. */
DX_API dx_tensor *dx_tensor_new_persistent(dx_ctx *ctx, dx_dtype dt, int ndim,
                                           const int64_t *shape);
DX_API dx_tensor *dx_param_new(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape,
                               const char *name);
DX_API void dx_tensor_free(dx_ctx *ctx, dx_tensor *t);

/* Host <-> tensor copies, converting between float32 and float64. */
DX_API dx_status dx_tensor_write(dx_ctx *ctx, dx_tensor *t, const void *src, dx_dtype src_dt);
DX_API dx_status dx_tensor_read(dx_ctx *ctx, const dx_tensor *t, void *dst, dx_dtype dst_dt);
/* An upload that may overlap the device's work, for data prepared ahead
 * (the next step's batch): dx_tensor_write_start copies src into the
 * persistent tensor t (src may be reused when it returns) and may return
 * before the device has it; ops after dx_tensor_write_finish(t) see the new
 * values, ops between the two may see the old ones or a mix. The copy waits
 * for the ops issued before the start, so they may still use t. On the CPU
 * both together are dx_tensor_write. */
DX_API dx_status dx_tensor_write_start(dx_ctx *ctx, dx_tensor *t, const void *src, dx_dtype src_dt);
DX_API dx_status dx_tensor_write_finish(dx_ctx *ctx, const dx_tensor *t);
DX_API dx_status dx_tensor_fill(dx_ctx *ctx, dx_tensor *t, double v);
/* dst = src, same shape; dtypes may differ. Not recorded on the tape. */
DX_API dx_status dx_tensor_copy(dx_ctx *ctx, dx_tensor *dst, const dx_tensor *src);
/* Counter-based (Philox-4x32-10) draws: the value at element i depends only
 * on (seed, offset + i), so every backend and thread count agrees. */
DX_API dx_status dx_tensor_randn(dx_ctx *ctx, dx_tensor *t, uint64_t seed, uint64_t offset);
DX_API dx_status dx_tensor_rand(dx_ctx *ctx, dx_tensor *t, uint64_t seed, uint64_t offset);

/* --- autograd ------------------------------------------------------------- */

/* Marks a leaf as requiring a gradient; returns t. */
DX_API dx_tensor *dx_requires_grad(dx_tensor *t);
/* The same data, cut off from the tape (Improved DDPM's stop-gradient). */
DX_API dx_tensor *dx_detach(dx_ctx *ctx, dx_tensor *t);
/* Backpropagates from a one-element tensor (seed 1). Gradients accumulate
 * into t->grad of every tensor that requires one. */
DX_API dx_status dx_backward(dx_ctx *ctx, dx_tensor *loss);
/* Backpropagates with an explicit seed gradient dy shaped like y. */
DX_API dx_status dx_backward_seed(dx_ctx *ctx, dx_tensor *y, const dx_tensor *dy);
/* Zeroes a persistent tensor's gradient. */
DX_API dx_status dx_zero_grad(dx_ctx *ctx, dx_tensor *param);

/* --- scopes ---------------------------------------------------------------- */

/* Scopes: the memory of a forward pass. No op reads an activation once the
 * code that made it has moved on, except the backward of the ops that read
 * it, but the arena cannot tell when that is; a scope says it. dx_scope_end
 * gives back every activation made since the matching dx_scope_begin except
 * `keep` and, while the tape records, the activations that the backward of
 * an op recorded inside the scope reads (conv2d's input, softmax's output,
 * ...; not, say, the output of an addition or a channel slice). What stays
 * moves down to where the scope began (their data pointers change), and
 * keep is returned. Other tensors made inside the scope must not be used
 * after its end. So a pass without the tape wrapped in scopes, layer by
 * layer, peaks at its widest layer, not at the whole network, and a
 * training step holds only what its backward needs. Scopes nest; every
 * begin needs its end, also on an error path (keep may be NULL). */
DX_API void dx_scope_begin(dx_ctx *ctx);
DX_API dx_tensor *dx_scope_end(dx_ctx *ctx, dx_tensor *keep);
/* false: scopes begun from now on keep everything (a reference for tests and
 * for telling a scope's fault from another). Returns the previous setting. */
DX_API bool dx_set_scopes_enabled(dx_ctx *ctx, bool enabled);

/* --- linear algebra --------------------------------------------------------- */

/* x (N,Ci,H,W), w (Co,Ci/groups,kh,kw), b (Co) or NULL -> (N,Co,Ho,Wo). */
DX_API dx_tensor *dx_conv2d(dx_ctx *ctx, dx_tensor *x, dx_tensor *w, dx_tensor *b, int stride,
                            int pad, int groups);
/* x (N,I), w (O,I) as in PyTorch, b (O) or NULL -> (N,O). */
DX_API dx_tensor *dx_linear(dx_ctx *ctx, dx_tensor *x, dx_tensor *w, dx_tensor *b);
/* Batched matmul over all leading dims: a (...,M,K) b (...,K,N) -> (...,M,N),
 * with ta/tb transposing the last two dims of a/b first. 2-D, 3-D, 4-D. */
DX_API dx_tensor *dx_matmul(dx_ctx *ctx, dx_tensor *a, dx_tensor *b, bool ta, bool tb);

/* --- element-wise ------------------------------------------------------------- */

/* Broadcasting as in NumPy: shapes are right-aligned and a dimension of 1
 * stretches, e.g. (N,C,H,W) op (N,C,1,1) or (1,C,1,1). */
DX_API dx_tensor *dx_add(dx_ctx *ctx, dx_tensor *a, dx_tensor *b);
DX_API dx_tensor *dx_sub(dx_ctx *ctx, dx_tensor *a, dx_tensor *b);
DX_API dx_tensor *dx_mul(dx_ctx *ctx, dx_tensor *a, dx_tensor *b);
DX_API dx_tensor *dx_div(dx_ctx *ctx, dx_tensor *a, dx_tensor *b);

DX_API dx_tensor *dx_scale(dx_ctx *ctx, dx_tensor *x, double s);
DX_API dx_tensor *dx_add_scalar(dx_ctx *ctx, dx_tensor *x, double s);
DX_API dx_tensor *dx_silu(dx_ctx *ctx, dx_tensor *x);
typedef enum dx_gelu_approx { DX_GELU_ERF = 0, DX_GELU_TANH = 1 } dx_gelu_approx;
DX_API dx_tensor *dx_gelu(dx_ctx *ctx, dx_tensor *x, dx_gelu_approx approx);
DX_API dx_tensor *dx_exp(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_log(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_sqrt(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_square(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_abs(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_tanh(dx_ctx *ctx, dx_tensor *x);
/* Gradient passes where lo < x < hi and is 0 elsewhere, the bounds included
 * (PyTorch also passes it at x == lo and x == hi; the two differ only there). */
DX_API dx_tensor *dx_clamp(dx_ctx *ctx, dx_tensor *x, double lo, double hi);

typedef enum dx_cmp_op { DX_CMP_LT, DX_CMP_LE, DX_CMP_GT, DX_CMP_GE } dx_cmp_op;
/* 1 where (x op v) holds, else 0. A mask: never carries a gradient. */
DX_API dx_tensor *dx_compare(dx_ctx *ctx, dx_tensor *x, dx_cmp_op op, double v);
/* cond ? a : b element-wise, all three the same shape; cond is a 0/1 mask. */
DX_API dx_tensor *dx_where(dx_ctx *ctx, dx_tensor *cond, dx_tensor *a, dx_tensor *b);

/* --- reductions ------------------------------------------------------------- */

/* Over every element -> shape (1). */
DX_API dx_tensor *dx_sum(dx_ctx *ctx, dx_tensor *x);
DX_API dx_tensor *dx_mean(dx_ctx *ctx, dx_tensor *x);
/* Over the axes whose bit is set in axes (bit i = dim i); reduced dims are
 * kept with size 1, e.g. mean over CHW of (N,C,H,W) -> (N,1,1,1). */
DX_API dx_tensor *dx_sum_axes(dx_ctx *ctx, dx_tensor *x, unsigned axes);
DX_API dx_tensor *dx_mean_axes(dx_ctx *ctx, dx_tensor *x, unsigned axes);

/* --- normalisation, activation over an axis ------------------------------------- */

/* x (N,C,...): groups must divide C; one group normalises over C*H*W.
 * gamma, beta (C) or NULL. As torch.nn.GroupNorm (biased variance). */
DX_API dx_tensor *dx_group_norm(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma,
                                dx_tensor *beta, double eps);
/* SiLU(group_norm(x) * (1 + scale) + shift), the FiLM conditioning of a
 * ResNet block, in one op: one pass over x where the four ops one by one
 * make four, and no tensors in between. film (N, 2C): the scales, then the shifts, as
 * a Linear layer gives them; NULL for plain group norm -> SiLU. */
DX_API dx_tensor *dx_group_norm_silu(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma,
                                     dx_tensor *beta, double eps, dx_tensor *film);
/* Softmax over one axis (negative counts from the end). */
DX_API dx_tensor *dx_softmax(dx_ctx *ctx, dx_tensor *x, int axis);
/* The same, written over x and returned as x while nothing is recorded for
 * a backward (grad mode off, as in sampling and evaluation, and the tape
 * empty): no new tensor, so nothing for a scope to move. Otherwise it is
 * dx_softmax and x is left as it was. Either way, use only the result
 * afterwards. */
DX_API dx_tensor *dx_softmax_inplace(dx_ctx *ctx, dx_tensor *x, int axis);

/* --- shape ------------------------------------------------------------------- */

/* Same data, new shape of equal size (a view; -1 infers one dim). */
DX_API dx_tensor *dx_reshape(dx_ctx *ctx, dx_tensor *x, int ndim, const int64_t *shape);
/* y.shape[i] = x.shape[perm[i]] (a copy). */
DX_API dx_tensor *dx_permute(dx_ctx *ctx, dx_tensor *x, const int *perm);
/* Along channels (dim 1) of 4-D tensors. */
DX_API dx_tensor *dx_concat(dx_ctx *ctx, dx_tensor *const *xs, int n);
/* Channels [c0, c0+nc) of x. */
DX_API dx_tensor *dx_slice_channels(dx_ctx *ctx, dx_tensor *x, int64_t c0, int64_t nc);
/* Splits along channels into n equal parts (torch.chunk): out[0..n-1]. */
DX_API dx_status dx_chunk(dx_ctx *ctx, dx_tensor *x, int n, dx_tensor **out);
/* (N,C,H,W) <-> (N,C*r*r,H/r,W/r) in torch.nn.PixelUnshuffle's order. */
DX_API dx_tensor *dx_pixel_unshuffle(dx_ctx *ctx, dx_tensor *x, int r);
DX_API dx_tensor *dx_pixel_shuffle(dx_ctx *ctx, dx_tensor *x, int r);
/* Nearest-neighbour upsampling by an integer factor. */
DX_API dx_tensor *dx_upsample_nearest(dx_ctx *ctx, dx_tensor *x, int r);

/* --- stochastic and embedding ------------------------------------------------- */

/* Inverted dropout: zeroes with probability p and scales the rest by
 * 1/(1-p) when training; the identity otherwise. Draws from the context's
 * seeded stream (dx_set_seed). */
DX_API dx_tensor *dx_dropout(dx_ctx *ctx, dx_tensor *x, double p, bool training);
/* t (N) timesteps (float) -> (N, dim): [sin(t f_k), cos(t f_k)] with
 * f_k = exp(-k ln(10000) / (dim/2 - 1)), k = 0..dim/2-1 (DESIGN 6).
 * Not differentiable in t. */
DX_API dx_tensor *dx_time_embedding(dx_ctx *ctx, dx_tensor *t, int dim);

#ifdef __cplusplus
}
#endif
#endif
