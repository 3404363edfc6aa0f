/* Loss plugins: values against an independent host computation, gradients
 * against finite differences (float64), the hybrid loss's stop-gradient,
 * Min-SNR weights and importance weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/loss.h"
#include "ddpmx/sampler.h"
#include "dx_test.h"
#include "dxt_plugin.h"

enum { N = 4, C = 2, H = 3, W = 3, D = C * H * W, T = 40 };
static const int64_t SHAPE[4] = {N, C, H, W};
static const int64_t TS[N] = {0, 3, 21, 39}; /* t = 0 exercises the decoder term */

/* A problem: a schedule, data on the pixel grid, noise, and the loss under test. */
typedef struct problem {
  dx_diffusion *d;
  dx_predict predict;
  dxt_plugin loss, sampler;
  void *loss_state;
  dx_sampler smp;
  double x0[N * D], eps[N * D], w[N];
  double spread;   /* how far the model's prediction is from the truth */
  dx_tensor *pred; /* fixed prediction when only the variance is checked */
  bool weighted;
} problem;

static void setup(problem *pb, dx_ctx *ctx, const char *loss, const char *const *kv, int nkv,
                  const char *sampler, dx_predict predict) {
  memset(pb, 0, sizeof *pb);
  double beta[T];
  for (int i = 0; i < T; i++)
    beta[i] = 1e-4 * 25 + (0.02 * 25 - 1e-4 * 25) * i / (T - 1.0);
  pb->d = dx_diffusion_create(ctx, beta, T);
  pb->predict = predict;
  /* Far from the truth, the decoder's bins lie in the CDF's flat tails,
   * where probabilities are differences of numbers within 1e-12 of 1 and
   * finite differences measure only rounding: keep the bound's losses near
   * the truth, and let mse and huber see errors on both sides of delta. */
  pb->spread = strcmp(loss, "vlb") && strcmp(loss, "hybrid") ? 1.5 : 0.02;
  for (int k = 0; k < N * D; k++) {
    pb->x0[k] = ((k * 37) % 256) / 127.5 - 1; /* both ends of the grid included */
    pb->eps[k] = sin(1.7 * k + 0.3) * 1.4;
  }
  for (int k = 0; k < N; k++)
    pb->w[k] = 0.5 + 0.25 * k;
  pb->loss = dxt_plugin_load(loss, DX_KIND_LOSS, kv, nkv);
  const dx_loss_ops *ops = pb->loss.ops;
  ck_assert_int_eq(ops->create(ctx, pb->loss.params, &pb->loss_state), DX_OK);
  pb->sampler = dxt_plugin_load(sampler, DX_KIND_SAMPLER, NULL, 0);
  ck_assert_int_eq(dx_sampler_init(ctx, &pb->smp, pb->sampler.plugin->desc, pb->sampler.params),
                   DX_OK);
}

static void teardown(problem *pb) {
  ((const dx_loss_ops *)pb->loss.ops)->destroy(pb->loss_state);
  dx_sampler_release(&pb->smp);
  dxt_plugin_free(&pb->loss), dxt_plugin_free(&pb->sampler);
  dx_diffusion_free(pb->d);
}

static dx_tensor *host_tensor(dx_ctx *ctx, const double *v, dx_dtype dt) {
  dx_tensor *t = dx_tensor_new(ctx, dt, 4, SHAPE);
  dx_tensor_write(ctx, t, v, DX_F64);
  return t;
}

/* in[0] = pred, in[1] = variance channels (learned_range only). */
static dx_loss_output run_loss(dx_ctx *ctx, problem *pb, dx_tensor **in) {
  dx_dtype dt = in[0]->dtype;
  dx_loss_input li = {.d = pb->d, .predict = pb->predict, .n = N, .t = TS};
  li.x0 = host_tensor(ctx, pb->x0, dt);
  li.eps = host_tensor(ctx, pb->eps, dt);
  li.x_t = dx_q_sample(ctx, pb->d, li.x0, TS, li.eps);
  li.pred = in[0];
  li.var = pb->smp.cfg.learns_variance ? in[1] : NULL;
  li.logvar = pb->smp.ops->log_variance(ctx, pb->smp.state, pb->d, TS, N, li.var, dt);
  if (pb->weighted) {
    int64_t n = N;
    li.weights = dx_tensor_new(ctx, dt, 1, &n);
    dx_tensor_write(ctx, li.weights, pb->w, DX_F64);
  }
  dx_loss_output out = {0};
  dx_status st = ((const dx_loss_ops *)pb->loss.ops)->forward(ctx, pb->loss_state, &li, &out);
  ck_assert_msg(st == DX_OK, "loss: %s", dx_error_message(ctx));
  return out;
}

