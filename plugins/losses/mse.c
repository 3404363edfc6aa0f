/* mse: the simple loss of Ho et al. 2020 (eq. 14), the mean squared error
 * between what the model predicts and its true value. The model predicts
 * eps, x0 or v (diffusion.predict); dx_prediction_error compares it with the
 * matching truth, so the same code serves all three. With min_snr_gamma > 0 each
 * sample is reweighted by Min-SNR-gamma (Hang et al. 2023).
 *
 * This is the file to copy for a new loss: a descriptor, private state
 * behind a pointer, and a forward pass written with tensor ops (the tape
 * supplies the gradient). */
#include <stdlib.h>

#include "ddpmx/loss.h"

static const dx_param_spec params[] = {
    {"min_snr_gamma", DX_PARAM_FLOAT, "0", "[0, inf)", NULL,
     "Min-SNR weighting: cap each step's signal-to-noise ratio at gamma (5 is usual); 0 is off"},
};

typedef struct mse {
  double gamma;
} mse;

static dx_status create(dx_ctx *ctx, const dx_params *p, void **state) {
  mse *s = malloc(sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "mse: out of memory");
  s->gamma = dx_params_float(p, "min_snr_gamma");
  *state = s;
  return DX_OK;
}

static void destroy(void *state) { free(state); }

static dx_status forward(dx_ctx *ctx, void *state, const dx_loss_input *in, dx_loss_output *out) {
  const mse *s = state;
  dx_tensor *err = dx_prediction_error(ctx, in);
  dx_tensor *per_sample = dx_mean_per_sample(ctx, dx_square(ctx, err));
  if (s->gamma > 0) per_sample = dx_mul(ctx, per_sample, dx_min_snr_weights(ctx, in, s->gamma));
  return dx_loss_finish(ctx, in, per_sample, out);
}

static const dx_loss_ops ops = {create, destroy, forward};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_LOSS,
    "mse",
    "1.0.0",
    "mean squared error of the prediction (L_simple)",
    "L = mean_n w_n mean_chw (pred - target)^2, target = eps | x0 | v, w_n = min-SNR weight or 1",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
