/* The diffusion process: the forward process q, its posterior, the VLB terms
 * and bits/dim, as loss and sampler plugins see them.
 *
 * Conventions (DESIGN 6, following openai/improved-diffusion so that
 * likelihoods are comparable): every table is float64 and indexed from 0,
 * index 0 being the paper's t = 1. Pixels are in [-1, 1]. Tensors are
 * (N,C,H,W); per-sample timesteps are host arrays of N indices.
 *
 * Sources: Ho et al. 2020 ("DDPM"), Nichol & Dhariwal 2021 ("Improved
 * DDPM"), Song et al. 2021 ("DDIM"), Salimans & Ho 2022 (v-parameterisation). */
#ifndef DDPMX_DIFFUSION_H
#define DDPMX_DIFFUSION_H

#include <stdbool.h>
#include <stdint.h>

#include "diffusion_types.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every table derived from beta_1..beta_T. Read-only once created. */
typedef struct dx_diffusion {
  int64_t T;                        /* number of steps in these tables */
  double *beta;                     /* beta_t */
  double *alpha;                    /* 1 - beta_t */
  double *alpha_bar;                /* prod_{s<=t} alpha_s */
  double *alpha_bar_prev;           /* alpha_bar_{t-1}; 1 at index 0 */
  double *sqrt_alpha_bar;           /* sqrt(abar_t) */
  double *sqrt_one_minus_alpha_bar; /* sqrt(1 - abar_t) */
  double *beta_tilde; /* posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t); 0 at index 0 */
  double *log_beta_tilde_clipped; /* log beta_tilde, index 0 taking index 1's value */
  double *log_beta;             /* log variance for sigma^2 = beta; index 0 is log beta_tilde[1] */
  double *posterior_mean_coef1; /* coefficient of x0 in the posterior mean */
  double *posterior_mean_coef2; /* coefficient of x_t in the posterior mean */
  int64_t *timestep_map;        /* model timestep (index in the original schedule) of each index */
  int64_t T_original;           /* length of the schedule these steps were taken from */
} dx_diffusion;

/* Derives every table from beta[0..T-1], refusing any beta outside (0, 1]
 * (DX_ERR_INVALID naming the first bad index). */
DX_API dx_diffusion *dx_diffusion_create(dx_ctx *ctx, const double *beta, int64_t T);
DX_API void dx_diffusion_free(dx_diffusion *d);

/* Keeps the steps keep[0..n-1] (strictly increasing indices into d) and
 * recomputes beta from the kept alpha_bar, beta_i = 1 - abar_{k_i} / abar_{k_{i-1}}
 * (improved-diffusion's respacing), so that q(x_t | x0) is unchanged at every
 * kept step. The result's timestep_map points back to d's model timesteps. */
DX_API dx_diffusion *dx_diffusion_respace(dx_ctx *ctx, const dx_diffusion *d, const int64_t *keep,
                                          int64_t n);
/* n indices spread evenly over 0..T-1, first and last included, rounded as
 * improved-diffusion's space_timesteps does for one section. n in [1, T]. */
DX_API dx_status dx_space_timesteps(dx_ctx *ctx, int64_t T, int64_t n, int64_t *keep);
/* n indices of d spread evenly in lambda = log(alpha / sigma) (DPM-Solver's
 * "logSNR" steps), 0 and T - 1 included, each the step nearest its lambda,
 * made strictly increasing. When the last step is a large jump in lambda (a
 * clipped last beta), the steps below T - 1 spread from lambda(T - 2)
 * instead. n in [1, T]; below 3 the steps are those of dx_space_timesteps. */
DX_API dx_status dx_space_timesteps_logsnr(dx_ctx *ctx, const dx_diffusion *d, int64_t n,
                                           int64_t *keep);
/* n indices of d, 0 and T - 1 included: T - 1, then n - 1 steps evenly in
 * sigma^(1/7) from min(80, sigma(T - 2)) down to sigma(0), sigma =
 * sqrt((1 - abar) / abar) (Karras et al. 2022, eq. 5 with their rho = 7 and
 * sigma_max = 80), each the step nearest its sigma, made strictly
 * increasing. n in [1, T]; below 3 the steps are those of dx_space_timesteps. */
