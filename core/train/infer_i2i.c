/* Image to image from a checkpoint: the inputs, the algorithm, the grid. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/i2i.h"
#include "train/i2i.h"
#include "train/trainer_internal.h"
#include "util/err.h"
#include "util/png.h"

typedef struct job {
  trainer *tr;
  const dx_i2i_opts *o;
  dx_i2i_result *res;
  dx_sampler s;
  int64_t D; /* values per image */
} job;

static dx_status read_png(job *j, const char *path, dx_image *img, int64_t channels) {
  trainer *tr = j->tr;
  dx_status st = dx_png_read_file(path, img, tr->err, tr->errlen);
  if (st != DX_OK) return st;
  if (img->height == tr->H && img->width == tr->W && (channels == 0 || img->channels == channels))
    return DX_OK;
  st = dx_errf(tr->err, tr->errlen, DX_ERR_INVALID, DX_AT(path),
               "%" PRId64 "x%" PRId64 " with %" PRId64 " channel%s, but the run's images are "
               "%" PRId64 "x%" PRId64 " with %" PRId64,
               img->width, img->height, img->channels, img->channels == 1 ? "" : "s", tr->W, tr->H,
               tr->C);
  dx_image_free(img);
  return st;
}

/* One image (C,H,W) in [-1, 1] into out. */
static dx_status load_image(job *j, const dx_i2i_image *im, float *out) {
  trainer *tr = j->tr;
  if (!im->path) {
    /* As bits/dim reads the test split: no flip, the run's padding. */
    dx_data_transform tf = {false, tr->e->data.pad_pow2, 0, 0, 0};
    int64_t count = dx_dataset_count(tr->test);
    if (im->test_index >= count)
      return dx_errf(tr->err, tr->errlen, DX_ERR_INVALID, NULL,
                     "test:%" PRId64 ": the run's test split has %" PRId64 " images (0..%" PRId64
                     ")",
                     im->test_index, count, count - 1);
    return dx_dataset_batch(tr->test, &im->test_index, 1, &tf, out, tr->err, tr->errlen);
  }
  dx_image img;
  dx_status st = read_png(j, im->path, &img, tr->C);
  if (st != DX_OK) return st;
  int64_t plane = tr->H * tr->W;
  for (int64_t c = 0; c < tr->C; c++)
    for (int64_t p = 0; p < plane; p++)
      out[c * plane + p] = (float)(img.pixels[p * tr->C + c] / 127.5 - 1.0);
  dx_image_free(&img);
  return DX_OK;
}

/* keep (C,H,W): 1 where the mask is white (mean of its channels >= 128). */
static dx_status load_mask(job *j, const char *path, float *keep) {
  trainer *tr = j->tr;
  dx_image img;
  dx_status st = read_png(j, path, &img, 0);
  if (st != DX_OK) return st;
  int64_t plane = tr->H * tr->W;
  for (int64_t p = 0; p < plane; p++) {
    int sum = 0;
    for (int64_t c = 0; c < img.channels; c++)
      sum += img.pixels[p * img.channels + c];
    for (int64_t c = 0; c < tr->C; c++)
      keep[c * plane + p] = sum >= 128 * img.channels ? 1.0f : 0.0f;
  }
  dx_image_free(&img);
  return DX_OK;
}

/* The grid's n images, image k at res->images + k * D. */
static float *grid(job *j, int64_t n, int64_t nrow) {
  dx_i2i_result *r = j->res;
  r->images = calloc((size_t)(n * j->D), sizeof *r->images);
  r->shape[0] = n, r->shape[1] = j->tr->C, r->shape[2] = j->tr->H, r->shape[3] = j->tr->W;
  r->nrow = nrow;
  if (!r->images) dx_errf(j->tr->err, j->tr->errlen, DX_ERR_NOMEM, NULL, "out of memory");
  return r->images;
}

/* A persistent (n,C,H,W) tensor holding n copies of one image. */
static dx_tensor *copies(job *j, const float *img, int64_t n) {
  trainer *tr = j->tr;
  int64_t shape[4] = {n, tr->C, tr->H, tr->W};
  dx_tensor *t = dx_tensor_new_persistent(tr->ctx, DX_F32, 4, shape);
  float *host = malloc((size_t)(n * j->D) * sizeof *host);
  dx_status st = t && host ? DX_OK : DX_ERR_NOMEM;
  for (int64_t k = 0; k < n && st == DX_OK; k++)
    memcpy(host + k * j->D, img, (size_t)j->D * sizeof *host);
  if (st == DX_OK) st = dx_tensor_write(tr->ctx, t, host, DX_F32);
  free(host);
  if (st == DX_OK) return t;
  dx_tensor_free(tr->ctx, t);
  if (!dx_status_of(tr->ctx)) dx_set_error(tr->ctx, DX_ERR_NOMEM, "out of memory for images");
  return NULL;
}

