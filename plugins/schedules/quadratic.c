/* quadratic: sqrt(beta) rises linearly, so beta starts flatter than the
 * linear schedule (as in the DDPM authors' code and DESIGN 6). */
#include <math.h>

#include "ddpmx/schedule.h"

static const dx_param_spec params[] = {
    {"beta_start", DX_PARAM_FLOAT, "1e-4", "(0, 1]", NULL,
     "beta_1, the noise added by the first step"},
    {"beta_end", DX_PARAM_FLOAT, "0.02", "(0, 1]", NULL,
     "beta_T, the noise added by the last step"},
};

static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  (void)ctx;
  double lo = sqrt(dx_params_float(p, "beta_start")), hi = sqrt(dx_params_float(p, "beta_end"));
  for (int64_t i = 0; i < T; i++) {
    double r = T > 1 ? lo + (hi - lo) * (double)i / (double)(T - 1) : lo;
    beta[i] = r * r;
  }
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SCHEDULE,
    "quadratic",
    "1.0.0",
    "sqrt(beta) rising linearly from sqrt(beta_start) to sqrt(beta_end)",
    "beta_t = (sqrt(beta_start) + (sqrt(beta_end) - sqrt(beta_start)) (t-1)/(T-1))^2",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
