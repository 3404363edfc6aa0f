/* sigmoid: abar falls along a sigmoid of (start + (end - start) t/T) / tau,
 * rescaled to run from 1 to 0 (Jabri et al. 2022, "Scalable adaptive
 * computation", and Chen 2023, "On the importance of noise scheduling"). A
 * larger tau flattens the curve; start and end choose which part of the
 * sigmoid is used. */
#include <math.h>

#include "ddpmx/schedule.h"

static const dx_param_spec params[] = {
    {"start", DX_PARAM_FLOAT, "-3", "(-inf, inf)", NULL, "sigmoid input at t = 0"},
    {"end", DX_PARAM_FLOAT, "3", "(-inf, inf)", NULL, "sigmoid input at t = T; must exceed start"},
    {"tau", DX_PARAM_FLOAT, "1.0", "(0, inf)", NULL, "temperature: inputs are divided by tau"},
    {"max_beta", DX_PARAM_FLOAT, "0.999", "(0, 1]", NULL, "upper clip applied to every beta"},
};

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* abar(t) = (sigmoid(end/tau) - sigmoid((start + (end - start) t/T)/tau))
 *           / (sigmoid(end/tau) - sigmoid(start/tau)), 1 at t = 0, 0 at t = T. */
static double abar(double t, double T, double start, double end, double tau) {
  double v_start = sigmoid(start / tau), v_end = sigmoid(end / tau);
  return (v_end - sigmoid((start + (end - start) * t / T) / tau)) / (v_end - v_start);
}

static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  double start = dx_params_float(p, "start"), end = dx_params_float(p, "end");
  double tau = dx_params_float(p, "tau"), max_beta = dx_params_float(p, "max_beta");
  if (!(end > start))
    return dx_set_error(ctx, DX_ERR_CONFIG, "sigmoid: end (%g) must be greater than start (%g)",
                        end, start);
  for (int64_t i = 0; i < T; i++) {
    double a0 = abar((double)i, (double)T, start, end, tau);
    double a1 = abar((double)(i + 1), (double)T, start, end, tau);
    beta[i] = fmin(1.0 - a1 / a0, max_beta);
  }
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SCHEDULE,
    "sigmoid",
    "1.0.0",
    "abar falling along a rescaled sigmoid (Jabri et al. 2022)",
    "beta_t = min(1 - g(t)/g(t-1), max_beta), g(t) = (S(end/tau) - S((start + (end-start) "
    "t/T)/tau)) / (S(end/tau) - S(start/tau))",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
