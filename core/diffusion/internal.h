/* Private to core/diffusion: table allocation shared by creation and
 * respacing, and small helpers shared by the tensor-level files. */
#ifndef DX_DIFFUSION_INTERNAL_H
#define DX_DIFFUSION_INTERNAL_H

#include "ddpmx/diffusion.h"

/* Tables for T steps in one block (beta first); contents unset. */
dx_diffusion *dx_diffusion_alloc(dx_ctx *ctx, int64_t T);
/* Fills every table from d->beta. */
void dx_diffusion_derive(dx_diffusion *d);

/* v[0..n-1] as an (N,1,1,1) tensor of dtype dt, from the arena. */
dx_tensor *dx_per_sample_tensor(dx_ctx *ctx, const double *v, int64_t n, dx_dtype dt);

/* The model timestep of each sample's index (d->timestep_map), as an (N)
 * tensor of floats for the model's time embedding. */
dx_tensor *dx_model_timesteps(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, int64_t n,
                              dx_dtype dt);

#endif
