/* DDIM inversion: the deterministic DDIM update (eta = 0) run from the
 * image up to x_T, as diffusers' DDIMInverseScheduler and null-text
 * inversion do it: the model is asked at the level being stepped to,
 * eps_hat(x_{i-1}, t_i), since x_i is not known yet. The error of that
 * approximation is what the round trip measures. */
#include <math.h>
#include <stdlib.h>

#include "diffusion/i2i.h"
#include "diffusion/internal.h"

/* x_{i-1} -> x_i in place. */
static dx_status up(dx_ctx *ctx, const dx_diffusion *r, dx_predict predict, dx_model_fn model,
                    void *user, int64_t i, int64_t *t, dx_tensor *x) {
  int64_t n = x->shape[0], C = x->shape[1];
  for (int64_t k = 0; k < n; k++)
    t[k] = i;
  dx_step_reset(ctx);
  dx_tensor *pred, *var;
  dx_tensor *out = model(ctx, user, x, dx_model_timesteps(ctx, r, t, n, x->dtype));
  if (dx_split_output(ctx, out, C, &pred, &var) != DX_OK) return dx_status_of(ctx);
  /* eps as the model means it at level i. */
  dx_tensor *eps = pred;
  if (predict != DX_PREDICT_EPS)
    eps = dx_eps_from_x0(ctx, r, x, t, dx_predict_x0(ctx, r, predict, x, t, pred, false));
  /* x0_hat = (x - sqrt(1 - abar_prev) eps) / sqrt(abar_prev), then
   * x_i = sqrt(abar_i) x0_hat + sqrt(1 - abar_i) eps, folded into a x + b eps. */
  double ap = sqrt(r->alpha_bar_prev[i]), sp = sqrt(1.0 - r->alpha_bar_prev[i]);
  double A = r->sqrt_alpha_bar[i], S = r->sqrt_one_minus_alpha_bar[i];
  dx_tensor *y = dx_add(ctx, dx_scale(ctx, x, A / ap), dx_scale(ctx, eps, S - A * sp / ap));
  return y ? dx_tensor_copy(ctx, x, y) : dx_status_of(ctx);
}

dx_status dx_ddim_invert(dx_ctx *ctx, const dx_diffusion *r, dx_predict predict, dx_model_fn model,
                         void *user, dx_tensor *x) {
  if (!x || x->ndim != 4 || !(x->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "inversion takes a persistent (N,C,H,W) tensor");
  int64_t *t = malloc((size_t)x->shape[0] * sizeof *t);
  if (!t) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory inverting");
  bool grad = dx_set_grad_enabled(ctx, false);
  dx_status st = DX_OK;
  for (int64_t i = 0; i < r->T && st == DX_OK; i++)
    st = up(ctx, r, predict, model, user, i, t, x);
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  free(t);
  return st;
}

dx_status dx_ddim_round_trip(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                             dx_predict predict, dx_model_fn model, void *user, int64_t top,
                             dx_tensor *x, dx_tensor *x_T) {
  if (!x_T || !x || !dx_same_shape(x, x_T) || !(x_T->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "x_T must be a persistent tensor shaped like x");
  if (top < 0 || top >= d->T)
    return dx_set_error(ctx, DX_ERR_INVALID, "cannot invert to step %lld of %lld", (long long)top,
                        (long long)d->T);
  dx_sampler plain = *s;
  plain.cfg.clip = false, plain.cfg.threshold = 0;
  dx_diffusion *r = dx_diffusion_respace_upto(ctx, d, top, dx_steps_upto(s, d, top));
  if (!r) return dx_status_of(ctx);
  dx_status st = dx_ddim_invert(ctx, r, predict, model, user, x);
  if (st == DX_OK) st = dx_tensor_copy(ctx, x_T, x);
  /* eta = 0 draws no noise: the seed does not matter. */
  if (st == DX_OK) st = dx_sample_loop(ctx, &plain, r, predict, model, user, 0, 0, x->shape[0], x);
  dx_diffusion_free(r);
  return st;
}
