/* Loss plugins (DX_KIND_LOSS): the training objective.
 *
 * The trainer draws t and eps, makes x_t = q_sample(x0, t, eps), runs the
 * model, and hands the loss everything it might need in a dx_loss_input.
 * A loss returns a scalar to backpropagate and the per-sample values behind
 * it: the trainer logs them by timestep quartile and feeds them to the
 * importance sampler of timesteps (Nichol & Dhariwal 2021 sec. 3.3).
 *
 * plugins/losses/mse.c is the example to copy for a new loss. */
#ifndef DDPMX_LOSS_H
#define DDPMX_LOSS_H

#include "diffusion.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_loss_input {
  const dx_diffusion *d; /* the full schedule's tables */
  dx_predict predict;    /* what pred holds: eps, x0 or v */
  int64_t n;             /* batch size */
  const int64_t *t;      /* per-sample timestep indices (0 = the paper's t = 1) */
  dx_tensor *x0;         /* clean images (N,C,H,W) */
  dx_tensor *eps;        /* the noise that made x_t */
  dx_tensor *x_t;        /* q_sample(x0, t, eps) */
  dx_tensor *pred;       /* the model's prediction (its first C channels) */
  dx_tensor *var;        /* the model's variance channels, or NULL */
  dx_tensor *logvar;     /* log sigma^2 of the run's sampler at t (dx_sampler_ops
                            log_variance, computed from var when learned) */
  dx_tensor *weights;    /* (N) importance weights 1/(T p_t), or NULL for all 1 */
} dx_loss_input;

typedef struct dx_loss_output {
  dx_tensor *loss;       /* (1): mean over the batch of weights * per_sample */
  dx_tensor *per_sample; /* (N), unweighted and cut off from the tape */
} dx_loss_output;

typedef struct dx_loss_ops {
  /* Reads the parameters into private state (may be NULL). */
  dx_status (*create)(dx_ctx *ctx, const dx_params *p, void **state);
  void (*destroy)(void *state);
  dx_status (*forward)(dx_ctx *ctx, void *state, const dx_loss_input *in, dx_loss_output *out);
} dx_loss_ops;

/* --- helpers a loss plugin composes --------------------------------------------- */

/* pred - target, the target being eps, x0 or v as in->predict says. */
DX_API dx_tensor *dx_prediction_error(dx_ctx *ctx, const dx_loss_input *in);

/* Mean over every dim but the first: (N,C,H,W) -> (N). */
DX_API dx_tensor *dx_mean_per_sample(dx_ctx *ctx, dx_tensor *x);

/* Min-SNR-gamma weights (Hang et al. 2023), (N,1,1,1) in the dtype of in->x0:
 * min(SNR, gamma) / SNR for eps, min(SNR, gamma) for x0 and
 * min(SNR, gamma) / (SNR + 1) for v, with SNR = abar / (1 - abar), so that
 * each equals min(SNR, gamma) times the x0-space error. */
DX_API dx_tensor *dx_min_snr_weights(dx_ctx *ctx, const dx_loss_input *in, double gamma);

/* The VLB term of each sample in bits per dimension, (N): the KL for t > 0,
 * the decoder NLL at t = 0, with in->logvar. With detach_mean the model's
 * mean is cut off from the tape, so that only the variance learns from it
 * (Nichol & Dhariwal 2021 sec. 3.1, L_hybrid). */
DX_API dx_tensor *dx_loss_vlb_terms(dx_ctx *ctx, const dx_loss_input *in, bool detach_mean);

/* Fills out from per-sample values (N): loss = mean(weights * per_sample),
 * per_sample detached. Returns the context's status. */
DX_API dx_status dx_loss_finish(dx_ctx *ctx, const dx_loss_input *in, dx_tensor *per_sample,
                                dx_loss_output *out);

#ifdef __cplusplus
}
#endif
#endif
