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

typedef dx_status (*spacing_fn)(dx_ctx *, const dx_diffusion *, int64_t, int64_t *);

/* The logSNR steps and Karras et al.'s (rho = 7, sigma_max = 80) against
 * lists computed independently with NumPy (the schedules of ref_betas; each
 * step the global argmin of |lambda - target|, or of |sigma^(1/7) -
 * target|, over 0..T-2, not ddpmx's walk), and their fallbacks: fewer than
 * 3 steps are those of dx_space_timesteps, T steps are every step. */
START_TEST(spaced_steps_match_numpy) {
  dx_ctx *ctx = dxt_ctx(1);
  static const int64_t log_cos20[20] = {0,   2,   8,   20,  45,  91,  177, 321, 517, 705,
                                        836, 912, 953, 975, 986, 992, 995, 997, 998, 999};
  static const int64_t log_lin10[10] = {0, 5, 22, 73, 202, 410, 603, 757, 886, 999};
  static const int64_t kar_cos20[20] = {0,   5,   20,  54,  117, 224, 377, 549, 697, 802,
                                        870, 913, 941, 959, 971, 979, 984, 988, 991, 999};
  static const int64_t kar_lin10[10] = {0, 18, 98, 292, 501, 654, 767, 856, 930, 999};
  const struct {
    spacing_fn space;
    const char *kind;
    int64_t n;
    const int64_t *want;
  } cases[4] = {{dx_space_timesteps_logsnr, "cosine", 20, log_cos20},
                {dx_space_timesteps_logsnr, "linear", 10, log_lin10},
                {dx_space_timesteps_karras, "cosine", 20, kar_cos20},
                {dx_space_timesteps_karras, "linear", 10, kar_lin10}};
  for (int c = 0; c < 4; c++) {
    dx_diffusion *d = ref_diffusion(ctx, cases[c].kind, 1000);
    int64_t keep[20];
    ck_assert_int_eq(cases[c].space(ctx, d, cases[c].n, keep), DX_OK);
    for (int64_t i = 0; i < cases[c].n; i++)
      ck_assert_msg(keep[i] == cases[c].want[i],
                    "case %d, %s %lld steps: step %lld is %lld, want %lld", c, cases[c].kind,
                    (long long)cases[c].n, (long long)i, (long long)keep[i],
                    (long long)cases[c].want[i]);
    dx_diffusion_free(d);
  }
  dx_diffusion *d = ref_diffusion(ctx, "cosine", 1000);
  int64_t *all = malloc(1000 * sizeof *all);
  for (int c = 0; c < 4; c += 2) {
    int64_t a[2], b[2];
    ck_assert_int_eq(cases[c].space(ctx, d, 2, a), DX_OK);
    ck_assert_int_eq(dx_space_timesteps(ctx, 1000, 2, b), DX_OK);
    ck_assert(a[0] == b[0] && a[1] == b[1]);
    ck_assert_int_ne(cases[c].space(ctx, d, 1001, a), DX_OK);
    ck_assert_int_eq(cases[c].space(ctx, d, 1000, all), DX_OK);
    for (int64_t i = 0; i < 1000; i++)
      ck_assert_int_eq(all[i], i);
  }
  free(all);
  dx_diffusion_free(d);
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

/* --- tensors ---------------------------------------------------------------------- */

static dx_tensor *tensor_of(dx_ctx *ctx, const double *v, int64_t n, int64_t c, int64_t h,
                            int64_t w) {
  int64_t shape[4] = {n, c, h, w};
  dx_tensor *t = dx_tensor_new(ctx, DX_F64, 4, shape);
  ck_assert_ptr_nonnull(t);
  dx_tensor_write(ctx, t, v, DX_F64);
  return t;
}

static void assert_tensor(dx_ctx *ctx, const dx_tensor *t, const double *want, int64_t n,
                          double tol, const char *what) {
  ck_assert_msg(t != NULL, "%s: %s", what, dx_error_message(ctx));
  ck_assert_int_eq(dx_numel(t), n);
  double *v = dxt_values(ctx, t);
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs(v[i] - want[i]) <= tol, "%s[%lld]: %.15g vs %.15g", what, (long long)i, v[i],
                  want[i]);
  free(v);
}

/* The reference's VLB terms through the tensor path: q_sample, x0 from
 * eps, posterior mean, dx_vlb_terms and dx_prior_bpd. */
