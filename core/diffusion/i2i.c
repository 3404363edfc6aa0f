/* Starting the reverse process from an image instead of noise: the tables
 * from a given step down, SDEdit and interpolation through x_t. */
#include <stdlib.h>
#include <string.h>

#include "diffusion/i2i.h"
#include "diffusion/internal.h"

dx_diffusion *dx_diffusion_respace_upto(dx_ctx *ctx, const dx_diffusion *d, int64_t top,
                                        int64_t n) {
  if (top < 0 || top >= d->T || n < 1 || n > top + 1) {
    dx_set_error(ctx, DX_ERR_INVALID, "cannot take %lld steps out of [0, %lld] of %lld",
                 (long long)n, (long long)top, (long long)d->T);
    return NULL;
  }
  int64_t *keep = malloc((size_t)n * sizeof *keep);
  if (!keep) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory respacing"), NULL;
  dx_diffusion *r = NULL;
  /* One step goes from top straight to the image; more are spread as the
   * sampler spreads its own, over [0, top] instead of [0, T - 1]. */
  if (n == 1) keep[0] = top;
  if (n == 1 || dx_space_timesteps(ctx, top + 1, n, keep) == DX_OK)
    r = dx_diffusion_respace(ctx, d, keep, n);
  free(keep);
  return r;
}

int64_t dx_steps_upto(const dx_sampler *s, const dx_diffusion *d, int64_t top) {
  int64_t all = s->cfg.steps > 0 && s->cfg.steps < d->T ? s->cfg.steps : d->T;
  int64_t n = (all * (top + 1) + d->T / 2) / d->T;
  return n < 1 ? 1 : n > top + 1 ? top + 1 : n;
}

dx_tensor *dx_noised(dx_ctx *ctx, const dx_diffusion *r, const dx_tensor *x0, int64_t i,
                     uint64_t seed, uint64_t offset) {
  int64_t n = x0->shape[0], *t = malloc((size_t)n * sizeof *t);
  if (!t) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory noising"), NULL;
  for (int64_t k = 0; k < n; k++)
    t[k] = i;
  dx_tensor *eps = dx_tensor_new_like(ctx, x0), *out = NULL;
  if (eps && dx_tensor_randn(ctx, eps, seed, offset) == DX_OK)
    out = dx_q_sample(ctx, r, (dx_tensor *)x0, t, eps);
  free(t);
  return out;
}

static dx_status check_images(dx_ctx *ctx, const dx_diffusion *d, int64_t t0, const dx_tensor *x) {
  if (!x || x->ndim != 4 || !(x->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "images must be a persistent (N,C,H,W) tensor");
  if (t0 < 0 || t0 >= d->T)
    return dx_set_error(ctx, DX_ERR_INVALID, "the starting step %lld is outside [0, %lld)",
                        (long long)t0, (long long)d->T);
  return DX_OK;
}

dx_status dx_sdedit(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                    dx_model_fn model, void *user, uint64_t seed, int64_t t0, dx_tensor *x) {
  if (check_images(ctx, d, t0, x) != DX_OK) return dx_status_of(ctx);
  dx_diffusion *r = dx_diffusion_respace_upto(ctx, d, t0, dx_steps_upto(s, d, t0));
  if (!r) return dx_status_of(ctx);
  bool grad = dx_set_grad_enabled(ctx, false);
  /* The encoding noise takes the place of x_T's draw (offset 0), which the
   * loop leaves to its caller. */
  dx_tensor *xt = dx_noised(ctx, r, x, r->T - 1, seed, 0);
  dx_status st = xt ? dx_tensor_copy(ctx, x, xt) : dx_status_of(ctx);
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  if (st == DX_OK) st = dx_sample_loop(ctx, s, r, predict, model, user, seed, 0, x->shape[0], x);
  dx_diffusion_free(r);
  return st;
}

/* a and b noised to r's last index, into host (2 images). */
static dx_status encode_pair(dx_ctx *ctx, const dx_diffusion *r, const dx_tensor *a,
                             const dx_tensor *b, uint64_t seed, float *host) {
  uint64_t per = (uint64_t)dx_numel(a);
  bool grad = dx_set_grad_enabled(ctx, false);
  /* a's noise where x_T's would be; b's after every block the loop uses
   * (offsets below per (T + 1)), so that no draw is used twice. */
  dx_tensor *xa = dx_noised(ctx, r, a, r->T - 1, seed, 0);
  dx_tensor *xb = dx_noised(ctx, r, b, r->T - 1, seed, per * (uint64_t)(r->T + 1));
  dx_status st = xa && xb ? dx_tensor_read(ctx, xa, host, DX_F32) : dx_status_of(ctx);
  if (st == DX_OK) st = dx_tensor_read(ctx, xb, host + per, DX_F32);
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  return st;
}

dx_status dx_interpolate(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                         dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                         int64_t t0, const dx_tensor *a, const dx_tensor *b, const double *lambda,
                         dx_tensor *out) {
  if (check_images(ctx, d, t0, a) != DX_OK || check_images(ctx, d, t0, b) != DX_OK ||
      check_images(ctx, d, t0, out) != DX_OK)
    return dx_status_of(ctx);
  if (a->shape[0] != 1 || !dx_same_shape(a, b) || out->shape[1] != a->shape[1] ||
      out->shape[2] != a->shape[2] || out->shape[3] != a->shape[3])
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "interpolation takes two (1,C,H,W) images of one size");
  int64_t K = out->shape[0], per = dx_numel(a),
          shape[4] = {1, a->shape[1], a->shape[2], a->shape[3]};
  dx_diffusion *r = dx_diffusion_respace_upto(ctx, d, t0, dx_steps_upto(s, d, t0));
  float *host = malloc((size_t)(2 + K) * (size_t)per * sizeof *host);
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F32, 4, shape);
  dx_status st = r && x ? DX_OK : dx_status_of(ctx);
  if (st == DX_OK && !host) st = dx_set_error(ctx, DX_ERR_NOMEM, "out of memory interpolating");
  if (st == DX_OK) st = encode_pair(ctx, r, a, b, seed, host);
  for (int64_t k = 0; k < K && st == DX_OK; k++) {
    float *mix = host + (2 + k) * per;
    for (int64_t j = 0; j < per; j++)
      mix[j] = (float)((1.0 - lambda[k]) * host[j] + lambda[k] * host[per + j]);
    /* Each lambda alone, as image 0 of 1: every one gets the same step noise. */
    st = dx_tensor_write(ctx, x, mix, DX_F32);
    if (st == DX_OK) st = dx_sample_loop(ctx, s, r, predict, model, user, seed, 0, 1, x);
    if (st == DX_OK) st = dx_tensor_read(ctx, x, mix, DX_F32);
  }
  if (st == DX_OK) st = dx_tensor_write(ctx, out, host + 2 * per, DX_F32);
  dx_tensor_free(ctx, x);
  free(host);
  dx_diffusion_free(r);
  return st;
}
