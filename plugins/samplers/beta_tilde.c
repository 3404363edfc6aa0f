/* beta_tilde: ancestral sampling with sigma^2 = beta_tilde_t, the posterior
 * variance of q(x_{t-1} | x_t, x0): the lower of Ho et al. 2020's two choices
 * (sec. 3.2), optimal when x0 is a single point. beta_tilde is 0 at t = 1, so
 * its log there takes t = 2's value (improved-diffusion). */
#include "ddpmx/sampler.h"

static const dx_param_spec params[] = {DX_SAMPLER_COMMON_PARAMS(0)};

static dx_tensor *log_variance(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                               int64_t n, dx_tensor *var, dx_dtype dt) {
  (void)state, (void)var;
  return dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, dt);
}

static dx_tensor *step(dx_ctx *ctx, void *state, const dx_sampler_step *s) {
  return dx_ancestral_step(ctx, s, log_variance(ctx, state, s->d, s->t, s->n, NULL, s->x->dtype));
}

static const dx_sampler_ops ops = {dx_sampler_create_stateless, dx_sampler_destroy_stateless,
                                   log_variance, step};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SAMPLER,
    "beta_tilde",
    "1.0.0",
    "ancestral sampling with sigma^2 = beta_tilde (the posterior variance)",
    "x_{t-1} = mu(x_t, x0_hat) + sqrt(beta_tilde_t) z, z ~ N(0, I), z = 0 at t = 1",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
