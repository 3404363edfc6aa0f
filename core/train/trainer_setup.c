/* Building everything a run needs from the experiment and its plugins. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddpmx/schedule.h"
#include "train/checkpoint.h"
#include "train/trainer_internal.h"
#include "util/err.h"
#include "util/file.h"

static dx_status make_schedule(trainer *tr) {
  const dx_bound_plugin *b = slot(tr, "diffusion.schedule", -1);
  int64_t T = tr->e->diffusion.T;
  double *beta = malloc((size_t)T * sizeof *beta);
  if (!b || !beta) {
    free(beta);
    return dx_errf(tr->err, tr->errlen, DX_ERR_INTERNAL, NULL,
                   "diffusion.schedule: no schedule plugin resolved");
  }
  const dx_schedule_ops *ops = b->plugin->desc->ops;
  dx_status st = ops->betas(tr->ctx, b->params, T, beta);
  if (st == DX_OK) tr->d = dx_diffusion_create(tr->ctx, beta, T);
  free(beta);
  if (st != DX_OK || !tr->d) {
    snprintf(tr->err, tr->errlen, "schedule '%s': %s", b->plugin->desc->name,
             dx_error_message(tr->ctx));
    return dx_status_of(tr->ctx) ? dx_status_of(tr->ctx) : DX_ERR_INVALID;
  }
  return DX_OK;
}

static dx_status make_loss_and_sampler(trainer *tr) {
  const dx_bound_plugin *l = slot(tr, "diffusion.loss", -1), *s = slot(tr, "diffusion.sampler", -1);
  tr->loss = l->plugin->desc->ops;
  if (tr->loss->create && tr->loss->create(tr->ctx, l->params, &tr->loss_state) != DX_OK)
    return ctx_fail(tr, l->plugin->desc->name);
  if (dx_sampler_init(tr->ctx, &tr->sampler, s->plugin->desc, s->params) != DX_OK)
    return ctx_fail(tr, s->plugin->desc->name);
  return DX_OK;
}

static dx_status open_data(trainer *tr) {
  const dx_exp_data *dc = &tr->e->data;
  dx_status st =
      dx_dataset_open(dc->dataset, dc->path, DX_SPLIT_TRAIN, tr->err, tr->errlen, &tr->train);
  if (st != DX_OK) return st;
  if (tr->e->eval.every > 0 || tr->env->test_data) {
    st = dx_dataset_open(dc->dataset, dc->path, DX_SPLIT_TEST, tr->err, tr->errlen, &tr->test);
    if (st != DX_OK) return st;
  }
  tr->C = dx_dataset_channels(tr->train);
  tr->H = dx_dataset_height(tr->train, dc->pad_pow2);
  tr->W = dx_dataset_width(tr->train, dc->pad_pow2);
  if (tr->H != tr->W)
    return snprintf(tr->err, tr->errlen,
                    "data: images are %lldx%lld; the U-Net needs square images", (long long)tr->H,
                    (long long)tr->W),
           DX_ERR_CONFIG;
  return dx_batch_order_create(dx_dataset_count(tr->train),
                               stream_seed((uint64_t)tr->e->seed, STREAM_ORDER), tr->err,
                               tr->errlen, &tr->order);
}

static dx_block_spec spec_of(const dx_bound_plugin *b) {
  dx_block_spec s = {b ? b->plugin->desc : NULL, b ? b->params : NULL};
  return s;
}

static dx_status make_model(trainer *tr) {
  const dx_exp_model *m = &tr->e->model;
  dx_unet_config c = {.in_channels = tr->C,
                      .out_channels = tr->sampler.cfg.learns_variance ? 2 * tr->C : tr->C,
                      .dim = m->dim,
                      .n_levels = (int)m->n_levels,
                      .image_size = tr->H,
                      .classes = m->classes,
                      .self_condition = m->self_condition,
                      .recompute = tr->e->train.recompute};
  for (int i = 0; i < c.n_levels; i++) {
    c.mults[i] = m->dim_mults[i];
    c.attention[i] = spec_of(slot(tr, "model.attention", i));
  }
  c.block = spec_of(slot(tr, "model.block", -1));
  c.mid_attention = spec_of(slot(tr, "model.mid_attention", -1));
  tr->net = dx_unet_create(tr->ctx, &c, stream_seed((uint64_t)tr->e->seed, 0));
  if (!tr->net) return ctx_fail(tr, "model");
  tr->params = dx_unet_params(tr->net);
  return DX_OK;
}

static dx_status make_optimiser(trainer *tr) {
  const dx_exp_train *t = &tr->e->train;
  dx_optim_config oc = {t->optimizer == DX_OPTIMIZER_ADAMW ? DX_OPTIM_ADAMW : DX_OPTIM_ADAM,
                        t->betas[0], t->betas[1], 1e-8, t->weight_decay};
  tr->opt = dx_optim_create(tr->ctx, tr->params, &oc);
  tr->ema = tr->opt ? dx_ema_create(tr->ctx, tr->params) : NULL;
  tr->ts =
      tr->ema ? dx_timestep_sampler_create(tr->ctx, tr->e->diffusion.timesteps, tr->d->T) : NULL;
  if (!tr->ts) return ctx_fail(tr, "optimiser");
  tr->lr = (dx_lr_schedule){t->lr, t->warmup, t->steps,
                            t->lr_schedule == DX_EXP_LR_COSINE ? DX_LR_COSINE : DX_LR_CONSTANT};
  return DX_OK;
}

static dx_status host_buffers(trainer *tr) {
  tr->k = tr->e->train.accumulate > 1 ? tr->e->train.accumulate : 1;
  int64_t n = tr->N = tr->e->train.batch * tr->k;
  /* One micro-batch of images at a time: at most train.batch of them. */
  tr->x_host = malloc((size_t)(tr->e->train.batch * tr->C * tr->H * tr->W) * sizeof *tr->x_host);
  tr->idx = malloc((size_t)n * sizeof *tr->idx);
  tr->stage_idx = malloc((size_t)n * sizeof *tr->stage_idx);
  tr->t = malloc((size_t)n * sizeof *tr->t);
  tr->w = malloc((size_t)n * sizeof *tr->w);
  tr->t_host = malloc((size_t)n * sizeof *tr->t_host);
  tr->per_sample = malloc((size_t)n * sizeof *tr->per_sample);
  tr->labels = malloc((size_t)n * sizeof *tr->labels);
  tr->json = dx_experiment_to_json(tr->e);
  if (!tr->x_host || !tr->idx || !tr->stage_idx || !tr->t || !tr->w || !tr->t_host ||
      !tr->per_sample || !tr->labels || !tr->json)
    return dx_errf(tr->err, tr->errlen, DX_ERR_NOMEM, NULL, "out of memory");
  return DX_OK;
}