/* A step of the run's schedule (1..T) as an index of its tables. */
static dx_status step_index(job *j, int64_t t, int64_t *i) {
  trainer *tr = j->tr;
  if (t < 1 || t > tr->d->T)
    return dx_errf(tr->err, tr->errlen, DX_ERR_INVALID, NULL,
                   "step %" PRId64 " is outside the run's 1..%" PRId64, t, tr->d->T);
  j->res->t0 = t, *i = t - 1;
  return DX_OK;
}

static dx_status edit(job *j, float *g) {
  trainer *tr = j->tr;
  int64_t n = j->o->run.n, i = 0;
  dx_status st = step_index(j, (int64_t)lround(j->o->strength * (double)tr->d->T), &i);
  dx_tensor *x = st == DX_OK ? copies(j, g, n) : NULL;
  if (st == DX_OK && !x) return ctx_fail(tr, "edit");
  if (st == DX_OK) {
    j->res->steps = dx_steps_upto(&j->s, tr->d, i);
    if (dx_sdedit(tr->ctx, &j->s, tr->d, tr->e->diffusion.predict, dx_trainer_model_fn, tr,
                  j->o->run.seed, i, x) != DX_OK ||
        dx_tensor_read(tr->ctx, x, g + j->D, DX_F32) != DX_OK)
      st = ctx_fail(tr, "edit");
  }
  dx_tensor_free(tr->ctx, x);
  return st;
}

static dx_status interpolate(job *j, float *g, int64_t K) {
  trainer *tr = j->tr;
  int64_t i = 0, t = j->o->t > 0 ? j->o->t : tr->d->T / 2;
  dx_status st = step_index(j, t, &i);
  if (st != DX_OK) return st;
  double *lambda = malloc((size_t)K * sizeof *lambda);
  int64_t shape[4] = {K, tr->C, tr->H, tr->W};
  dx_tensor *a = copies(j, g, 1), *b = copies(j, g + (K + 1) * j->D, 1);
  dx_tensor *out = dx_tensor_new_persistent(tr->ctx, DX_F32, 4, shape);
  for (int64_t k = 0; lambda && k < K; k++)
    lambda[k] = (double)k / (double)(K - 1);
  j->res->steps = K * dx_steps_upto(&j->s, tr->d, i);
  if (!lambda || !a || !b || !out ||
      dx_interpolate(tr->ctx, &j->s, tr->d, tr->e->diffusion.predict, dx_trainer_model_fn, tr,
                     j->o->run.seed, i, a, b, lambda, out) != DX_OK ||
      dx_tensor_read(tr->ctx, out, g + j->D, DX_F32) != DX_OK)
    st = lambda ? ctx_fail(tr, "interpolate")
                : dx_errf(tr->err, tr->errlen, DX_ERR_NOMEM, NULL, "out of memory");
  free(lambda);
  dx_tensor_free(tr->ctx, a), dx_tensor_free(tr->ctx, b), dx_tensor_free(tr->ctx, out);
  return st;
}

static dx_status inpaint(job *j, float *g, const float *keep) {
  trainer *tr = j->tr;
  const dx_i2i_opts *o = j->o;
  int64_t n = o->run.n;
  dx_tensor *x0 = copies(j, g, n), *m = copies(j, keep, n), *x = copies(j, g, n);
  dx_status st = DX_OK;
  int64_t steps = j->s.cfg.steps > 0 && j->s.cfg.steps < tr->d->T ? j->s.cfg.steps : tr->d->T;
  j->res->steps = dx_repaint_evaluations(steps, o->jump_length, o->jumps);
  if (!x0 || !m || !x ||
      dx_repaint(tr->ctx, &j->s, tr->d, tr->e->diffusion.predict, dx_trainer_model_fn, tr,
                 o->run.seed, x0, m, o->jump_length, o->jumps, x) != DX_OK ||
      dx_tensor_read(tr->ctx, x, g + 2 * j->D, DX_F32) != DX_OK)
    st = ctx_fail(tr, "inpaint");
  dx_tensor_free(tr->ctx, x0), dx_tensor_free(tr->ctx, m), dx_tensor_free(tr->ctx, x);
  return st;
}

