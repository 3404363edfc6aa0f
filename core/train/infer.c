/* Sampling and bits/dim from a trained run's checkpoint. */
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"
#include "util/err.h"

dx_status dx_infer_open(trainer *tr, dx_train_env *env, dx_experiment *e, const dx_run_plugins *rp,
                        const dx_infer_opts *o, bool test_data) {
  *env = (dx_train_env){.plugins = rp, .resume_from = o->checkpoint, .test_data = test_data};
  tr->e = e, tr->env = env;
  int64_t step = 0;
  dx_status st = dx_trainer_setup(tr, &step);
  if (st != DX_OK || !o->sampler) return st;
  dx_sampler other;
  if (dx_sampler_init(tr->ctx, &other, o->sampler, o->sampler_params) != DX_OK)
    return ctx_fail(tr, o->sampler->name);
  if (other.cfg.learns_variance != tr->sampler.cfg.learns_variance) {
    dx_sampler_release(&other);
    return dx_errf(tr->err, tr->errlen, DX_ERR_CONFIG, NULL,
                   "sampler '%s' %s a learned variance, but this run's model was trained %s one",
                   o->sampler->name, other.cfg.learns_variance ? "needs" : "cannot use",
                   tr->sampler.cfg.learns_variance ? "with" : "without");
  }
  dx_sampler_release(&tr->sampler);
  tr->sampler = other;
  return DX_OK;
}

void dx_infer_overrides(const dx_infer_opts *o, dx_sampler *s) {
  if (o->steps > 0) s->cfg.steps = o->steps;
  if (o->threshold > 0) s->cfg.threshold = o->threshold;
}

dx_status dx_infer_sample(dx_experiment *e, const dx_run_plugins *rp, const dx_infer_opts *o,
                          float **images, int64_t shape[4], char *err, size_t errlen) {
  trainer tr = {.err = err, .errlen = errlen};
  dx_train_env env;
  *images = NULL;
  dx_status st = dx_infer_open(&tr, &env, e, rp, o, false);
  if (st == DX_OK) {
    shape[0] = o->n, shape[1] = tr.C, shape[2] = tr.H, shape[3] = tr.W;
    *images = malloc((size_t)(o->n * tr.C * tr.H * tr.W) * sizeof **images);
    if (!*images)
      st = DX_ERR_NOMEM, snprintf(err, errlen, "out of memory for %lld samples", (long long)o->n);
  }
  if (st == DX_OK) {
    dx_sampler s = tr.sampler;
    dx_infer_overrides(o, &s);
    if (o->steps_used)
      *o->steps_used =
          s.cfg.steps > 0 && s.cfg.steps < e->diffusion.T ? s.cfg.steps : e->diffusion.T;
    /* Passes of at most `batch` images: each image's noise is keyed by its
     * place in the whole draw, so the images are those of one pass over n. */
    int64_t chunk = o->batch > 0 ? o->batch : DX_INFER_SAMPLE_BATCH, D = tr.C * tr.H * tr.W;
    for (int64_t first = 0; first < o->n && st == DX_OK; first += chunk) {
      int64_t m = o->n - first < chunk ? o->n - first : chunk;
      if (o->progress) o->progress(o->progress_user, first, m, o->n);
      st = dx_trainer_draw_range(&tr, &s, first, m, o->n, o->seed, o->labels, o->guidance,
                                 *images + first * D);
    }
  }
  if (st != DX_OK) free(*images), *images = NULL;
  dx_trainer_teardown(&tr);
  return st;
}

dx_status dx_infer_bpd(dx_experiment *e, const dx_run_plugins *rp, const dx_infer_opts *o,
                       double *total, double *prior, double *decoder, char *err, size_t errlen) {
  trainer tr = {.err = err, .errlen = errlen};
  dx_train_env env;
  dx_status st = dx_infer_open(&tr, &env, e, rp, o, true);
  double v[3] = {0};
  if (st == DX_OK) st = dx_trainer_bpd(&tr, o->n, o->batch > 0 ? o->batch : 64, v);
  *total = v[0], *prior = v[1], *decoder = v[2];
  dx_trainer_teardown(&tr);
  return st;
}
