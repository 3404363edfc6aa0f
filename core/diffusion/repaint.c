/* RePaint (Lugmayr et al. 2022, Algorithm 1 and the jump schedule of its
 * code): inpainting with an unconditional model by replacing the known
 * pixels at every step, with resampling jumps that let the filled pixels
 * agree with the known ones. */
#include <math.h>
#include <stdlib.h>

#include "diffusion/i2i.h"
#include "diffusion/internal.h"

/* Jumps start at indices 0, L, 2L, ... below T - L (RePaint's
 * range(0, T - L, L)), each jumps - 1 times. */
static int64_t jump_points(int64_t T, int64_t L) { return T > L ? (T - L + L - 1) / L : 0; }

int64_t dx_repaint_evaluations(int64_t steps, int64_t jump_length, int64_t jumps) {
  return steps + jump_points(steps, jump_length) * (jumps - 1) * jump_length;
}

typedef struct repaint {
  dx_ctx *ctx;
  const dx_diffusion *r;
  const dx_tensor *x0, *keep;
  dx_tensor *x;
  uint64_t seed, numel, block; /* every draw takes the next block of numel values */
} repaint;

/* x <- keep ? (i >= 0 ? q(x_i | x0) : x0) : x. */
static dx_status inject(repaint *p, int64_t i) {
  dx_ctx *ctx = p->ctx;
  dx_tensor *known = (dx_tensor *)p->x0;
  if (i >= 0) known = dx_noised(ctx, p->r, p->x0, i, p->seed, p->numel * p->block++);
  dx_tensor *y = dx_where(ctx, (dx_tensor *)p->keep, known, p->x);
  dx_status st = y ? dx_tensor_copy(ctx, p->x, y) : dx_status_of(ctx);
  dx_step_reset(ctx);
  return st;
}

/* x_{i+1} ~ q(x_{i+1} | x_i) = N(sqrt(1 - beta) x_i, beta I), beta of index i + 1. */
static dx_status renoise(repaint *p, int64_t i) {
  dx_ctx *ctx = p->ctx;
  double beta = p->r->beta[i + 1];
  dx_tensor *z = dx_tensor_new_like(ctx, p->x);
  dx_status st = z ? dx_tensor_randn(ctx, z, p->seed, p->numel * p->block++) : dx_status_of(ctx);
  dx_tensor *y = NULL;
  if (st == DX_OK)
    y = dx_add(ctx, dx_scale(ctx, p->x, sqrt(1.0 - beta)), dx_scale(ctx, z, sqrt(beta)));
  if (st == DX_OK) st = y ? dx_tensor_copy(ctx, p->x, y) : dx_status_of(ctx);
  dx_step_reset(ctx);
  return st;
}

static dx_status run(repaint *p, const dx_sampler *s, dx_predict predict, dx_model_fn model,
                     void *user, int64_t L, int64_t jumps, int64_t *left, int64_t *t) {
  const dx_diffusion *r = p->r;
  int64_t n = p->x->shape[0], T = r->T;
  for (int64_t i = 0; i < T; i++)
    left[i] = i % L == 0 && i < T - L ? jumps - 1 : 0;
  dx_status st = dx_tensor_randn(p->ctx, p->x, p->seed, 0);
  if (st == DX_OK) st = inject(p, T - 1);
  for (int64_t i = T - 1; i >= 0 && st == DX_OK;) {
    for (int64_t k = 0; k < n; k++)
      t[k] = i;
    dx_sampler_step step = {
        .d = r, .predict = predict, .i = i, .clip = s->cfg.clip, .n = n, .t = t, .x = p->x};
    st = dx_sample_step(p->ctx, s, &step, model, user, p->seed, p->numel * p->block++);
    if (st == DX_OK) st = inject(p, --i);
    if (st == DX_OK && i >= 0 && left[i] > 0) {
      left[i]--;
      for (int64_t k = 0; k < L && st == DX_OK; k++, i++)
        st = renoise(p, i);
    }
  }
  return st;
}

dx_status dx_repaint(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                     dx_model_fn model, void *user, uint64_t seed, const dx_tensor *x0,
                     const dx_tensor *keep, int64_t jump_length, int64_t jumps, dx_tensor *x) {
  if (!x || !x0 || !keep || x->ndim != 4 || !(x->flags & DX_TENSOR_PERSISTENT) ||
      !dx_same_shape(x, x0) || !dx_same_shape(x, keep))
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "inpainting takes the image, the mask and the output of one (N,C,H,W) "
                        "shape, the output persistent");
  if (jump_length < 1 || jumps < 1)
    return dx_set_error(ctx, DX_ERR_INVALID, "jump length and jumps must be at least 1");
  dx_diffusion *owned;
  const dx_diffusion *r = dx_sampling_tables(ctx, s, d, &owned);
  if (!r) return dx_status_of(ctx);
  int64_t n = x->shape[0], *left = malloc((size_t)r->T * sizeof *left);
  int64_t *t = malloc((size_t)n * sizeof *t);
  repaint p = {ctx, r, x0, keep, x, seed, (uint64_t)dx_numel(x), 1};
  bool grad = dx_set_grad_enabled(ctx, false);
  dx_status st = left && t ? run(&p, s, predict, model, user, jump_length, jumps, left, t)
                           : dx_set_error(ctx, DX_ERR_NOMEM, "out of memory inpainting");
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  free(left), free(t);
  dx_diffusion_free(owned);
  return st;
}