/* mkdir -p */
static dx_status make_dirs(trainer *tr, const char *path) {
  return dx_make_dirs(path, tr->err, tr->errlen);
}

/* A checkpoint being written when its process died leaves
 * "step-N.safetensors.tmp.PID" behind. Only the run's own process writes in
 * its folder, and a run is trained by one process at a time, so any such
 * file found at the start is dead. */
static void remove_stale_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  char path[8192];
  while ((ent = readdir(d)))
    if (strstr(ent->d_name, ".safetensors.tmp.")) {
      snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
      unlink(path);
    }
  closedir(d);
}

/* The context on the experiment's device; the run records which device it
 * got (params run.device and run.device_name), since `auto` decides only
 * now and a GPU's name says more than its number. */
static dx_status open_device(trainer *tr) {
  char why[DX_ERRMSG_MAX];
  const dx_exp_cuda *cu = &tr->e->cuda;
  dx_ctx_opts o = {.device = tr->e->device_v,
                   .threads = (int)tr->e->train.threads,
                   .gpu = {!cu->deterministic, cu->tf32, (size_t)cu->pool_mb << 20}};
  if (tr->e->device_auto) o.device = (dx_device){DX_DEVICE_AUTO, 0};
  tr->ctx = dx_ctx_create(&o, why, sizeof why);
  if (!tr->ctx) /* only memory can fail on the CPU */
    return snprintf(tr->err, tr->errlen, "%s", why),
           o.device.kind == DX_DEVICE_CPU ? DX_ERR_NOMEM : DX_ERR_DEVICE;
  if (!tr->env->store) return DX_OK;
  dx_device d = dx_ctx_device(tr->ctx);
  char used[32] = "cpu";
  if (d.kind == DX_DEVICE_CUDA) snprintf(used, sizeof used, "cuda:%d", d.index);
  dx_status st = dx_store_set_param(tr->env->store, tr->env->run_id, "run.device", used);
  if (st == DX_OK)
    st = dx_store_set_param(tr->env->store, tr->env->run_id, "run.device_name",
                            dx_ctx_device_name(tr->ctx));
  if (st != DX_OK)
    snprintf(tr->err, tr->errlen, "recording the device: %s", dx_store_errmsg(tr->env->store));
  return st;
}

