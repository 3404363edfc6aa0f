/* Training checkpoints: one safetensors file per save. The model's
 * parameters keep their state_dict names (conv OIHW, linear [out, in]), so
 * PyTorch can load them; EMA weights and Adam's moments sit beside them as
 * "ema/<name>", "adam.m/<name>", "adam.v/<name>". The header's __metadata__
 * holds the resolved experiment (JSON), the step and the optimiser's step.
 * Every random draw of a run is a function of (seed, step), so the step is
 * the whole RNG state. */
#ifndef DX_TRAIN_CHECKPOINT_H
#define DX_TRAIN_CHECKPOINT_H

#include "train/optim.h"

#define DX_CHECKPOINT_FORMAT "ddpmx-checkpoint-1"

typedef struct dx_train_state {
  dx_param_list *params;
  dx_ema *ema;
  dx_optim *opt;
  int64_t step; /* steps completed */
} dx_train_state;

/* Writes atomically (temporary file, fsync, rename): a crash mid-write
 * leaves the previous checkpoint intact. */
dx_status dx_checkpoint_save(dx_ctx *ctx, const char *path, const dx_train_state *s,
                             const char *experiment_json, char *err, size_t errlen);
/* Restores every tensor of s from path, which must hold all of them with
 * matching shapes. */
dx_status dx_checkpoint_load(dx_ctx *ctx, const char *path, dx_train_state *s, char *err,
                             size_t errlen);

#endif
