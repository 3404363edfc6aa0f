/* In-place updates of persistent tensors: Adam, sums of squares, scaling,
 * lerp. Checks, then one backend kernel each. */
#include "tensor/update.h"

#include "tensor/internal.h"

static bool ready(dx_ctx *ctx, const void *kernel, const char *op, const dx_tensor *a,
                  const dx_tensor *b) {
  if (dx_status_of(ctx) != DX_OK || !dx_kernel_ok(ctx, kernel, op)) return false;
  if (!a || !b) return dx_fail(ctx, DX_ERR_INVALID, "%s: NULL tensor", op), false;
  if (dx_numel(a) != dx_numel(b) || a->dtype != b->dtype)
    return dx_fail(ctx, DX_ERR_INVALID, "%s: the tensors differ in size or dtype", op), false;
  return true;
}

dx_status dx_adam_update(dx_ctx *ctx, dx_tensor *p, dx_tensor *m, dx_tensor *v,
                         const dx_adam_args *a) {
  if (!p || !p->grad)
    return dx_set_error(ctx, DX_ERR_INVALID, "adam: a parameter without a gradient");
  if (ready(ctx, (const void *)ctx->be->adam, "adam", p, m) &&
      ready(ctx, (const void *)ctx->be->adam, "adam", p, v))
    ctx->be->adam(ctx->be, p, p->grad, m, v, a);
  return dx_status_of(ctx);
}

dx_status dx_sum_squares_acc(dx_ctx *ctx, const dx_tensor *t, dx_tensor *acc) {
  if (!acc || acc->dtype != DX_F64 || dx_numel(acc) != 1)
    return dx_set_error(ctx, DX_ERR_INVALID, "sum_squares: the accumulator must be one float64");
  if (ready(ctx, (const void *)ctx->be->sum_squares, "sum_squares", t, t))
    ctx->be->sum_squares(ctx->be, t, acc);
  return dx_status_of(ctx);
}

dx_status dx_scale_inplace(dx_ctx *ctx, dx_tensor *t, double s) {
  if (ready(ctx, (const void *)ctx->be->scale_inplace, "scale_inplace", t, t))
    ctx->be->scale_inplace(ctx->be, t, s);
  return dx_status_of(ctx);
}

dx_status dx_lerp_inplace(dx_ctx *ctx, dx_tensor *y, const dx_tensor *x, double w) {
  if (ready(ctx, (const void *)ctx->be->lerp, "lerp", y, x)) ctx->be->lerp(ctx->be, y, x, w);
  return dx_status_of(ctx);
}