DX_API dx_status dx_space_timesteps_karras(dx_ctx *ctx, const dx_diffusion *d, int64_t n,
                                           int64_t *keep);

/* --- Gaussian math on the host, float64 ------------------------------------ */

/* KL(N(m1, e^lv1) || N(m2, e^lv2)) in nats. */
DX_API double dx_normal_kl(double m1, double lv1, double m2, double lv2);
/* The tanh approximation of the standard normal CDF (DESIGN 6). */
DX_API double dx_approx_std_normal_cdf(double x);
/* log P(x's bin) under N(mean, e^(2 log_scale)) discretised into 256 bins
 * of width 2/255 with open outer bins, probabilities clamped at 1e-12
 * (Ho et al. 2020 eq. 13). x should lie on the grid {-1, -1 + 2/255, ..., 1}. */
DX_API double dx_discretized_gaussian_log_likelihood(double x, double mean, double log_scale);

/* --- the same on tensors (differentiable; results shaped like the inputs) --- */

DX_API dx_tensor *dx_normal_kl_tensor(dx_ctx *ctx, dx_tensor *m1, dx_tensor *lv1, dx_tensor *m2,
                                      dx_tensor *lv2);
DX_API dx_tensor *dx_discretized_gaussian_log_likelihood_tensor(dx_ctx *ctx, dx_tensor *x,
                                                                dx_tensor *mean,
                                                                dx_tensor *log_scale);

/* --- q, its posterior, conversions between eps, x0 and v ---------------------- */

/* table[t[i]] for each sample as an (N,1,1,1) tensor of dtype dt, ready to
 * broadcast over (N,C,H,W). */
DX_API dx_tensor *dx_diffusion_gather(dx_ctx *ctx, const double *table, const int64_t *t, int64_t n,
                                      dx_dtype dt);
/* x_t = sqrt(abar) x0 + sqrt(1 - abar) eps (Ho et al. 2020 eq. 4). */
DX_API dx_tensor *dx_q_sample(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0, const int64_t *t,
                              dx_tensor *eps);
/* Offset noise: eps + s z, z (N,C,1,1) standard normal drawn from (seed,
 * offset + n C + c) and broadcast over the pixels; eps itself when s = 0. */
DX_API dx_tensor *dx_offset_noise(dx_ctx *ctx, dx_tensor *eps, double s, uint64_t seed,
                                  uint64_t offset);
/* x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar). */
DX_API dx_tensor *dx_x0_from_eps(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t,
                                 const int64_t *t, dx_tensor *eps);
/* eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar). */
DX_API dx_tensor *dx_eps_from_x0(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t,
                                 const int64_t *t, dx_tensor *x0);
/* x0 = sqrt(abar) x_t - sqrt(1 - abar) v (Salimans & Ho 2022). */
DX_API dx_tensor *dx_x0_from_v(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t, const int64_t *t,
                               dx_tensor *v);
/* v = sqrt(abar) eps - sqrt(1 - abar) x0. */
DX_API dx_tensor *dx_v_from(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, dx_tensor *x0,
                            dx_tensor *eps);
/* What a model with this `predict` should output: eps, x0 or v. */
DX_API dx_tensor *dx_predict_target(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict,
                                    const int64_t *t, dx_tensor *x0, dx_tensor *eps);
/* The model's x0 from its prediction; clipped to [-1, 1] when clip. */
DX_API dx_tensor *dx_predict_x0(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict,
                                dx_tensor *x_t, const int64_t *t, dx_tensor *pred, bool clip);
/* Dynamic thresholding (Saharia et al. 2022 sec. 2.3): for each sample of
 * x0 (N,C,H,W), s = max(the p-quantile of |x0|, 1), taken with linear
 * interpolation as torch.quantile does, and x0 <- clip(x0, -s, s) / s.
 * p in (0, 1]. Not differentiable through s (the quantile is taken on the host). */
