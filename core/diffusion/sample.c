/* The sampling loop (Ho et al. 2020 Algorithm 2) and what sampler plugins
 * share: their handle and the ancestral step. */
#include <stdlib.h>
#include <string.h>

#include "ddpmx/sampler.h"
#include "diffusion/internal.h"
#include "util/value.h"

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
  cfg->threshold = dx_params_float(p, "threshold");     /* 0 (off) for a plugin without it */
  const char *spacing = dx_params_string(p, "spacing"); /* NULL for a plugin without it */
  int i = spacing ? dx_words_find(DX_SPACING_WORDS, spacing) : -1; /* the spec checked it */
  cfg->spacing = i >= 0 ? (dx_spacing)i : DX_SPACING_UNIFORM;
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

const dx_diffusion *dx_sampling_tables(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                       dx_diffusion **owned) {
  *owned = NULL;
  int64_t steps = s->cfg.steps;
  if (steps <= 0 || steps >= d->T) return d;
  int64_t *keep = malloc((size_t)steps * sizeof *keep);
  if (!keep) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory respacing"), NULL;
  dx_status st;
  switch (s->cfg.spacing) {
  case DX_SPACING_LOGSNR: st = dx_space_timesteps_logsnr(ctx, d, steps, keep); break;
  case DX_SPACING_KARRAS: st = dx_space_timesteps_karras(ctx, d, steps, keep); break;
  default: st = dx_space_timesteps(ctx, d->T, steps, keep);
  }
  if (st == DX_OK) *owned = dx_diffusion_respace(ctx, d, keep, steps);
  free(keep);
  return *owned;
}

/* (n,C,H,W) tensors a and b as one batch (2n,C,H,W): each seen as
 * (1,n,CH,W), so concatenating "channels" stacks the batches. */
static dx_tensor *batch_cat(dx_ctx *ctx, dx_tensor *a, dx_tensor *b) {
  if (!a || !b) return NULL;
  int64_t n = a->shape[0], v[4] = {1, n, a->shape[1] * a->shape[2], a->shape[3]};
  dx_tensor *xs[2] = {dx_reshape(ctx, a, 4, v), dx_reshape(ctx, b, 4, v)};
  int64_t back[4] = {2 * n, a->shape[1], a->shape[2], a->shape[3]};
  dx_tensor *y = xs[0] && xs[1] ? dx_concat(ctx, xs, 2) : NULL;
  return y ? dx_reshape(ctx, y, 4, back) : NULL;
}

/* Images [k n, (k+1) n) of a batch y of 2n. */
static dx_tensor *batch_half(dx_ctx *ctx, dx_tensor *y, int64_t n, int k) {
  if (!y) return NULL;
  int64_t v[4] = {1, y->shape[0], y->shape[1] * y->shape[2], y->shape[3]};
  int64_t back[4] = {n, y->shape[1], y->shape[2], y->shape[3]};
  dx_tensor *h = dx_slice_channels(ctx, dx_reshape(ctx, y, 4, v), k * n, n);
  return h ? dx_reshape(ctx, h, 4, back) : NULL;
}

static dx_tensor *as_eps(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict, dx_tensor *x_t,
                         const int64_t *t, dx_tensor *pred) {
  if (predict == DX_PREDICT_EPS) return pred;
  return dx_eps_from_x0(ctx, d, x_t, t, dx_predict_x0(ctx, d, predict, x_t, t, pred, false));
}

dx_tensor *dx_guided_eps(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict, dx_tensor *x_t,
                         const int64_t *t, dx_tensor *pred_c, dx_tensor *pred_u, double w) {
  dx_tensor *ec = as_eps(ctx, d, predict, x_t, t, pred_c);
  dx_tensor *eu = as_eps(ctx, d, predict, x_t, t, pred_u);
  return dx_sub(ctx, dx_scale(ctx, ec, 1.0 + w), dx_scale(ctx, eu, w));
}

/* What one step of the loop keeps between steps. t and labels hold 2n
 * entries: [t, t] and [this share's labels, no class x n] for guidance. */
typedef struct loop_state {
  const dx_guidance *g;
  bool guide;        /* two halves per forward pass */
  int64_t *t;        /* 2n copies of the step index */
  int64_t *labels;   /* 2n, or NULL */
  dx_tensor *x_self; /* persistent previous x0 estimate, or NULL before the first step */
} loop_state;

/* The model's prediction for x_t, guided when asked: fills st->pred,
 * st->var and st->predict. */
