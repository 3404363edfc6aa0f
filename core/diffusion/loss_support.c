/* What loss plugins share: per-sample means, Min-SNR weights, the VLB term
 * of a training batch and the final weighted mean. */
#include <math.h>
#include <stdlib.h>

#include "ddpmx/loss.h"
#include "diffusion/internal.h"

dx_tensor *dx_mean_per_sample(dx_ctx *ctx, dx_tensor *x) {
  if (!x) return NULL;
  unsigned axes = 0;
  for (int i = 1; i < x->ndim; i++)
    axes |= 1u << i;
  int64_t n = x->shape[0];
  dx_tensor *m = x->ndim > 1 ? dx_mean_axes(ctx, x, axes) : x;
  return dx_reshape(ctx, m, 1, &n);
}

dx_tensor *dx_prediction_error(dx_ctx *ctx, const dx_loss_input *in) {
  dx_tensor *target = dx_predict_target(ctx, in->d, in->predict, in->t, in->x0, in->eps);
  return dx_sub(ctx, in->pred, target);
}

/* Hang et al. 2023, "Efficient diffusion training via Min-SNR weighting",
 * eq. 8 and its eps / v forms: each weight makes the loss min(SNR, gamma)
 * times the error in x0 space. */
static double min_snr(dx_predict predict, double abar, double gamma) {
  double snr = abar / (1.0 - abar), m = fmin(snr, gamma);
  return predict == DX_PREDICT_EPS ? m / snr : predict == DX_PREDICT_V ? m / (snr + 1.0) : m;
}

dx_tensor *dx_min_snr_weights(dx_ctx *ctx, const dx_loss_input *in, double gamma) {
  if (dx_status_of(ctx) != DX_OK || !in->x0) return NULL;
  double *w = malloc((size_t)in->n * sizeof *w);
  if (!w) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for Min-SNR weights"), NULL;
  for (int64_t k = 0; k < in->n; k++)
    w[k] = min_snr(in->predict, in->d->alpha_bar[in->t[k]], gamma);
  dx_tensor *out = dx_tensor_new(ctx, in->x0->dtype, 1, &in->n);
  if (out) dx_tensor_write(ctx, out, w, DX_F64);
  free(w);
  return out;
}

dx_tensor *dx_loss_vlb_terms(dx_ctx *ctx, const dx_loss_input *in, bool detach_mean) {
  if (!in->logvar)
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "this loss needs the sampler's log variance (dx_loss_input.logvar)"),
           NULL;
  dx_tensor *pred = detach_mean ? dx_detach(ctx, in->pred) : in->pred;
  /* Training predicts x0 without clipping, as improved-diffusion does. */
  dx_tensor *x0_hat = dx_predict_x0(ctx, in->d, in->predict, in->x_t, in->t, pred, false);
  dx_tensor *mean = dx_posterior_mean(ctx, in->d, x0_hat, in->x_t, in->t);
  return dx_vlb_terms(ctx, in->d, in->x0, in->x_t, in->t, mean, in->logvar);
}

dx_status dx_loss_finish(dx_ctx *ctx, const dx_loss_input *in, dx_tensor *per_sample,
                         dx_loss_output *out) {
  dx_tensor *weighted = in->weights ? dx_mul(ctx, in->weights, per_sample) : per_sample;
  out->loss = dx_mean(ctx, weighted);
  out->per_sample = dx_detach(ctx, per_sample);
  return dx_status_of(ctx);
}
