/* The terms of the variational bound in bits per dimension (Ho et al. 2020
 * eq. 5): L_{t-1} = KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)) for t > 1,
 * L_0 = -log p(x0 | x1) with the discretized decoder, and the prior term
 * L_T = KL(q(x_T | x0) || N(0, I)). */
#include <math.h>
#include <stdlib.h>

#include "ddpmx/loss.h"
#include "diffusion/internal.h"

/* (N) mask, 1 where t = 0; *count receives how many. */
static dx_tensor *first_step_mask(dx_ctx *ctx, const int64_t *t, int64_t n, dx_dtype dt,
                                  int64_t *count) {
  double *v = malloc((size_t)n * sizeof *v);
  if (!v) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for a mask"), NULL;
  *count = 0;
  for (int64_t k = 0; k < n; k++)
    *count += (v[k] = t[k] == 0 ? 1.0 : 0.0) != 0.0;
  dx_tensor *mask = dx_tensor_new(ctx, dt, 1, &n);
  if (mask) dx_tensor_write(ctx, mask, v, DX_F64);
  free(v);
  return mask;
}

static dx_tensor *to_bits(dx_ctx *ctx, dx_tensor *nats) {
  return dx_scale(ctx, dx_mean_per_sample(ctx, nats), 1.0 / M_LN2);
}

dx_tensor *dx_vlb_terms(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0, dx_tensor *x_t,
                        const int64_t *t, dx_tensor *mean, dx_tensor *logvar) {
  if (!x0 || !x_t || !mean || !logvar) return dx_add(ctx, x0, mean); /* propagates the NULL */
  int64_t n = x0->shape[0], first = 0;
  dx_tensor *mask = first_step_mask(ctx, t, n, x0->dtype, &first);
  dx_tensor *kl = NULL, *nll = NULL;
  if (first < n) {
    dx_tensor *true_mean = dx_posterior_mean(ctx, d, x0, x_t, t);
    dx_tensor *true_lv = dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, x0->dtype);
    kl = to_bits(ctx, dx_normal_kl_tensor(ctx, true_mean, true_lv, mean, logvar));
  }
  if (first > 0) {
    dx_tensor *ll =
        dx_discretized_gaussian_log_likelihood_tensor(ctx, x0, mean, dx_scale(ctx, logvar, 0.5));
    nll = to_bits(ctx, dx_scale(ctx, ll, -1.0));
  }
  if (!kl) return nll;
  if (!nll) return kl;
  return dx_where(ctx, mask, nll, kl);
}

dx_tensor *dx_prior_bpd(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0) {
  /* q(x_T | x0) = N(sqrt(abar_T) x0, 1 - abar_T) against N(0, 1):
   * 0.5 (abar_T x0^2 + (1 - abar_T) - 1 - log(1 - abar_T)). */
  double ab = d->alpha_bar[d->T - 1], lv = log1p(-ab);
  dx_tensor *kl = dx_add_scalar(ctx, dx_scale(ctx, dx_square(ctx, x0), ab), -ab - lv);
  return to_bits(ctx, dx_scale(ctx, kl, 0.5));
}
