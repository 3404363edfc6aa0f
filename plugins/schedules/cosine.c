/* cosine: abar follows a squared cosine, so that noise grows slowly at both
 * ends (Nichol & Dhariwal 2021 eq. 17); beta is clipped at max_beta to keep
 * the last steps from being singular near t = T. */
#include <math.h>

#include "ddpmx/schedule.h"

static const dx_param_spec params[] = {
    {"s", DX_PARAM_FLOAT, "0.008", "[0, 1)", NULL,
     "offset that keeps beta_1 from being vanishingly small"},
    {"max_beta", DX_PARAM_FLOAT, "0.999", "(0, 1]", NULL, "upper clip applied to every beta"},
};

/* abar(t) before normalisation: cos^2(((t/T + s) / (1 + s)) pi/2). */
static double f(double t, double T, double s) {
  double c = cos((t / T + s) / (1.0 + s) * M_PI / 2.0);
  return c * c;
}

static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  (void)ctx;
  double s = dx_params_float(p, "s"), max_beta = dx_params_float(p, "max_beta");
  for (int64_t i = 0; i < T; i++)
    beta[i] = fmin(1.0 - f((double)(i + 1), (double)T, s) / f((double)i, (double)T, s), max_beta);
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_SCHEDULE,
    "cosine",
    "1.0.0",
    "abar from a squared cosine (Improved DDPM)",
    "beta_t = min(1 - f(t)/f(t-1), max_beta), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2)",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
