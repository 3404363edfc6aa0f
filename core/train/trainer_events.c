/* What happens every so many steps: metrics, sample grids, bits/dim,
 * checkpoints. Grids and bits/dim use the EMA weights. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint.h"
#include "train/trainer_internal.h"
#include "util/err.h"

static void progress(trainer *tr, int64_t done, double loss, double it_per_s, const char *event) {
  if (!tr->env->progress) return;
  int64_t steps = tr->e->train.steps;
  dx_train_progress p = {.step = done,
                         .steps = steps,
                         .loss = loss,
                         .lr = dx_lr_at(&tr->lr, done - 1),
                         .it_per_s = it_per_s,
                         .eta_s = it_per_s > 0 ? (double)(steps - done) / it_per_s : 0,
                         .images_per_s = it_per_s * (double)tr->N,
                         .ranks = tr->ranks,
                         .event = event};
  tr->env->progress(&p, tr->env->user);
}

static dx_status metric(trainer *tr, int64_t step, const char *name, double v) {
  if (!tr->env->store) return DX_OK;
  dx_status st = dx_store_log_metric(tr->env->store, tr->env->run_id, step, name, v);
  if (st != DX_OK)
    snprintf(tr->err, tr->errlen, "writing metric %s: %s", name, dx_store_errmsg(tr->env->store));
  return st;
}

dx_status dx_trainer_report(trainer *tr, int64_t done) {
  logbook *l = &tr->log;
  if (l->n == 0) return DX_OK;
  double t = now(), it_per_s = (double)(done - l->since_step) / (t - l->since + 1e-9);
  static const char *const qname[4] = {"loss_q1", "loss_q2", "loss_q3", "loss_q4"};
  dx_status st = metric(tr, done, "loss", l->loss / (double)l->n);
  if (st == DX_OK) st = metric(tr, done, "grad_norm", l->grad_norm / (double)l->n);
  if (st == DX_OK) st = metric(tr, done, "lr", dx_lr_at(&tr->lr, done - 1));
  if (st == DX_OK) st = metric(tr, done, "images_per_s", it_per_s * (double)tr->N);
  for (int q = 0; q < 4 && st == DX_OK; q++)
    if (l->qn[q]) st = metric(tr, done, qname[q], l->q[q] / (double)l->qn[q]);
  /* Rank 0's seconds in the gradient all-reduce per step since the last
   * report: what the ranks cost over one process (docs/distributed.md). */
  double ar = dx_trainer_allreduce_seconds(tr);
  if (st == DX_OK && tr->ranks > 1 && done > l->since_step)
    st = metric(tr, done, "allreduce_ms",
                1e3 * (ar - tr->ar_reported) / (double)(done - l->since_step));
  tr->ar_reported = ar;
  /* One transaction per report: the database shows a run's progress as it
   * trains, and a crash loses at most one log interval. */
  if (st == DX_OK && tr->env->store && (st = dx_store_flush(tr->env->store)) != DX_OK)
    snprintf(tr->err, tr->errlen, "writing metrics: %s", dx_store_errmsg(tr->env->store));
  progress(tr, done, l->loss / (double)l->n, it_per_s, NULL);
  *l = (logbook){.since = now(), .since_step = done};
  return st;
}

dx_tensor *dx_trainer_model_fn(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  trainer *tr = user;
  return dx_unet_forward(ctx, tr->net, x_t, t, false);
}

static dx_tensor *cond_model_fn(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t,
                                const dx_model_cond *cond) {
  trainer *tr = user;
  dx_unet_cond c = {cond ? cond->labels : NULL, cond ? cond->x_self : NULL};
  return dx_unet_forward_cond(ctx, tr->net, x_t, t, &c, false);
}

/* Images [first, first + n) of a draw of total into host (n images);
 * labels: the classes of all total images, or NULL. */
static dx_status draw_range(trainer *tr, const dx_sampler *s, int64_t first, int64_t n,
                            int64_t total, uint64_t seed, const int64_t *labels, double w,
                            float *host) {
  int64_t shape[4] = {n, tr->C, tr->H, tr->W};
  if (labels && tr->e->model.classes == 0)
    return dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                   "this run's model has no classes (model.classes is 0)");
  for (int64_t k = 0; labels && k < total; k++)
    if (labels[k] < 0 || labels[k] >= tr->e->model.classes)
      return dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                     "class %lld: this run's model knows classes 0 to %lld", (long long)labels[k],
                     (long long)(tr->e->model.classes - 1));
  dx_tensor *x = dx_tensor_new_persistent(tr->ctx, DX_F32, 4, shape);
  if (!x) return ctx_fail(tr, "sampling");
  dx_guidance g = {.model = cond_model_fn,
                   .user = tr,
                   .labels = labels,
                   .null_label = tr->e->model.classes,
                   .weight = labels ? w : 0,
                   .self_condition = tr->e->model.self_condition};
  dx_ema_swap(tr->ema, tr->params);
  dx_status st =
      dx_sample_guided(tr->ctx, s, tr->d, tr->e->diffusion.predict, &g, seed, first, total, x);
  dx_ema_swap(tr->ema, tr->params);
  if (st == DX_OK) st = dx_tensor_read(tr->ctx, x, host, DX_F32);
  if (st != DX_OK) st = ctx_fail(tr, "sampling");
  dx_tensor_free(tr->ctx, x);
  return st;
}