static dx_status predict_step(dx_ctx *ctx, loop_state *ls, dx_sampler_step *st) {
  const dx_guidance *g = ls->g;
  dx_tensor *x = st->x;
  int64_t C = x->shape[1], n = st->n, m = ls->guide ? 2 * n : n;
  dx_model_cond cond = {ls->labels, ls->x_self};
  dx_tensor *xin = x;
  if (ls->guide) {
    xin = batch_cat(ctx, x, x);
    if (ls->x_self) cond.x_self = batch_cat(ctx, ls->x_self, ls->x_self);
  }
  dx_tensor *out =
      xin ? g->model(ctx, g->user, xin, dx_model_timesteps(ctx, st->d, ls->t, m, x->dtype), &cond)
          : NULL;
  if (!ls->guide) return dx_split_output(ctx, out, C, &st->pred, &st->var);
  dx_tensor *pc, *pu, *vu;
  if (dx_split_output(ctx, batch_half(ctx, out, n, 0), C, &pc, &st->var) != DX_OK ||
      dx_split_output(ctx, batch_half(ctx, out, n, 1), C, &pu, &vu) != DX_OK)
    return dx_status_of(ctx);
  /* The variance, when learned, is the conditional half's (as GLIDE). */
  st->pred = dx_guided_eps(ctx, st->d, st->predict, x, st->t, pc, pu, g->weight);
  st->predict = DX_PREDICT_EPS;
  return dx_status_of(ctx);
}

/* One reverse step from x (persistent) into x. */
static dx_status one_step(dx_ctx *ctx, const dx_sampler *s, dx_sampler_step *st, loop_state *ls,
                          uint64_t seed, uint64_t offset) {
  dx_step_reset(ctx);
  dx_tensor *x = st->x;
  if (predict_step(ctx, ls, st) != DX_OK) return dx_status_of(ctx);
  if (s->cfg.threshold > 0) {
    /* The sampler gets the thresholded x0 as an x0 prediction, so that every
     * sampler thresholds without knowing of it. */
    dx_tensor *x0 = dx_predict_x0(ctx, st->d, st->predict, x, st->t, st->pred, false);
    st->pred = dx_dynamic_threshold(ctx, x0, s->cfg.threshold);
    st->predict = DX_PREDICT_X0;
    if (!st->pred) return dx_status_of(ctx);
  }
  st->noise = dx_tensor_new_like(ctx, x);
  if (!st->noise || dx_tensor_randn(ctx, st->noise, seed, offset) != DX_OK)
    return dx_status_of(ctx);
  /* Self-conditioning feeds this step's x0 estimate, as the sampler's
   * clipping has it, to the next step (Chen et al. 2022). */
  if (ls->g->self_condition) {
    dx_tensor *x0 = dx_predict_x0(ctx, st->d, st->predict, x, st->t, st->pred, st->clip);
    if (!ls->x_self && x0) ls->x_self = dx_tensor_new_persistent(ctx, x->dtype, 4, x->shape);
    if (!x0 || !ls->x_self || dx_tensor_copy(ctx, ls->x_self, x0) != DX_OK)
      return dx_status_of(ctx) ? dx_status_of(ctx)
                               : dx_set_error(ctx, DX_ERR_NOMEM, "out of memory self-conditioning");
  }
  dx_tensor *next = s->ops->step(ctx, s->state, st);
  if (!next)
    return dx_status_of(ctx) ? dx_status_of(ctx)
                             : dx_set_error(ctx, DX_ERR_INTERNAL, "sampler step gave no tensor");
  return dx_tensor_copy(ctx, x, next);
}

/* A plain model seen as a conditional one that ignores its conditioning. */
typedef struct plain_model {
  dx_model_fn fn;
  void *user;
} plain_model;

static dx_tensor *call_plain(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t,
                             const dx_model_cond *cond) {
  (void)cond;
  const plain_model *p = user;
  return p->fn(ctx, p->user, x_t, t);
}

dx_status dx_sample_step(dx_ctx *ctx, const dx_sampler *s, dx_sampler_step *st, dx_model_fn model,
                         void *user, uint64_t seed, uint64_t offset) {
  plain_model p = {model, user};
  dx_guidance g = {.model = call_plain, .user = &p};
  loop_state ls = {.g = &g, .t = (int64_t *)st->t};
  return one_step(ctx, s, st, &ls, seed, offset);
}

dx_status dx_sample(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                    dx_model_fn model, void *user, uint64_t seed, dx_tensor *x) {
  return dx_sample_range(ctx, s, d, predict, model, user, seed, 0, x ? x->shape[0] : 0, x);
}

