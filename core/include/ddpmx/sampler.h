/* Sampler plugins (DX_KIND_SAMPLER): the reverse process p(x_{t-1} | x_t).
 *
 * A sampler says which variance the reverse process uses (log sigma^2 per
 * step, possibly from the model's extra channels) and how one step goes from
 * x_t to x_{t-1}. The host runs the loop (dx_sample): it respaces the
 * schedule when the sampler asks for fewer steps, calls the model, draws the
 * noise from a seeded counter-based stream, and adds none at the last step.
 * The same log variance feeds the vlb losses and bits/dim (dx_bits_per_dim),
 * so that the bound reported is the bound of the sampler in use.
 *
 * Each function returns NULL / a status with the error recorded in ctx. */
#ifndef DDPMX_SAMPLER_H
#define DDPMX_SAMPLER_H

#include "diffusion.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the host picks the steps when a sampler asks for fewer than T. */
typedef enum dx_spacing {
  DX_SPACING_UNIFORM = 0, /* evenly in t (dx_space_timesteps) */
  DX_SPACING_LOGSNR = 1,  /* evenly in log(alpha / sigma) (dx_space_timesteps_logsnr) */
  DX_SPACING_KARRAS = 2   /* evenly in sigma^(1/7) (dx_space_timesteps_karras) */
} dx_spacing;
/* The words of a sampler's `spacing`, in the order of the values. */
#define DX_SPACING_WORDS "uniform|logsnr|karras"

/* What a sampler tells the host when it is created. */
typedef struct dx_sampler_config {
  int64_t steps;        /* steps to sample with; 0 or >= T: all T */
  bool clip;            /* clip the model's x0 to [-1, 1] (sampling and bits/dim) */
  bool learns_variance; /* the model outputs 2C channels: prediction, then variance */
  double threshold;     /* > 0: dynamic thresholding of x0 at this quantile (the host applies
                           it before each step; dx_dynamic_threshold) */
  dx_spacing spacing;   /* the steps kept when steps < T */
} dx_sampler_config;

/* One reverse step, as the host hands it to the sampler. */
typedef struct dx_sampler_step {
  const dx_diffusion *d; /* tables of the steps being sampled (respaced when steps < T) */
  dx_predict predict;    /* what pred holds */
  int64_t i;             /* index of x_t in d; the last step is i = 0 */
  bool clip;             /* the sampler's cfg.clip: clip the model's x0 to [-1, 1] */
  int64_t n;             /* batch size */
  const int64_t *t;      /* n copies of i, for the per-sample helpers */
  dx_tensor *x;          /* x_t (N,C,H,W) */
  dx_tensor *pred;       /* the model's eps, x0 or v for x_t */
  dx_tensor *var;        /* the model's variance channels (learns_variance), else NULL */
  dx_tensor *noise;      /* standard normal draws shaped like x; to be ignored at i = 0 */
} dx_sampler_step;

typedef struct dx_sampler_ops {
  /* Reads the parameters into private state and fills cfg. */
  dx_status (*create)(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg, void **state);
  void (*destroy)(void *state);
  /* log sigma^2 of p(x_{t-1} | x_t) at indices t[0..n-1] of d, in dtype dt:
   * (N,1,1,1) for a fixed variance, or like var (N,C,H,W) when learned. */
  dx_tensor *(*log_variance)(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                             int64_t n, dx_tensor *var, dx_dtype dt);
  /* x_t -> x_{t-1}; at s->i == 0 the result is the sample, with no noise. */
  dx_tensor *(*step)(dx_ctx *ctx, void *state, const dx_sampler_step *s);
} dx_sampler_ops;

/* A sampler plugin with its state, as the host holds it. */
typedef struct dx_sampler {
  const dx_sampler_ops *ops;
  void *state;
  dx_sampler_config cfg;
} dx_sampler;

/* Creates the plugin's state from its validated parameters. */
DX_API dx_status dx_sampler_init(dx_ctx *ctx, dx_sampler *s, const dx_plugin_desc *desc,
                                 const dx_params *p);
DX_API void dx_sampler_release(dx_sampler *s);

/* --- helpers a sampler plugin composes ----------------------------------------- */

/* The parameters every sampler declares, to open its spec with:
 *   static const dx_param_spec params[] = {DX_SAMPLER_COMMON_PARAMS(0), ...};
 * DX_SAMPLER_COMMON_PARAMS_SPACED also sets the default spacing, "uniform",
 * "logsnr" or "karras". */
#define DX_SAMPLER_COMMON_PARAMS(default_steps)                                                    \
  DX_SAMPLER_COMMON_PARAMS_SPACED(default_steps, "uniform")
#define DX_SAMPLER_COMMON_PARAMS_SPACED(default_steps, default_spacing)                            \
  {"steps",                                                                                        \
   DX_PARAM_INT,                                                                                   \
   #default_steps,                                                                                 \
   "[0, inf)",                                                                                     \
   "steps",                                                                                        \
   "sample on this many of the T steps (kept as spacing says; beta recomputed from abar); 0: "     \
   "all"},                                                                                         \
      {"clip", DX_PARAM_BOOL, "true", NULL, NULL, "clip the predicted x0 to [-1, 1]"},             \
      {"threshold",                                                                                \
       DX_PARAM_FLOAT,                                                                             \
       "0",                                                                                        \
       "[0, 1]",                                                                                   \
       NULL,                                                                                       \
       "dynamic thresholding (Saharia et al. 2022): per image, s = max(this quantile of |x0|, "    \
       "1), x0 clipped to [-s, s] and divided by s; 0 is off"},                                    \
  {                                                                                                \
    "spacing", DX_PARAM_CHOICE, default_spacing, DX_SPACING_WORDS, NULL,                           \
        "the respaced steps: evenly in t, in lambda = log(alpha / sigma), or in sigma^(1/7) "      \
        "(Karras et al. 2022)"                                                                     \
  }

