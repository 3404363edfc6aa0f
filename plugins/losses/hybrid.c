/* hybrid: L_simple + lambda L_vlb (Nichol & Dhariwal 2021 sec. 3.1). The
 * VLB part sees the model's mean cut off from the tape, so the mean learns
 * from L_simple alone and the VLB only trains the learned variance. As in
 * improved-diffusion, L_vlb = T L_t, so the VLB part is lambda T L_t. */
#include <stdlib.h>

#include "ddpmx/loss.h"

static const dx_param_spec params[] = {
    {"lambda", DX_PARAM_FLOAT, "0.001", "[0, inf)", NULL,
     "weight of the VLB term (Improved DDPM uses 0.001)"},
};

typedef struct hybrid {
  double lambda;
} hybrid;

static dx_status create(dx_ctx *ctx, const dx_params *p, void **state) {
  hybrid *s = malloc(sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "hybrid: out of memory");
  s->lambda = dx_params_float(p, "lambda");
  *state = s;
  return DX_OK;
}

static void destroy(void *state) { free(state); }

static dx_status forward(dx_ctx *ctx, void *state, const dx_loss_input *in, dx_loss_output *out) {
  const hybrid *s = state;
  dx_tensor *simple = dx_mean_per_sample(ctx, dx_square(ctx, dx_prediction_error(ctx, in)));
  dx_tensor *vlb = dx_loss_vlb_terms(ctx, in, true);
  dx_tensor *per_sample = dx_add(ctx, simple, dx_scale(ctx, vlb, s->lambda * (double)in->d->T));
  return dx_loss_finish(ctx, in, per_sample, out);
}

static const dx_loss_ops ops = {create, destroy, forward};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_LOSS,
    "hybrid",
    "1.0.0",
    "L_simple plus lambda times the bound with the mean detached (Improved DDPM)",
    "L = mean w_n (mean_chw (pred - target)^2 + lambda T L_t[stop_grad(mean), sigma])",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
