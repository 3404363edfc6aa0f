/* The trainer on several ranks (DESIGN 9, docs/distributed.md). Each rank
 * computes samples [first, first + n) of every step's global batch N, with
 * the draws those samples have in a one-process run: batch positions,
 * timesteps, noise and flips are keyed by the sample's place in the global
 * batch, dropout through dx_set_rng_share. After the backward pass the
 * ranks agree (one small all-gather): on whether any of them failed, on
 * whether a stop signal arrived, and on the global loss (after the last of
 * the train.accumulate passes: once per optimiser step); then they gather
 * the per-sample losses, so that the importance sampler and the metrics see
 * the whole batch, and average the gradients. Every rank then holds the same
 * gradients and takes the same optimiser, clipping, EMA and LR steps; rank 0
 * alone writes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "comm/params.h"
#include "train/checkpoint.h"
#include "train/trainer_internal.h"

#define BUCKET_BYTES ((size_t)4 << 20) /* 2M parameters: two buckets */

dx_status dx_trainer_ranks_open(trainer *tr) {
  tr->comm = tr->env->comm;
  if (!tr->comm) tr->comm = tr->own_comm = dx_comm_single();
  tr->words = tr->comm ? calloc((size_t)dx_comm_size(tr->comm), sizeof *tr->words) : NULL;
  if (!tr->words) return snprintf(tr->err, tr->errlen, "out of memory"), DX_ERR_NOMEM;
  tr->rank = dx_comm_rank(tr->comm);
  tr->ranks = dx_comm_size(tr->comm);
  tr->n = tr->m = tr->N, tr->first = 0;
  return DX_OK;
}

dx_status dx_trainer_ranks_setup(trainer *tr) {
  int64_t batch = tr->N / tr->k; /* train.batch: one forward pass over the ranks */
  if (batch % tr->ranks != 0)
    return snprintf(tr->err, tr->errlen,
                    "train.batch = %" PRId64
                    " cannot be split evenly over %d ranks; make it a multiple of %d",
                    batch, tr->ranks, tr->ranks),
           DX_ERR_CONFIG;
  tr->n = tr->N / tr->ranks;
  tr->m = tr->n / tr->k;
  tr->first = tr->rank * tr->n;
  tr->mine = malloc((size_t)tr->n * sizeof *tr->mine);
  if (!tr->mine) return snprintf(tr->err, tr->errlen, "out of memory"), DX_ERR_NOMEM;
  dx_set_rng_share(tr->ctx, tr->first, tr->m, tr->N);
  tr->sync = dx_grad_sync_create(tr->comm, tr->ctx, tr->params->items, tr->params->n, BUCKET_BYTES,
                                 tr->err, tr->errlen);
  if (!tr->sync) return DX_ERR_NOMEM;
  if (!tr->env->store) return DX_OK;
  dx_status st = dx_store_set_ranks(tr->env->store, tr->env->run_id, tr->ranks,
                                    tr->ranks > 1 ? dx_comm_hosts(tr->comm) : NULL);
  if (st != DX_OK)
    snprintf(tr->err, tr->errlen, "recording the ranks: %s", dx_store_errmsg(tr->env->store));
  return st;
}

void dx_trainer_ranks_teardown(trainer *tr) {
  dx_grad_sync_free(tr->sync);
  free(tr->mine), free(tr->words);
  dx_comm_free(tr->own_comm);
}

static dx_status comm_fail(trainer *tr) {
  snprintf(tr->err, tr->errlen, "%s", dx_comm_error(tr->comm));
  return DX_ERR_IO;
}

dx_status dx_trainer_agree(trainer *tr, dx_status st, double *loss) {
  if (tr->ranks == 1) {
    tr->stop_agreed = tr->env->stop && *tr->env->stop;
    return st;
  }
  dx_rank_word me = {
      .status = (int32_t)st, .stop = tr->env->stop && *tr->env->stop, .loss = loss ? *loss : 0};
  if (st != DX_OK) snprintf(me.msg, sizeof me.msg, "%s", tr->err);
  if (dx_comm_allgather(tr->comm, &me, sizeof me, tr->words) != DX_OK) return comm_fail(tr);
  double sum = 0;
  tr->stop_agreed = false;
  for (int r = 0; r < tr->ranks; r++) {
    const dx_rank_word *w = &tr->words[r];
    if (w->status != DX_OK) {
      snprintf(tr->err, tr->errlen, "rank %d (host %s): %s", r, dx_comm_host(tr->comm, r), w->msg);
      return (dx_status)w->status;
    }
    tr->stop_agreed |= w->stop != 0;
    sum += w->loss;
  }
  /* Equal shares: the batch's mean loss is the mean of the ranks' means. */
  if (loss) *loss = sum / tr->ranks;
  return DX_OK;
}

dx_status dx_trainer_gather_losses(trainer *tr) {
  if (dx_comm_allgather(tr->comm, tr->mine, (size_t)tr->n * sizeof *tr->mine, tr->per_sample) !=
      DX_OK)
    return comm_fail(tr);
  return DX_OK;
}

dx_status dx_trainer_mean_grads(trainer *tr, int64_t step) {
  if (tr->ranks == 1) return DX_OK;
  char what[96];
  snprintf(what, sizeof what, "the gradient all-reduce of step %" PRId64, step + 1);
  dx_comm_label(tr->comm, what);
  return dx_grad_sync_mean(tr->sync, tr->err, tr->errlen);
}

double dx_trainer_allreduce_seconds(const trainer *tr) {
  return tr->sync ? dx_grad_sync_seconds(tr->sync) : 0;
}

/* Every tensor of the state, then the scalars: the weights a rank trains are
 * rank 0's, however it made them (from the seed, or a checkpoint only rank 0
 * read). */
dx_status dx_trainer_ranks_start(trainer *tr, int64_t *start) {
  if (tr->ranks == 1) return DX_OK;
  dx_comm_label(tr->comm, "the broadcast of the parameters from rank 0");
  dx_param_list *lists[4] = {tr->params, &tr->ema->shadow, &tr->opt->m, &tr->opt->v};
  for (int k = 0; k < 4; k++) {
    dx_status st = dx_comm_bcast_tensors(tr->comm, tr->ctx, lists[k]->items, lists[k]->n, 0,
                                         tr->err, tr->errlen);
    if (st != DX_OK) return st;
  }
  int64_t n_ts = dx_timestep_sampler_state_size(tr->ts);
  size_t bytes = (size_t)(n_ts + DX_CHECKPOINT_LOG + 2) * sizeof(double);
  double *v = malloc(bytes);
  if (!v) return snprintf(tr->err, tr->errlen, "out of memory"), DX_ERR_NOMEM;
  v[0] = (double)*start, v[1] = (double)tr->opt->step;
  logbook_save(&tr->log, v + 2);
  dx_timestep_sampler_save(tr->ts, v + 2 + DX_CHECKPOINT_LOG);
  dx_status st = dx_comm_bcast(tr->comm, v, bytes, 0) == DX_OK ? DX_OK : comm_fail(tr);
  if (st == DX_OK && tr->rank != 0) {
    *start = (int64_t)v[0], tr->opt->step = (int64_t)v[1];
    logbook_restore(&tr->log, v + 2);
    if (dx_timestep_sampler_restore(tr->ctx, tr->ts, v + 2 + DX_CHECKPOINT_LOG) != DX_OK)
      st = ctx_fail(tr, "timesteps");
  }
  free(v);
  return st;
}
