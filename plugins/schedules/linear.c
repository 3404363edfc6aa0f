/* linear: beta rises linearly from beta_start to beta_end (Ho et al. 2020
 * sec. 4). With `scale` on, both ends are multiplied by 1000/T so that a
 * schedule of another length adds about the same noise overall
 * (Nichol & Dhariwal 2021; improved-diffusion's get_named_beta_schedule). */
#include "ddpmx/schedule.h"

static const dx_param_spec params[] = {
    {"beta_start", DX_PARAM_FLOAT, "1e-4", "(0, 1]", NULL,
     "beta_1, the noise added by the first step"},
    {"beta_end", DX_PARAM_FLOAT, "0.02", "(0, 1]", NULL,
     "beta_T, the noise added by the last step"},
    {"scale", DX_PARAM_BOOL, "true", NULL, NULL,
     "multiply beta_start and beta_end by 1000/T (their values are the T = 1000 ones)"},
};

static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  double s = dx_params_bool(p, "scale") ? 1000.0 / (double)T : 1.0;
  double lo = s * dx_params_float(p, "beta_start"), hi = s * dx_params_float(p, "beta_end");
  if (hi > 1.0)
    return dx_set_error(
        ctx, DX_ERR_CONFIG,
        "linear: beta_end scaled by 1000/T = %g exceeds 1; use more steps or scale: false", hi);
  for (int64_t i = 0; i < T; i++)
    beta[i] = T > 1 ? lo + (hi - lo) * (double)i / (double)(T - 1) : lo;
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SCHEDULE,
    "linear",
    "1.0.0",
    "beta rising linearly from beta_start to beta_end",
    "beta_t = k (beta_start + (beta_end - beta_start) (t-1)/(T-1)), k = 1000/T if scale else 1",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
