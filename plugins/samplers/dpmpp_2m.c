/* dpmpp_2m: DPM-Solver++(2M), the multistep second-order solver of the
 * diffusion ODE in its data-prediction form (Lu et al. 2022, "DPM-Solver++",
 * Algorithm 2).
 *
 * With alpha = sqrt(abar), sigma = sqrt(1 - abar), lambda = log(alpha / sigma),
 * a step from index i (time s) to the next kept time t has h = lambda_t - lambda_s
 * and, r = h_prev / h being the ratio of the previous step's h to this one's,
 *   D   = (1 + 1/(2r)) x0_hat_i - 1/(2r) x0_hat_{i+1},
 *   x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D.
 * The first step of a sequence has no previous x0_hat and takes D = x0_hat_i
 * (first order, which is DDIM at eta = 0). The last two steps are first order
 * too. The last, to sigma = 0, has h infinite and r = 0, and returns x0_hat
 * itself (diffusers' lower_order_final with a zero final sigma). The one
 * before goes into index 0 (t = 1, almost clean): on steps even in t that is
 * a long jump in lambda, about 4 times the previous h at 20 steps, where a
 * second-order step would extrapolate x0_hat by 1/(2r) ~ 2; with the Gaussian
 * oracle (tests/test_oracle.c) that overshoots the variance by 30%.
 *
 * Its steps are Karras et al.'s by default (spacing: karras, sigma^(1/7)
 * evenly from sigma = 80 down, then T - 1): on the main job's model they
 * scored a better FID than steps even in lambda (spacing: logsnr, which Lu et
 * al. advise for low-resolution images) at 10 and 20 steps and in each of
 * three seeds (docs/generation.md). On steps even in t, the cosine
 * schedule's first step, from t = T - 1 (abar about 2.4e-9, x0_hat mostly the
 * clip) to 0.95 T, carries nearly all the error at 20 steps, and it is first
 * order in every solver (docs/diffusion.md has the figures). The model may
 * predict eps, x0 or v; x0_hat is the host's conversion, clipped when `clip`
 * is on.
 *
 * With `sde: true` it is SDE-DPM-Solver++(2M) (Lu et al. 2022, the data-
 * prediction solver of the reverse SDE; diffusers' sde-dpmsolver++):
 *   x_t = (sigma_t / sigma_s) e^{-h} x_s + alpha_t (1 - e^{-2h}) D
 *         + sigma_t sqrt(1 - e^{-2h}) z,
 * the same D. At first order it is ddim at eta = 1, the ancestral step with
 * sigma^2 = beta_tilde between the kept steps; the noise it adds back lets it
 * correct errors of earlier steps instead of carrying them, which the ODE
 * cannot. Without it the solver is deterministic and ignores the host's
 * noise. For the bound (vlb loss, bits/dim) it reports sigma^2 = beta_tilde,
 * as ddim does. */
#include <math.h>
#include <stdlib.h>

#include "ddpmx/sampler.h"

static const dx_param_spec params[] = {
    {"sde", DX_PARAM_BOOL, "false", NULL, NULL,
     "solve the reverse SDE instead of the ODE: add noise at each step (SDE-DPM-Solver++)"},
    DX_SAMPLER_COMMON_PARAMS_SPACED(20, "karras"),
};

/* The previous step's x0_hat, kept on the host because the step arena is
 * reset between steps. It is used only when the previous call was index
 * i + 1 of the same tables with as many values, i.e. the step just before
 * in one sequence; anything else starts a new sequence at first order. */
typedef struct dpmpp {
  bool sde;                   /* the SDE solver: noise added at each step */
  double *prev;               /* x0_hat of the previous step, n values */
  int64_t n;                  /* values in prev; 0 when there is none */
  int64_t prev_i;             /* the index it was predicted at */
  const dx_diffusion *prev_d; /* the tables it belongs to */
} dpmpp;

static dx_status create(dx_ctx *ctx, const dx_params *p, dx_sampler_config *cfg, void **state) {
  dpmpp *s = calloc(1, sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "dpmpp_2m: out of memory");
  s->sde = dx_params_bool(p, "sde");
  dx_sampler_read_common(p, cfg);
  cfg->learns_variance = false;
  *state = s;
  return DX_OK;
}

static void destroy(void *state) {
  dpmpp *s = state;
  if (s) free(s->prev);
  free(s);
}

