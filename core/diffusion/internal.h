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

/* --- the sampling loop's pieces, for the image-to-image loops ------------------- */

#include "ddpmx/sampler.h"

/* The tables to sample with: d itself, or d respaced to s's steps (then
 * *owned, which the caller frees). NULL on error. */
const dx_diffusion *dx_sampling_tables(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                       dx_diffusion **owned);
/* One reverse step of s from st->x (persistent) into st->x: the model, the
 * dynamic thresholding, the noise from (seed, offset), the sampler's step.
 * Resets the step arena first. */
dx_status dx_sample_step(dx_ctx *ctx, const dx_sampler *s, dx_sampler_step *st, dx_model_fn model,
                         void *user, uint64_t seed, uint64_t offset);
/* q(x_i | x0) for every image of x0 at index i of r, with the noise drawn
 * from (seed, offset), in the arena. */
dx_tensor *dx_noised(dx_ctx *ctx, const dx_diffusion *r, const dx_tensor *x0, int64_t i,
                     uint64_t seed, uint64_t offset);

#endif