static dx_tensor *loss_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return run_loss(ctx, user, in).loss;
}

/* The loss as a function of the variance channels alone (in[0]). */
static dx_tensor *loss_of_var(dx_ctx *ctx, dx_tensor **in, void *user) {
  problem *pb = user;
  dx_tensor *both[2] = {pb->pred, in[0]};
  return run_loss(ctx, pb, both).loss;
}

static double target_of(const dx_diffusion *d, dx_predict p, int64_t i, double x0, double eps) {
  if (p == DX_PREDICT_EPS) return eps;
  if (p == DX_PREDICT_X0) return x0;
  return sqrt(d->alpha_bar[i]) * eps - sqrt(1 - d->alpha_bar[i]) * x0;
}

/* The model's outputs: the truth plus up to +-spread (in[0]), and
 * variance channels in (-1, 1) (in[1]). */
static dx_tensor **inputs(dx_ctx *ctx, const problem *pb, dx_tensor **in) {
  in[0] = dxt_param(ctx, DX_F64, 4, SHAPE, -pb->spread, pb->spread, 11);
  in[1] = dxt_param(ctx, DX_F64, 4, SHAPE, -0.9, 0.9, 12);
  double v[N * D];
  dx_tensor_read(ctx, in[0], v, DX_F64);
  for (int q = 0; q < N * D; q++)
    v[q] += target_of(pb->d, pb->predict, TS[q / D], pb->x0[q], pb->eps[q]);
  dx_tensor_write(ctx, in[0], v, DX_F64);
  return in;
}

/* --- independent host values ------------------------------------------------------ */

static double x0_of(const dx_diffusion *d, dx_predict p, int64_t i, double xt, double pred) {
  double a = sqrt(d->alpha_bar[i]), s = sqrt(1 - d->alpha_bar[i]);
  if (p == DX_PREDICT_EPS) return (xt - s * pred) / a;
  if (p == DX_PREDICT_X0) return pred;
  return a * xt - s * pred;
}

/* The VLB term in bits/dim of sample k, on the host, with log variance lv[j]. */
static double host_vlb(const problem *pb, int k, const double *pred, const double *lv) {
  const dx_diffusion *d = pb->d;
  int64_t i = TS[k];
  double sum = 0;
  for (int j = 0; j < D; j++) {
    int q = k * D + j;
    double xt = sqrt(d->alpha_bar[i]) * pb->x0[q] + sqrt(1 - d->alpha_bar[i]) * pb->eps[q];
    double x0h = x0_of(d, pb->predict, i, xt, pred[q]);
    double mean = d->posterior_mean_coef1[i] * x0h + d->posterior_mean_coef2[i] * xt;
    double tm = d->posterior_mean_coef1[i] * pb->x0[q] + d->posterior_mean_coef2[i] * xt;
    sum += i == 0 ? -dx_discretized_gaussian_log_likelihood(pb->x0[q], mean, 0.5 * lv[q])
                  : dx_normal_kl(tm, d->log_beta_tilde_clipped[i], mean, lv[q]);
  }
  return sum / (D * M_LN2);
}

static double host_mse(const problem *pb, int k, const double *pred) {
  double s = 0;
  for (int j = 0; j < D; j++) {
    int q = k * D + j;
    double e = pred[q] - target_of(pb->d, pb->predict, TS[k], pb->x0[q], pb->eps[q]);
    s += e * e;
  }
  return s / D;
}

static double host_huber(const problem *pb, int k, const double *pred, double delta) {
  double s = 0;
  for (int j = 0; j < D; j++) {
    int q = k * D + j;
    double e = fabs(pred[q] - target_of(pb->d, pb->predict, TS[k], pb->x0[q], pb->eps[q]));
    s += e < delta ? 0.5 * e * e / delta : e - 0.5 * delta;
  }
  return s / D;
}

static void check_values(dx_ctx *ctx, problem *pb, const double *want) {
  dx_tensor *in[2];
  inputs(ctx, pb, in);
  dx_step_reset(ctx);
  dx_loss_output out = run_loss(ctx, pb, in);
  double *ps = dxt_values(ctx, out.per_sample), *l = dxt_values(ctx, out.loss), mean = 0;
  ck_assert_int_eq(dx_numel(out.per_sample), N);
  ck_assert(!(out.per_sample->flags & DX_TENSOR_REQUIRES_GRAD));
  for (int k = 0; k < N; k++) {
    ck_assert_msg(fabs(ps[k] - want[k]) <= 1e-10 * fmax(1, fabs(want[k])),
                  "sample %d: %.15g vs %.15g", k, ps[k], want[k]);
    mean += (pb->weighted ? pb->w[k] : 1) * want[k] / N;
  }
  ck_assert_double_eq_tol(l[0], mean, 1e-10 * fmax(1, fabs(mean)));
  free(ps), free(l);
  dx_tensor_free(ctx, in[0]), dx_tensor_free(ctx, in[1]);
}