static dx_status invert(job *j, float *g) {
  trainer *tr = j->tr;
  int64_t i = 0;
  dx_status st = step_index(j, j->o->t > 0 ? j->o->t : tr->d->T, &i);
  if (st != DX_OK) return st;
  dx_tensor *x = copies(j, g, 1), *xT = copies(j, g, 1);
  j->res->steps = dx_steps_upto(&j->s, tr->d, i);
  if (!x || !xT ||
      dx_ddim_round_trip(tr->ctx, &j->s, tr->d, tr->e->diffusion.predict, dx_trainer_model_fn, tr,
                         i, x, xT) != DX_OK ||
      dx_tensor_read(tr->ctx, xT, g + j->D, DX_F32) != DX_OK ||
      dx_tensor_read(tr->ctx, x, g + 2 * j->D, DX_F32) != DX_OK)
    st = ctx_fail(tr, "invert");
  double sq = 0, mx = 0;
  for (int64_t k = 0; k < j->D && st == DX_OK; k++) {
    double e = fabs((double)g[2 * j->D + k] - (double)g[k]);
    sq += e * e, mx = fmax(mx, e);
  }
  j->res->rmse = sqrt(sq / (double)j->D), j->res->max_abs = mx;
  dx_tensor_free(tr->ctx, x), dx_tensor_free(tr->ctx, xT);
  return st;
}

/* Reads the inputs into the grid's first places and runs the algorithm. */
static dx_status run(job *j) {
  const dx_i2i_opts *o = j->o;
  int64_t n = o->run.n, K = o->ratios;
  float *g = NULL, *keep = NULL;
  dx_status st = DX_OK;
  switch (o->kind) {
  case DX_I2I_EDIT:
    if (!(g = grid(j, n + 1, n + 1))) return DX_ERR_NOMEM;
    if ((st = load_image(j, &o->a, g)) == DX_OK) st = edit(j, g);
    return st;
  case DX_I2I_INTERPOLATE:
    if (!(g = grid(j, K + 2, K + 2))) return DX_ERR_NOMEM;
    if ((st = load_image(j, &o->a, g)) == DX_OK) st = load_image(j, &o->b, g + (K + 1) * j->D);
    return st == DX_OK ? interpolate(j, g, K) : st;
  case DX_I2I_INPAINT:
    if (!(g = grid(j, n + 2, n + 2))) return DX_ERR_NOMEM;
    if (!(keep = malloc((size_t)j->D * sizeof *keep)))
      return dx_errf(j->tr->err, j->tr->errlen, DX_ERR_NOMEM, NULL, "out of memory");
    if ((st = load_image(j, &o->a, g)) == DX_OK) st = load_mask(j, o->mask, keep);
    /* The second picture: the known pixels, the rest grey (0). */
    for (int64_t k = 0; k < j->D && st == DX_OK; k++)
      g[j->D + k] = keep[k] > 0 ? g[k] : 0.0f;
    if (st == DX_OK) st = inpaint(j, g, keep);
    free(keep);
    return st;
  case DX_I2I_INVERT:
    if (!(g = grid(j, 3, 3))) return DX_ERR_NOMEM;
    return (st = load_image(j, &o->a, g)) == DX_OK ? invert(j, g) : st;
  }
  return dx_errf(j->tr->err, j->tr->errlen, DX_ERR_INVALID, NULL, "unknown image-to-image kind");
}

dx_status dx_infer_i2i(dx_experiment *e, const dx_run_plugins *rp, const dx_i2i_opts *o,
                       dx_i2i_result *res, char *err, size_t errlen) {
  trainer tr = {.err = err, .errlen = errlen};
  dx_train_env env;
  *res = (dx_i2i_result){0};
  bool test = !o->a.path || (o->kind == DX_I2I_INTERPOLATE && !o->b.path);
  dx_status st = dx_infer_open(&tr, &env, e, rp, &o->run, test);
  if (st == DX_OK) {
    job j = {&tr, o, res, tr.sampler, tr.C * tr.H * tr.W};
    dx_infer_overrides(&o->run, &j.s);
    dx_ema_swap(tr.ema, tr.params);
    st = run(&j);
    dx_ema_swap(tr.ema, tr.params);
  }
  if (st != DX_OK) free(res->images), res->images = NULL;
  dx_trainer_teardown(&tr);
  return st;
}
