/* Optimisers, learning-rate schedule, gradient clipping and EMA for a list
 * of parameters. Updates run as fused backend kernels. */
#ifndef DX_TRAIN_OPTIM_H
#define DX_TRAIN_OPTIM_H

#include "model/module.h"

typedef enum dx_optim_kind { DX_OPTIM_ADAM = 0, DX_OPTIM_ADAMW = 1 } dx_optim_kind;

typedef struct dx_optim_config {
  dx_optim_kind kind;
  double beta1, beta2, eps;
  double weight_decay; /* Adam: L2 on the gradient; AdamW: decoupled */
} dx_optim_config;

typedef struct dx_optim {
  dx_ctx *ctx;
  dx_optim_config cfg;
  dx_param_list *params;
  dx_param_list m, v; /* first and second moments, one per parameter */
  int64_t step;       /* updates done so far */
} dx_optim;

/* NULL on failure (reason in ctx). */
dx_optim *dx_optim_create(dx_ctx *ctx, dx_param_list *params, const dx_optim_config *cfg);
void dx_optim_free(dx_optim *o);
/* One update of every parameter from its gradient, at learning rate lr. */
dx_status dx_optim_step(dx_optim *o, double lr);

/* sqrt(sum of every gradient element squared). */
double dx_grad_norm(dx_ctx *ctx, const dx_param_list *params);
/* Scales all gradients by max_norm / norm when norm > max_norm (PyTorch's
 * clip_grad_norm_); returns the norm before clipping. */
double dx_clip_grad_norm(dx_ctx *ctx, dx_param_list *params, double max_norm);
void dx_zero_grads(dx_ctx *ctx, dx_param_list *params);
/* Every gradient *= s. */
void dx_scale_grads(dx_ctx *ctx, dx_param_list *params, double s);

typedef enum dx_lr_decay { DX_LR_CONSTANT = 0, DX_LR_COSINE = 1 } dx_lr_decay;
typedef struct dx_lr_schedule {
  double lr;
  int64_t warmup; /* linear ramp over the first `warmup` steps */
  int64_t total;  /* steps in the run, for the cosine decay */
  dx_lr_decay decay;
} dx_lr_schedule;
/* The rate for 0-based step `step`: lr * (step+1)/warmup during warm-up,
 * then lr, or lr * (1 + cos(pi * progress)) / 2 for cosine decay. */
double dx_lr_at(const dx_lr_schedule *s, int64_t step);

/* Exponential moving average of the parameters (Polyak averaging), kept as a
 * shadow list with the same names. */
typedef struct dx_ema {
  dx_ctx *ctx;
  dx_param_list shadow;
} dx_ema;
dx_ema *dx_ema_create(dx_ctx *ctx, const dx_param_list *params);
void dx_ema_free(dx_ema *e);
/* shadow = decay * shadow + (1 - decay) * param */
void dx_ema_update(dx_ema *e, const dx_param_list *params, double decay);
/* Exchanges the data of shadow and parameters (no copy): call once to run
 * the model with EMA weights, and again to restore. */
void dx_ema_swap(dx_ema *e, dx_param_list *params);

#endif
