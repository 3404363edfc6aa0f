/* Training checkpoints: one safetensors file per save. The model's
 * parameters keep their state_dict names (conv OIHW, linear [out, in]), so
 * PyTorch can load them; EMA weights and Adam's moments sit beside them as
 * "ema/<name>", "adam.m/<name>", "adam.v/<name>". The header's __metadata__
 * holds the resolved experiment (JSON), the step, the optimiser's step and
 * the unreported metric sums (as exact hex floats). Every random draw of a
 * run is a function of (seed, step), so the step is the whole RNG state;
 * importance sampling's loss history, the one other state a draw depends
 * on, is the F64 tensor "timesteps.state". */
#ifndef DX_TRAIN_CHECKPOINT_H
#define DX_TRAIN_CHECKPOINT_H

#include "ddpmx/diffusion.h"
#include "train/optim.h"

#define DX_CHECKPOINT_FORMAT "ddpmx-checkpoint-1"

/* The running sums of metrics not yet reported (trainer.c's logbook): a run
 * checkpointed between two reports reports the same averages once resumed. */
#define DX_CHECKPOINT_LOG 11

typedef struct dx_train_state {
  dx_param_list *params;
  dx_ema *ema;
  dx_optim *opt;
  int64_t step;            /* steps completed */
  dx_timestep_sampler *ts; /* NULL: not saved; its loss history ("timesteps.state", F64) */
  double log[DX_CHECKPOINT_LOG];
  bool has_log; /* load: the file held the sums (older files do not) */
} dx_train_state;

/* Writes atomically (temporary file, fsync, rename, fsync of the folder): a
 * crash mid-write leaves the previous checkpoint intact. */
dx_status dx_checkpoint_save(dx_ctx *ctx, const char *path, const dx_train_state *s,
                             const char *experiment_json, char *err, size_t errlen);
/* Restores every tensor of s from path, which must hold all of them with
 * matching shapes. */
dx_status dx_checkpoint_load(dx_ctx *ctx, const char *path, dx_train_state *s, char *err,
                             size_t errlen);

#endif
