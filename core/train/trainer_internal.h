/* Private to the trainer's files: its state and small helpers. */
#ifndef DX_TRAIN_TRAINER_INTERNAL_H
#define DX_TRAIN_TRAINER_INTERNAL_H

#include <stdio.h>
#include <time.h>

#include "comm/comm.h"
#include "data/dataset.h"
#include "ddpmx/loss.h"
#include "ddpmx/sampler.h"
#include "model/unet.h"
#include "train/optim.h"
#include "train/trainer.h"

/* Independent streams derived from the run's seed (splitmix64 finaliser). */
enum {
  STREAM_T = 1,
  STREAM_EPS,
  STREAM_FLIP,
  STREAM_DROPOUT,
  STREAM_SAMPLE,
  STREAM_EVAL,
  STREAM_ORDER,
  STREAM_COND_DROP, /* which samples train with no class */
  STREAM_SELF_COND, /* which steps self-condition */
  STREAM_OFFSET,    /* offset noise */
  STREAM_FID        /* eval.fid's samples */
};

static inline uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + stream * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct logbook {
  double loss, grad_norm, q[4];
  int64_t n, qn[4];
  double since; /* wall time of the last report */
  int64_t since_step;
} logbook;

/* The sums a checkpoint carries (checkpoint.h's DX_CHECKPOINT_LOG values). */
static inline void logbook_save(const logbook *l, double *v) {
  v[0] = l->loss, v[1] = l->grad_norm, v[2] = (double)l->n;
  for (int q = 0; q < 4; q++)
    v[3 + q] = l->q[q], v[7 + q] = (double)l->qn[q];
}

static inline void logbook_restore(logbook *l, const double *v) {
  l->loss = v[0], l->grad_norm = v[1], l->n = (int64_t)v[2];
  for (int q = 0; q < 4; q++)
    l->q[q] = v[3 + q], l->qn[q] = (int64_t)v[7 + q];
}

/* What each rank says after a step's backward pass (trainer_ranks.c). */
typedef struct dx_rank_word {
  int32_t status, stop;
  double loss;
  char msg[240];
} dx_rank_word;

struct dx_grad_sync;

typedef struct trainer {
  dx_experiment *e;
  const dx_train_env *env;
  dx_ctx *ctx;
  dx_diffusion *d;
  const dx_loss_ops *loss;
  void *loss_state;
  dx_sampler sampler;
  dx_unet *net;
  dx_param_list *params;
  dx_optim *opt;
  dx_ema *ema;
  dx_lr_schedule lr;
  dx_timestep_sampler *ts;
  dx_dataset *train, *test;
  dx_batch_order *order;
  int64_t C, H, W, N;
  float *x_host;
  /* persistent: the micro-batch's images and the next one's, in turn */
  dx_tensor *batch[2];
  int64_t staged;     /* 1 + the micro-batch (step k + j) on its way; 0: none */
  int64_t *stage_idx; /* the order of the step it belongs to: */
  int64_t stage_step; /* 1 + that step; 0: none */
  int64_t *idx, *t;
  int64_t *labels; /* this rank's n class labels, "no class" where dropped */
  double *w, *t_host, *per_sample;
  char *json;
  char ckpt_dir[4096];
  logbook log;
  /* Ranks (trainer_ranks.c): this one computes samples [first, first + n) of
   * each step's N; mine holds their losses before the all-gather. With
   * train.accumulate = k the share is k micro-batches of m samples, the
   * j-th being [first + j m, first + (j + 1) m): N = train.batch * k. */
  dx_comm *comm, *own_comm;
  int rank, ranks;
  int64_t first, n, m, k;
  double *mine;
  dx_rank_word *words;
  struct dx_grad_sync *sync;
  bool stop_agreed;
  double ar_reported; /* all-reduce seconds at the last report */
  /* eval.fid (trainer_fid.c), on rank 0: the feature network and the test
   * split's features. */
  struct dx_features *fid_net;
  float *fid_ref;
  int64_t fid_ref_n;
  char *err;
  size_t errlen;
} trainer;

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Copies the context's message into err and returns its status. */
static inline dx_status ctx_fail(trainer *tr, const char *what) {
  snprintf(tr->err, tr->errlen, "%s: %s", what, dx_error_message(tr->ctx));
  return dx_status_of(tr->ctx) ? dx_status_of(tr->ctx) : DX_ERR_INTERNAL;
}

static inline const dx_bound_plugin *slot(trainer *tr, const char *role, int level) {
  return dx_run_plugins_get(tr->env->plugins, role, level);
}

