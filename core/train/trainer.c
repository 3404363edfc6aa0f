/* The training loop. Every random draw is keyed by (seed, step), so a run
 * resumed from a checkpoint at step k continues exactly as if it had never
 * stopped (same thread count, same machine). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "train/trainer_internal.h"

/* --- one step ---------------------------------------------------------------- */

/* Micro-batch u = step * k + j of the run (images [first + j m, first +
 * (j + 1) m) of the step's N) into tr->batch[u % 2] by an upload that may
 * overlap the device's work (dx_tensor_write_start). Its step's order goes
 * into stage_idx, so tr->idx keeps the running step's (its class labels). */
static dx_status stage_batch(trainer *tr, int64_t u) {
  dx_experiment *e = tr->e;
  int64_t step = u / tr->k, first = tr->first + (u % tr->k) * tr->m;
  dx_tensor **x = &tr->batch[u % 2];
  if (!*x) {
    int64_t shape[4] = {tr->m, tr->C, tr->H, tr->W};
    if (!(*x = dx_tensor_new_persistent(tr->ctx, DX_F32, 4, shape))) return ctx_fail(tr, "batch");
  }
  if (tr->stage_step != step + 1) {
    dx_batch_order_indices(tr->order, step, tr->N, tr->stage_idx);
    tr->stage_step = step + 1;
  }
  dx_data_transform tf = {e->data.flip, e->data.pad_pow2,
                          stream_seed((uint64_t)e->seed, STREAM_FLIP), step, first};
  dx_status st = dx_dataset_batch(tr->train, tr->stage_idx + first, tr->m, &tf, tr->x_host, tr->err,
                                  tr->errlen);
  if (st != DX_OK) return st;
  if (dx_tensor_write_start(tr->ctx, *x, tr->x_host, DX_F32) != DX_OK) return ctx_fail(tr, "batch");
  tr->staged = u + 1;
  return DX_OK;
}

/* The images of micro-batch j of `step`. Each micro-batch stages the next
 * one (the next step's first after the last) before its own kernels are
 * queued, so on a GPU that upload runs beside them; a micro-batch's images
 * depend on (step, j) alone, so staging early changes no number. */
static dx_status batch_input(trainer *tr, int64_t step, int64_t j, dx_tensor **x0) {
  int64_t u = step * tr->k + j;
  dx_status st = tr->staged == u + 1 ? DX_OK : stage_batch(tr, u);
  if (st != DX_OK) return st;
  *x0 = tr->batch[u % 2];
  dx_tensor_write_finish(tr->ctx, *x0);
  if (u + 1 < tr->e->train.steps * tr->k) st = stage_batch(tr, u + 1);
  return st;
}

/* Forward through the loss for micro-batch j; fills *out. This rank's
 * samples are [first, first + n) of the step's N, in micro-batches of m,
 * and every draw is keyed by a sample's place among the N
 * (trainer_ranks.c), so neither the ranks nor the micro-batches change
 * what a sample sees. */
static dx_status forward(trainer *tr, int64_t step, int64_t j, dx_loss_output *out) {
  dx_ctx *ctx = tr->ctx;
  uint64_t seed = (uint64_t)tr->e->seed;
  int64_t first = tr->first + j * tr->m, n = tr->m;
  dx_tensor *x0 = NULL;
  dx_status st = batch_input(tr, step, j, &x0);
  if (st != DX_OK) return st;
  const int64_t *t = tr->t + first;
  for (int64_t i = 0; i < n; i++)
    tr->t_host[i] = (double)t[i];
  int64_t nshape[1] = {n};
  dx_tensor *tt = dx_tensor_new(ctx, DX_F32, 1, nshape), *w = dx_tensor_new(ctx, DX_F32, 1, nshape);
  dx_tensor *eps = dx_tensor_new_like(ctx, x0);
  if (!tt || !w || !eps) return ctx_fail(tr, "step");
  dx_tensor_write(ctx, tt, tr->t_host, DX_F64);
  dx_tensor_write(ctx, w, tr->w + first, DX_F64);
  int64_t per = dx_numel(x0) / n;
  dx_tensor_randn(ctx, eps, stream_seed(seed, STREAM_EPS),
                  (uint64_t)((step * tr->N + first) * per));
  eps = dx_offset_noise(ctx, eps, tr->e->diffusion.offset_noise, stream_seed(seed, STREAM_OFFSET),
                        (uint64_t)((step * tr->N + first) * tr->C));
  dx_status ls = dx_trainer_labels(tr, step, first, n);
  if (ls != DX_OK) return ls;
  dx_set_seed(ctx, stream_seed(seed, STREAM_DROPOUT) + (uint64_t)step);
  dx_set_rng_share(ctx, first, n, tr->N);
  dx_tensor *x_t = dx_q_sample(ctx, tr->d, x0, t, eps);
  bool failed;
  dx_unet_cond cond = {tr->e->model.classes ? tr->labels : NULL,
                       dx_trainer_self_cond(tr, step, first, x_t, tt, &failed)};
  if (failed) return ctx_fail(tr, "self-conditioning");
  dx_tensor *y = dx_unet_forward_cond(ctx, tr->net, x_t, tt, &cond, true), *pred = NULL,
            *var = NULL;
  if (!y || dx_split_output(ctx, y, tr->C, &pred, &var) != DX_OK) return ctx_fail(tr, "model");
  dx_tensor *logvar =
      tr->sampler.ops->log_variance(ctx, tr->sampler.state, tr->d, t, n, var, DX_F32);
  dx_loss_input in = {tr->d,
                      tr->e->diffusion.predict,
                      n,
                      t,
                      x0,
                      eps,
                      x_t,
                      pred,
                      var,
                      logvar,
                      tr->e->diffusion.timesteps == DX_TIMESTEPS_IMPORTANCE ? w : NULL};
  if (!logvar || tr->loss->forward(ctx, tr->loss_state, &in, out) != DX_OK)
    return ctx_fail(tr, "loss");
  return DX_OK;
}