dx_status dx_trainer_draw(trainer *tr, const dx_sampler *s, int64_t n, uint64_t seed, float *host) {
  return draw_range(tr, s, 0, n, n, seed, NULL, 0, host);
}

dx_status dx_trainer_draw_classes(trainer *tr, const dx_sampler *s, int64_t n, uint64_t seed,
                                  const int64_t *labels, double w, float *host) {
  return draw_range(tr, s, 0, n, n, seed, labels, w, host);
}

/* A conditional model's grid: row r of nrow images shows sample.classes[r]
 * (every class in turn when the list is empty), repeating. NULL otherwise. */
static int64_t *grid_labels(const dx_experiment *e) {
  const dx_exp_sample *sc = &e->sample;
  if (e->model.classes == 0) return NULL;
  int64_t *labels = malloc((size_t)sc->count * sizeof *labels);
  int64_t m = sc->n_classes ? sc->n_classes : e->model.classes;
  for (int64_t k = 0; labels && k < sc->count; k++) {
    int64_t r = (k / sc->nrow) % m;
    labels[k] = sc->n_classes ? sc->classes[r] : r;
  }
  return labels;
}

dx_status dx_trainer_draw_range(trainer *tr, const dx_sampler *s, int64_t first, int64_t n,
                                int64_t total, uint64_t seed, const int64_t *labels, double w,
                                float *host) {
  return draw_range(tr, s, first, n, total, seed, labels, w, host);
}

/* The grid: each rank draws its share of the images (the same values as one
 * process would), and the shares are gathered in rank order. */
dx_status dx_trainer_sample(trainer *tr, int64_t done) {
  const dx_exp_sample *sc = &tr->e->sample;
  progress(tr, done, NAN, 0, "sampling");
  int64_t D = tr->C * tr->H * tr->W, share = (sc->count + tr->ranks - 1) / tr->ranks;
  int64_t first = tr->rank * share < sc->count ? tr->rank * share : sc->count;
  int64_t n = sc->count - first < share ? sc->count - first : share;
  float *host = malloc((size_t)(share * tr->ranks * D) * sizeof *host);
  float *mine = malloc((size_t)(share * D) * sizeof *mine);
  int64_t *labels = grid_labels(tr->e);
  dx_status st = host && mine && (labels || !tr->e->model.classes) ? DX_OK : DX_ERR_NOMEM;
  if (st != DX_OK) dx_errf(tr->err, tr->errlen, DX_ERR_NOMEM, NULL, "out of memory sampling");
  dx_sampler s = tr->sampler;
  if (sc->steps > 0) s.cfg.steps = sc->steps;
  uint64_t seed = stream_seed((uint64_t)tr->e->seed, STREAM_SAMPLE);
  if (st == DX_OK && n > 0)
    st = draw_range(tr, &s, first, n, sc->count, seed, labels, sc->guidance, mine);
  if (tr->ranks > 1) {
    st = dx_trainer_agree(tr, st, NULL);
    if (st == DX_OK &&
        dx_comm_allgather(tr->comm, mine, (size_t)(share * D) * sizeof *mine, host) != DX_OK)
      st = (snprintf(tr->err, tr->errlen, "%s", dx_comm_error(tr->comm)), DX_ERR_IO);
  } else if (st == DX_OK) {
    memcpy(host, mine, (size_t)(n * D) * sizeof *host);
  }
  if (st == DX_OK && tr->env->store &&
      (st = dx_store_add_grid(tr->env->store, tr->env->run_id, done, "ema", host, sc->count, tr->C,
                              tr->H, tr->W, sc->nrow)) != DX_OK)
    snprintf(tr->err, tr->errlen, "storing the sample grid: %s", dx_store_errmsg(tr->env->store));
  free(host), free(mine), free(labels);
  tr->log.since = now(); /* sampling time is not training time */
  return st;
}

