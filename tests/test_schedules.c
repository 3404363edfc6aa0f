/* Schedule plugins: DESIGN 6's reference values, the reference JSON's beta,
 * the endpoint scaling, the sigmoid's definition, and the host's refusal of
 * a schedule whose beta leave (0, 1]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/diffusion.h"
#include "ddpmx/schedule.h"
#include "dx_test.h"
#include "dxt_json.h"
#include "dxt_plugin.h"

/* beta from a schedule plugin; the caller frees. */
static double *plugin_betas(dx_ctx *ctx, const char *name, const char *const *kv, int n,
                            int64_t T) {
  dxt_plugin p = dxt_plugin_load(name, DX_KIND_SCHEDULE, kv, n);
  const dx_schedule_ops *ops = p.ops;
  double *b = malloc((size_t)T * sizeof *b);
  ck_assert_msg(ops->betas(ctx, p.params, T, b) == DX_OK, "%s: %s", name, dx_error_message(ctx));
  dxt_plugin_free(&p);
  return b;
}

static dx_diffusion *plugin_diffusion(dx_ctx *ctx, const char *name, int64_t T) {
  double *b = plugin_betas(ctx, name, NULL, 0, T);
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  ck_assert_msg(d != NULL, "%s: %s", name, dx_error_message(ctx));
  free(b);
  return d;
}

static void assert_rel(double a, double b, double tol, const char *what) {
  ck_assert_msg(fabs(a - b) <= tol * fabs(b), "%s: %.10g vs %.10g", what, a, b);
}