DX_API dx_tensor *dx_dynamic_threshold(dx_ctx *ctx, dx_tensor *x0, double p);
/* Posterior mean of q(x_{t-1} | x_t, x0) = coef1 x0 + coef2 x_t (Ho et al.
 * 2020 eq. 7); its log variance is log_beta_tilde_clipped[t]. */
DX_API dx_tensor *dx_posterior_mean(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0,
                                    dx_tensor *x_t, const int64_t *t);

/* --- VLB terms ------------------------------------------------------------------ */

/* One term of the bound per sample, in bits per dimension, shape (N):
 * KL(q(x_{t-1}|x_t,x0) || N(mean, e^logvar)) for t > 0 and the decoder NLL
 * -log p(x0 | x1) at t = 0 (Ho et al. 2020 eq. 5; improved-diffusion's
 * _vb_terms_bpd). logvar broadcasts to x0's shape. */
DX_API dx_tensor *dx_vlb_terms(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0, dx_tensor *x_t,
                               const int64_t *t, dx_tensor *mean, dx_tensor *logvar);
/* KL(q(x_T | x0) || N(0, I)) per sample in bits per dimension, shape (N). */
DX_API dx_tensor *dx_prior_bpd(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0);

/* --- the model as the sampling loop and bits/dim see it ------------------------- */

/* x_t (N,C,H,W) and t (N) model timesteps as floats -> output (N,C',H,W):
 * C' = C, or 2C when the sampler learns the variance. */
typedef dx_tensor *(*dx_model_fn)(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t);

/* What a conditional model is handed besides x_t and t (dx_sample_guided). */
typedef struct dx_model_cond {
  const int64_t *labels; /* N class labels, the model's "no class" among them; NULL: none */
  dx_tensor *x_self;     /* self-conditioning: the previous x0 estimate (N,C,H,W); NULL: none */
} dx_model_cond;
typedef dx_tensor *(*dx_cond_model_fn)(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t,
                                       const dx_model_cond *cond);

/* Splits a model output into the prediction (its first C channels) and the
 * variance channels (the next C, or NULL when out has only C). */
DX_API dx_status dx_split_output(dx_ctx *ctx, dx_tensor *out, int64_t C, dx_tensor **pred,
                                 dx_tensor **var);

/* --- timesteps of a training batch ----------------------------------------------- */

typedef struct dx_timestep_sampler dx_timestep_sampler;
DX_API dx_timestep_sampler *dx_timestep_sampler_create(dx_ctx *ctx, dx_timestep_kind kind,
                                                       int64_t T);
DX_API void dx_timestep_sampler_free(dx_timestep_sampler *ts);
/* Draws n indices t and their loss weights w = 1/(T p_t) from the
 * counter-based stream (seed, offset .. offset + n - 1). */
DX_API dx_status dx_timestep_sampler_draw(dx_ctx *ctx, dx_timestep_sampler *ts, int64_t n,
                                          uint64_t seed, uint64_t offset, int64_t *t, double *w);
/* Feeds back the per-sample losses of a batch (dx_loss_output.per_sample).
 * Importance sampling stays uniform until every t has 10 losses recorded;
 * then p_t = 0.999 sqrt(mean of the last 10 L_t^2) / sum + 0.001 / T. */
DX_API void dx_timestep_sampler_update(dx_timestep_sampler *ts, int64_t n, const int64_t *t,
                                       const double *losses);
/* The current distribution p[0..T-1]. */
DX_API const double *dx_timestep_sampler_probs(const dx_timestep_sampler *ts);
/* The loss history that importance sampling draws from, as doubles, so
 * that a checkpoint carries it and a resumed run draws what an uninterrupted
 * one would: dx_timestep_sampler_state_size values, T rows of (count, the
 * last 10 losses). _restore refuses a state whose counts are out of range. */
DX_API int64_t dx_timestep_sampler_state_size(const dx_timestep_sampler *ts);
DX_API void dx_timestep_sampler_save(const dx_timestep_sampler *ts, double *state);
DX_API dx_status dx_timestep_sampler_restore(dx_ctx *ctx, dx_timestep_sampler *ts,
                                             const double *state);

#ifdef __cplusplus
}
#endif
#endif