static dx_tensor *log_variance(dx_ctx *ctx, void *state, const dx_diffusion *d, const int64_t *t,
                               int64_t n, dx_tensor *var, dx_dtype dt) {
  (void)state, (void)var;
  return dx_diffusion_gather(ctx, d->log_beta_tilde_clipped, t, n, dt);
}

static double lambda_of(double abar) { return 0.5 * (log(abar) - log1p(-abar)); }

/* Keeps x0 (the x0_hat of index i) for the next step. */
static dx_status remember(dx_ctx *ctx, dpmpp *g, const dx_sampler_step *s, dx_tensor *x0) {
  int64_t n = dx_numel(x0);
  g->n = 0;
  if (s->i == 0) return DX_OK; /* the sequence is over */
  double *buf = realloc(g->prev, (size_t)n * sizeof *buf);
  if (!buf) return dx_set_error(ctx, DX_ERR_NOMEM, "dpmpp_2m: out of memory for x0_hat");
  g->prev = buf;
  dx_status st = dx_tensor_read(ctx, x0, buf, DX_F64);
  if (st != DX_OK) return st;
  g->n = n, g->prev_i = s->i, g->prev_d = s->d;
  return DX_OK;
}

static dx_tensor *step(dx_ctx *ctx, void *state, const dx_sampler_step *s) {
  dpmpp *g = state;
  const dx_diffusion *d = s->d;
  int64_t i = s->i;
  dx_tensor *x0 = dx_predict_x0(ctx, d, s->predict, s->x, s->t, s->pred, s->clip);
  if (!x0) return g->n = 0, NULL;
  bool second =
      i > 1 && i + 1 < d->T && g->n == dx_numel(x0) && g->prev_d == d && g->prev_i == i + 1;
  double ab_s = d->alpha_bar[i], ab_t = d->alpha_bar_prev[i];
  double alpha_t = sqrt(ab_t), ratio = sqrt((1.0 - ab_t) / (1.0 - ab_s));
  /* e^{-h} = (sigma_t / sigma_s) (alpha_s / alpha_t), finite (0) at sigma_t = 0. */
  double emh = ratio * sqrt(ab_s / ab_t);
  dx_tensor *D = x0;
  if (second) {
    double h = lambda_of(ab_t) - lambda_of(ab_s);
    double r = (lambda_of(ab_s) - lambda_of(d->alpha_bar[i + 1])) / h;
    dx_tensor *prev = dx_tensor_new_like(ctx, x0);
    if (!prev || dx_tensor_write(ctx, prev, g->prev, DX_F64) != DX_OK) return g->n = 0, NULL;
    D = dx_add(ctx, dx_scale(ctx, x0, 1.0 + 0.5 / r), dx_scale(ctx, prev, -0.5 / r));
  }
  /* The SDE's x_s decays by e^{-h} more, D weighs 1 - e^{-2h}, and the
   * noise fills the variance back up; sigma_t = 0 on the last step. */
  double keep = g->sde ? emh : 1.0, sigma_t = sqrt(1.0 - ab_t);
  dx_tensor *next = dx_add(ctx, dx_scale(ctx, s->x, ratio * keep),
                           dx_scale(ctx, D, alpha_t * (1.0 - emh * keep)));
  if (g->sde && sigma_t > 0.0)
    next = dx_add(ctx, next, dx_scale(ctx, s->noise, sigma_t * sqrt(1.0 - emh * emh)));
  if (!next || remember(ctx, g, s, x0) != DX_OK) return g->n = 0, NULL;
  return next;
}

static const dx_sampler_ops ops = {create, destroy, log_variance, step};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SAMPLER,
    "dpmpp_2m",
    "1.0.0",
    "DPM-Solver++(2M): second-order multistep sampling in 10-50 steps, of the ODE or (sde) the SDE",
    "x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D, h = lambda_t - lambda_s, "
    "D = (1 + 1/(2r)) x0_hat_s - 1/(2r) x0_hat_prev, r = h_prev / h; first and last two steps D = "
    "x0_hat_s; steps evenly spaced in lambda; sde: x_t = (sigma_t / sigma_s) e^{-h} x_s + alpha_t "
    "(1 "
    "- e^{-2h}) D + sigma_t sqrt(1 - e^{-2h}) z",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