/* Forward and backward over micro-batch j, whose gradients add to those of
 * the micro-batches before it; *loss <- its mean loss. */
static dx_status micro_step(trainer *tr, int64_t step, int64_t j, float *loss) {
  dx_ctx *ctx = tr->ctx;
  if (j > 0) dx_step_reset(ctx); /* the micro-batch before is done with its activations */
  dx_loss_output out = {0};
  dx_status st = forward(tr, step, j, &out);
  if (st == DX_OK && (dx_tensor_read(ctx, out.loss, loss, DX_F32) != DX_OK ||
                      dx_tensor_read(ctx, out.per_sample, tr->mine + j * tr->m, DX_F64) != DX_OK))
    st = ctx_fail(tr, "loss");
  if (st == DX_OK && isfinite(*loss) && dx_backward(ctx, out.loss) != DX_OK)
    st = ctx_fail(tr, "backward");
  return st;
}

/* This rank's forward and backward passes of the step: *local <- the mean
 * loss of its n samples, and every gradient <- d(that mean)/d(parameter).
 * The k micro-batch means are equal shares, so the mean of the n is their
 * mean, and the gradient their summed gradients over k. */
static dx_status passes(trainer *tr, int64_t step, float *local) {
  dx_ctx *ctx = tr->ctx;
  dx_step_reset(ctx);
  if (dx_timestep_sampler_draw(ctx, tr->ts, tr->N, stream_seed((uint64_t)tr->e->seed, STREAM_T),
                               (uint64_t)(step * tr->N), tr->t, tr->w) != DX_OK)
    return ctx_fail(tr, "timesteps");
  dx_batch_order_indices(tr->order, step, tr->N, tr->idx);
  dx_zero_grads(ctx, tr->params);
  double sum = 0;
  for (int64_t j = 0; j < tr->k; j++) {
    float l = NAN;
    dx_status st = micro_step(tr, step, j, &l);
    sum += l;
    if (st != DX_OK || !isfinite(l)) return *local = (float)sum, st; /* reported by the caller */
  }
  if (tr->k == 1) return *local = (float)sum, DX_OK;
  *local = (float)(sum / (double)tr->k);
  dx_scale_grads(ctx, tr->params, 1.0 / (double)tr->k);
  return dx_status_of(ctx) == DX_OK ? DX_OK : ctx_fail(tr, "accumulate");
}

static void note_losses(trainer *tr, double loss, double gnorm) {
  logbook *l = &tr->log;
  l->loss += loss, l->grad_norm += gnorm, l->n++;
  int64_t T = tr->d->T;
  for (int64_t i = 0; i < tr->N; i++) {
    int q = (int)(4 * tr->t[i] / T);
    l->q[q] += tr->per_sample[i], l->qn[q]++;
  }
}

