/* The diffusion core: tables, respacing, Gaussian math, VLB terms and the
 * conversions between eps, x0 and v, against tests/data/diffusion_ref.json
 * (written by PyTorch in float64; see /work/shared/testdata/README.md) and
 * against closed forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/diffusion.h"
#include "dx_test.h"
#include "dxt_json.h"

#define REF "data/diffusion_ref.json"
static const char *SCHEDULES[3] = {"linear", "cosine", "quadratic"};

/* beta written out here, independently of the schedule plugins, as the
 * reference script does (DESIGN 6). */
static double *ref_betas(const char *kind, int64_t T) {
  double *b = malloc((size_t)T * sizeof *b);
  for (int64_t i = 0; i < T; i++) {
    double f = (double)i / (double)(T - 1);
    if (!strcmp(kind, "linear"))
      b[i] = 1e-4 + f * (0.02 - 1e-4);
    else if (!strcmp(kind, "quadratic"))
      b[i] = pow(sqrt(1e-4) + f * (sqrt(0.02) - sqrt(1e-4)), 2);
    else {
      double a0 = pow(cos(((double)i / T + 0.008) / 1.008 * M_PI / 2), 2);
      double a1 = pow(cos(((double)(i + 1) / T + 0.008) / 1.008 * M_PI / 2), 2);
      b[i] = fmin(1 - a1 / a0, 0.999);
    }
  }
  return b;
}

static dx_diffusion *ref_diffusion(dx_ctx *ctx, const char *kind, int64_t T) {
  double *b = ref_betas(kind, T);
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  ck_assert_msg(d != NULL, "%s", dx_error_message(ctx));
  free(b);
  return d;
}

/* |a - b| <= tol * |b|, with an absolute floor for references that are 0. */
static void assert_close(double a, double b, double tol, const char *what) {
  ck_assert_msg(fabs(a - b) <= tol * fmax(fabs(b), 1e-300) || fabs(a - b) < 1e-15,
                "%s: %.17g vs reference %.17g (rel err %.3g)", what, a, b, fabs(a - b) / fabs(b));
}

static const int IDX[7] = {0, 1, 2, 9, 499, 998, 999};

