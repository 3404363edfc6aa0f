/* Bits per dimension of a model on a set of images: the full variational
 * bound, one term per t, plus the prior (Ho et al. 2020 eq. 5; the sum
 * improved-diffusion's calc_bpd_loop computes). */
#include <stdlib.h>

#include "ddpmx/sampler.h"
#include "diffusion/internal.h"

/* The bound's term at index ti for each image, (N) bits per dimension. */
static dx_tensor *term_at(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                          dx_predict predict, dx_model_fn model, void *user, dx_tensor *x0,
                          const int64_t *t, uint64_t seed) {
  int64_t n = x0->shape[0];
  dx_tensor *eps = dx_tensor_new_like(ctx, x0);
  if (!eps || dx_tensor_randn(ctx, eps, seed, (uint64_t)t[0] * (uint64_t)dx_numel(x0)) != DX_OK)
    return NULL;
  dx_tensor *x_t = dx_q_sample(ctx, d, x0, t, eps);
  dx_tensor *out = model(ctx, user, x_t, dx_model_timesteps(ctx, d, t, n, x0->dtype));
  dx_tensor *pred, *var;
  if (dx_split_output(ctx, out, x0->shape[1], &pred, &var) != DX_OK) return NULL;
  dx_tensor *x0_hat = dx_predict_x0(ctx, d, predict, x_t, t, pred, s->cfg.clip);
  dx_tensor *mean = dx_posterior_mean(ctx, d, x0_hat, x_t, t);
  dx_tensor *logvar = s->ops->log_variance(ctx, s->state, d, t, n, var, x0->dtype);
  return dx_vlb_terms(ctx, d, x0, x_t, t, mean, logvar);
}

/* Mean of an (N) tensor on the host. */
static double host_mean(dx_ctx *ctx, const dx_tensor *v, double *buf) {
  int64_t n = dx_numel(v);
  dx_tensor_read(ctx, v, buf, DX_F64);
  double s = 0;
  for (int64_t k = 0; k < n; k++)
    s += buf[k];
  return s / (double)n;
}

dx_status dx_bits_per_dim(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                          dx_predict predict, dx_model_fn model, void *user, const dx_tensor *x0,
                          uint64_t seed, dx_bpd_result *res) {
  if (!x0 || x0->ndim != 4 || !(x0->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "bits/dim: images must be a persistent (N,C,H,W) tensor");
  int64_t n = x0->shape[0];
  int64_t *t = malloc((size_t)n * sizeof *t);
  double *buf = malloc((size_t)n * sizeof *buf);
  if (!t || !buf) {
    free(t), free(buf);
    return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory computing bits/dim");
  }
  bool grad = dx_set_grad_enabled(ctx, false);
  dx_tensor *images = (dx_tensor *)x0; /* read only: ops take non-const inputs */
  res->total = 0;
  for (int64_t i = d->T - 1; i >= 0 && dx_status_of(ctx) == DX_OK; i--) {
    dx_step_reset(ctx);
    for (int64_t k = 0; k < n; k++)
      t[k] = i;
    dx_tensor *term = term_at(ctx, s, d, predict, model, user, images, t, seed);
    if (!term) break;
    double v = host_mean(ctx, term, buf);
    if (res->per_t) res->per_t[i] = v;
    if (i == 0) res->decoder = v;
    res->total += v;
  }
  dx_step_reset(ctx);
  dx_tensor *prior = dx_prior_bpd(ctx, d, images);
  if (prior) {
    res->prior = host_mean(ctx, prior, buf);
    res->total += res->prior;
  }
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  free(t), free(buf);
  return dx_status_of(ctx);
}