/* trainer_setup.c */
dx_status dx_trainer_setup(trainer *tr, int64_t *start);
void dx_trainer_teardown(trainer *tr);
/* trainer_ranks.c */
/* open: the communicator (env->comm or one rank), before anything can
 * fail; setup: this rank's share of the batch, once the model exists. */
dx_status dx_trainer_ranks_open(trainer *tr);
dx_status dx_trainer_ranks_setup(trainer *tr);
void dx_trainer_ranks_teardown(trainer *tr);
/* Broadcasts rank 0's state (weights, EMA, moments, step, sampler history,
 * metric sums) to the others. */
dx_status dx_trainer_ranks_start(trainer *tr, int64_t *start);
/* Every rank passes its status (and message), its stop flag and its mean
 * loss; every rank returns the first failure of any rank, naming it, and
 * *loss <- the batch's mean; sets tr->stop_agreed. One rank: returns st. */
dx_status dx_trainer_agree(trainer *tr, dx_status st, double *loss);
/* tr->per_sample (N) <- every rank's tr->mine (n), in rank order. */
dx_status dx_trainer_gather_losses(trainer *tr);
/* Every gradient <- its mean over the ranks. */
dx_status dx_trainer_mean_grads(trainer *tr, int64_t step);
double dx_trainer_allreduce_seconds(const trainer *tr);
/* conditioning.c */
/* tr->labels <- the class labels of samples [first, first + n) of the
 * step's N (a micro-batch), "no class" where train.cond_drop drops them;
 * nothing for an unconditional model. */
dx_status dx_trainer_labels(trainer *tr, int64_t step, int64_t first, int64_t n);
/* On half the steps of a self-conditioning model: the x0 estimate of a
 * first forward pass without gradient (clipped as the sampler clips) of
 * the micro-batch from `first`, detached; NULL on the other steps
 * (*failed says whether it failed). */
dx_tensor *dx_trainer_self_cond(trainer *tr, int64_t step, int64_t first, dx_tensor *x_t,
                                dx_tensor *tt, bool *failed);
/* infer.c: the run's model and state from o->checkpoint, and o's sampler
 * in place of the run's when it names one; test_data opens the test split. */
dx_status dx_infer_open(trainer *tr, dx_train_env *env, dx_experiment *e, const dx_run_plugins *rp,
                        const dx_infer_opts *o, bool test_data);
/* o's --steps and --threshold over the sampler's own. */
void dx_infer_overrides(const dx_infer_opts *o, dx_sampler *s);
/* trainer_events.c: what happens every so many steps */
/* The model as the sampling loop calls it (user is the trainer). */
dx_tensor *dx_trainer_model_fn(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t);
dx_status dx_trainer_report(trainer *tr, int64_t done);
dx_status dx_trainer_sample(trainer *tr, int64_t done);
dx_status dx_trainer_evaluate(trainer *tr, int64_t done);
dx_status dx_trainer_checkpoint(trainer *tr, int64_t done);
/* trainer_fid.c: eval.fid's feature network and reference features
 * (setup), a score every eval.fid.every steps, and the memory back. */
dx_status dx_trainer_fid_setup(trainer *tr);
dx_status dx_trainer_fid(trainer *tr, int64_t done);
void dx_trainer_fid_teardown(trainer *tr);
/* n samples with the EMA weights and sampler s into host (n*C*H*W floats). */
dx_status dx_trainer_draw(trainer *tr, const dx_sampler *s, int64_t n, uint64_t seed, float *host);
/* The same for a conditional model: image k of class labels[k] (NULL: no
 * class), guided with weight w (dx_guidance). */
dx_status dx_trainer_draw_classes(trainer *tr, const dx_sampler *s, int64_t n, uint64_t seed,
                                  const int64_t *labels, double w, float *host);
/* Images [first, first + n) of a draw of `total` into host (n images): the
 * same values as those images of one draw of total (labels: the classes
 * of all total images, or NULL). */
dx_status dx_trainer_draw_range(trainer *tr, const dx_sampler *s, int64_t first, int64_t n,
                                int64_t total, uint64_t seed, const int64_t *labels, double w,
                                float *host);
/* Mean bits/dim of the first `images` test images, in chunks of `batch`:
 * out[0] total, out[1] prior, out[2] decoder. EMA weights. */
dx_status dx_trainer_bpd(trainer *tr, int64_t images, int64_t batch, double out[3]);

#endif
