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

static double lambda_at(const dx_diffusion *d, int64_t t) {
  return 0.5 * (log(d->alpha_bar[t]) - log1p(-d->alpha_bar[t]));
}

/* The coordinate the steps are spread evenly in; it falls as t grows.
 * rho = 0: lambda itself. rho > 0: -sigma^(1/rho) with sigma = exp(-lambda)
 * the noise-to-signal ratio (Karras et al. 2022, eq. 5), negated to fall. */
static double coord_at(const dx_diffusion *d, int64_t t, double rho) {
  double lambda = lambda_at(d, t);
  return rho > 0 ? -exp(-lambda / rho) : lambda;
}

/* n - 1 steps evenly in the coordinate from c(0) to top, each the step
 * nearest its point, made strictly increasing, then T - 1. */
static void space_evenly_in(const dx_diffusion *d, int64_t n, double rho, double top,
                            int64_t *keep) {
  int64_t T = d->T;
  double bottom = coord_at(d, 0, rho);
  int64_t t = 0;
  keep[n - 1] = T - 1;
  for (int64_t i = 0; i < n - 1; i++) {
    double want = bottom + (top - bottom) * (double)i / (double)(n - 2);
    /* c falls as t grows: walk up while the next step is nearer. */
    while (t < T - 2 && fabs(coord_at(d, t + 1, rho) - want) <= fabs(coord_at(d, t, rho) - want))
      t++;
    int64_t lo = i > 0 ? keep[i - 1] + 1 : 0, hi = T - n + i; /* room for the steps above */
    keep[i] = t < lo ? lo : t > hi ? hi : t;
  }
}

dx_status dx_space_timesteps_logsnr(dx_ctx *ctx, const dx_diffusion *d, int64_t n, int64_t *keep) {
  int64_t T = d->T;
  if (n < 3 || n > T) return dx_space_timesteps(ctx, T, n, keep);
  /* Evenly spaced from lambda(0) to lambda(T - 1), except that the one
   * below the top may not fall inside the last step: a clipped last beta
   * (the cosine schedule's 0.999) puts lambda(T - 1) several units below
   * lambda(T - 2), and lambdas spaced from there would round to the top few
   * steps. The others are then spread from lambda(T - 2). */
  double bottom = lambda_at(d, 0);
  double below_top = bottom + (lambda_at(d, T - 1) - bottom) * (double)(n - 2) / (double)(n - 1);
  space_evenly_in(d, n, 0.0, fmax(below_top, lambda_at(d, T - 2)), keep);
  return DX_OK;
}

dx_status dx_space_timesteps_karras(dx_ctx *ctx, const dx_diffusion *d, int64_t n, int64_t *keep) {
  int64_t T = d->T;
  if (n < 3 || n > T) return dx_space_timesteps(ctx, T, n, keep);
  /* Karras et al.'s rho = 7 and sigma_max = 80 (their Table 1). Above
   * sigma = 80, x_t says little about an image in [-1, 1], and the one step
   * from T - 1 covers that range; spreading steps up to the cosine
   * schedule's sigma(T - 2) = 642 would spend several of them there. A
   * schedule whose sigma(T - 2) is lower starts from there. */
  const double rho = 7.0, sigma_max = 80.0;
  double top = fmax(-pow(sigma_max, 1.0 / rho), coord_at(d, T - 2, rho));
  space_evenly_in(d, n, rho, top, keep);
  return DX_OK;
}