static void pred_and_logvar(dx_ctx *ctx, problem *pb, double *pred, double *lv) {
  dx_tensor *in[2];
  inputs(ctx, pb, in);
  dx_tensor_read(ctx, in[0], pred, DX_F64);
  double v[N * D];
  dx_tensor_read(ctx, in[1], v, DX_F64);
  for (int q = 0; q < N * D; q++) {
    int64_t i = TS[q / D];
    const dx_diffusion *d = pb->d;
    if (!strcmp(pb->sampler.plugin->desc->name, "learned_range")) {
      double f = (v[q] + 1) / 2;
      lv[q] = f * log(d->beta[i]) + (1 - f) * d->log_beta_tilde_clipped[i];
    } else if (!strcmp(pb->sampler.plugin->desc->name, "beta"))
      lv[q] = d->log_beta[i];
    else
      lv[q] = d->log_beta_tilde_clipped[i];
  }
  dx_tensor_free(ctx, in[0]), dx_tensor_free(ctx, in[1]);
}

static const dx_predict PREDICTS[3] = {DX_PREDICT_EPS, DX_PREDICT_X0, DX_PREDICT_V};

START_TEST(mse_and_huber_match_host) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *hub[1] = {"delta=0.4"};
  for (int p = 0; p < 3; p++)
    for (int weighted = 0; weighted < 2; weighted++) {
      problem pb;
      double pred[N * D], lv[N * D], want[N];
      setup(&pb, ctx, "mse", NULL, 0, "beta_tilde", PREDICTS[p]);
      pb.weighted = weighted;
      pred_and_logvar(ctx, &pb, pred, lv);
      for (int k = 0; k < N; k++)
        want[k] = host_mse(&pb, k, pred);
      check_values(ctx, &pb, want);
      teardown(&pb);
      setup(&pb, ctx, "huber", hub, 1, "beta_tilde", PREDICTS[p]);
      pb.weighted = weighted;
      for (int k = 0; k < N; k++)
        want[k] = host_huber(&pb, k, pred, 0.4);
      check_values(ctx, &pb, want);
      teardown(&pb);
    }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(min_snr_weights_each_sample) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *kv[1] = {"min_snr_gamma=5"};
  for (int p = 0; p < 3; p++) {
    problem pb;
    double pred[N * D], lv[N * D], want[N];
    setup(&pb, ctx, "mse", kv, 1, "beta_tilde", PREDICTS[p]);
    pred_and_logvar(ctx, &pb, pred, lv);
    for (int k = 0; k < N; k++) {
      double ab = pb.d->alpha_bar[TS[k]], snr = ab / (1 - ab), m = fmin(snr, 5.0);
      /* In x0 space every prediction's loss is min(SNR, gamma) |x0 - x0_hat|^2. */
      double w = PREDICTS[p] == DX_PREDICT_EPS  ? m / snr
                 : PREDICTS[p] == DX_PREDICT_X0 ? m
                                                : m / (snr + 1);
      want[k] = w * host_mse(&pb, k, pred);
    }
    check_values(ctx, &pb, want);
    teardown(&pb);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(vlb_and_hybrid_match_host) {
  dx_ctx *ctx = dxt_ctx(1);
  const char *samplers[3] = {"beta", "beta_tilde", "learned_range"};
  const char *lam[1] = {"lambda=0.25"};
  for (int p = 0; p < 3; p++)
    for (int s = 0; s < 3; s++) {
      problem pb;
      double pred[N * D], lv[N * D], want[N];
      setup(&pb, ctx, "vlb", NULL, 0, samplers[s], PREDICTS[p]);
      pred_and_logvar(ctx, &pb, pred, lv);
      for (int k = 0; k < N; k++)
        want[k] = T * host_vlb(&pb, k, pred, lv);
      check_values(ctx, &pb, want);
      teardown(&pb);
      setup(&pb, ctx, "hybrid", lam, 1, samplers[s], PREDICTS[p]);
      pb.weighted = true;
      for (int k = 0; k < N; k++)
        want[k] = host_mse(&pb, k, pred) + 0.25 * T * host_vlb(&pb, k, pred, lv);
      check_values(ctx, &pb, want);
      teardown(&pb);
    }
  dx_ctx_free(ctx);
}
END_TEST

/* Gradients of every loss, for every prediction target, against central
 * finite differences in float64. */
START_TEST(gradients_match_finite_differences) {
  dx_ctx *ctx = dxt_ctx(1);
  struct {
    const char *loss, *kv, *sampler;
  } cases[] = {{"mse", "min_snr_gamma=0", "beta_tilde"},
               {"mse", "min_snr_gamma=2", "beta_tilde"},
               {"huber", "delta=0.5", "beta_tilde"},
               {"huber", "min_snr_gamma=3", "beta"},
               {"vlb", NULL, "beta"},
               {"vlb", NULL, "learned_range"},
               {"hybrid", "lambda=0.5", "learned_range"},
               {"hybrid", "lambda=0.001", "learned_range"}};
  dxt_gradcheck_opts o = {.eps = 1e-6, .tol = 1e-6};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int p = 0; p < 3; p++) {
      problem pb;
      const char *kv[1] = {cases[c].kv};
      setup(&pb, ctx, cases[c].loss, kv, cases[c].kv ? 1 : 0, cases[c].sampler, PREDICTS[p]);
      pb.weighted = c % 2;
      dx_tensor *in[2];
      inputs(ctx, &pb, in);
      int n_in = pb.smp.cfg.learns_variance ? 2 : 1;
      if (strcmp(cases[c].loss, "hybrid")) {
        dxt_gradcheck(ctx, loss_fn, in, n_in, &pb, &o);
      } else if (n_in == 2) {
        /* The stop-gradient makes the prediction's gradient differ from the
         * function's on purpose (checked below); check the variance's. */
        pb.pred = in[0];
        dxt_gradcheck(ctx, loss_of_var, in + 1, 1, &pb, &o);
      }
      dx_tensor_free(ctx, in[0]), dx_tensor_free(ctx, in[1]);
      teardown(&pb);
    }
  dx_ctx_free(ctx);
}
END_TEST

