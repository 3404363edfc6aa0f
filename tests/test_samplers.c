/* Sampler plugins, one step at a time: the ancestral step against eq. 7 on
 * the host, learned_range's interpolation, DDIM at eta = 1 equal to the
 * beta_tilde step, DPM-Solver++(2M)'s first- and second-order steps against
 * the paper's formulas, clipping, no noise at the last step, and the loop's
 * reproducibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/sampler.h"
#include "dx_test.h"
#include "dxt_plugin.h"

enum { N = 2, C = 1, H = 2, W = 3, D = C * H * W, T = 30 };

static dx_diffusion *schedule(dx_ctx *ctx) {
  double b[T];
  for (int i = 0; i < T; i++)
    b[i] = 0.01 + 0.3 * i / (T - 1.0);
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  ck_assert_ptr_nonnull(d);
  return d;
}

static dx_tensor *filled(dx_ctx *ctx, double (*f)(int), int64_t c) {
  int64_t shape[4] = {N, c, H, W};
  double v[N * 2 * D];
  for (int k = 0; k < N * c * H * W; k++)
    v[k] = f(k);
  dx_tensor *t = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, t, v, DX_F64);
  return t;
}
static double xt_of(int k) { return sin(0.9 * k) * 1.3; }
static double pred_of(int k) { return cos(1.3 * k + 0.2); }
static double noise_of(int k) { return sin(2.1 * k + 1) * 1.5; }
static double var_of(int k) { return sin(0.7 * k) * 0.95; }
static double big_of(int k) { return k % 2 ? 3.0 : -2.5; }

static double *step_values(dx_ctx *ctx, dxt_sampler *o, const dx_diffusion *d, int64_t i,
                           dx_predict pr, double (*pred)(int), double (*noise)(int)) {
  int64_t t[N] = {i, i};
  dx_sampler_step st = {.d = d, .predict = pr, .i = i, .clip = o->s.cfg.clip, .n = N, .t = t};
  st.x = filled(ctx, xt_of, C);
  st.pred = filled(ctx, pred, C);
  st.var = o->s.cfg.learns_variance ? filled(ctx, var_of, C) : NULL;
  st.noise = filled(ctx, noise, C);
  dx_tensor *y = o->s.ops->step(ctx, o->s.state, &st);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  ck_assert(dx_same_shape(y, st.x));
  return dxt_values(ctx, y);
}

/* Ho et al. 2020 eq. 7 with x0 from eps, on the host. */
static double host_ancestral(const dx_diffusion *d, int64_t i, int k, double lv, bool clip,
                             bool noise) {
  double x0 = (xt_of(k) - sqrt(1 - d->alpha_bar[i]) * pred_of(k)) / sqrt(d->alpha_bar[i]);
  if (clip) x0 = fmin(fmax(x0, -1), 1);
  double mean = d->posterior_mean_coef1[i] * x0 + d->posterior_mean_coef2[i] * xt_of(k);
  return mean + (noise ? exp(0.5 * lv) * noise_of(k) : 0);
}

