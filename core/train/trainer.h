/* The training loop (DESIGN 2, step 7): batch -> t, eps -> x_t -> model ->
 * loss -> backward -> clip -> optimiser -> EMA, with metrics, sample grids,
 * bits/dim and checkpoints going to the run store. */
#ifndef DX_TRAIN_TRAINER_H
#define DX_TRAIN_TRAINER_H

#include <signal.h>

#include "comm/comm.h"
#include "config/experiment.h"
#include "store/store.h"
#include "train/run_plugins.h"

typedef struct dx_train_progress {
  int64_t step, steps; /* steps done, steps in the run */
  double loss;         /* mean loss since the last report */
  double lr, it_per_s, eta_s;
  double images_per_s; /* global: every rank's images */
  int ranks;
  const char *event; /* NULL, or "sampling", "evaluating", "checkpoint" */
} dx_train_progress;

typedef struct dx_train_env {
  dx_store *store;
  int64_t run_id;
  const dx_run_plugins *plugins;
  const char *resume_from;     /* a checkpoint to continue from, or NULL */
  volatile sig_atomic_t *stop; /* non-zero: stop at the next step boundary */
  int64_t stop_after;          /* > 0: stop (as if signalled) after this step; for tests */
  bool test_data;              /* open the test split even when eval.every is 0 */
  void (*progress)(const dx_train_progress *p, void *user);
  void *user;
  /* The ranks training together (core/comm), or NULL for one process. Rank
   * 0 alone gets a store and reads resume_from; the others pass NULL for
   * both and receive rank 0's state. */
  dx_comm *comm;
} dx_train_env;

/* --- using a trained run: samples and bits/dim from a checkpoint ----------------- */

typedef struct dx_infer_opts {
  const char *checkpoint;        /* required */
  const dx_plugin_desc *sampler; /* another sampler, or NULL for the run's */
  const dx_params *sampler_params;
  int64_t steps;    /* > 0: sample with this many respaced steps */
  double threshold; /* > 0: dynamic thresholding at this quantile (the sampler's otherwise) */
  int64_t n;        /* images to sample, or to evaluate */
  int64_t batch;    /* images per forward pass; 0: DX_INFER_SAMPLE_BATCH (sampling),
                       64 (bits/dim) */
  uint64_t seed;
  /* A class-conditional run (model.classes > 0): the class of each of the
   * n images, or NULL for no class; guidance is the weight w of
   * classifier-free guidance, eps = (1 + w) eps(x, c) - w eps(x, no class). */
  const int64_t *labels;
  double guidance;
  int64_t *steps_used; /* if not NULL: receives the steps sampled with */
  /* Sampling: called before each pass over images [first, first + n). */
  void (*progress)(void *user, int64_t first, int64_t n, int64_t total);
  void *progress_user;
} dx_infer_opts;

/* Images per sampling pass unless told: without the tape a pass holds the
 * skips and one layer's work (dx_scope_begin), about 2.6 MB per 28x28 image
 * of the Fashion-MNIST U-Net at dim 28, so 256 take well under 1 GB. */
#define DX_INFER_SAMPLE_BATCH 256

/* Samples o->n images with the checkpoint's EMA weights (of classes
 * o->labels, guided by o->guidance, when given). *images (n, C, H, W)
 * floats in [-1, 1] is malloc'ed; shape receives (n, C, H, W). Drawn in
 * passes of o->batch, the images are the same as in one draw of n. */
dx_status dx_infer_sample(dx_experiment *e, const dx_run_plugins *rp, const dx_infer_opts *o,
                          float **images, int64_t shape[4], char *err, size_t errlen);
/* Bits/dim of the first o->n test images under the checkpoint's EMA
 * weights: the full bound, as the run's eval logs it. */
dx_status dx_infer_bpd(dx_experiment *e, const dx_run_plugins *rp, const dx_infer_opts *o,
                       double *total, double *prior, double *decoder, char *err, size_t errlen);

/* Runs the experiment to its last step, or until *stop is set. Returns DX_OK
 * when it finished, DX_ERR_INTERRUPTED when stopped (a checkpoint is written
 * first), or the error (DX_ERR_NUMERIC for a NaN/Inf loss, naming the step),
 * with one line in err. Metrics are flushed in every case. */
dx_status dx_train(dx_experiment *e, const dx_train_env *env, char *err, size_t errlen);

#endif
