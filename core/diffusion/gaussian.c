/* Gaussian math of the bound: the KL between two Gaussians and the
 * discretized Gaussian decoder likelihood (Ho et al. 2020 eq. 13), on the
 * host in float64 and on tensors (differentiable, for the vlb losses). */
#include <float.h>
#include <math.h>

#include "diffusion/internal.h"

/* Half a bin: pixels on 256 levels in [-1, 1] are 2/255 apart. */
#define HALF_BIN (1.0 / 255.0)
/* The outer bins are open: below -0.999 and above 0.999 (improved-diffusion). */
#define EDGE 0.999
#define MIN_PROB 1e-12

double dx_normal_kl(double m1, double lv1, double m2, double lv2) {
  double dm = m1 - m2;
  return 0.5 * (-1.0 + lv2 - lv1 + exp(lv1 - lv2) + dm * dm * exp(-lv2));
}

/* Hendrycks & Gimpel's tanh form of Phi, which improved-diffusion uses;
 * keeping it makes bits/dim comparable with published numbers (DESIGN 6). */
double dx_approx_std_normal_cdf(double x) {
  return 0.5 * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

double dx_discretized_gaussian_log_likelihood(double x, double mean, double log_scale) {
  double inv = exp(-log_scale), c = x - mean;
  double cdf_plus = dx_approx_std_normal_cdf(inv * (c + HALF_BIN));
  double cdf_min = dx_approx_std_normal_cdf(inv * (c - HALF_BIN));
  if (x < -EDGE) return log(fmax(cdf_plus, MIN_PROB));
  if (x > EDGE) return log(fmax(1.0 - cdf_min, MIN_PROB));
  return log(fmax(cdf_plus - cdf_min, MIN_PROB));
}
/* --- tensors ---------------------------------------------------------------- */

dx_tensor *dx_normal_kl_tensor(dx_ctx *ctx, dx_tensor *m1, dx_tensor *lv1, dx_tensor *m2,
                               dx_tensor *lv2) {
  dx_tensor *dm2 = dx_square(ctx, dx_sub(ctx, m1, m2));
  dx_tensor *mean_part = dx_mul(ctx, dm2, dx_exp(ctx, dx_scale(ctx, lv2, -1.0)));
  dx_tensor *var_part = dx_add(ctx, dx_sub(ctx, lv2, lv1), dx_exp(ctx, dx_sub(ctx, lv1, lv2)));
  return dx_scale(ctx, dx_add_scalar(ctx, dx_add(ctx, var_part, mean_part), -1.0), 0.5);
}

static dx_tensor *approx_cdf(dx_ctx *ctx, dx_tensor *x) {
  dx_tensor *cube = dx_mul(ctx, dx_square(ctx, x), x);
  dx_tensor *inner = dx_scale(ctx, dx_add(ctx, x, dx_scale(ctx, cube, 0.044715)), sqrt(2.0 / M_PI));
  return dx_scale(ctx, dx_add_scalar(ctx, dx_tanh(ctx, inner), 1.0), 0.5);
}

static dx_tensor *safe_log(dx_ctx *ctx, dx_tensor *p) {
  return dx_log(ctx, dx_clamp(ctx, p, MIN_PROB, DBL_MAX));
}

dx_tensor *dx_discretized_gaussian_log_likelihood_tensor(dx_ctx *ctx, dx_tensor *x, dx_tensor *mean,
                                                         dx_tensor *log_scale) {
  dx_tensor *inv = dx_exp(ctx, dx_scale(ctx, log_scale, -1.0));
  dx_tensor *c = dx_sub(ctx, x, mean);
  dx_tensor *cdf_plus = approx_cdf(ctx, dx_mul(ctx, inv, dx_add_scalar(ctx, c, HALF_BIN)));
  dx_tensor *cdf_min = approx_cdf(ctx, dx_mul(ctx, inv, dx_add_scalar(ctx, c, -HALF_BIN)));
  dx_tensor *log_low = safe_log(ctx, cdf_plus);
  dx_tensor *log_high = safe_log(ctx, dx_add_scalar(ctx, dx_scale(ctx, cdf_min, -1.0), 1.0));
  dx_tensor *log_mid = safe_log(ctx, dx_sub(ctx, cdf_plus, cdf_min));
  dx_tensor *high = dx_where(ctx, dx_compare(ctx, x, DX_CMP_GT, EDGE), log_high, log_mid);
  return dx_where(ctx, dx_compare(ctx, x, DX_CMP_LT, -EDGE), log_low, high);
}