dx_status dx_sample_range(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                          dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                          int64_t first, int64_t total, dx_tensor *x) {
  plain_model p = {model, user};
  dx_guidance g = {.model = call_plain, .user = &p};
  return dx_sample_guided(ctx, s, d, predict, &g, seed, first, total, x);
}

/* ls's host arrays for n images of the share starting at first. */
static dx_status loop_open(dx_ctx *ctx, loop_state *ls, const dx_guidance *g, int64_t first,
                           int64_t n) {
  *ls = (loop_state){.g = g, .guide = g->labels && g->weight != 0};
  ls->t = malloc((size_t)(2 * n) * sizeof *ls->t);
  if (g->labels) ls->labels = malloc((size_t)(2 * n) * sizeof *ls->labels);
  if (!ls->t || (g->labels && !ls->labels))
    return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory sampling");
  for (int64_t k = 0; g->labels && k < n; k++)
    ls->labels[k] = g->labels[first + k], ls->labels[n + k] = g->null_label;
  return DX_OK;
}

static void loop_close(dx_ctx *ctx, loop_state *ls) {
  free(ls->t), free(ls->labels);
  dx_tensor_free(ctx, ls->x_self);
}

static dx_status check_range(dx_ctx *ctx, int64_t first, int64_t total, const dx_tensor *x) {
  if (!x || x->ndim != 4 || !(x->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_sample: x must be a persistent (N,C,H,W) tensor");
  if (first < 0 || first + x->shape[0] > total)
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_sample_range: images [%lld, %lld) of %lld",
                        (long long)first, (long long)(first + x->shape[0]), (long long)total);
  return DX_OK;
}

/* Every step of r from x (x_t at r's last index) down to the samples. */
static dx_status guided_loop(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *r,
                             dx_predict predict, const dx_guidance *g, uint64_t seed, int64_t first,
                             int64_t total, dx_tensor *x) {
  int64_t n = x->shape[0];
  loop_state ls = {0};
  dx_status st = loop_open(ctx, &ls, g, first, n);
  if (st != DX_OK) {
    loop_close(ctx, &ls);
    return st;
  }
  bool grad = dx_set_grad_enabled(ctx, false);
  /* Noise is keyed by the image's place in the whole draw: image k's values
   * sit at k * per in a draw of total * per, and step i's draw follows x_T's. */
  uint64_t per = n ? (uint64_t)dx_numel(x) / (uint64_t)n : 0, skip = (uint64_t)first * per;
  uint64_t numel = (uint64_t)total * per;
  for (int64_t i = r->T - 1; i >= 0 && st == DX_OK; i--) {
    for (int64_t k = 0; k < 2 * n; k++)
      ls.t[k] = i;
    dx_sampler_step step = {
        .d = r, .predict = predict, .i = i, .clip = s->cfg.clip, .n = n, .t = ls.t, .x = x};
    st = one_step(ctx, s, &step, &ls, seed, numel * (uint64_t)(r->T - i) + skip);
  }
  dx_step_reset(ctx);
  dx_set_grad_enabled(ctx, grad);
  loop_close(ctx, &ls);
  return st;
}

dx_status dx_sample_guided(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                           dx_predict predict, const dx_guidance *g, uint64_t seed, int64_t first,
                           int64_t total, dx_tensor *x) {
  if (check_range(ctx, first, total, x) != DX_OK) return dx_status_of(ctx);
  dx_diffusion *owned;
  const dx_diffusion *r = dx_sampling_tables(ctx, s, d, &owned);
  if (!r) return dx_status_of(ctx);
  uint64_t per = (uint64_t)dx_numel(x) / (uint64_t)x->shape[0];
  /* x_T: image k's values sit at k * per in a draw of total * per. */
  dx_status st = dx_tensor_randn(ctx, x, seed, (uint64_t)first * per);
  if (st == DX_OK) st = guided_loop(ctx, s, r, predict, g, seed, first, total, x);
  dx_diffusion_free(owned);
  return st;
}

dx_status dx_sample_loop(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *r,
                         dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                         int64_t first, int64_t total, dx_tensor *x) {
  if (check_range(ctx, first, total, x) != DX_OK) return dx_status_of(ctx);
  plain_model p = {model, user};
  dx_guidance g = {.model = call_plain, .user = &p};
  return guided_loop(ctx, s, r, predict, &g, seed, first, total, x);
}
