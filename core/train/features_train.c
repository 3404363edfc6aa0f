/* Training the feature network: Adam with a cosine-decayed rate, cross-
 * entropy on the labels, batches in the order dx_batch_order gives for the
 * seed; then its accuracy on the whole test split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/features_internal.h"
#include "train/optim.h"
#include "util/err.h"
#include "util/value.h"

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct session {
  const dx_features_train_opts *o;
  dx_ctx *ctx;
  fnet net;
  dx_optim *opt;
  dx_dataset *train, *test;
  dx_batch_order *order;
  int64_t count, C, H, W, B;
  float *x, *onehot, *logits, *shift;
  int64_t *idx;
  char *err;
  size_t errlen;
} session;

static dx_status ctx_fail(session *s, const char *what) {
  dx_status st = dx_status_of(s->ctx) ? dx_status_of(s->ctx) : DX_ERR_INTERNAL;
  return dx_errf(s->err, s->errlen, st, NULL, "%s: %s", what, dx_error_message(s->ctx));
}

/* Cross-entropy from logits z (B, K): -mean_i log softmax(z_i)[y_i]. The
 * log-sum-exp is shifted by each row's maximum, read back to the host (a
 * constant: the shift cancels in the gradient). Also counts the rows whose
 * largest logit is the label. */
static dx_tensor *cross_entropy(session *s, dx_tensor *z, const int *labels, int64_t *correct) {
  int64_t B = z->shape[0], K = z->shape[1], one[2] = {B, 1};
  if (!z || dx_tensor_read(s->ctx, z, s->logits, DX_F32) != DX_OK) return NULL;
  for (int64_t i = 0; i < B; i++) {
    int64_t best = 0;
    for (int64_t k = 1; k < K; k++)
      if (s->logits[i * K + k] > s->logits[i * K + best]) best = k;
    s->shift[i] = s->logits[i * K + best];
    *correct += best == labels[i];
    for (int64_t k = 0; k < K; k++)
      s->onehot[i * K + k] = k == labels[i];
  }
  dx_tensor *m = dx_tensor_new(s->ctx, DX_F32, 2, one), *y = dx_tensor_new_like(s->ctx, z);
  if (!m || !y) return NULL;
  dx_tensor_write(s->ctx, m, s->shift, DX_F32);
  dx_tensor_write(s->ctx, y, s->onehot, DX_F32);
  dx_tensor *zs = dx_sub(s->ctx, z, m);
  dx_tensor *lse = dx_log(s->ctx, dx_sum_axes(s->ctx, dx_exp(s->ctx, zs), 1u << 1));
  dx_tensor *logp = dx_sub(s->ctx, zs, lse);
  return dx_scale(s->ctx, dx_sum(s->ctx, dx_mul(s->ctx, y, logp)), -1.0 / (double)B);
}

static dx_status open_data(session *s) {
  const dx_features_train_opts *o = s->o;
  dx_status st =
      dx_dataset_open(o->kind, o->data_path, DX_SPLIT_TRAIN, s->err, s->errlen, &s->train);
  if (st == DX_OK)
    st = dx_dataset_open(o->kind, o->data_path, DX_SPLIT_TEST, s->err, s->errlen, &s->test);
  if (st != DX_OK) return st;
  s->count = dx_dataset_count(s->train);
  if (o->train_images > 0 && o->train_images < s->count) s->count = o->train_images;
  if (dx_dataset_label(s->train, 0) < 0)
    return dx_errf(s->err, s->errlen, DX_ERR_INVALID, NULL,
                   "this dataset has no labels: a feature network needs a labelled dataset "
                   "(fashion-mnist, mnist, cifar10)");
  s->C = dx_dataset_channels(s->train);
  s->H = dx_dataset_height(s->train, false), s->W = dx_dataset_width(s->train, false);
  return dx_batch_order_create(s->count, s->o->seed, s->err, s->errlen, &s->order);
}

static dx_status alloc(session *s, int64_t K) {
  int64_t B = s->B;
  s->x = malloc((size_t)(B * s->C * s->H * s->W) * sizeof *s->x);
  s->onehot = malloc((size_t)(B * K) * sizeof *s->onehot);
  s->logits = malloc((size_t)(B * K) * sizeof *s->logits);
  s->shift = malloc((size_t)B * sizeof *s->shift);
  s->idx = malloc((size_t)B * sizeof *s->idx);
  if (s->x && s->onehot && s->logits && s->shift && s->idx) return DX_OK;
  return dx_errf(s->err, s->errlen, DX_ERR_NOMEM, NULL, "out of memory for the feature network");
}

/* One optimiser step on batch `step`; adds its loss and correct count. */
static dx_status train_step(session *s, int64_t step, double lr, int *labels, double *loss,
                            int64_t *correct) {
  dx_ctx *ctx = s->ctx;
  int64_t B = s->B, shape[4] = {B, s->C, s->H, s->W};
  dx_batch_order_indices(s->order, step, B, s->idx);
  dx_status st = dx_dataset_batch(s->train, s->idx, B, NULL, s->x, s->err, s->errlen);
  if (st != DX_OK) return st;
  for (int64_t i = 0; i < B; i++)
    labels[i] = dx_dataset_label(s->train, s->idx[i]);
  dx_step_reset(ctx);
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, shape);
  if (x) dx_tensor_write(ctx, x, s->x, DX_F32);
  dx_tensor *l = cross_entropy(s, dx_fnet_forward(ctx, &s->net, x, NULL), labels, correct);
  float v = 0;
  if (!l || dx_tensor_read(ctx, l, &v, DX_F32) != DX_OK) return ctx_fail(s, "forward");
  if (!isfinite(v))
    return dx_errf(s->err, s->errlen, DX_ERR_NUMERIC, NULL, "the loss is %g at step %lld", v,
                   (long long)step);
  *loss += v;
  dx_zero_grads(ctx, &s->net.params);
  if (dx_backward(ctx, l) != DX_OK) return ctx_fail(s, "backward");
  if (dx_optim_step(s->opt, lr) != DX_OK) return ctx_fail(s, "optimiser");
  return DX_OK;
}