START_TEST(ancestral_steps_follow_the_posterior) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *names[3] = {"beta", "beta_tilde", "learned_range"};
  const char *noclip[1] = {"clip=false"};
  for (int s = 0; s < 3; s++)
    for (int clip = 0; clip < 2; clip++) {
      dxt_sampler o;
      dxt_sampler_open(ctx, &o, names[s], noclip, clip ? 0 : 1);
      ck_assert(o.s.cfg.clip == (clip == 1));
      int64_t steps[3] = {0, 1, 17};
      for (int j = 0; j < 3; j++) {
        int64_t i = steps[j];
        double *y = step_values(ctx, &o, d, i, DX_PREDICT_EPS, pred_of, noise_of);
        for (int k = 0; k < N * D; k++) {
          double lv = s == 0   ? d->log_beta[i]
                      : s == 1 ? d->log_beta_tilde_clipped[i]
                               : (var_of(k) + 1) / 2 * log(d->beta[i]) +
                                     (1 - (var_of(k) + 1) / 2) * d->log_beta_tilde_clipped[i];
          ck_assert_double_eq_tol(y[k], host_ancestral(d, i, k, lv, clip, i > 0), 1e-12);
        }
        free(y);
      }
      dxt_sampler_close(&o);
    }
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(learned_range_spans_beta_tilde_to_beta) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "learned_range", NULL, 0);
  ck_assert(o.s.cfg.learns_variance);
  int64_t t[N] = {5, 20};
  for (int end = -1; end <= 1; end += 2) {
    int64_t shape[4] = {N, C, H, W};
    dx_tensor *v = dx_tensor_full(ctx, DX_F64, 4, shape, end);
    double *lv = dxt_values(ctx, o.s.ops->log_variance(ctx, o.s.state, d, t, N, v, DX_F64));
    for (int k = 0; k < N * D; k++) {
      int64_t i = t[k / D];
      ck_assert_double_eq_tol(lv[k], end > 0 ? log(d->beta[i]) : d->log_beta_tilde_clipped[i],
                              1e-14);
    }
    free(lv);
  }
  /* Without variance channels it says what the model must output. */
  ck_assert_ptr_null(o.s.ops->log_variance(ctx, o.s.state, d, t, N, NULL, DX_F64));
  ck_assert_ptr_nonnull(strstr(dx_error_message(ctx), "2C channels"));
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* On the full schedule DDIM with eta = 1 is the ancestral sampler with
 * sigma^2 = beta_tilde (Song et al. 2021 sec. 4.1): same mean, same noise. */
START_TEST(ddim_at_eta_one_is_the_beta_tilde_step) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *kv[2] = {"eta=1", "steps=0"};
  dxt_sampler dd, bt;
  dxt_sampler_open(ctx, &dd, "ddim", kv, 2);
  dxt_sampler_open(ctx, &bt, "beta_tilde", NULL, 0);
  for (int64_t i = 0; i < T; i += 7) {
    dx_predict preds[3] = {DX_PREDICT_EPS, DX_PREDICT_X0, DX_PREDICT_V};
    for (int p = 0; p < 3; p++) {
      double *a = step_values(ctx, &dd, d, i, preds[p], pred_of, noise_of);
      double *b = step_values(ctx, &bt, d, i, preds[p], pred_of, noise_of);
      for (int k = 0; k < N * D; k++)
        ck_assert_double_eq_tol(a[k], b[k], 1e-12);
      free(a), free(b);
    }
  }
  dxt_sampler_close(&dd), dxt_sampler_close(&bt);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* DDIM at eta = 0 (Song et al. 2021 eq. 12) on the host; no noise used. */
START_TEST(ddim_at_eta_zero_is_deterministic) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *kv[2] = {"eta=0", "clip=false"};
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "ddim", kv, 2);
  ck_assert_int_eq(o.s.cfg.steps, 50);
  int64_t i = 12;
  double *y = step_values(ctx, &o, d, i, DX_PREDICT_EPS, pred_of, noise_of);
  double *z = step_values(ctx, &o, d, i, DX_PREDICT_EPS, pred_of, big_of);
  for (int k = 0; k < N * D; k++) {
    double a = d->alpha_bar[i], ap = d->alpha_bar_prev[i];
    double x0 = (xt_of(k) - sqrt(1 - a) * pred_of(k)) / sqrt(a);
    ck_assert_double_eq_tol(y[k], sqrt(ap) * x0 + sqrt(1 - ap) * pred_of(k), 1e-12);
    ck_assert_double_eq(y[k], z[k]);
  }
  free(y), free(z);
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(last_step_adds_no_noise_and_clips) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *names[4] = {"beta", "beta_tilde", "ddim", "dpmpp_2m"};
  for (int s = 0; s < 4; s++) {
    dxt_sampler o;
    dxt_sampler_open(ctx, &o, names[s], NULL, 0);
    ck_assert(o.s.cfg.clip); /* on by default, as improved-diffusion samples */
    double *a = step_values(ctx, &o, d, 0, DX_PREDICT_X0, big_of, noise_of);
    double *b = step_values(ctx, &o, d, 0, DX_PREDICT_X0, big_of, big_of);
    for (int k = 0; k < N * D; k++) {
      ck_assert_double_eq(a[k], b[k]);
      /* At t = 1 the posterior mean is x0 itself: the clipped prediction. */
      ck_assert_double_eq_tol(a[k], k % 2 ? 1.0 : -1.0, 1e-12);
    }
    free(a), free(b);
    dxt_sampler_close(&o);
  }
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* --- DPM-Solver++(2M), against Lu et al. 2022 Algorithm 2 written out here --- */