/* L_hybrid's VLB part reaches the variance only: its gradient in the
 * prediction is exactly that of mse (Nichol & Dhariwal 2021 sec. 3.1). */
START_TEST(hybrid_stops_the_vlb_gradient_at_the_mean) {
  dx_ctx *ctx = dxt_ctx(1);
  problem hy, ms;
  const char *lam[1] = {"lambda=1"};
  setup(&hy, ctx, "hybrid", lam, 1, "learned_range", DX_PREDICT_EPS);
  setup(&ms, ctx, "mse", NULL, 0, "learned_range", DX_PREDICT_EPS);
  dx_tensor *in[2];
  inputs(ctx, &hy, in);
  double g_h[N * D], g_m[N * D], g_v[N * D];
  dx_backward(ctx, run_loss(ctx, &hy, in).loss);
  dx_tensor_read(ctx, in[0]->grad, g_h, DX_F64);
  dx_tensor_read(ctx, in[1]->grad, g_v, DX_F64);
  dx_step_reset(ctx);
  dx_zero_grad(ctx, in[0]), dx_zero_grad(ctx, in[1]);
  dx_backward(ctx, run_loss(ctx, &ms, in).loss);
  dx_tensor_read(ctx, in[0]->grad, g_m, DX_F64);
  double vnorm = 0;
  for (int q = 0; q < N * D; q++) {
    ck_assert_double_eq_tol(g_h[q], g_m[q], 1e-15);
    vnorm += fabs(g_v[q]);
  }
  ck_assert_msg(vnorm > 1e-6, "the variance got no gradient from the VLB part");
  /* The vlb loss itself does move the mean. */
  problem vl;
  setup(&vl, ctx, "vlb", NULL, 0, "learned_range", DX_PREDICT_EPS);
  dx_step_reset(ctx);
  dx_zero_grad(ctx, in[0]);
  dx_backward(ctx, run_loss(ctx, &vl, in).loss);
  double g_vlb[N * D], diff = 0;
  dx_tensor_read(ctx, in[0]->grad, g_vlb, DX_F64);
  for (int q = 0; q < N * D; q++)
    diff += fabs(g_vlb[q]);
  ck_assert(diff > 1e-6);
  teardown(&vl), teardown(&hy), teardown(&ms);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(losses_document_themselves) {
  const char *names[4] = {"mse", "huber", "vlb", "hybrid"};
  for (int i = 0; i < 4; i++)
    dxt_plugin_check_docs(names[i], DX_KIND_LOSS);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("losses");
  TCase *tc = tcase_create("losses");
  tcase_set_timeout(tc, 120);
  DXT_ADD(tc, mse_and_huber_match_host);
  DXT_ADD(tc, min_snr_weights_each_sample);
  DXT_ADD(tc, vlb_and_hybrid_match_host);
  DXT_ADD(tc, gradients_match_finite_differences);
  DXT_ADD(tc, hybrid_stops_the_vlb_gradient_at_the_mean);
  DXT_ADD(tc, losses_document_themselves);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(suite()); }
