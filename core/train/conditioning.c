/* What conditioning adds to a training step: the batch's class labels with
 * some dropped to "no class" (classifier-free guidance, Ho & Salimans 2021)
 * and the self-conditioning input (Chen et al. 2022). Every draw is keyed
 * by (seed, step, place in the batch), as the rest of the step is, so a
 * resumed run and any number of ranks see the same ones. */
#include <math.h>
#include <stdlib.h>

#include "train/trainer_internal.h"
#include "util/err.h"

dx_status dx_trainer_labels(trainer *tr, int64_t step, int64_t first, int64_t n) {
  int64_t k = tr->e->model.classes;
  if (k == 0) return DX_OK;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = dx_dataset_label(tr->train, tr->idx[first + i]);
    if (c < 0)
      return dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                     "model.classes: the dataset has no class labels; set model.classes: 0");
    if (c >= k)
      return dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                     "model.classes is %lld, but image %lld has label %lld; raise model.classes",
                     (long long)k, (long long)tr->idx[first + i], (long long)c);
    tr->labels[i] = c;
  }
  double p = tr->e->train.cond_drop;
  if (p <= 0) return DX_OK;
  int64_t shape[1] = {n};
  double *u = malloc((size_t)n * sizeof *u);
  dx_tensor *draws = u ? dx_tensor_new(tr->ctx, DX_F64, 1, shape) : NULL;
  uint64_t seed = stream_seed((uint64_t)tr->e->seed, STREAM_COND_DROP);
  dx_status st =
      draws ? dx_tensor_rand(tr->ctx, draws, seed, (uint64_t)(step * tr->N + first)) : DX_ERR_NOMEM;
  if (st == DX_OK) st = dx_tensor_read(tr->ctx, draws, u, DX_F64);
  for (int64_t i = 0; i < n && st == DX_OK; i++)
    if (u[i] < p) tr->labels[i] = k; /* the "no class" row */
  free(u);
  return st == DX_OK ? DX_OK : ctx_fail(tr, "class labels");
}

/* Half the steps, keyed by step: the whole batch does it or none does. */
static bool self_conditions(trainer *tr, int64_t step) {
  int64_t one = 1;
  double u = 1;
  dx_tensor *draw = dx_tensor_new(tr->ctx, DX_F64, 1, &one);
  uint64_t seed = stream_seed((uint64_t)tr->e->seed, STREAM_SELF_COND);
  if (draw && dx_tensor_rand(tr->ctx, draw, seed, (uint64_t)step) == DX_OK)
    dx_tensor_read(tr->ctx, draw, &u, DX_F64);
  return u < 0.5;
}

dx_tensor *dx_trainer_self_cond(trainer *tr, int64_t step, int64_t first, dx_tensor *x_t,
                                dx_tensor *tt, bool *failed) {
  *failed = false;
  if (!tr->e->model.self_condition || !self_conditions(tr, step)) return NULL;
  dx_ctx *ctx = tr->ctx;
  bool grad = dx_set_grad_enabled(ctx, false);
  dx_unet_cond c = {tr->e->model.classes ? tr->labels : NULL, NULL};
  dx_tensor *y = dx_unet_forward_cond(ctx, tr->net, x_t, tt, &c, true), *pred = NULL, *var = NULL;
  dx_tensor *x0 = NULL;
  if (y && dx_split_output(ctx, y, tr->C, &pred, &var) == DX_OK)
    x0 = dx_predict_x0(ctx, tr->d, tr->e->diffusion.predict, x_t, tr->t + first, pred,
                       tr->sampler.cfg.clip);
  dx_set_grad_enabled(ctx, grad);
  *failed = x0 == NULL;
  return x0 ? dx_detach(ctx, x0) : NULL;
}
