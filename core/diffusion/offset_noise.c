/* Offset noise: the training noise gets a per-(image, channel) constant on
 * top, so that the model learns to move an image's mean brightness, which
 * plain per-pixel noise barely destroys (Guttenberg 2023, "Diffusion with
 * Offset Noise"; lucidrains' offset_noise_strength). */
#include "diffusion/internal.h"

dx_tensor *dx_offset_noise(dx_ctx *ctx, dx_tensor *eps, double s, uint64_t seed, uint64_t offset) {
  if (!eps || s == 0) return eps;
  if (eps->ndim != 4)
    return dx_set_error(ctx, DX_ERR_INVALID, "offset noise: eps must be (N,C,H,W)"), NULL;
  int64_t shape[4] = {eps->shape[0], eps->shape[1], 1, 1};
  dx_tensor *z = dx_tensor_new(ctx, eps->dtype, 4, shape);
  if (!z || dx_tensor_randn(ctx, z, seed, offset) != DX_OK) return NULL;
  return dx_add(ctx, eps, dx_scale(ctx, z, s));
}