static dx_status train_loop(session *s, int64_t steps) {
  const dx_features_train_opts *o = s->o;
  dx_lr_schedule lr = {o->lr > 0 ? o->lr : 2e-3, steps / 20, steps, DX_LR_COSINE};
  int *labels = malloc((size_t)s->B * sizeof *labels);
  if (!labels) return dx_errf(s->err, s->errlen, DX_ERR_NOMEM, NULL, "out of memory");
  int64_t every = o->report_every > 0 ? o->report_every : 50, correct = 0, since = 0;
  double loss = 0, t0 = seconds_now();
  dx_status st = DX_OK;
  for (int64_t step = 0; step < steps && st == DX_OK; step++) {
    if (o->stop && *o->stop) {
      st = dx_errf(s->err, s->errlen, DX_ERR_INTERRUPTED, NULL, "stopped at step %lld",
                   (long long)step);
      break;
    }
    st = train_step(s, step, dx_lr_at(&lr, step), labels, &loss, &correct);
    if (st == DX_OK && o->progress && ((step + 1) % every == 0 || step + 1 == steps)) {
      int64_t n = step + 1 - since;
      double t = seconds_now();
      dx_features_progress p = {.step = step + 1,
                                .steps = steps,
                                .epoch = (step + 1) * s->B / s->count,
                                .loss = loss / (double)n,
                                .train_accuracy = (double)correct / (double)(n * s->B),
                                .images_per_s = (double)(n * s->B) / (t - t0 + 1e-9)};
      o->progress(&p, o->user);
      loss = 0, correct = 0, since = step + 1, t0 = t;
    }
  }
  free(labels);
  return st;
}

/* Share of the test split whose predicted class is the label. */
static dx_status test_accuracy(session *s, double *acc) {
  dx_features f = {.ctx = s->ctx, .net = s->net};
  f.info.C = s->C, f.info.H = s->H, f.info.W = s->W, f.info.dim = 8 * s->net.width;
  f.info.classes = s->net.classes;
  int64_t n = 0, right = 0;
  float *feat = NULL;
  int *labels = NULL, *pred = NULL;
  dx_status st =
      dx_features_of_dataset(&f, s->test, 0, &feat, &labels, &pred, &n, s->err, s->errlen);
  for (int64_t i = 0; i < n && st == DX_OK; i++)
    right += pred[i] == labels[i];
  *acc = n > 0 ? (double)right / (double)n : 0;
  free(feat), free(labels), free(pred);
  return st;
}

dx_status dx_features_train(const dx_features_train_opts *o, const char *dir,
                            dx_features_info *info, char *err, size_t errlen) {
  session s = {.o = o, .B = o->batch > 0 ? o->batch : 128, .err = err, .errlen = errlen};
  *info = (dx_features_info){0};
  double t0 = seconds_now();
  int64_t width = o->width > 0 ? o->width : 16, epochs = o->epochs > 0 ? o->epochs : 2, K = 10;
  dx_ctx_opts co = {.device = {DX_DEVICE_CPU, 0}, .threads = o->threads};
  s.ctx = dx_ctx_create(&co, err, errlen);
  dx_status st = s.ctx ? open_data(&s) : DX_ERR_NOMEM;
  if (st == DX_OK && (st = dx_fnet_build(s.ctx, &s.net, s.C, width, K, o->seed)) != DX_OK)
    ctx_fail(&s, "building the feature network");
  dx_optim_config oc = {DX_OPTIM_ADAM, 0.9, 0.999, 1e-8, 0};
  if (st == DX_OK && !(s.opt = dx_optim_create(s.ctx, &s.net.params, &oc)))
    st = ctx_fail(&s, "optimiser");
  if (st == DX_OK) st = alloc(&s, K);
  int64_t steps = (epochs * s.count + s.B - 1) / s.B;
  if (st == DX_OK) st = train_loop(&s, steps);
  double acc = 0;
  if (st == DX_OK) st = test_accuracy(&s, &acc);
  if (st == DX_OK) {
    dx_words_at(DX_DATA_KIND_WORDS, (int)o->kind, info->dataset, sizeof info->dataset);
    info->C = s.C, info->H = s.H, info->W = s.W, info->width = width, info->dim = 8 * width;
    info->classes = K, info->accuracy = acc, info->seed = (int64_t)o->seed;
    info->epochs = epochs, info->train_images = s.count;
    dx_fnet_describe(&s.net, info->arch, sizeof info->arch);
    info->seconds = seconds_now() - t0;
    st = dx_features_save(s.ctx, &s.net, dir, info, err, errlen);
  }
  free(s.x), free(s.onehot), free(s.logits), free(s.shift), free(s.idx);
  dx_optim_free(s.opt);
  if (s.ctx) dx_fnet_free(s.ctx, &s.net);
  dx_batch_order_free(s.order);
  dx_dataset_free(s.train), dx_dataset_free(s.test);
  dx_ctx_free(s.ctx);
  return st;
}
