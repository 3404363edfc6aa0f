/* beta_tilde: ancestral sampling with sigma^2 = beta_tilde_t, the posterior
 * variance of q(x_{t-1} | x_t, x0): the lower of Ho et al. 2020's two choices
 * (sec. 3.2), optimal when x0 is a single point. beta_tilde is 0 at t = 1, so
 * its log there takes t = 2's value (improved-diffusion). */
#include "ddpmx/sampler.h"

static const dx_param_spec params[] = {
    {"steps", DX_PARAM_INT, "0", "[0, inf)", "steps",
     "sample on this many evenly spaced steps (beta recomputed); 0 uses all T"},
    {"clip", DX_PARAM_BOOL, "true", NULL, NULL, "clip the predicted x0 to [-1, 1]"},
};

static dx_status create(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg, void **state) {
  (void)ctx;
  dx_sampler_read_common(p, cfg);
  *state = NULL;
  return DX_OK;
}

static void destroy(void *state) { (void)state; }

static dx_tensor *log_variance(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                               int64_t n, dx_tensor *var, dx_dtype dt) {
  (void)state, (void)var;
  return dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, dt);
}

static dx_tensor *step(dx_ctx *ctx, void *state, const dx_sampler_step *s) {
  return dx_ancestral_step(ctx, s, log_variance(ctx, state, s->d, s->t, s->n, NULL, s->x->dtype));
}

static const dx_sampler_ops ops = {create, destroy, log_variance, step};

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