/* The schedule's alpha_t = sqrt(abar) and sigma_t = sqrt(1 - abar), from
 * the same beta as schedule(), without ddpmx's tables; index -1 is t = 0. */
static void host_alpha_sigma(int64_t i, double *alpha, double *sigma) {
  double abar = 1;
  for (int64_t j = 0; j <= i; j++)
    abar *= 1 - (0.01 + 0.3 * j / (T - 1.0));
  *alpha = sqrt(abar), *sigma = sqrt(1 - abar);
}

/* An analytic model: its prediction at x_t and index i, as eps, x0 or v,
 * and the x0 it implies. */
static double analytic_pred(double x, int64_t i, int k) { return 0.6 * x + 0.1 * i + sin(k); }
static double host_x0(dx_predict pr, double x, int64_t i, int k) {
  double a, s, p = analytic_pred(x, i, k);
  host_alpha_sigma(i, &a, &s);
  return pr == DX_PREDICT_EPS ? (x - s * p) / a : pr == DX_PREDICT_X0 ? p : a * x - s * p;
}

/* One DPM-Solver++ step from index i (time s) to i - 1 (time t), first
 * order when x0_prev is NULL, else second order with the x0_hat of i + 1. */
static double host_dpmpp(int64_t i, double x, double x0, const double *x0_prev) {
  double a_s, s_s, a_t, s_t, a_p, s_p;
  host_alpha_sigma(i, &a_s, &s_s), host_alpha_sigma(i - 1, &a_t, &s_t);
  host_alpha_sigma(i + 1, &a_p, &s_p);
  double lam_s = log(a_s / s_s), lam_t = log(a_t / s_t), lam_p = log(a_p / s_p);
  double h = lam_t - lam_s, r = (lam_s - lam_p) / h;
  double dd = x0_prev ? (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * *x0_prev : x0;
  return s_t / s_s * x - a_t * (exp(-h) - 1) * dd;
}

/* The plugin's step from x (host values) at index i with the analytic model. */
static double *dpmpp_step(dx_ctx *ctx, dxt_sampler *o, const dx_diffusion *d, int64_t i,
                          dx_predict pr, const double *x, double (*noise)(int)) {
  int64_t t[N] = {i, i}, shape[4] = {N, C, H, W};
  double p[N * D];
  for (int k = 0; k < N * D; k++)
    p[k] = analytic_pred(x[k], i, k);
  dx_sampler_step st = {.d = d, .predict = pr, .i = i, .clip = o->s.cfg.clip, .n = N, .t = t};
  st.x = dx_tensor_new(ctx, DX_F64, 4, shape);
  st.pred = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, st.x, x, DX_F64);
  dx_tensor_write(ctx, st.pred, p, DX_F64);
  st.noise = filled(ctx, noise, C);
  dx_tensor *y = o->s.ops->step(ctx, o->s.state, &st);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  ck_assert(dx_same_shape(y, st.x));
  return dxt_values(ctx, y);
}

/* A sequence 17 -> 16 -> 15 (first order, then second order twice), steps
 * out of sequence (first order again), 3 -> 2 (second order), and the last
 * two steps, first order though a previous x0_hat is at hand (into index 0,
 * then x0_hat itself), for each prediction target, against the host's
 * float64 chain. */
