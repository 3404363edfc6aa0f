/* huber: the smooth L1 loss as PyTorch defines it (smooth_l1_loss with
 * beta = delta): quadratic for errors below delta, linear above, so a few
 * large errors pull less than under mse. Optional Min-SNR-gamma weighting
 * (Hang et al. 2023). */
#include <stdlib.h>

#include "ddpmx/loss.h"

static const dx_param_spec params[] = {
    {"delta", DX_PARAM_FLOAT, "1.0", "(0, inf)", NULL,
     "error at which the loss turns from quadratic to linear"},
    {"min_snr_gamma", DX_PARAM_FLOAT, "0", "[0, inf)", NULL,
     "Min-SNR weighting: cap each step's signal-to-noise ratio at gamma (5 is usual); 0 is off"},
};

typedef struct huber {
  double delta, gamma;
} huber;

static dx_status create(dx_ctx *ctx, const dx_params *p, void **state) {
  huber *s = malloc(sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "huber: out of memory");
  s->delta = dx_params_float(p, "delta");
  s->gamma = dx_params_float(p, "min_snr_gamma");
  *state = s;
  return DX_OK;
}

static void destroy(void *state) { free(state); }

/* 0.5 e^2 / delta where |e| < delta, else |e| - 0.5 delta. */
static dx_tensor *smooth_l1(dx_ctx *ctx, dx_tensor *e, double delta) {
  dx_tensor *a = dx_abs(ctx, e);
  dx_tensor *quad = dx_scale(ctx, dx_square(ctx, e), 0.5 / delta);
  dx_tensor *lin = dx_add_scalar(ctx, a, -0.5 * delta);
  return dx_where(ctx, dx_compare(ctx, a, DX_CMP_LT, delta), quad, lin);
}

static dx_status forward(dx_ctx *ctx, void *state, const dx_loss_input *in, dx_loss_output *out) {
  const huber *s = state;
  dx_tensor *err = dx_prediction_error(ctx, in);
  dx_tensor *per_sample = dx_mean_per_sample(ctx, smooth_l1(ctx, err, s->delta));
  if (s->gamma > 0) per_sample = dx_mul(ctx, per_sample, dx_min_snr_weights(ctx, in, s->gamma));
  return dx_loss_finish(ctx, in, per_sample, out);
}

static const dx_loss_ops ops = {create, destroy, forward};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_LOSS,
    "huber",
    "1.0.0",
    "smooth L1 of the prediction error (PyTorch's smooth_l1_loss)",
    "L = mean w_n h(pred - target), h(e) = 0.5 e^2/delta if |e| < delta else |e| - 0.5 delta",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
