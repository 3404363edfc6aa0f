/* Gaussian math of the bound: the KL between two Gaussians and the
 * discretized Gaussian decoder likelihood (Ho et al. 2020 eq. 13), on the
 * host in float64 and on tensors (differentiable, for the vlb losses). */
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