START_TEST(design_reference_values) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *lin = plugin_diffusion(ctx, "linear", 1000);
  dx_diffusion *cos_ = plugin_diffusion(ctx, "cosine", 1000);
  dx_diffusion *quad = plugin_diffusion(ctx, "quadratic", 1000);
  assert_rel(lin->alpha_bar[999], 4.035830e-5, 1e-6, "linear abar_T");
  assert_rel(cos_->beta[0], 4.128422e-5, 1e-6, "cosine beta_1");
  assert_rel(cos_->alpha_bar[999], 2.428767e-9, 1e-6, "cosine abar_T");
  ck_assert_double_eq(cos_->beta[999], 0.999);
  assert_rel(quad->alpha_bar[999], 7.334125e-4, 1e-6, "quadratic abar_T");
  dx_diffusion_free(lin), dx_diffusion_free(cos_), dx_diffusion_free(quad);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(betas_match_reference_json) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_json *ref = dxt_json_load("data/diffusion_ref.json");
  const char *names[3] = {"linear", "cosine", "quadratic"};
  const int idx[7] = {0, 1, 2, 9, 499, 998, 999};
  char path[128];
  for (int s = 0; s < 3; s++) {
    double *b = plugin_betas(ctx, names[s], NULL, 0, 1000);
    for (int i = 0; i < 7; i++) {
      snprintf(path, sizeof path, "schedules.%s.tables.beta.%d", names[s], idx[i]);
      assert_rel(b[idx[i]], dxt_json_num(ref, path), 1e-12, path);
    }
    free(b);
  }
  dx_json_free(ref);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(linear_scales_endpoints_by_1000_over_T) {
  dx_ctx *ctx = dxt_ctx(1);
  double *b = plugin_betas(ctx, "linear", NULL, 0, 100);
  assert_rel(b[0], 1e-3, 1e-14, "scaled beta_1");
  assert_rel(b[99], 0.2, 1e-14, "scaled beta_T");
  free(b);
  const char *off[1] = {"scale=false"};
  b = plugin_betas(ctx, "linear", off, 1, 100);
  assert_rel(b[0], 1e-4, 1e-14, "unscaled beta_1");
  assert_rel(b[99], 0.02, 1e-14, "unscaled beta_T");
  assert_rel(b[50] - b[49], (0.02 - 1e-4) / 99, 1e-9, "constant increment");
  free(b);
  /* beta_end scaled past 1 is a configuration error, not a silent clip. */
  dxt_plugin p = dxt_plugin_load("linear", DX_KIND_SCHEDULE, NULL, 0);
  double tiny[10];
  ck_assert_int_eq(((const dx_schedule_ops *)p.ops)->betas(ctx, p.params, 10, tiny), DX_ERR_CONFIG);
  dxt_plugin_free(&p);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(quadratic_and_cosine_parameters_take_effect) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *q[2] = {"beta_start=0.0004", "beta_end=0.04"};
  double *b = plugin_betas(ctx, "quadratic", q, 2, 5);
  /* sqrt(beta) steps evenly from 0.02 to 0.2: 0.02, 0.065, 0.11, 0.155, 0.2. */
  for (int i = 0; i < 5; i++)
    assert_rel(sqrt(b[i]), 0.02 + 0.045 * i, 1e-12, "quadratic sqrt(beta)");
  free(b);
  const char *c[2] = {"s=0.0", "max_beta=0.9"};
  b = plugin_betas(ctx, "cosine", c, 2, 10);
  /* s = 0: abar(t) = cos^2(t pi / 2T) exactly; the last beta (1) is clipped. */
  double ab = 1;
  for (int i = 0; i < 9; i++) {
    ab *= 1 - b[i];
    assert_rel(ab, pow(cos((i + 1) * M_PI / 20), 2), 1e-12, "cosine abar with s = 0");
  }
  ck_assert_double_eq(b[9], 0.9);
  free(b);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(sigmoid_follows_its_definition) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *kv[3] = {"start=-2", "end=4", "tau=0.7"};
  double *b = plugin_betas(ctx, "sigmoid", kv, 3, 200);
  double lo = 1 / (1 + exp(2 / 0.7)), hi = 1 / (1 + exp(-4 / 0.7)), ab = 1;
  for (int i = 0; i < 199; i++) {
    ab *= 1 - b[i];
    double u = -2 + 6 * (i + 1) / 200.0, want = (hi - 1 / (1 + exp(-u / 0.7))) / (hi - lo);
    assert_rel(ab, want, 1e-10, "sigmoid abar");
    ck_assert(b[i] > 0 && b[i] < 1);
  }
  ck_assert_double_eq(b[199], 0.999); /* abar reaches 0 at T: clipped */
  free(b);
  const char *bad[2] = {"start=3", "end=1"};
  dxt_plugin p = dxt_plugin_load("sigmoid", DX_KIND_SCHEDULE, bad, 2);
  double tmp[4];
  ck_assert_int_eq(((const dx_schedule_ops *)p.ops)->betas(ctx, p.params, 4, tmp), DX_ERR_CONFIG);
  ck_assert_ptr_nonnull(strstr(dx_error_message(ctx), "greater than start"));
  dxt_plugin_free(&p);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(every_schedule_documents_itself) {
  const char *names[4] = {"linear", "cosine", "quadratic", "sigmoid"};
  for (int s = 0; s < 4; s++)
    dxt_plugin_check_docs(names[s], DX_KIND_SCHEDULE);
}
END_TEST

START_TEST(every_schedule_has_valid_betas_at_many_lengths) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *names[4] = {"linear", "cosine", "quadratic", "sigmoid"};
  const int64_t Ts[3] = {50, 1000, 4000};
  for (int s = 0; s < 4; s++)
    for (int k = 0; k < 3; k++) {
      double *b = plugin_betas(ctx, names[s], NULL, 0, Ts[k]);
      dx_diffusion *d = dx_diffusion_create(ctx, b, Ts[k]);
      ck_assert_msg(d != NULL, "%s T=%lld: %s", names[s], (long long)Ts[k], dx_error_message(ctx));
      for (int64_t i = 1; i < Ts[k]; i++)
        ck_assert(d->alpha_bar[i] < d->alpha_bar[i - 1]);
      dx_diffusion_free(d);
      free(b);
    }
  dx_ctx_free(ctx);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedules");
  TCase *tc = tcase_create("schedules");
  DXT_ADD(tc, design_reference_values);
  DXT_ADD(tc, betas_match_reference_json);
  DXT_ADD(tc, linear_scales_endpoints_by_1000_over_T);
  DXT_ADD(tc, quadratic_and_cosine_parameters_take_effect);
  DXT_ADD(tc, sigmoid_follows_its_definition);
  DXT_ADD(tc, every_schedule_documents_itself);
  DXT_ADD(tc, every_schedule_has_valid_betas_at_many_lengths);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(suite()); }