START_TEST(dpmpp_2m_steps_follow_the_paper) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *kv[1] = {"clip=false"};
  dx_predict preds[3] = {DX_PREDICT_EPS, DX_PREDICT_X0, DX_PREDICT_V};
  for (int p = 0; p < 3; p++) {
    dx_predict pr = preds[p];
    dxt_sampler o;
    dxt_sampler_open(ctx, &o, "dpmpp_2m", kv, 1);
    ck_assert_int_eq(o.s.cfg.steps, 20);
    double x[N * D], x0[N * D], prev[N * D];
    for (int k = 0; k < N * D; k++)
      x[k] = xt_of(k);
    int64_t seq[8] = {17, 16, 15, 9, 3, 2, 1, 0};
    for (int j = 0; j < 8; j++) {
      int64_t i = seq[j];
      bool second = j > 0 && seq[j - 1] == i + 1 && i > 1;
      double *y = dpmpp_step(ctx, &o, d, i, pr, x, j % 2 ? noise_of : big_of);
      for (int k = 0; k < N * D; k++) {
        x0[k] = host_x0(pr, x[k], i, k);
        double want = i == 0 ? x0[k] : host_dpmpp(i, x[k], x0[k], second ? &prev[k] : NULL);
        ck_assert_msg(fabs(y[k] - want) < 1e-12 * fmax(1, fabs(want)),
                      "predict %d, step %lld, value %d: %.17g, want %.17g", p, (long long)i, k,
                      y[k], want);
      }
      for (int k = 0; k < N * D; k++)
        prev[k] = x0[k], x[k] = y[k];
      free(y);
    }
    dxt_sampler_close(&o);
  }
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(sampling_is_seeded_and_respaced) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *kv[1] = {"steps=7"};
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "beta_tilde", kv, 1);
  int64_t shape[4] = {3, 1, 4, 4};
  dx_tensor *x1 = dx_tensor_new_persistent(ctx, DX_F32, 4, shape);
  dx_tensor *x2 = dx_tensor_new_persistent(ctx, DX_F32, 4, shape);
  dxt_counter c = {0, -1, -1};
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 42, x1), DX_OK);
  ck_assert_int_eq(c.calls, 7);
  ck_assert_double_eq(c.last_t, 0.0);
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 42, x2), DX_OK);
  double *a = dxt_values(ctx, x1), *b = dxt_values(ctx, x2);
  ck_assert_mem_eq(a, b, 48 * sizeof(double));
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 43, x2), DX_OK);
  free(b);
  b = dxt_values(ctx, x2);
  int same = 0;
  for (int k = 0; k < 48; k++)
    same += a[k] == b[k];
  ck_assert_int_lt(same, 4);
  free(a), free(b);
  /* x must outlive the loop's arena resets. */
  dx_step_reset(ctx);
  dx_tensor *scratch = dx_tensor_new(ctx, DX_F32, 4, shape);
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 42, scratch),
                   DX_ERR_INVALID);
  dx_tensor_free(ctx, x1), dx_tensor_free(ctx, x2);
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(samplers_document_themselves) {
  const char *names[5] = {"beta", "beta_tilde", "learned_range", "ddim", "dpmpp_2m"};
  for (int i = 0; i < 5; i++)
    dxt_plugin_check_docs(names[i], DX_KIND_SAMPLER);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("samplers");
  TCase *tc = tcase_create("samplers");
  DXT_ADD(tc, ancestral_steps_follow_the_posterior);
  DXT_ADD(tc, learned_range_spans_beta_tilde_to_beta);
  DXT_ADD(tc, ddim_at_eta_one_is_the_beta_tilde_step);
  DXT_ADD(tc, ddim_at_eta_zero_is_deterministic);
  DXT_ADD(tc, last_step_adds_no_noise_and_clips);
  DXT_ADD(tc, dpmpp_2m_steps_follow_the_paper);
  DXT_ADD(tc, sampling_is_seeded_and_respaced);
  DXT_ADD(tc, samplers_document_themselves);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(suite()); }
