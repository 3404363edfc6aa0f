/* dx_batch_view: images [i0, i0 + n) of a batch, in place. */
#include "tensor/batch_view.h"

#include "tensor/internal.h"

dx_tensor *dx_batch_view(dx_ctx *ctx, dx_tensor *x, int64_t i0, int64_t n) {
  DX_REQUIRE_INPUTS(ctx, x);
  char a[64];
  if (i0 < 0 || n < 1 || i0 + n > x->shape[0])
    return dx_fail(ctx, DX_ERR_INVALID, "batch view: entries [%lld, %lld) are not inside %s",
                   (long long)i0, (long long)(i0 + n), dx_shape_str(x, a, sizeof a));
  if (ctx->grad_enabled && dx_wants_grad(x))
    return dx_fail(ctx, DX_ERR_INVALID, "batch view of %s: it records no backward",
                   dx_shape_str(x, a, sizeof a));
  int64_t shape[DX_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    shape[d] = x->shape[d];
  shape[0] = n;
  dx_tensor *v = dx_tensor_view(ctx, x, x->ndim, shape);
  if (v)
    v->data =
        (char *)x->data + (size_t)(i0 * (dx_numel(x) / x->shape[0])) * dx_dtype_size(x->dtype);
  return v;
}