static dx_status train_step(trainer *tr, int64_t step) {
  dx_ctx *ctx = tr->ctx;
  float local = NAN;
  dx_status st = passes(tr, step, &local);
  /* Every rank learns whether any failed, and the batch's loss: once per
   * optimiser step, however many micro-batches it took. */
  double loss = local;
  if ((st = dx_trainer_agree(tr, st, &loss)) != DX_OK) return st;
  if (!isfinite(loss))
    return snprintf(tr->err, tr->errlen,
                    "step %" PRId64 ": the loss is %s; lower train.lr or set train.clip_grad",
                    step + 1, isnan(loss) ? "NaN" : "infinite"),
           DX_ERR_NUMERIC;
  if ((st = dx_trainer_gather_losses(tr)) != DX_OK) return st;
  dx_timestep_sampler_update(tr->ts, tr->N, tr->t, tr->per_sample);
  if ((st = dx_trainer_mean_grads(tr, step)) != DX_OK) return st;
  double gnorm = dx_clip_grad_norm(ctx, tr->params, tr->e->train.clip_grad);
  if (dx_status_of(ctx) != DX_OK) return ctx_fail(tr, "gradient norm");
  if (!isfinite(gnorm))
    return snprintf(tr->err, tr->errlen,
                    "step %" PRId64 ": the gradient norm is not finite; lower train.lr", step + 1),
           DX_ERR_NUMERIC;
  if (dx_optim_step(tr->opt, dx_lr_at(&tr->lr, step)) != DX_OK) return ctx_fail(tr, "optimiser");
  const dx_exp_ema *ema = &tr->e->train.ema;
  if (step + 1 <= ema->start)
    dx_ema_update(tr->ema, tr->params, 0.0); /* follow the weights until start */
  else if ((step + 1) % ema->every == 0)
    dx_ema_update(tr->ema, tr->params, ema->decay);
  note_losses(tr, loss, gnorm);
  return DX_OK;
}

static bool due(int64_t every, int64_t done, int64_t total) {
  return done == total || (every > 0 && done % every == 0);
}

static dx_status loop(trainer *tr, int64_t start) {
  dx_experiment *e = tr->e;
  const dx_train_env *env = tr->env;
  int64_t steps = e->train.steps;
  tr->log.since = now(), tr->log.since_step = start; /* the sums may come from a checkpoint */
  for (int64_t step = start; step < steps; step++) {
    dx_status st = train_step(tr, step);
    if (st != DX_OK) return st;
    int64_t done = step + 1;
    bool stop = tr->stop_agreed || done == env->stop_after; /* the same on every rank */
    /* A stop reports nothing out of turn: the unreported sums go into the
     * checkpoint, so the resumed run logs exactly what this one would have. */
    if (due(e->log.every, done, steps)) st = dx_trainer_report(tr, done);
    if (st == DX_OK && e->sample.every > 0 && due(e->sample.every, done, steps) && !stop)
      st = dx_trainer_sample(tr, done);
    if (st == DX_OK && e->eval.every > 0 && due(e->eval.every, done, steps) && !stop)
      st = dx_trainer_evaluate(tr, done);
    if (st == DX_OK && e->eval.fid.every > 0 && due(e->eval.fid.every, done, steps) && !stop)
      st = dx_trainer_fid(tr, done);
    if (st == DX_OK && (due(e->checkpoint.every, done, steps) || stop))
      st = dx_trainer_checkpoint(tr, done);
    /* What rank 0 alone did (metrics, checkpoint) may have failed: the others
     * must not wait for it in the next step. */
    if (tr->ranks > 1) st = dx_trainer_agree(tr, st, NULL);
    if (st != DX_OK) return st;
    if (stop) {
      snprintf(tr->err, tr->errlen,
               "stopped after step %" PRId64 "; resume with: ddpmx resume %" PRId64, done,
               env->run_id);
      return DX_ERR_INTERRUPTED;
    }
  }
  return DX_OK;
}

dx_status dx_train(dx_experiment *e, const dx_train_env *env, char *err, size_t errlen) {
  trainer tr = {.e = e, .env = env, .err = err, .errlen = errlen};
  err[0] = '\0';
  int64_t start = 0;
  dx_status st = dx_trainer_setup(&tr, &start);
  if (st == DX_OK) st = dx_trainer_fid_setup(&tr);
  if (st == DX_OK) st = loop(&tr, start);
  /* Nothing the device did may fail unseen, even after the last read. */
  if (st == DX_OK && dx_synchronize(tr.ctx) != DX_OK) st = ctx_fail(&tr, "device");
  dx_status fl = env->store ? dx_store_flush(env->store) : DX_OK;
  if (st == DX_OK && fl != DX_OK) {
    snprintf(err, errlen, "writing metrics: %s", dx_store_errmsg(env->store));
    st = fl;
  }
  dx_trainer_fid_teardown(&tr);
  dx_trainer_teardown(&tr);
  return st;
}
