/* learned_range: the model learns the reverse variance (Nichol & Dhariwal
 * 2021 eq. 15). Its second set of C output channels, v in [-1, 1], is mapped
 * to [0, 1] and interpolates, per pixel, between the two fixed choices:
 * log sigma^2 = f log beta + (1 - f) log beta_tilde, f = (v + 1) / 2. */
#include "ddpmx/sampler.h"

static const dx_param_spec params[] = {DX_SAMPLER_COMMON_PARAMS(0)};

static dx_status create(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg, void **state) {
  (void)ctx;
  dx_sampler_read_common(p, cfg);
  cfg->learns_variance = true;
  *state = NULL;
  return DX_OK;
}

static dx_tensor *log_variance(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                               int64_t n, dx_tensor *var, dx_dtype dt) {
  (void)state;
  if (!var)
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "learned_range: the model must output 2C channels (prediction, variance)"),
           NULL;
  /* log beta itself here, not the t = 1 substitute: improved-diffusion's max_log. */
  dx_tensor *max_log = dx_log(ctx, dx_diffusion_gather(ctx, d->beta, t, n, dt));
  dx_tensor *min_log = dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, dt);
  dx_tensor *f = dx_scale(ctx, dx_add_scalar(ctx, var, 1.0), 0.5);
  return dx_add(ctx, min_log, dx_mul(ctx, f, dx_sub(ctx, max_log, min_log)));
}

static dx_tensor *step(dx_ctx *ctx, void *state, const dx_sampler_step *s) {
  return dx_ancestral_step(ctx, s, log_variance(ctx, state, s->d, s->t, s->n, s->var, s->x->dtype));
}

static const dx_sampler_ops ops = {create, dx_sampler_destroy_stateless, log_variance, step};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SAMPLER,
    "learned_range",
    "1.0.0",
    "ancestral sampling with a variance the model learns between beta_tilde and beta",
    "log sigma^2 = f log beta_t + (1 - f) log beta_tilde_t, f = (v + 1)/2, v = model's extra "
    "channels",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
