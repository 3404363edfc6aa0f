/* eval.fid: FID and KID of samples during training, on rank 0's feature
 * network, logged under the same metric names as `ddpmx eval --fid`. Each
 * rank draws its share of the samples (the same images as one process
 * would), rank 0 gathers and scores them. A class-conditional model's
 * samples are spread over sample.classes (every class when it is empty),
 * guided with sample.guidance, as `eval --fid` spreads them; the share the
 * feature network labels with the class asked for is logged as acc/. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "train/features.h"
#include "train/trainer_internal.h"
#include "util/err.h"
#include "util/value.h"

dx_status dx_trainer_fid_setup(trainer *tr) {
  const dx_experiment *e = tr->e;
  dx_status st = DX_OK;
  if (e->eval.fid.every <= 0) return DX_OK;
  if (tr->rank == 0) {
    char word[32];
    dx_dataset *test = NULL;
    dx_words_at(DX_DATA_KIND_WORDS, (int)e->data.dataset, word, sizeof word);
    if (e->data.dataset == DX_DATA_FOLDER)
      st = dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                   "eval.fid needs a labelled dataset's feature network; a folder of images has "
                   "none");
    if (st == DX_OK)
      st = dx_features_open(e->eval.fid.features, word, (int)e->train.threads, &tr->fid_net,
                            tr->err, tr->errlen);
    if (st == DX_OK)
      st =
          dx_dataset_open(e->data.dataset, e->data.path, DX_SPLIT_TEST, tr->err, tr->errlen, &test);
    if (st == DX_OK)
      st = dx_features_of_dataset(tr->fid_net, test, 0, &tr->fid_ref, NULL, NULL, &tr->fid_ref_n,
                                  tr->err, tr->errlen);
    dx_dataset_free(test);
  }
  return tr->ranks > 1 ? dx_trainer_agree(tr, st, NULL) : st;
}

void dx_trainer_fid_teardown(trainer *tr) {
  dx_features_free(tr->fid_net);
  free(tr->fid_ref);
  tr->fid_net = NULL, tr->fid_ref = NULL;
}

/* Sample i asks for class i mod m of sample.classes (or of every class);
 * NULL for an unconditional model. */
static int64_t *fid_labels(const dx_experiment *e, int64_t n) {
  if (e->model.classes == 0) return NULL;
  const dx_exp_sample *sc = &e->sample;
  int64_t m = sc->n_classes ? sc->n_classes : e->model.classes;
  int64_t *labels = malloc((size_t)n * sizeof *labels);
  for (int64_t i = 0; labels && i < n; i++)
    labels[i] = sc->n_classes ? sc->classes[i % m] : i % m;
  return labels;
}

static void metric(trainer *tr, const dx_sampler *s, const int64_t *labels, const char *what,
                   int64_t n, char *name, size_t len) {
  int64_t T = tr->e->diffusion.T, steps = s->cfg.steps > 0 && s->cfg.steps < T ? s->cfg.steps : T;
  const char *sampler = slot(tr, "diffusion.sampler", -1)->plugin->desc->name;
  if (labels)
    dx_features_metric_guided(tr->fid_net, what, sampler, steps, tr->e->sample.guidance, n, name,
                              len);
  else
    dx_features_metric(tr->fid_net, what, sampler, steps, n, name, len);
}

static dx_status score(trainer *tr, int64_t done, const dx_sampler *s, const float *x, int64_t n,
                       const int64_t *labels) {
  dx_features *f = tr->fid_net;
  float *feat = malloc((size_t)(n * dx_features_info_of(f)->dim) * sizeof *feat);
  int *pred = labels ? malloc((size_t)n * sizeof *pred) : NULL;
  if (!feat || (labels && !pred))
    return free(feat), free(pred),
           dx_errf(tr->err, tr->errlen, DX_ERR_NOMEM, NULL, "out of memory for FID");
  dx_status st = dx_features_embed(f, x, n, tr->C, tr->H, tr->W, feat, pred, tr->err, tr->errlen);
  dx_kid_opts ko = {.seed = (uint64_t)done};
  dx_fid_score r;
  if (st == DX_OK)
    st = dx_features_score(f, feat, n, tr->fid_ref, tr->fid_ref_n, &ko, &r, tr->err, tr->errlen);
  int64_t right = 0;
  for (int64_t i = 0; labels && st == DX_OK && i < n; i++)
    right += pred[i] == labels[i];
  free(feat), free(pred);
  if (st != DX_OK || !tr->env->store) return st;
  const char *names[4] = {"fid", "kid", "kid_spread", "acc"};
  double v[4] = {r.fid, r.kid, r.kid_spread, (double)right / (double)n};
  char name[256], key[64];
  for (int k = 0; k < (labels ? 4 : 3) && st == DX_OK; k++) {
    metric(tr, s, labels, names[k], n, name, sizeof name);
    st = dx_store_log_metric(tr->env->store, tr->env->run_id, done, name, v[k]);
  }
  snprintf(key, sizeof key, "features.%s.sha256", dx_features_info_of(f)->dataset);
  if (st == DX_OK)
    st = dx_store_set_param(tr->env->store, tr->env->run_id, key, dx_features_info_of(f)->sha256);
  if (st != DX_OK)
    snprintf(tr->err, tr->errlen, "writing FID metrics: %s", dx_store_errmsg(tr->env->store));
  return st;
}

dx_status dx_trainer_fid(trainer *tr, int64_t done) {
  const dx_experiment *e = tr->e;
  int64_t total = e->eval.fid.samples, D = tr->C * tr->H * tr->W;
  int64_t share = (total + tr->ranks - 1) / tr->ranks, chunk = e->eval.batch;
  int64_t first = tr->rank * share < total ? tr->rank * share : total;
  int64_t n = total - first < share ? total - first : share;
  float *mine = malloc((size_t)(share * D) * sizeof *mine);
  float *all = tr->ranks > 1 ? malloc((size_t)(share * tr->ranks * D) * sizeof *all) : mine;
  int64_t *labels = fid_labels(e, total);
  dx_status st = mine && all && (labels || !e->model.classes) ? DX_OK : DX_ERR_NOMEM;
  if (st != DX_OK) dx_errf(tr->err, tr->errlen, st, NULL, "out of memory for FID samples");
  dx_sampler s = tr->sampler;
  if (e->sample.steps > 0) s.cfg.steps = e->sample.steps;
  uint64_t seed = stream_seed((uint64_t)e->seed, STREAM_FID);
  for (int64_t k = 0; k < n && st == DX_OK; k += chunk) {
    int64_t m = n - k < chunk ? n - k : chunk;
    st = dx_trainer_draw_range(tr, &s, first + k, m, total, seed, labels, e->sample.guidance,
                               mine + k * D);
  }
  if (tr->ranks > 1) {
    st = dx_trainer_agree(tr, st, NULL);
    if (st == DX_OK &&
        dx_comm_allgather(tr->comm, mine, (size_t)(share * D) * sizeof *mine, all) != DX_OK)
      st = (snprintf(tr->err, tr->errlen, "%s", dx_comm_error(tr->comm)), DX_ERR_IO);
  }
  if (st == DX_OK && tr->rank == 0) st = score(tr, done, &s, all, total, labels);
  if (all != mine) free(all);
  free(mine), free(labels);
  tr->log.since = now(); /* scoring time is not training time */
  return st;
}
