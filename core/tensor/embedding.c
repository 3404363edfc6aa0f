/* The sinusoidal timestep embedding of DDPM's U-Net (Ho et al. 2020,
 * appendix B, after Vaswani et al. 2017). */
#include "tensor/internal.h"

/* t (N) -> (N, dim). Not recorded on the tape: the timestep is an index, not
 * a quantity we differentiate, so the result never requires a gradient even
 * when t does. */
dx_tensor *dx_time_embedding(dx_ctx *ctx, dx_tensor *t, int dim) {
  DX_REQUIRE_INPUTS(ctx, t);
  char s[64];
  if (t->ndim != 1)
    return dx_fail(ctx, DX_ERR_INVALID, "time_embedding: t must be 1-D (N), got %s",
                   dx_shape_str(t, s, sizeof s));
  /* half - 1 divides the exponent (DESIGN 6), so half >= 2. */
  if (dim < 4 || dim % 2)
    return dx_fail(ctx, DX_ERR_INVALID, "time_embedding: dim %d must be even and >= 4", dim);
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->time_embedding, "time_embedding")) return NULL;
  int64_t shape[2] = {t->shape[0], dim};
  dx_tensor *y = dx_tensor_new(ctx, t->dtype, 2, shape);
  if (y) ctx->be->time_embedding(ctx->be, t, y);
  return y;
}
