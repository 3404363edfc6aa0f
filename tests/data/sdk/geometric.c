/* geometric: a noise schedule in which each beta is the one before times a
 * constant factor, rising from beta_start at t = 1 to beta_end at t = T. */
#include <math.h>

#include <ddpmx/schedule.h>

static const dx_param_spec params[] = {
    {"beta_start", DX_PARAM_FLOAT, "0.0001", "(0, 1)", NULL, "beta_1, the noise of the first step"},
    {"beta_end", DX_PARAM_FLOAT, "0.02", "(0, 1)", NULL, "beta_T, the noise of the last step"},
};

/* beta_t = beta_start * r^(t-1) with r = (beta_end / beta_start)^(1/(T-1)). */
static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  double start = dx_params_float(p, "beta_start"), end = dx_params_float(p, "beta_end");
  if (end < start)
    return dx_set_error(ctx, DX_ERR_CONFIG, "geometric: beta_end %g is below beta_start %g", end,
                        start);
  double log_r = T > 1 ? log(end / start) / (double)(T - 1) : 0.0;
  for (int64_t t = 0; t < T; t++)
    beta[t] = start * exp(log_r * (double)t);
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};

static const dx_plugin_desc desc = {DX_PLUGIN_ABI_VERSION,
                                    DX_KIND_SCHEDULE,
                                    "geometric",
                                    "1.0.0",
                                    "beta growing by a constant factor from beta_start to beta_end",
                                    "beta_t = beta_start (beta_end / beta_start)^((t-1)/(T-1))",
                                    params,
                                    DX_COUNT(params),
                                    &ops};

DX_PLUGIN_DEFINE(desc)
