/* The sampling loop (Ho et al. 2020 Algorithm 2) and what sampler plugins
 * share: their handle and the ancestral step. */
#include <stdlib.h>

#include "ddpmx/sampler.h"
#include "diffusion/internal.h"

dx_status dx_sampler_init(dx_ctx *ctx, dx_sampler *s, const dx_plugin_desc *desc,
                          const dx_params *p) {
  *s = (dx_sampler){0};
  if (!desc || desc->kind != DX_KIND_SAMPLER || !desc->ops)
    return dx_set_error(ctx, DX_ERR_PLUGIN, "%s is not a sampler plugin",
                        desc ? desc->name : "(null)");
  s->ops = desc->ops;
  return s->ops->create(ctx, p, &s->cfg, &s->state);
}

void dx_sampler_release(dx_sampler *s) {
  if (s && s->ops && s->ops->destroy) s->ops->destroy(s->state);
  if (s) *s = (dx_sampler){0};
}

void dx_sampler_read_common(const dx_params *p, dx_sampler_config *cfg) {
  cfg->steps = dx_params_int(p, "steps");
  cfg->clip = dx_params_bool(p, "clip");
}

dx_status dx_sampler_create_stateless(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg,
                                      void **state) {
  (void)ctx;
  dx_sampler_read_common(p, cfg);
  cfg->learns_variance = false;
  *state = NULL;
  return DX_OK;
}

void dx_sampler_destroy_stateless(void *state) { (void)state; }

dx_tensor *dx_ancestral_step(dx_ctx *ctx, const dx_sampler_step *s, dx_tensor *logvar) {
  dx_tensor *x0 = dx_predict_x0(ctx, s->d, s->predict, s->x, s->t, s->pred, s->clip);
  dx_tensor *mean = dx_posterior_mean(ctx, s->d, x0, s->x, s->t);
  if (s->i == 0) return mean; /* no noise at the last step (DESIGN 6) */
  return dx_add(ctx, mean, dx_mul(ctx, dx_exp(ctx, dx_scale(ctx, logvar, 0.5)), s->noise));
}

/* The model timesteps of index i for n samples, as floats for the model. */
dx_tensor *dx_model_timesteps(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, int64_t n,
                              dx_dtype dt) {
  double *v = malloc((size_t)n * sizeof *v);
  if (!v) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for timesteps"), NULL;
  for (int64_t k = 0; k < n; k++)
    v[k] = (double)d->timestep_map[t[k]];
  dx_tensor *out = dx_tensor_new(ctx, dt, 1, &n);
  if (out) dx_tensor_write(ctx, out, v, DX_F64);
  free(v);
  return out;
}

/* The tables to sample with: d itself, or d respaced to the sampler's steps. */
static const dx_diffusion *sampling_tables(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                           dx_diffusion **owned) {
  *owned = NULL;
  int64_t steps = s->cfg.steps;
  if (steps <= 0 || steps >= d->T) return d;
  int64_t *keep = malloc((size_t)steps * sizeof *keep);
  if (!keep) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory respacing"), NULL;
  if (dx_space_timesteps(ctx, d->T, steps, keep) == DX_OK)
    *owned = dx_diffusion_respace(ctx, d, keep, steps);
  free(keep);
  return *owned;
}

/* One reverse step from x (persistent) into x. */
static dx_status one_step(dx_ctx *ctx, const dx_sampler *s, dx_sampler_step *st, dx_model_fn model,
                          void *user, uint64_t seed, uint64_t offset) {
  dx_step_reset(ctx);
  dx_tensor *x = st->x;
  int64_t C = x->shape[1];
  dx_tensor *out = model(ctx, user, x, dx_model_timesteps(ctx, st->d, st->t, st->n, x->dtype));
  if (dx_split_output(ctx, out, C, &st->pred, &st->var) != DX_OK) return dx_status_of(ctx);
  st->noise = dx_tensor_new_like(ctx, x);
  if (!st->noise || dx_tensor_randn(ctx, st->noise, seed, offset) != DX_OK)
    return dx_status_of(ctx);
  dx_tensor *next = s->ops->step(ctx, s->state, st);
  if (!next)
    return dx_status_of(ctx) ? dx_status_of(ctx)
                             : dx_set_error(ctx, DX_ERR_INTERNAL, "sampler step gave no tensor");
  return dx_tensor_copy(ctx, x, next);
}

dx_status dx_sample(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                    dx_model_fn model, void *user, uint64_t seed, dx_tensor *x) {
  return dx_sample_range(ctx, s, d, predict, model, user, seed, 0, x ? x->shape[0] : 0, x);
}

dx_status dx_sample_range(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                          dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                          int64_t first, int64_t total, dx_tensor *x) {
  if (!x || x->ndim != 4 || !(x->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_sample: x must be a persistent (N,C,H,W) tensor");
  if (first < 0 || first + x->shape[0] > total)
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_sample_range: images [%lld, %lld) of %lld",
                        (long long)first, (long long)(first + x->shape[0]), (long long)total);
  dx_diffusion *owned;
  const dx_diffusion *r = sampling_tables(ctx, s, d, &owned);
  int64_t n = x->shape[0], *t = malloc((size_t)n * sizeof *t);
  if (!r || !t) {
    free(t), dx_diffusion_free(owned);
    return dx_status_of(ctx) ? dx_status_of(ctx)
                             : dx_set_error(ctx, DX_ERR_NOMEM, "out of memory sampling");
  }
  bool grad = dx_set_grad_enabled(ctx, false);
  /* Noise is keyed by the image's place in the whole draw: image k's values
   * sit at k * per in a draw of total * per. */
  uint64_t per = n ? (uint64_t)dx_numel(x) / (uint64_t)n : 0, skip = (uint64_t)first * per;
  uint64_t numel = (uint64_t)total * per;
  dx_status st = dx_tensor_randn(ctx, x, seed, skip);
  for (int64_t i = r->T - 1; i >= 0 && st == DX_OK; i--) {
    for (int64_t k = 0; k < n; k++)
      t[k] = i;
    dx_sampler_step step = {
        .d = r, .predict = predict, .i = i, .clip = s->cfg.clip, .n = n, .t = t, .x = x};
    st = one_step(ctx, s, &step, model, user, seed, numel * (uint64_t)(r->T - i) + skip);
  }
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  free(t);
  dx_diffusion_free(owned);
  return st;
}
