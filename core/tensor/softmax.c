/* Softmax over one axis: forward and backward. The backward needs only the
 * output, which the node already holds. */
#include "tensor/internal.h"

static void softmax_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  if (!dx || !dx_kernel_ok(ctx, (const void *)ctx->be->softmax_bwd, "softmax backward")) return;
  ctx->be->softmax_bwd(ctx->be, n->out, n->out->grad, dx, (int)n->iarg[0]);
}

/* The axis in [0, rank), or -1 with the error recorded. */
static int axis_of(dx_ctx *ctx, const dx_tensor *x, int axis) {
  int ax = axis < 0 ? axis + x->ndim : axis;
  if (ax < 0 || ax >= x->ndim) {
    char a[64];
    dx_fail(ctx, DX_ERR_INVALID, "softmax: axis %d is outside %s (valid: %d..%d)", axis,
            dx_shape_str(x, a, sizeof a), -x->ndim, x->ndim - 1);
    return -1;
  }
  return dx_kernel_ok(ctx, (const void *)ctx->be->softmax_fwd, "softmax") ? ax : -1;
}

dx_tensor *dx_softmax(dx_ctx *ctx, dx_tensor *x, int axis) {
  DX_REQUIRE_INPUTS(ctx, x);
  int ax = axis_of(ctx, x, axis);
  if (ax < 0) return NULL;
  dx_tensor *y = dx_tensor_new_like(ctx, x);
  if (!y) return NULL;
  ctx->be->softmax_fwd(ctx->be, x, y, ax);
  dx_node *n = dx_record(ctx, "softmax", softmax_backward, y, 1, &x);
  if (n) n->iarg[0] = ax, n->reads = DX_READS_OUT;
  return y;
}

/* Both backends' kernels read each element of x before they write the same
 * element of y, so y may be x. Only while the tape is empty and stays so:
 * a recorded node's backward may read x (conv2d's reads its input), and a
 * node for this softmax would need an output of its own. */
dx_tensor *dx_softmax_inplace(dx_ctx *ctx, dx_tensor *x, int axis) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (ctx->tape || (ctx->grad_enabled && dx_wants_grad(x))) return dx_softmax(ctx, x, axis);
  int ax = axis_of(ctx, x, axis);
  if (ax < 0) return NULL;
  ctx->be->softmax_fwd(ctx->be, x, x, ax);
  return x;
}