START_TEST(vlb_terms_match_reference_on_tensors) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_json *ref = dxt_json_load(REF);
  char p[128];
  for (int s = 0; s < 3; s++) {
    snprintf(p, sizeof p, "schedules.%s", SCHEDULES[s]);
    const dx_json *sch = dxt_json_at(ref, p);
    dx_diffusion *d = ref_diffusion(ctx, SCHEDULES[s], 1000);
    int64_t n;
    double *x0v = dxt_json_nums(sch, "x0", &n), *epsv = dxt_json_nums(sch, "eps", &n);
    double *ehv = dxt_json_nums(sch, "eps_hat", &n);
    for (int c = 0; c < dxt_json_len(sch, "cases"); c++) {
      snprintf(p, sizeof p, "cases.%d", c);
      const dx_json *cs = dxt_json_at(sch, p);
      int64_t i = (int64_t)dxt_json_num(cs, "index"), t[2] = {i, i};
      dx_step_reset(ctx);
      dx_tensor *x0 = tensor_of(ctx, x0v, 2, 1, 2, 4), *eps = tensor_of(ctx, epsv, 2, 1, 2, 4);
      dx_tensor *eh = tensor_of(ctx, ehv, 2, 1, 2, 4);
      dx_tensor *xt = dx_q_sample(ctx, d, x0, t, eps);
      double *want = dxt_json_nums(cs, "x_t", &n);
      assert_tensor(ctx, xt, want, 16, 1e-12, "x_t");
      free(want);
      for (int clip = 0; clip < 2; clip++) {
        dx_tensor *x0p = dx_predict_x0(ctx, d, DX_PREDICT_EPS, xt, t, eh, clip);
        dx_tensor *mean = dx_posterior_mean(ctx, d, x0p, xt, t);
        snprintf(p, sizeof p, "model_mean_%s", clip ? "clipped" : "unclipped");
        want = dxt_json_nums(cs, p, &n);
        assert_tensor(ctx, mean, want, 16, 1e-12, p);
        free(want);
        const double *tabs[2] = {d->log_beta_tilde_clipped, d->log_beta};
        const char *var[2] = {"beta_tilde", "beta"};
        for (int v = 0; v < 2; v++) {
          dx_tensor *lv = dx_diffusion_gather(ctx, tabs[v], t, 2, DX_F64);
          snprintf(p, sizeof p, "vlb_bits_per_dim_%s_%s", var[v], clip ? "clipped" : "unclipped");
          want = dxt_json_nums(cs, p, &n);
          assert_tensor(ctx, dx_vlb_terms(ctx, d, x0, xt, t, mean, lv), want, 2, 1e-9, p);
          free(want);
        }
      }
    }
    dx_step_reset(ctx);
    double *prior = dxt_json_nums(sch, "prior_bits_per_dim", &n);
    assert_tensor(ctx, dx_prior_bpd(ctx, d, tensor_of(ctx, x0v, 2, 1, 2, 4)), prior, 2, 1e-9,
                  "prior");
    free(prior), free(x0v), free(epsv), free(ehv);
    dx_diffusion_free(d);
  }
  dx_json_free(ref);
  dx_ctx_free(ctx);
}
END_TEST

