/* Sums and means, over every element or over chosen axes, with their
 * backward (a broadcast of the incoming gradient). */
#include "tensor/internal.h"

/* x's rank with every dim of size 1: the backend's view of a (1) result. */
static dx_tensor *ones_view(dx_ctx *ctx, dx_tensor *t, int ndim) {
  int64_t ones[DX_MAX_DIMS] = {1, 1, 1, 1};
  return dx_tensor_view(ctx, t, ndim, ones);
}

/* dx += scale * dy stretched back over the reduced dims. */
static void reduce_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0], *gy = n->out->grad;
  dx_tensor *gx = dx_grad(ctx, x);
  if (gy->ndim != x->ndim) gy = ones_view(ctx, gy, x->ndim); /* dx_sum, dx_mean */
  if (!gx || !gy || !dx_kernel_ok(ctx, (const void *)ctx->be->broadcast_acc, n->op)) return;
  ctx->be->broadcast_acc(ctx->be, gy, gx, n->farg[0]);
}

/* Reduces x over the axes in the bitmask; keep_rank keeps them as size-1
 * dims, else the result is the one-element shape (1). mean divides by the
 * number of elements summed into each output. */
static dx_tensor *reduce(dx_ctx *ctx, const char *op, dx_tensor *x, unsigned axes, bool mean,
                         bool keep_rank) {
  int64_t shape[DX_MAX_DIMS], count = 1;
  for (int d = 0; d < x->ndim; d++) {
    bool r = axes & (1u << d);
    shape[d] = r ? 1 : x->shape[d];
    if (r) count *= x->shape[d];
  }
  double scale = mean ? 1.0 / (double)count : 1.0;
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->reduce_sum, op)) return NULL;
  int64_t one = 1;
  dx_tensor *y = keep_rank ? dx_tensor_new(ctx, x->dtype, x->ndim, shape)
                           : dx_tensor_new(ctx, x->dtype, 1, &one);
  dx_tensor *yk = y && !keep_rank ? ones_view(ctx, y, x->ndim) : y;
  if (!yk) return NULL;
  ctx->be->reduce_sum(ctx->be, x, yk, scale);
  dx_node *n = dx_record(ctx, op, reduce_backward, y, 1, &x);
  if (n) n->farg[0] = scale, n->reads = 0; /* dy spread back, scaled */
  return y;
}

static const unsigned all_axes = (1u << DX_MAX_DIMS) - 1;

dx_tensor *dx_sum(dx_ctx *ctx, dx_tensor *x) {
  DX_REQUIRE_INPUTS(ctx, x);
  return reduce(ctx, "sum", x, all_axes, false, false);
}

dx_tensor *dx_mean(dx_ctx *ctx, dx_tensor *x) {
  DX_REQUIRE_INPUTS(ctx, x);
  return reduce(ctx, "mean", x, all_axes, true, false);
}

static bool valid_axes(dx_ctx *ctx, const char *op, const dx_tensor *x, unsigned axes) {
  if (axes != 0 && (axes >> x->ndim) == 0) return true;
  char s[64];
  dx_fail(ctx, DX_ERR_INVALID, "%s: axes mask 0x%x does not name dims of a %d-D tensor %s", op,
          axes, x->ndim, dx_shape_str(x, s, sizeof s));
  return false;
}

dx_tensor *dx_sum_axes(dx_ctx *ctx, dx_tensor *x, unsigned axes) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!valid_axes(ctx, "sum_axes", x, axes)) return NULL;
  return reduce(ctx, "sum_axes", x, axes, false, true);
}

dx_tensor *dx_mean_axes(dx_ctx *ctx, dx_tensor *x, unsigned axes) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!valid_axes(ctx, "mean_axes", x, axes)) return NULL;
  return reduce(ctx, "mean_axes", x, axes, true, true);
}
