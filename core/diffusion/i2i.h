/* Image to image with a trained model (docs/generation.md): SDEdit,
 * interpolation through x_t, RePaint inpainting and DDIM inversion. Each
 * reuses the sampling loop (dx_sample_loop, dx_sample_step) and runs with
 * grad mode off. Images are (N,C,H,W) persistent tensors in [-1, 1]; the
 * model, predict and seed are as dx_sample takes them, and the same seed
 * gives the same images. */
#ifndef DX_DIFFUSION_I2I_H
#define DX_DIFFUSION_I2I_H

#include "ddpmx/sampler.h"

/* The tables to denoise from d's index top down to the image: n indices
 * spread over [0, top], top included (respaced as dx_diffusion_respace
 * does, so q(x_top | x0) is d's). n in [1, top + 1]. */
dx_diffusion *dx_diffusion_respace_upto(dx_ctx *ctx, const dx_diffusion *d, int64_t top, int64_t n);
/* How many of s's steps fall in [0, top] of d: s's step count (all T
 * when it takes every step) scaled by (top + 1) / T, at least 1. */
int64_t dx_steps_upto(const dx_sampler *s, const dx_diffusion *d, int64_t top);

/* SDEdit (Meng et al. 2021): x <- q(x_{t0} | x) with noise from (seed, 0),
 * then the reverse process from t0 (an index of d) down to the image on
 * dx_steps_upto of s's steps. x holds the inputs (one per output) and
 * receives the edits. */
dx_status dx_sdedit(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                    dx_model_fn model, void *user, uint64_t seed, int64_t t0, dx_tensor *x);

/* Interpolation through x_t (Ho et al. 2020 sec. 4.3, labml's
 * evaluate.py): a and b (1,C,H,W) are noised to t0 each with its own
 * noise, x_t(lambda) = (1 - lambda) x_t(a) + lambda x_t(b) for each of the
 * K = out->shape[0] lambdas, and each is denoised with the same step noise,
 * so that the row changes only through lambda. */
dx_status dx_interpolate(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                         dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                         int64_t t0, const dx_tensor *a, const dx_tensor *b, const double *lambda,
                         dx_tensor *out);

/* RePaint (Lugmayr et al. 2022) on s's respaced steps. x0 holds the
 * known image (one per output), keep is 1 where a pixel is known and 0
 * where it is to be filled (shaped like x0). After every reverse step the
 * known pixels are replaced by a fresh draw of q(x_{t-1} | x0), and by x0
 * itself after the last one, so that the output keeps them exactly. With
 * jumps > 1, at every jump_length-th step the state is sent back up
 * jump_length steps through q(x_{t+1} | x_t) and denoised again, jumps - 1
 * times (RePaint's r and j). x receives the result. */
dx_status dx_repaint(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, dx_predict predict,
                     dx_model_fn model, void *user, uint64_t seed, const dx_tensor *x0,
                     const dx_tensor *keep, int64_t jump_length, int64_t jumps, dx_tensor *x);
/* How many model evaluations dx_repaint makes on T' steps. */
int64_t dx_repaint_evaluations(int64_t steps, int64_t jump_length, int64_t jumps);

/* DDIM inversion (Song et al. 2021 sec. 4.3; Dhariwal & Nichol 2021 app.
 * F): the deterministic DDIM update run upwards on tables r, x_{i} =
 * sqrt(abar_i) x0_hat + sqrt(1 - abar_i) eps_hat with eps_hat the model's at
 * (x_{i-1}, t_i), from the image (x, in) to x at r's last index (x, out).
 * No clipping. A DDIM sampler at eta = 0 without clipping brings it back. */
dx_status dx_ddim_invert(dx_ctx *ctx, const dx_diffusion *r, dx_predict predict, dx_model_fn model,
                         void *user, dx_tensor *x);
/* The round trip from the image to step top (an index of d) and back on
 * dx_steps_upto of s's steps: x (the image) is inverted into x_T
 * (persistent, like x; x at top), then sampled back into x with s, which
 * should be DDIM at eta = 0; clipping and thresholding are turned off both
 * ways so that the two directions mirror each other. */
dx_status dx_ddim_round_trip(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                             dx_predict predict, dx_model_fn model, void *user, int64_t top,
                             dx_tensor *x, dx_tensor *x_T);

#endif