START_TEST(tables_match_reference) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_json *ref = dxt_json_load(REF);
  char path[160];
  for (int s = 0; s < 3; s++) {
    dx_diffusion *d = ref_diffusion(ctx, SCHEDULES[s], 1000);
    struct {
      const char *name;
      const double *v;
    } tabs[] = {{"beta", d->beta},
                {"alpha_bar", d->alpha_bar},
                {"alpha_bar_prev", d->alpha_bar_prev},
                {"beta_tilde", d->beta_tilde},
                {"log_beta_tilde_clipped", d->log_beta_tilde_clipped},
                {"log_variance_beta", d->log_beta},
                {"posterior_mean_coef1", d->posterior_mean_coef1},
                {"posterior_mean_coef2", d->posterior_mean_coef2}};
    for (size_t k = 0; k < sizeof tabs / sizeof tabs[0]; k++)
      for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "schedules.%s.tables.%s.%d", SCHEDULES[s], tabs[k].name,
                 IDX[i]);
        assert_close(tabs[k].v[IDX[i]], dxt_json_num(ref, path), 1e-12, path);
      }
    for (int i = 0; i < 1000; i++) {
      assert_close(d->sqrt_alpha_bar[i], sqrt(d->alpha_bar[i]), 1e-15, "sqrt abar");
      assert_close(d->sqrt_one_minus_alpha_bar[i], sqrt(1 - d->alpha_bar[i]), 1e-15, "sqrt 1-abar");
      ck_assert_int_eq(d->timestep_map[i], i);
    }
    dx_diffusion_free(d);
  }
  dx_json_free(ref);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(alpha_bar_strictly_decreasing) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int s = 0; s < 3; s++) {
    dx_diffusion *d = ref_diffusion(ctx, SCHEDULES[s], 1000);
    ck_assert(d->alpha_bar[0] < 1.0);
    for (int i = 1; i < 1000; i++)
      ck_assert_msg(d->alpha_bar[i] < d->alpha_bar[i - 1], "%s: abar not decreasing at %d",
                    SCHEDULES[s], i);
    ck_assert(d->alpha_bar[999] > 0.0);
    dx_diffusion_free(d);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(betas_outside_unit_interval_are_refused) {
  dx_ctx *ctx = dxt_ctx(1);
  double bad[3][4] = {{0.1, 0.2, 0.0, 0.3}, {0.1, 1.5, 0.2, 0.3}, {0.1, 0.2, 0.3, NAN}};
  int where[3] = {2, 1, 3};
  for (int k = 0; k < 3; k++) {
    ck_assert_ptr_null(dx_diffusion_create(ctx, bad[k], 4));
    ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
    char want[64];
    snprintf(want, sizeof want, "beta at index %d", where[k]);
    ck_assert_msg(strstr(dx_error_message(ctx), want), "message: %s", dx_error_message(ctx));
    dx_clear_error(ctx);
  }
  double ok[2] = {0.5, 1.0}; /* beta = 1 is allowed: (0, 1] */
  dx_diffusion *d = dx_diffusion_create(ctx, ok, 2);
  ck_assert_ptr_nonnull(d);
  ck_assert_double_eq(d->alpha_bar[1], 0.0);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(space_timesteps_matches_improved_diffusion) {
  dx_ctx *ctx = dxt_ctx(1);
  /* Python's round() is half-to-even: 166.5 -> 166, 832.5 -> 832, 49.5 -> 50. */
  int64_t k[10];
  ck_assert_int_eq(dx_space_timesteps(ctx, 1000, 7, k), DX_OK);
  int64_t want7[7] = {0, 166, 333, 500, 666, 832, 999};
  for (int i = 0; i < 7; i++)
    ck_assert_int_eq(k[i], want7[i]);
  ck_assert_int_eq(dx_space_timesteps(ctx, 100, 3, k), DX_OK);
  ck_assert_int_eq(k[1], 50);
  ck_assert_int_eq(k[2], 99);
  ck_assert_int_eq(dx_space_timesteps(ctx, 1000, 10, k), DX_OK);
  ck_assert_int_eq(k[1], 111);
  ck_assert_int_eq(k[9], 999);
  ck_assert_int_eq(dx_space_timesteps(ctx, 1000, 1, k), DX_OK);
  ck_assert_int_eq(k[0], 0);
  ck_assert_int_ne(dx_space_timesteps(ctx, 10, 11, k), DX_OK);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(respacing_keeps_the_marginals) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = ref_diffusion(ctx, "cosine", 1000);
  int64_t keep[50];
  ck_assert_int_eq(dx_space_timesteps(ctx, 1000, 50, keep), DX_OK);
  dx_diffusion *r = dx_diffusion_respace(ctx, d, keep, 50);
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(r->T, 50);
  ck_assert_int_eq(r->T_original, 1000);
  for (int i = 0; i < 50; i++) {
    assert_close(r->alpha_bar[i], d->alpha_bar[keep[i]], 1e-12, "respaced abar");
    ck_assert_int_eq(r->timestep_map[i], keep[i]);
    ck_assert(r->beta[i] > 0 && r->beta[i] <= 1);
  }
  /* Respacing a respaced schedule maps back to the original steps. */
  int64_t again[3] = {0, 10, 49};
  dx_diffusion *rr = dx_diffusion_respace(ctx, r, again, 3);
  ck_assert_int_eq(rr->timestep_map[1], keep[10]);
  assert_close(rr->alpha_bar[2], d->alpha_bar[999], 1e-12, "twice respaced abar");
  /* Keeping every step gives the original tables back. */
  int64_t all[1000];
  for (int i = 0; i < 1000; i++)
    all[i] = i;
  dx_diffusion *same = dx_diffusion_respace(ctx, d, all, 1000);
  for (int i = 0; i < 1000; i++)
    assert_close(same->beta[i], d->beta[i], 1e-9, "identity respace");
  int64_t bad[2] = {5, 5};
  ck_assert_ptr_null(dx_diffusion_respace(ctx, d, bad, 2));
  dx_diffusion_free(same), dx_diffusion_free(rr), dx_diffusion_free(r), dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(kl_of_equal_gaussians_is_zero) {
  double cases[4][2] = {{0, 0}, {1.5, -3}, {-0.2, 2.5}, {7, -12}};
  for (int i = 0; i < 4; i++)
    ck_assert_double_eq_tol(dx_normal_kl(cases[i][0], cases[i][1], cases[i][0], cases[i][1]), 0.0,
                            1e-15);
  /* Closed forms: KL(N(0,1) || N(1,1)) = 1/2; KL(N(0,1) || N(0,e^2)) = (e^-2 + 2 - 1)/2. */
  ck_assert_double_eq_tol(dx_normal_kl(0, 0, 1, 0), 0.5, 1e-15);
  ck_assert_double_eq_tol(dx_normal_kl(0, 0, 0, 2), 0.5 * (exp(-2) + 1), 1e-15);
  ck_assert(dx_normal_kl(0, 0, 0.1, 0.1) > 0);
}
END_TEST

START_TEST(discretized_likelihood_sums_to_one) {
  double means[4] = {0.0, -0.97, 0.5, 1.2}, log_scales[4] = {-5.0, -2.0, 0.0, -0.5};
  for (int m = 0; m < 4; m++)
    for (int s = 0; s < 4; s++) {
      double total = 0;
      for (int k = 0; k < 256; k++)
        total +=
            exp(dx_discretized_gaussian_log_likelihood(k / 127.5 - 1.0, means[m], log_scales[s]));
      /* Clamping adds at most 256e-12 where bins underflow. */
      ck_assert_msg(fabs(total - 1.0) < 1e-9, "mean %g log_scale %g: sum %.15g", means[m],
                    log_scales[s], total);
    }
  /* The tanh CDF approximation: symmetric and close to Phi. */
  for (double x = -4; x <= 4; x += 0.25) {
    ck_assert_double_eq_tol(dx_approx_std_normal_cdf(x) + dx_approx_std_normal_cdf(-x), 1.0, 1e-15);
    ck_assert_double_eq_tol(dx_approx_std_normal_cdf(x), 0.5 * erfc(-x / sqrt(2)), 2e-3);
  }
}
END_TEST

/* The reference's x_t, posterior means, model means and VLB terms,
 * recomputed on the host from the tables and the Gaussian functions. */
static void check_case(const dx_diffusion *d, const dx_json *sch, int c, const double *x0,
                       const double *eps, const double *eps_hat) {
  char p[128];
  snprintf(p, sizeof p, "cases.%d", c);
  const dx_json *cs = dxt_json_at(sch, p);
  int i = (int)dxt_json_num(cs, "index");
  int64_t n;
  double *xt_ref = dxt_json_nums(cs, "x_t", &n), *pm_ref = dxt_json_nums(cs, "posterior_mean", &n);
  assert_close(d->log_beta_tilde_clipped[i], dxt_json_num(cs, "posterior_log_variance_clipped"),
               1e-12, "plv");
  for (int clip = 0; clip < 2; clip++) {
    const char *key = clip ? "clipped" : "unclipped";
    snprintf(p, sizeof p, "model_mean_%s", key);
    double *mm_ref = dxt_json_nums(cs, p, &n);
    double bits[2][2] = {{0}}; /* [variance][image] */
    for (int j = 0; j < 16; j++) {
      double xt = d->sqrt_alpha_bar[i] * x0[j] + d->sqrt_one_minus_alpha_bar[i] * eps[j];
      double pm = d->posterior_mean_coef1[i] * x0[j] + d->posterior_mean_coef2[i] * xt;
      double x0p = (xt - d->sqrt_one_minus_alpha_bar[i] * eps_hat[j]) / d->sqrt_alpha_bar[i];
      if (clip) x0p = fmin(fmax(x0p, -1), 1);
      double mm = d->posterior_mean_coef1[i] * x0p + d->posterior_mean_coef2[i] * xt;
      /* Pixels are O(1): compare on that scale (a mean near 0 has no
       * meaningful relative error). */
      ck_assert_double_eq_tol(xt, xt_ref[j], 1e-12);
      ck_assert_double_eq_tol(pm, pm_ref[j], 1e-12);
      ck_assert_double_eq_tol(mm, mm_ref[j], 1e-12);
      const double lv[2] = {d->log_beta_tilde_clipped[i], d->log_beta[i]};
      for (int v = 0; v < 2; v++)
        bits[v][j / 8] += (i == 0 ? -dx_discretized_gaussian_log_likelihood(x0[j], mm, 0.5 * lv[v])
                                  : dx_normal_kl(pm, d->log_beta_tilde_clipped[i], mm, lv[v])) /
                          (8 * M_LN2);
    }
    const char *var[2] = {"beta_tilde", "beta"};
    for (int v = 0; v < 2; v++) {
      snprintf(p, sizeof p, "vlb_bits_per_dim_%s_%s", var[v], key);
      double *ref = dxt_json_nums(cs, p, &n);
      for (int im = 0; im < 2; im++)
        ck_assert_msg(fabs(bits[v][im] - ref[im]) < 1e-9, "index %d %s image %d: %.15g vs %.15g", i,
                      p, im, bits[v][im], ref[im]);
      free(ref);
    }
    free(mm_ref);
  }
  free(xt_ref), free(pm_ref);
}

START_TEST(vlb_terms_match_reference_on_host) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_json *ref = dxt_json_load(REF);
  char p[64];
  for (int s = 0; s < 3; s++) {
    snprintf(p, sizeof p, "schedules.%s", SCHEDULES[s]);
    const dx_json *sch = dxt_json_at(ref, p);
    dx_diffusion *d = ref_diffusion(ctx, SCHEDULES[s], 1000);
    int64_t n;
    double *x0 = dxt_json_nums(sch, "x0", &n), *eps = dxt_json_nums(sch, "eps", &n);
    double *eps_hat = dxt_json_nums(sch, "eps_hat", &n);
    for (int c = 0; c < dxt_json_len(sch, "cases"); c++)
      check_case(d, sch, c, x0, eps, eps_hat);
    double *prior = dxt_json_nums(sch, "prior_bits_per_dim", &n);
    for (int im = 0; im < 2; im++) {
      double b = 0;
      for (int j = 0; j < 8; j++)
        b += dx_normal_kl(d->sqrt_alpha_bar[999] * x0[im * 8 + j], log(1 - d->alpha_bar[999]), 0,
                          0) /
             (8 * M_LN2);
      ck_assert_double_eq_tol(b, prior[im], 1e-9);
    }
    free(x0), free(eps), free(eps_hat), free(prior);
    dx_diffusion_free(d);
  }
  dx_json_free(ref);
  dx_ctx_free(ctx);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("diffusion");
  TCase *host = tcase_create("host");
  DXT_ADD(host, tables_match_reference);
  DXT_ADD(host, alpha_bar_strictly_decreasing);
  DXT_ADD(host, betas_outside_unit_interval_are_refused);
  DXT_ADD(host, space_timesteps_matches_improved_diffusion);
  DXT_ADD(host, respacing_keeps_the_marginals);
  DXT_ADD(host, kl_of_equal_gaussians_is_zero);
  DXT_ADD(host, discretized_likelihood_sums_to_one);
  DXT_ADD(host, vlb_terms_match_reference_on_host);
  suite_add_tcase(s, host);
  return s;
}

int main(void) { return dxt_run(suite()); }