/* The bound on one chunk of test images [first, first + n). */
static dx_status bpd_chunk(trainer *tr, int64_t first, int64_t n, dx_bpd_result *r) {
  int64_t shape[4] = {n, tr->C, tr->H, tr->W};
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  float *host = malloc((size_t)(n * tr->C * tr->H * tr->W) * sizeof *host);
  dx_tensor *x0 = dx_tensor_new_persistent(tr->ctx, DX_F32, 4, shape);
  dx_data_transform tf = {false, tr->e->data.pad_pow2, 0, 0, 0};
  dx_status st = idx && host && x0 ? DX_OK : DX_ERR_NOMEM;
  for (int64_t i = 0; i < n && st == DX_OK; i++)
    idx[i] = first + i;
  if (st == DX_OK) st = dx_dataset_batch(tr->test, idx, n, &tf, host, tr->err, tr->errlen);
  if (st == DX_OK) {
    dx_tensor_write(tr->ctx, x0, host, DX_F32);
    st =
        dx_bits_per_dim(tr->ctx, &tr->sampler, tr->d, tr->e->diffusion.predict, dx_trainer_model_fn,
                        tr, x0, stream_seed((uint64_t)tr->e->seed, STREAM_EVAL), r);
    if (st != DX_OK) st = ctx_fail(tr, "bits/dim");
  } else if (st == DX_ERR_NOMEM) {
    snprintf(tr->err, tr->errlen, "out of memory evaluating bits/dim");
  }
  dx_tensor_free(tr->ctx, x0);
  free(idx), free(host);
  return st;
}

/* Chunk k of the test images goes to rank k mod ranks. Each chunk's bound
 * does not depend on who computes it; the ranks' results are summed into
 * zeros (exact), and every rank then adds the chunks up in chunk order, as
 * one process does: the same bits on any number of ranks. */
dx_status dx_trainer_bpd(trainer *tr, int64_t images, int64_t batch, double out[3]) {
  int64_t total = images < dx_dataset_count(tr->test) ? images : dx_dataset_count(tr->test);
  int64_t chunks = (total + batch - 1) / batch;
  double *r3 = calloc((size_t)(chunks > 0 ? 3 * chunks : 1), sizeof *r3);
  dx_status st = r3 ? DX_OK : DX_ERR_NOMEM;
  if (!r3) snprintf(tr->err, tr->errlen, "out of memory evaluating bits/dim");
  out[0] = out[1] = out[2] = 0;
  dx_ema_swap(tr->ema, tr->params);
  for (int64_t k = tr->rank; k < chunks && st == DX_OK; k += tr->ranks) {
    int64_t first = k * batch, n = total - first < batch ? total - first : batch;
    dx_bpd_result r = {0};
    st = bpd_chunk(tr, first, n, &r);
    r3[3 * k] = r.total, r3[3 * k + 1] = r.prior, r3[3 * k + 2] = r.decoder;
  }
  dx_ema_swap(tr->ema, tr->params);
  if (tr->ranks > 1) {
    st = dx_trainer_agree(tr, st, NULL);
    if (st == DX_OK && dx_comm_allreduce_sum(tr->comm, r3, 3 * chunks, DX_COMM_F64) != DX_OK)
      st = (snprintf(tr->err, tr->errlen, "%s", dx_comm_error(tr->comm)), DX_ERR_IO);
  }
  for (int64_t k = 0; k < chunks && st == DX_OK; k++) {
    int64_t first = k * batch, n = total - first < batch ? total - first : batch;
    double share = (double)n / (double)total;
    out[0] += r3[3 * k] * share, out[1] += r3[3 * k + 1] * share, out[2] += r3[3 * k + 2] * share;
  }
  free(r3);
  return st;
}

dx_status dx_trainer_evaluate(trainer *tr, int64_t done) {
  progress(tr, done, NAN, 0, "evaluating");
  double v[3];
  dx_status st = dx_trainer_bpd(tr, tr->e->eval.images, tr->e->eval.batch, v);
  if (st == DX_OK) st = metric(tr, done, "bpd", v[0]);
  if (st == DX_OK) st = metric(tr, done, "bpd_prior", v[1]);
  if (st == DX_OK) st = metric(tr, done, "bpd_decoder", v[2]);
  tr->log.since = now();
  return st;
}

dx_status dx_trainer_checkpoint(trainer *tr, int64_t done) {
  char path[4200];
  snprintf(path, sizeof path, "%s/step-%08" PRId64 ".safetensors", tr->ckpt_dir, done);
  if (tr->rank != 0) return DX_OK; /* one writer */
  progress(tr, done, NAN, 0, "checkpoint");
  bool importance = tr->e->diffusion.timesteps == DX_TIMESTEPS_IMPORTANCE;
  dx_train_state s = {tr->params, tr->ema, tr->opt, done, .ts = importance ? tr->ts : NULL};
  logbook_save(&tr->log, s.log);
  dx_status st = dx_checkpoint_save(tr->ctx, path, &s, tr->json, tr->err, tr->errlen);
  dx_store *store = tr->env->store;
  /* Everything logged up to this step is committed before the checkpoint is
   * recorded: a resume starts after it and never logs those rows again. */
  if (st == DX_OK && store && (st = dx_store_flush(store)) != DX_OK)
    snprintf(tr->err, tr->errlen, "writing metrics: %s", dx_store_errmsg(store));
  if (st == DX_OK && store &&
      (st = dx_store_add_checkpoint(store, tr->env->run_id, done, path, NULL)))
    snprintf(tr->err, tr->errlen, "recording checkpoint %s: %s", path, dx_store_errmsg(store));
  tr->log.since = now();
  return st;
}
