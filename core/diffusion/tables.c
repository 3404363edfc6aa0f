/* The float64 tables derived from beta (Ho et al. 2020 sec. 2; posterior
 * variance and the clipped log as in improved-diffusion, DESIGN 6). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/internal.h"

enum { N_TABLES = 11 };

/* One allocation holds every table, then the timestep map. */
dx_diffusion *dx_diffusion_alloc(dx_ctx *ctx, int64_t T) {
  dx_diffusion *d = calloc(1, sizeof *d);
  double *mem = malloc((size_t)T * (N_TABLES * sizeof(double) + sizeof(int64_t)));
  if (!d || !mem) {
    free(d), free(mem);
    dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for diffusion tables of %lld steps",
                 (long long)T);
    return NULL;
  }
  double **slot[N_TABLES] = {&d->beta,
                             &d->alpha,
                             &d->alpha_bar,
                             &d->alpha_bar_prev,
                             &d->sqrt_alpha_bar,
                             &d->sqrt_one_minus_alpha_bar,
                             &d->beta_tilde,
                             &d->log_beta_tilde_clipped,
                             &d->log_beta,
                             &d->posterior_mean_coef1,
                             &d->posterior_mean_coef2};
  for (int i = 0; i < N_TABLES; i++)
    *slot[i] = mem + (size_t)i * (size_t)T;
  d->timestep_map = (int64_t *)(mem + (size_t)N_TABLES * (size_t)T);
  d->T = T;
  return d;
}

static bool betas_valid(dx_ctx *ctx, const double *beta, int64_t T) {
  for (int64_t i = 0; i < T; i++)
    if (!(beta[i] > 0.0 && beta[i] <= 1.0)) {
      dx_set_error(ctx, DX_ERR_INVALID,
                   "schedule: beta at index %lld is %g; every beta must lie in (0, 1]",
                   (long long)i, beta[i]);
      return false;
    }
  return true;
}

void dx_diffusion_derive(dx_diffusion *d) {
  int64_t T = d->T;
  double abar = 1.0;
  for (int64_t i = 0; i < T; i++) {
    d->alpha[i] = 1.0 - d->beta[i];
    d->alpha_bar_prev[i] = abar;
    abar *= d->alpha[i];
    d->alpha_bar[i] = abar;
    d->sqrt_alpha_bar[i] = sqrt(abar);
    d->sqrt_one_minus_alpha_bar[i] = sqrt(1.0 - abar);
    /* Ho et al. 2020 eq. 7: beta_tilde and the posterior mean coefficients. */
    double ap = d->alpha_bar_prev[i];
    d->beta_tilde[i] = d->beta[i] * (1.0 - ap) / (1.0 - abar);
    d->posterior_mean_coef1[i] = d->beta[i] * sqrt(ap) / (1.0 - abar);
    d->posterior_mean_coef2[i] = (1.0 - ap) * sqrt(d->alpha[i]) / (1.0 - abar);
  }
  /* beta_tilde is 0 at t = 1, so its log there borrows t = 2's value; the
   * sigma^2 = beta variance does the same at t = 1 (improved-diffusion). With
   * one step there is no t = 2 and beta itself is used. */
  double first = T > 1 ? log(d->beta_tilde[1]) : log(d->beta[0]);
  for (int64_t i = 0; i < T; i++) {
    d->log_beta_tilde_clipped[i] = i == 0 ? first : log(d->beta_tilde[i]);
    d->log_beta[i] = i == 0 ? first : log(d->beta[i]);
  }
}

dx_diffusion *dx_diffusion_create(dx_ctx *ctx, const double *beta, int64_t T) {
  if (!beta || T < 1) {
    dx_set_error(ctx, DX_ERR_INVALID, "diffusion: need at least one step (T = %lld)", (long long)T);
    return NULL;
  }
  if (!betas_valid(ctx, beta, T)) return NULL;
  dx_diffusion *d = dx_diffusion_alloc(ctx, T);
  if (!d) return NULL;
  memcpy(d->beta, beta, (size_t)T * sizeof *beta);
  for (int64_t i = 0; i < T; i++)
    d->timestep_map[i] = i;
  d->T_original = T;
  dx_diffusion_derive(d);
  return d;
}

void dx_diffusion_free(dx_diffusion *d) {
  if (!d) return;
  free(d->beta); /* the first table owns the whole block */
  free(d);
}
