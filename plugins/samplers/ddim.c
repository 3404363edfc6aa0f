/* ddim: the generalised, non-Markovian sampler of Song et al. 2021 (eq. 12)
 * on a respaced subset of steps. eta = 0 is deterministic given x_T;
 * eta = 1 adds the noise of the ancestral sampler with sigma^2 = beta_tilde.
 * For the bound (vlb loss, bits/dim) it reports sigma^2 = beta_tilde, the
 * Markovian process it equals at eta = 1 on all steps. */
#include <math.h>
#include <stdlib.h>

#include "ddpmx/sampler.h"

static const dx_param_spec params[] = {
    {"eta", DX_PARAM_FLOAT, "0.0", "[0, 1]", NULL,
     "noise scale: 0 deterministic, 1 as much noise as ancestral sampling"},
    DX_SAMPLER_COMMON_PARAMS(50),
};

typedef struct ddim {
  double eta;
} ddim;

static dx_status create(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg, void **state) {
  ddim *s = malloc(sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "ddim: out of memory");
  s->eta = dx_params_float(p, "eta");
  dx_sampler_read_common(p, cfg);
  cfg->learns_variance = false;
  *state = s;
  return DX_OK;
}

static void destroy(void *state) { free(state); }

static dx_tensor *log_variance(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                               int64_t n, dx_tensor *var, dx_dtype dt) {
  (void)state, (void)var;
  return dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, dt);
}

/* x_{t-1} = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
 * sigma = eta sqrt((1 - abar_prev)/(1 - abar)) sqrt(1 - abar/abar_prev), with
 * eps recomputed from the (possibly clipped) x0 so the two agree. */
static dx_tensor *step(dx_ctx *ctx, void *state, const dx_sampler_step *s) {
  const ddim *g = state;
  double ab = s->d->alpha_bar[s->i], abp = s->d->alpha_bar_prev[s->i];
  double sigma = g->eta * sqrt((1.0 - abp) / (1.0 - ab)) * sqrt(1.0 - ab / abp);
  dx_tensor *x0 = dx_predict_x0(ctx, s->d, s->predict, s->x, s->t, s->pred, s->clip);
  dx_tensor *eps = dx_eps_from_x0(ctx, s->d, s->x, s->t, x0);
  dx_tensor *dir = dx_scale(ctx, eps, sqrt(fmax(1.0 - abp - sigma * sigma, 0.0)));
  dx_tensor *mean = dx_add(ctx, dx_scale(ctx, x0, sqrt(abp)), dir);
  if (s->i == 0 || sigma == 0.0) return mean;
  return dx_add(ctx, mean, dx_scale(ctx, s->noise, sigma));
}

static const dx_sampler_ops ops = {create, destroy, log_variance, step};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SAMPLER,
    "ddim",
    "1.0.0",
    "DDIM: fast sampling on a subset of steps, deterministic at eta = 0",
    "x_{t-1} = sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1} - sigma_t^2) eps_hat + sigma_t z, "
    "sigma_t = eta sqrt(beta_tilde_t)",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
