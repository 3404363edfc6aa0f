/* The training loop (DESIGN 2, step 7): batch -> t, eps -> x_t -> model ->
 * loss -> backward -> clip -> optimiser -> EMA, with metrics, sample grids,
 * bits/dim and checkpoints going to the run store. */
#ifndef DX_TRAIN_TRAINER_H
#define DX_TRAIN_TRAINER_H

#include <signal.h>

#include "config/experiment.h"
#include "store/store.h"
#include "train/run_plugins.h"

typedef struct dx_train_progress {
  int64_t step, steps;   /* steps done, steps in the run */
  double loss;           /* mean loss since the last report */
  double lr, it_per_s, eta_s;
  const char *event;     /* NULL, or "sampling", "evaluating", "checkpoint" */
} dx_train_progress;

typedef struct dx_train_env {
  dx_store *store;
  int64_t run_id;
  const dx_run_plugins *plugins;
  const char *resume_from;      /* a checkpoint to continue from, or NULL */
  volatile sig_atomic_t *stop;  /* non-zero: stop at the next step boundary */
  int64_t stop_after;           /* > 0: stop (as if signalled) after this step; for tests */
  void (*progress)(const dx_train_progress *p, void *user);
  void *user;
} dx_train_env;

/* Runs the experiment to its last step, or until *stop is set. Returns DX_OK
 * when it finished, DX_ERR_INTERRUPTED when stopped (a checkpoint is written
 * first), or the error (DX_ERR_NUMERIC for a NaN/Inf loss, naming the step),
 * with one line in err. Metrics are flushed in every case. */
dx_status dx_train(dx_experiment *e, const dx_train_env *env, char *err, size_t errlen);

#endif