/* Reads DX_SAMPLER_COMMON_PARAMS into cfg. */
DX_API void dx_sampler_read_common(const dx_params *p, dx_sampler_config *cfg);
/* create and destroy for a sampler with no state of its own and a fixed
 * variance: reads the common parameters. */
DX_API dx_status dx_sampler_create_stateless(dx_ctx *ctx, const dx_params *p,
                                             dx_sampler_config *cfg, void **state);
DX_API void dx_sampler_destroy_stateless(void *state);

/* The ancestral step of Ho et al. 2020 (Algorithm 2) with any variance:
 * x_{t-1} = mu(x_t, x0_hat) + exp(logvar / 2) z, z = 0 at i = 0, where x0_hat
 * comes from the prediction (clipped when s->clip) and mu is the posterior
 * mean. */
DX_API dx_tensor *dx_ancestral_step(dx_ctx *ctx, const dx_sampler_step *s, dx_tensor *logvar);

/* --- the loop, bits/dim ---------------------------------------------------------- */

/* Fills x (N,C,H,W), a persistent tensor, with samples: x_T ~ N(0, I) from
 * (seed, 0), then one sampler step per kept timestep down to t = 1. Resets
 * the step arena between steps; runs with grad mode off. Same seed, same
 * samples. */
DX_API dx_status dx_sample(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                           dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                           dx_tensor *x);
/* Images [first, first + N) of what dx_sample draws for `total` images: the
 * same values, bit for bit, so that ranks can split a grid between them. */
DX_API dx_status dx_sample_range(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                 dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                                 int64_t first, int64_t total, dx_tensor *x);
/* The loop of dx_sample_range on tables r as given (already respaced; the
 * sampler's steps are not looked at), starting from x, which holds x_t at
 * r's last index instead of fresh noise: SDEdit, interpolation and the
 * round trip of an inversion start there. Step noise as dx_sample_range's. */
DX_API dx_status dx_sample_loop(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *r,
                                dx_predict predict, dx_model_fn model, void *user, uint64_t seed,
                                int64_t first, int64_t total, dx_tensor *x);

/* Classifier-free guidance (Ho & Salimans 2021) and self-conditioning (Chen
 * et al. 2022) around any sampler plugin. */
typedef struct dx_guidance {
  dx_cond_model_fn model;
  void *user;
  /* The class of each image of the whole draw (total of them, as in
   * dx_sample_range), or NULL: every image is drawn with no class. */
  const int64_t *labels;
  int64_t null_label; /* the model's "no class" label */
  /* w: eps = (1 + w) eps(x, c) - w eps(x, no class), both halves in one
   * forward pass of 2N images; 0 calls the model once, with c alone. */
  double weight;
  bool self_condition; /* hand the model the previous step's x0 estimate */
} dx_guidance;

/* The guided noise (1 + w) eps_c - w eps_u, where eps_c and eps_u are the
 * model's predictions pred_c and pred_u (eps, x0 or v, unclipped) taken to
 * eps space for x_t at indices t of d. The sampler then steps with it as an
 * eps prediction, so x0 and v models are guided in eps space too. */
DX_API dx_tensor *dx_guided_eps(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict,
                                dx_tensor *x_t, const int64_t *t, dx_tensor *pred_c,
                                dx_tensor *pred_u, double w);

/* dx_sample_range with a conditional model: the same noise draws, so at
 * weight 0 with no labels and no self-conditioning it draws what
 * dx_sample_range draws. */
DX_API dx_status dx_sample_guided(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                  dx_predict predict, const dx_guidance *g, uint64_t seed,
                                  int64_t first, int64_t total, dx_tensor *x);

/* Bits per dimension of a set of images under the model: the full bound
 * L_0 + L_1 + ... + L_{T-1} + L_prior, one term per t with fresh noise from
 * (seed, t), with the sampler's variance and clipping (Ho et al. 2020 eq. 5;
 * improved-diffusion's calc_bpd_loop). Averages over the images. */
typedef struct dx_bpd_result {
  double total;   /* sum of all terms */
  double prior;   /* KL(q(x_T | x0) || N(0, I)) */
  double decoder; /* -log p(x0 | x1), the t = 1 term */
  double *per_t;  /* caller's array of d->T values, or NULL: the term at each t
                     (per_t[0] = decoder) */
} dx_bpd_result;

/* x0 is a persistent (N,C,H,W) tensor of images on the 256-level grid in
 * [-1, 1]. Resets the step arena between timesteps; grad mode off. */
DX_API dx_status dx_bits_per_dim(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d,
                                 dx_predict predict, dx_model_fn model, void *user,
                                 const dx_tensor *x0, uint64_t seed, dx_bpd_result *res);

#ifdef __cplusplus
}
#endif
#endif