/* Mixed t in one batch: each sample gets its own term (decoder at t = 0). */
START_TEST(vlb_terms_mix_decoder_and_kl_per_sample) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = ref_diffusion(ctx, "linear", 100);
  double x0v[8] = {-1, -0.5, 0.2, 1, 0.6, -0.1, 0.9, -0.9}, mv[8], xv[8];
  for (int j = 0; j < 8; j++)
    mv[j] = x0v[j] * 0.97 + 0.01, xv[j] = x0v[j] + 0.02 * (j - 4);
  int64_t t[2] = {0, 7};
  dx_tensor *x0 = tensor_of(ctx, x0v, 2, 1, 1, 4), *m = tensor_of(ctx, mv, 2, 1, 1, 4);
  dx_tensor *xt = tensor_of(ctx, xv, 2, 1, 1, 4);
  dx_tensor *lv = dx_diffusion_gather(ctx, d->log_beta, t, 2, DX_F64);
  double want[2] = {0, 0};
  for (int j = 0; j < 4; j++) {
    want[0] -=
        dx_discretized_gaussian_log_likelihood(x0v[j], mv[j], 0.5 * d->log_beta[0]) / (4 * M_LN2);
    double pm = d->posterior_mean_coef1[7] * x0v[4 + j] + d->posterior_mean_coef2[7] * xv[4 + j];
    want[1] +=
        dx_normal_kl(pm, d->log_beta_tilde_clipped[7], mv[4 + j], d->log_beta[7]) / (4 * M_LN2);
  }
  assert_tensor(ctx, dx_vlb_terms(ctx, d, x0, xt, t, m, lv), want, 2, 1e-12, "mixed terms");
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(conversions_invert_each_other) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = ref_diffusion(ctx, "cosine", 1000);
  int64_t shape[4] = {4, 2, 3, 3}, t[4] = {0, 17, 500, 999};
  dx_tensor *x0 = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 1);
  dx_tensor *eps = dxt_param(ctx, DX_F64, 4, shape, -2, 2, 2);
  dx_tensor *xt = dx_q_sample(ctx, d, x0, t, eps);
  double *x0v = dxt_values(ctx, x0), *epsv = dxt_values(ctx, eps);
  /* x0 -> eps is ill-conditioned where abar is tiny (t = T): compare on the
   * scale the tables allow. */
  assert_tensor(ctx, dx_x0_from_eps(ctx, d, xt, t, eps), x0v, 72, 1e-6, "x0 from eps");
  assert_tensor(ctx, dx_eps_from_x0(ctx, d, xt, t, x0), epsv, 72, 1e-9, "eps from x0");
  dx_tensor *v = dx_v_from(ctx, d, t, x0, eps);
  assert_tensor(ctx, dx_x0_from_v(ctx, d, xt, t, v), x0v, 72, 1e-12, "x0 from v");
  assert_tensor(ctx, dx_predict_x0(ctx, d, DX_PREDICT_V, xt, t, v, false), x0v, 72, 1e-12, "v");
  assert_tensor(ctx, dx_predict_x0(ctx, d, DX_PREDICT_X0, xt, t, x0, false), x0v, 72, 0, "x0");
  /* v on the host: sqrt(abar) eps - sqrt(1 - abar) x0. */
  double *vv = dxt_values(ctx, v);
  for (int k = 0; k < 72; k++) {
    int64_t i = t[k / 18];
    ck_assert_double_eq_tol(
        vv[k], d->sqrt_alpha_bar[i] * epsv[k] - d->sqrt_one_minus_alpha_bar[i] * x0v[k], 1e-15);
  }
  /* The posterior mean of the true x0 and x_t is the x_{t-1} that q_sample
   * would give with the posterior's own weights: check against eq. 7 on the
   * host, and that q(x_{t-1} | x_t, x0) at t = 1 returns x0 itself. */
  dx_tensor *pm = dx_posterior_mean(ctx, d, x0, xt, t);
  double *pmv = dxt_values(ctx, pm), *xtv = dxt_values(ctx, xt);
  for (int k = 0; k < 18; k++)
    ck_assert_double_eq_tol(pmv[k], x0v[k], 1e-12);
  for (int k = 18; k < 72; k++) {
    int64_t i = t[k / 18];
    double want = d->posterior_mean_coef1[i] * x0v[k] + d->posterior_mean_coef2[i] * xtv[k];
    ck_assert_double_eq_tol(pmv[k], want, 1e-14);
  }
  free(x0v), free(epsv), free(vv), free(pmv), free(xtv);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(tensor_gaussians_match_host) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[4] = {1, 1, 16, 16};
  double xv[256], mv[256], lsv[256], m2v[256], lv2v[256];
  for (int k = 0; k < 256; k++) {
    xv[k] = k / 127.5 - 1;
    mv[k] = xv[k] + 0.03 * sin(k);
    lsv[k] = -4 + 3 * cos(0.3 * k);
    m2v[k] = mv[k] - 0.2;
    lv2v[k] = lsv[k] + 0.5;
  }
  dx_tensor *x = dx_tensor_new(ctx, DX_F64, 4, shape), *m = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor *ls = dx_tensor_new(ctx, DX_F64, 4, shape), *m2 = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor *lv2 = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, x, xv, DX_F64), dx_tensor_write(ctx, m, mv, DX_F64);
  dx_tensor_write(ctx, ls, lsv, DX_F64), dx_tensor_write(ctx, m2, m2v, DX_F64);
  dx_tensor_write(ctx, lv2, lv2v, DX_F64);
  double ll[256], kl[256];
  for (int k = 0; k < 256; k++) {
    ll[k] = dx_discretized_gaussian_log_likelihood(xv[k], mv[k], lsv[k]);
    kl[k] = dx_normal_kl(mv[k], lsv[k], m2v[k], lv2v[k]);
  }
  assert_tensor(ctx, dx_discretized_gaussian_log_likelihood_tensor(ctx, x, m, ls), ll, 256, 1e-12,
                "ll");
  assert_tensor(ctx, dx_normal_kl_tensor(ctx, m, ls, m2, lv2), kl, 256, 1e-12, "kl");
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(uniform_timesteps_cover_the_range) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_timestep_sampler *ts = dx_timestep_sampler_create(ctx, DX_TIMESTEPS_UNIFORM, 10);
  int64_t t[4000], t2[4000], count[10] = {0};
  double w[4000];
  ck_assert_int_eq(dx_timestep_sampler_draw(ctx, ts, 4000, 5, 0, t, w), DX_OK);
  for (int k = 0; k < 4000; k++) {
    ck_assert(t[k] >= 0 && t[k] < 10);
    ck_assert_double_eq(w[k], 1.0);
    count[t[k]]++;
  }
  for (int i = 0; i < 10; i++)
    ck_assert_msg(count[i] > 300 && count[i] < 500, "t=%d drawn %lld times", i,
                  (long long)count[i]);
  ck_assert_int_eq(dx_timestep_sampler_draw(ctx, ts, 4000, 5, 0, t2, w), DX_OK);
  ck_assert_mem_eq(t, t2, sizeof t);
  dx_timestep_sampler_free(ts);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(importance_timesteps_follow_the_second_moment) {
  dx_ctx *ctx = dxt_ctx(1);
  enum { T = 8 };
  dx_timestep_sampler *ts = dx_timestep_sampler_create(ctx, DX_TIMESTEPS_IMPORTANCE, T);
  /* Losses 1..T at t = 0..T-1, alternating sign: the second moment is (t+1)^2. */
  int64_t t[T];
  double loss[T];
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < T; i++)
      t[i] = i, loss[i] = (round % 2 ? -1 : 1) * (i + 1.0);
    for (int i = 0; i < T; i++)
      ck_assert_double_eq(dx_timestep_sampler_probs(ts)[i], 1.0 / T);
    dx_timestep_sampler_update(ts, T, t, loss);
  }
  const double *p = dx_timestep_sampler_probs(ts);
  double sum = 0;
  for (int i = 0; i < T; i++) {
    ck_assert_double_eq_tol(p[i], 0.999 * (i + 1) / 36.0 + 0.001 / T, 1e-15);
    sum += p[i];
  }
  ck_assert_double_eq_tol(sum, 1.0, 1e-15);
  /* A newer loss pushes out the oldest of the 10. */
  int64_t one = 0;
  double big = 101.0;
  dx_timestep_sampler_update(ts, 1, &one, &big);
  double rms0 = sqrt((9.0 + big * big) / 10.0);
  ck_assert_double_eq_tol(
      p[0] / p[1], (0.999 * rms0 / (rms0 + 35) + 0.001 / T) / (0.999 * 2 / (rms0 + 35) + 0.001 / T),
      1e-12);
  /* Draws follow p, weighted 1/(T p). */
  int64_t td[20000], hits[T] = {0};
  double w[20000];
  ck_assert_int_eq(dx_timestep_sampler_draw(ctx, ts, 20000, 9, 0, td, w), DX_OK);
  for (int k = 0; k < 20000; k++) {
    hits[td[k]]++;
    ck_assert_double_eq_tol(w[k], 1.0 / (T * p[td[k]]), 1e-12);
  }
  for (int i = 0; i < T; i++) {
    double sd = sqrt(20000 * p[i] * (1 - p[i]));
    ck_assert_msg(fabs(hits[i] - 20000 * p[i]) < 5 * sd + 1, "t=%d: %lld draws, expected %.0f", i,
                  (long long)hits[i], 20000 * p[i]);
  }
  dx_timestep_sampler_free(ts);
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
  DXT_ADD(host, spaced_steps_match_numpy);
  DXT_ADD(host, respacing_keeps_the_marginals);
  DXT_ADD(host, kl_of_equal_gaussians_is_zero);
  DXT_ADD(host, discretized_likelihood_sums_to_one);
  DXT_ADD(host, vlb_terms_match_reference_on_host);
  suite_add_tcase(s, host);
  TCase *tens = tcase_create("tensors");
  DXT_ADD(tens, vlb_terms_match_reference_on_tensors);
  DXT_ADD(tens, vlb_terms_mix_decoder_and_kl_per_sample);
  DXT_ADD(tens, conversions_invert_each_other);
  DXT_ADD(tens, tensor_gaussians_match_host);
  DXT_ADD(tens, uniform_timesteps_cover_the_range);
  DXT_ADD(tens, importance_timesteps_follow_the_second_moment);
  suite_add_tcase(s, tens);
  return s;
}

int main(void) { return dxt_run(suite()); }