dx_status dx_trainer_setup(trainer *tr, int64_t *start) {
  dx_status st = dx_trainer_ranks_open(tr);
  if (st != DX_OK) return st;
  st = open_device(tr);
  if (st == DX_OK) st = make_schedule(tr);
  if (st == DX_OK) st = make_loss_and_sampler(tr);
  if (st == DX_OK) st = open_data(tr);
  if (st == DX_OK) st = make_model(tr);
  if (st == DX_OK) st = make_optimiser(tr);
  if (st == DX_OK) st = host_buffers(tr);
  if (st == DX_OK) st = dx_trainer_ranks_setup(tr);
  snprintf(tr->ckpt_dir, sizeof tr->ckpt_dir, "%s/%s-%lld", tr->e->checkpoint.dir, tr->e->name,
           (long long)tr->env->run_id);
  if (st == DX_OK && tr->env->store) st = make_dirs(tr, tr->ckpt_dir);
  if (st == DX_OK && tr->env->store) remove_stale_temporaries(tr->ckpt_dir);
  if (st == DX_OK && tr->env->resume_from && tr->rank == 0) {
    dx_train_state s = {tr->params, tr->ema, tr->opt, 0, .ts = tr->ts};
    st = dx_checkpoint_load(tr->ctx, tr->env->resume_from, &s, tr->err, tr->errlen);
    *start = s.step;
    if (s.has_log) logbook_restore(&tr->log, s.log);
  }
  /* A rank that could not set up (its data, its memory) stops them all. */
  if (tr->ranks > 1) st = dx_trainer_agree(tr, st, NULL);
  if (st == DX_OK) st = dx_trainer_ranks_start(tr, start);
  return st;
}

void dx_trainer_teardown(trainer *tr) {
  dx_trainer_ranks_teardown(tr);
  if (!tr->ctx) return;
  dx_timestep_sampler_free(tr->ts);
  dx_ema_free(tr->ema);
  dx_optim_free(tr->opt);
  dx_unet_free(tr->net);
  dx_batch_order_free(tr->order);
  dx_dataset_free(tr->train);
  dx_dataset_free(tr->test);
  dx_sampler_release(&tr->sampler);
  if (tr->loss && tr->loss->destroy) tr->loss->destroy(tr->loss_state);
  dx_diffusion_free(tr->d);
  free(tr->x_host), free(tr->idx), free(tr->t), free(tr->w), free(tr->t_host), free(tr->per_sample);
  free(tr->labels), free(tr->stage_idx);
  free(tr->json);
  dx_ctx_free(tr->ctx);
}
