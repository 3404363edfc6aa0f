/* Inverted dropout (Srivastava et al. 2014), seeded and reproducible: the
 * mask is drawn from the context's counter-based stream, so a given
 * dx_set_seed gives the same masks on every backend and thread count. */
#include "tensor/internal.h"

/* dx += dy * mask: the kept elements pass the gradient scaled by 1/(1-p). */
static void dropout_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0], *mask = n->saved[0];
  dx_tensor *gx = dx_grad(ctx, x);
  if (!gx || !dx_kernel_ok(ctx, (const void *)ctx->be->binary_bwd, "dropout")) return;
  ctx->be->binary_bwd(ctx->be, DX_BIN_MUL, x, mask, n->out->grad, gx, NULL);
}

dx_tensor *dx_dropout(dx_ctx *ctx, dx_tensor *x, double p, bool training) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!(p >= 0.0 && p < 1.0))
    return dx_fail(ctx, DX_ERR_INVALID, "dropout: p = %g is outside [0, 1)", p);
  if (!training || p == 0.0) return x; /* the identity: nothing drawn, nothing recorded */
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->dropout_mask, "dropout") ||
      !dx_kernel_ok(ctx, (const void *)ctx->be->binary, "dropout"))
    return NULL;
  dx_tensor *mask = dx_tensor_new_like(ctx, x);
  dx_tensor *y = mask ? dx_tensor_new_like(ctx, x) : NULL;
  if (!y) return NULL;
  uint64_t offset = dx_next_rng_offset(ctx, (uint64_t)dx_numel(x));
  ctx->be->dropout_mask(ctx->be, mask, p, ctx->seed, offset);
  ctx->be->binary(ctx->be, DX_BIN_MUL, x, mask, y);
  dx_node *n = dx_record(ctx, "dropout", dropout_backward, y, 1, &x);
  if (n) n->saved[0] = mask, n->reads = DX_READS_IN(0) | DX_READS_SAVED(0);
  return y;
}
