/* vlb: the variational bound itself (Ho et al. 2020 eq. 5), with the
 * reverse variance of the run's sampler: KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t))
 * for t > 1 and the discretized decoder NLL at t = 1, in bits per dimension.
 * Each term is multiplied by T, so that with uniform t the loss estimates
 * the whole bound L_vlb = L_0 + ... + L_{T-1} (improved-diffusion's
 * RESCALED_KL). */
#include "ddpmx/loss.h"

static dx_status create(dx_ctx *ctx, const dx_params *p, void **state) {
  (void)ctx, (void)p;
  *state = NULL;
  return DX_OK;
}

static void destroy(void *state) { (void)state; }

static dx_status forward(dx_ctx *ctx, void *state, const dx_loss_input *in, dx_loss_output *out) {
  (void)state;
  dx_tensor *terms = dx_loss_vlb_terms(ctx, in, false);
  return dx_loss_finish(ctx, in, dx_scale(ctx, terms, (double)in->d->T), out);
}

static const dx_loss_ops ops = {create, destroy, forward};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_LOSS,
    "vlb",
    "1.0.0",
    "the variational bound in bits/dim, with the sampler's reverse variance",
    "L = mean w_n T L_t, L_t = KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) for t > 1, -log p(x0|x1) at "
    "t = 1",
    NULL,
    0,
    &ops};

DX_PLUGIN_DEFINE(desc)
