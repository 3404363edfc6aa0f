/* Respacing: sampling on a subset of the steps with the same marginals
 * q(x_t | x0) (Nichol & Dhariwal 2021 sec. 4; improved-diffusion respace.py). */
#include <math.h>

#include "diffusion/internal.h"

dx_diffusion *dx_diffusion_respace(dx_ctx *ctx, const dx_diffusion *d, const int64_t *keep,
                                   int64_t n) {
  if (!d || !keep || n < 1 || n > d->T) {
    dx_set_error(ctx, DX_ERR_INVALID, "respace: need 1..%lld kept steps, got %lld",
                 d ? (long long)d->T : 0LL, (long long)n);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++)
    if (keep[i] < 0 || keep[i] >= d->T || (i > 0 && keep[i] <= keep[i - 1])) {
      dx_set_error(ctx, DX_ERR_INVALID,
                   "respace: kept steps must be increasing indices in 0..%lld (entry %lld is %lld)",
                   (long long)d->T - 1, (long long)i, (long long)keep[i]);
      return NULL;
    }
  dx_diffusion *r = dx_diffusion_alloc(ctx, n);
  if (!r) return NULL;
  /* improved-diffusion respace.py: beta_i = 1 - abar_{k_i} / abar_{k_{i-1}},
   * which keeps abar (hence q(x_t | x0)) at every kept step. */
  double last = 1.0;
  for (int64_t i = 0; i < n; i++) {
    r->beta[i] = 1.0 - d->alpha_bar[keep[i]] / last;
    last = d->alpha_bar[keep[i]];
    r->timestep_map[i] = d->timestep_map[keep[i]];
  }
  r->T_original = d->T_original;
  dx_diffusion_derive(r);
  return r;
}

dx_status dx_space_timesteps(dx_ctx *ctx, int64_t T, int64_t n, int64_t *keep) {
  if (n < 1 || n > T)
    return dx_set_error(ctx, DX_ERR_INVALID, "cannot take %lld steps out of %lld", (long long)n,
                        (long long)T);
  /* improved-diffusion space_timesteps, one section: a fractional stride of
   * (T - 1) / (n - 1) accumulated and rounded half to even, as Python's
   * round() does, so that both pick the same steps. */
  double stride = n > 1 ? (double)(T - 1) / (double)(n - 1) : 1.0, pos = 0.0;
  for (int64_t i = 0; i < n; i++, pos += stride)
    keep[i] = (int64_t)nearbyint(pos);
  return DX_OK;
}
