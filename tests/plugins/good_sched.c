/* A valid schedule with one parameter of every type, one of them required. */
#include <ddpmx/schedule.h>

static const dx_param_spec params[] = {
    {"s", DX_PARAM_FLOAT, "0.008", "[0, 0.5)", NULL, "offset of the cosine"},
    {"steps", DX_PARAM_INT, "10", "[1, 1000]", "steps", "how many"},
    {"clip", DX_PARAM_BOOL, "true", NULL, NULL, "clip beta at 0.999"},
    {"mode", DX_PARAM_CHOICE, "erf", "erf|tanh", NULL, "approximation"},
    {"label", DX_PARAM_STRING, "x", NULL, NULL, "free text"},
    {"scale", DX_PARAM_FLOAT, NULL, "(0, inf)", NULL, "required scale"},
};

/* beta_t = scale * t / T, enough to call through the table in a test. */
static dx_status betas(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta) {
  (void)ctx;
  for (int64_t t = 0; t < T; t++)
    beta[t] = dx_params_float(p, "scale") * (double)(t + 1) / (double)T;
  return DX_OK;
}

static const dx_schedule_ops ops = {betas};
static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,    DX_KIND_SCHEDULE, "good_sched",     "1.2.3", "a schedule for tests",
    "beta_t = scale * t / T", params,           DX_COUNT(params), &ops};
DX_PLUGIN_DEFINE(desc)
