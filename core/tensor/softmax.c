/* Softmax over one axis: forward and backward. The backward needs only the
 * output, which the node already holds. */
#include "tensor/internal.h"

static void softmax_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  if (!dx || !dx_kernel_ok(ctx, (const void *)ctx->be->softmax_bwd, "softmax backward")) return;
  ctx->be->softmax_bwd(ctx->be, n->out, n->out->grad, dx, (int)n->iarg[0]);
}

dx_tensor *dx_softmax(dx_ctx *ctx, dx_tensor *x, int axis) {
  DX_REQUIRE_INPUTS(ctx, x);
  int ax = axis < 0 ? axis + x->ndim : axis;
  if (ax < 0 || ax >= x->ndim) {
    char a[64];
    return dx_fail(ctx, DX_ERR_INVALID, "softmax: axis %d is outside %s (valid: %d..%d)", axis,
                   dx_shape_str(x, a, sizeof a), -x->ndim, x->ndim - 1);
  }
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->softmax_fwd, "softmax")) return NULL;
  dx_tensor *y = dx_tensor_new_like(ctx, x);
  if (!y) return NULL;
  ctx->be->softmax_fwd(ctx->be, x, y, ax);
  dx_node *n = dx_record(ctx, "softmax", softmax_backward, y, 1, &x);
  if (n) n->iarg[0] = ax, n->reads = DX_READS_OUT;
  return y;
}
