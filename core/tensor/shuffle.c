/* Pixel unshuffle / shuffle (Shi et al. 2016, "Real-Time Single Image and
 * Video Super-Resolution ... Sub-Pixel Convolution", in torch's channel
 * order) and nearest upsampling: forward and backward. Each backward is the
 * adjoint of its forward: (un)shuffle undo each other, and nearest
 * upsampling's adjoint sums each r x r block. */
#include "tensor/internal.h"

static bool check_4d(dx_ctx *ctx, const char *op, const dx_tensor *x, int r) {
  char a[64];
  if (x->ndim != 4)
    dx_fail(ctx, DX_ERR_INVALID, "%s: x %s must be 4-D (N, C, H, W)", op,
            dx_shape_str(x, a, sizeof a));
  else if (r < 1)
    dx_fail(ctx, DX_ERR_INVALID, "%s: factor %d must be >= 1", op, r);
  return dx_status_of(ctx) == DX_OK;
}

/* Backward of both: dx += the opposite rearrangement of dy. */
static void shuffle_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  bool forward_was_unshuffle = n->iarg[1];
  if (dx)
    ctx->be->pixel_shuffle(ctx->be, n->out->grad, dx, (int)n->iarg[0], !forward_was_unshuffle,
                           true);
}

static dx_tensor *shuffle_op(dx_ctx *ctx, dx_tensor *x, int r, bool unshuffle,
                             const int64_t *shape) {
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->pixel_shuffle,
                    unshuffle ? "pixel_unshuffle" : "pixel_shuffle"))
    return NULL;
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, 4, shape);
  if (!y) return NULL;
  ctx->be->pixel_shuffle(ctx->be, x, y, r, unshuffle, false);
  dx_node *n =
      dx_record(ctx, unshuffle ? "pixel_unshuffle" : "pixel_shuffle", shuffle_backward, y, 1, &x);
  if (n) n->iarg[0] = r, n->iarg[1] = unshuffle, n->reads = 0;
  return y;
}

dx_tensor *dx_pixel_unshuffle(dx_ctx *ctx, dx_tensor *x, int r) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_4d(ctx, "pixel_unshuffle", x, r)) return NULL;
  if (x->shape[2] % r || x->shape[3] % r) {
    char a[64];
    return dx_fail(ctx, DX_ERR_INVALID, "pixel_unshuffle: H and W of %s must be divisible by %d",
                   dx_shape_str(x, a, sizeof a), r);
  }
  int64_t shape[4] = {x->shape[0], x->shape[1] * r * r, x->shape[2] / r, x->shape[3] / r};
  return shuffle_op(ctx, x, r, true, shape);
}

dx_tensor *dx_pixel_shuffle(dx_ctx *ctx, dx_tensor *x, int r) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_4d(ctx, "pixel_shuffle", x, r)) return NULL;
  if (x->shape[1] % ((int64_t)r * r)) {
    char a[64];
    return dx_fail(ctx, DX_ERR_INVALID, "pixel_shuffle: the channels of %s must be divisible by %d",
                   dx_shape_str(x, a, sizeof a), r * r);
  }
  int64_t shape[4] = {x->shape[0], x->shape[1] / r / r, x->shape[2] * r, x->shape[3] * r};
  return shuffle_op(ctx, x, r, false, shape);
}

static void upsample_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  if (dx &&
      dx_kernel_ok(ctx, (const void *)ctx->be->upsample_nearest_bwd, "upsample_nearest backward"))
    ctx->be->upsample_nearest_bwd(ctx->be, n->out->grad, dx, (int)n->iarg[0]);
}

dx_tensor *dx_upsample_nearest(dx_ctx *ctx, dx_tensor *x, int r) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_4d(ctx, "upsample_nearest", x, r) ||
      !dx_kernel_ok(ctx, (const void *)ctx->be->upsample_nearest, "upsample_nearest"))
    return NULL;
  int64_t shape[4] = {x->shape[0], x->shape[1], x->shape[2] * r, x->shape[3] * r};
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, 4, shape);
  if (!y) return NULL;
  ctx->be->upsample_nearest(ctx->be, x, y, r);
  dx_node *n = dx_record(ctx, "upsample_nearest", upsample_backward, y, 1, &x);
  if (n) n->iarg[0] = r, n->reads = 0;
  return y;
}
