/* Gaussian-oracle tests, with no training. For data x0 ~ N(m, s^2) per pixel
 * the best eps-predictor is known in closed form,
 *   E[eps | x_t] = sqrt(1 - abar) (x_t - sqrt(abar) m) / (abar s^2 + 1 - abar),
 * so it can stand in for a trained model:
 * (a) every sampler turns noise into samples with mean m and variance s^2;
 * (b) the bits/dim ddpmx computes for it agrees with an independent float64
 *     evaluation of the same bound (analytic Gaussian KLs, a quadrature for
 *     the decoder) within Monte Carlo error;
 * (c) a deliberately wrong model scores worse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/sampler.h"
#include "dx_test.h"
#include "dxt_plugin.h"
#include "util/value.h"

#define M 0.2
#define S 0.4

typedef struct oracle {
  const dx_diffusion *d; /* the full schedule: the model sees original timesteps */
  double m, s;
  dx_predict predict;
} oracle;

/* E[eps | x_t], then the x0 or v it implies (both linear in x_t, so their
 * conditional means follow from E[eps | x_t]). */
static double oracle_out(const oracle *o, int64_t t, double xt) {
  double ab = o->d->alpha_bar[t], a = sqrt(ab), b = sqrt(1 - ab);
  double eps = b * (xt - a * o->m) / (ab * o->s * o->s + 1 - ab);
  double x0 = (xt - b * eps) / a;
  return o->predict == DX_PREDICT_EPS ? eps : o->predict == DX_PREDICT_X0 ? x0 : a * eps - b * x0;
}

static dx_tensor *oracle_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  const oracle *o = user;
  int64_t n = dx_numel(x_t), per = n / x_t->shape[0];
  double *x = dxt_values(ctx, x_t), *tv = dxt_values(ctx, t);
  for (int64_t k = 0; k < n; k++)
    x[k] = oracle_out(o, (int64_t)tv[k / per], x[k]);
  dx_tensor *out = dx_tensor_new_like(ctx, x_t);
  dx_tensor_write(ctx, out, x, DX_F64);
  free(x), free(tv);
  return out;
}

static dx_diffusion *linear_schedule(dx_ctx *ctx, int64_t T) {
  double *b = malloc((size_t)T * sizeof *b);
  for (int64_t i = 0; i < T; i++)
    b[i] = 1e-4 + (0.02 - 1e-4) * (double)i / (double)(T - 1);
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  free(b);
  ck_assert_ptr_nonnull(d);
  return d;
}

static dx_sampler open_sampler(dx_ctx *ctx, dxt_plugin *p, const char *name, const char *const *kv,
                               int n) {
  *p = dxt_plugin_load(name, DX_KIND_SAMPLER, kv, n);
  dx_sampler s;
  ck_assert_int_eq(dx_sampler_init(ctx, &s, p->plugin->desc, p->params), DX_OK);
  return s;
}

/* --- (a) sample statistics ------------------------------------------------------ */

/* What a sampler should produce from this oracle, without sampling: every
 * step is linear in x_t plus Gaussian noise, x' = k x + c + sigma z, so the
 * mean and variance of x_T ~ N(0, 1) can be carried through the chain
 * exactly. Written here from the papers' formulas (Ho et al. 2020 eq. 7,
 * Song et al. 2021 eq. 12), independently of ddpmx's tables. */
typedef struct chain_spec {
  const char *sampler;
  int64_t steps;       /* 0: all */
  double eta;          /* ddim */
  const char *spacing; /* dpmpp_2m: "logsnr" or "karras" (its default); NULL: evenly in t */
  bool sde;            /* dpmpp_2m: the SDE solver */
  bool own_only;       /* checked against its exact moments only, as its discretisation error is
                          larger than the check's sampling error */
} chain_spec;

/* The model timestep of kept step i of n out of T (i = -1: t = 0). */
static int64_t kept_step(int64_t i, int64_t n, int64_t T) {
  if (i < 0) return -1;
  return n == T ? i : (int64_t)nearbyint(i * (double)(T - 1) / (double)(n - 1));
}

static double lambda_of(double abar) { return 0.5 * log(abar / (1 - abar)); }

/* The step nearest each of n - 1 points evenly from c(0) to top over all of
 * 0..T - 2 (a search of its own, not ddpmx's walk), kept strictly
 * increasing, then T - 1. */
static void nearest_steps(const double *c, int64_t T, int64_t n, double top, int64_t *keep) {
  for (int64_t i = 0; i < n - 1; i++) {
    double want = c[0] + (top - c[0]) * i / (double)(n - 2), best = INFINITY;
    for (int64_t t = 0; t < T - 1; t++)
      if (fabs(c[t] - want) < best) best = fabs(c[t] - want), keep[i] = t;
    if (i > 0 && keep[i] <= keep[i - 1]) keep[i] = keep[i - 1] + 1;
    if (keep[i] > T - n + i) keep[i] = T - n + i;
  }
  keep[n - 1] = T - 1;
}

/* The logSNR steps as DPM-Solver takes them, n >= 3: n lambdas evenly from
 * lambda(0) to lambda(T - 1), the one below the top moved up to
 * lambda(T - 2) if it falls inside the last step, those below it spread
 * evenly again. Karras et al.'s steps (2022, eq. 5; rho = 7, sigma_max =
 * 80): sigma^(1/7) evenly from sigma(0)^(1/7) to 80^(1/7), here increasing
 * with t, then T - 1. */
static void spaced_steps(const char *spacing, const double *abar, int64_t T, int64_t n,
                         int64_t *keep) {
  double *c = calloc((size_t)T, sizeof *c);
  ck_assert_ptr_nonnull(c);
  bool karras = !strcmp(spacing, "karras");
  for (int64_t t = 0; t < T; t++)
    c[t] = karras ? pow((1 - abar[t]) / abar[t], 0.5 / 7) : lambda_of(abar[t]);
  double top = karras ? fmin(pow(80.0, 1.0 / 7), c[T - 2])
                      : fmax(c[0] + (c[T - 1] - c[0]) * (n - 2) / (double)(n - 1), c[T - 2]);
  nearest_steps(c, T, n, top, keep);
  free(c);
}

/* DPM-Solver++(2M) (Lu et al. 2022 Algorithm 2, first order at the first
 * and the last two steps) is, with this oracle, affine in x_T and in the
 * SDE solver's step noises: x and the previous x0_hat are carried exactly as
 * c + sum_j w_j g_j over independent standard normals, g_0 = x_T and g_i the
 * noise of step i. The SDE step (the same paper's SDE-DPM-Solver++(2M)):
 * x_t = (sigma_t / sigma_s) e^{-h} x_s + alpha_t (1 - e^{-2h}) D
 *       + sigma_t sqrt(1 - e^{-2h}) g. */
static void dpmpp_moments(const double *abar_full, int64_t T, int64_t n, const chain_spec *cs,
                          double *mean, double *var) {
  int64_t *keep = malloc((size_t)n * sizeof *keep);
  if (cs->spacing)
    spaced_steps(cs->spacing, abar_full, T, n, keep);
  else
    for (int64_t i = 0; i < n; i++)
      keep[i] = kept_step(i, n, T);
  double *w = calloc((size_t)n, sizeof *w), *pw = calloc((size_t)n, sizeof *pw);
  double *xw = calloc((size_t)n, sizeof *xw), *dw = calloc((size_t)n, sizeof *dw);
  double c = 0, pc = 0;
  w[0] = 1;
  for (int64_t i = n - 1; i >= 0; i--) {
    double a = abar_full[keep[i]], V = a * S * S + 1 - a;
    double A = sqrt(a) * S * S / V, B = (1 - a) * M / V; /* E[x0 | x_t] = A x_t + B */
    for (int64_t j = 0; j < n; j++)
      xw[j] = A * w[j]; /* x0_hat */
    double xc = A * c + B;
    if (i == 0) {
      memcpy(w, xw, (size_t)n * sizeof *w), c = xc;
      break;
    }
    double at = abar_full[keep[i - 1]];
    double lam_s = lambda_of(a), lam_t = lambda_of(at), h = lam_t - lam_s;
    double u = 1, v = 0, dc = xc; /* D = u x0_hat + v prev */
    if (i < n - 1 && i > 1) {
      double r = (lam_s - lambda_of(abar_full[keep[i + 1]])) / h;
      u = 1 + 1 / (2 * r), v = -1 / (2 * r), dc = u * xc + v * pc;
    }
    for (int64_t j = 0; j < n; j++)
      dw[j] = u * xw[j] + v * pw[j];
    double e = exp(-h), ratio = sqrt((1 - at) / (1 - a)), kx = cs->sde ? ratio * e : ratio;
    double g = sqrt(at) * (cs->sde ? 1 - e * e : 1 - e);
    for (int64_t j = 0; j < n; j++)
      w[j] = kx * w[j] + g * dw[j];
    c = kx * c + g * dc;
    if (cs->sde) w[i] += sqrt(1 - at) * sqrt(1 - e * e); /* step i's own noise */
    memcpy(pw, xw, (size_t)n * sizeof *pw), pc = xc;
  }
  double v2 = 0;
  for (int64_t j = 0; j < n; j++)
    v2 += w[j] * w[j];
  *mean = c, *var = v2;
  free(keep), free(w), free(pw), free(xw), free(dw);
}

static void chain_moments(const double *abar_full, int64_t T, const chain_spec *c, double *mean,
                          double *var) {
  int64_t n = c->steps ? c->steps : T;
  if (!strcmp(c->sampler, "dpmpp_2m")) {
    dpmpp_moments(abar_full, T, n, c, mean, var);
    return;
  }
  double mu = 0, v = 1;
  for (int64_t i = n - 1; i >= 0; i--) {
    /* the kept steps: evenly spaced, rounded half to even like Python */
    int64_t ti = n == T ? i : (int64_t)nearbyint(i * (double)(T - 1) / (double)(n - 1));
    int64_t tp = i == 0   ? -1
                 : n == T ? i - 1
                          : (int64_t)nearbyint((i - 1) * (double)(T - 1) / (double)(n - 1));
    double a = abar_full[ti], ap = tp < 0 ? 1.0 : abar_full[tp], V = a * S * S + 1 - a;
    double A = sqrt(a) * S * S / V, B = (1 - a) * M / V; /* E[x0 | x_t] = A x_t + B */
    double k, c0, s2;
    if (!strcmp(c->sampler, "ddim")) {
      double sig2 = i ? c->eta * c->eta * (1 - ap) / (1 - a) * (1 - a / ap) : 0;
      double r =
          sqrt(fmax(1 - ap - sig2, 0)) / sqrt(1 - a); /* eps = (x - sqrt(a) x0) / sqrt(1 - a) */
      k = sqrt(ap) * A + r * (1 - sqrt(a) * A);
      c0 = sqrt(ap) * B - r * sqrt(a) * B;
      s2 = sig2;
    } else {
      double beta = 1 - a / ap, bt = beta * (1 - ap) / (1 - a);
      double c1 = beta * sqrt(ap) / (1 - a), c2 = (1 - ap) * sqrt(1 - beta) / (1 - a);
      k = c1 * A + c2;
      c0 = c1 * B;
      s2 = i == 0 ? 0 : !strcmp(c->sampler, "beta") ? beta : bt;
    }
    mu = k * mu + c0;
    v = k * k * v + s2;
  }
  *mean = mu, *var = v;
}

/* The cosine schedule (Nichol & Dhariwal 2021 eq. 17): its small steps near
 * t = 0 keep respaced samplers' discretisation error small. */
static dx_diffusion *cosine_schedule(dx_ctx *ctx, int64_t T) {
  double *b = malloc((size_t)T * sizeof *b);
  for (int64_t i = 0; i < T; i++) {
    double f0 = cos(((double)i / T + 0.008) / 1.008 * M_PI / 2);
    double f1 = cos(((double)(i + 1) / T + 0.008) / 1.008 * M_PI / 2);
    b[i] = fmin(1 - f1 * f1 / (f0 * f0), 0.999);
  }
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  free(b);
  ck_assert_ptr_nonnull(d);
  return d;
}

static void check_samples(dx_ctx *ctx, const dx_diffusion *d, const chain_spec *c,
                          dx_predict predict) {
  char steps[32], eta[32];
  snprintf(steps, sizeof steps, "steps=%lld", (long long)c->steps);
  snprintf(eta, sizeof eta, "eta=%g", c->eta);
  const char *kv[4] = {"clip=false", steps, NULL, NULL};
  int nkv = 2;
  if (!strcmp(c->sampler, "ddim"))
    kv[nkv++] = eta;
  else if (!strcmp(c->sampler, "dpmpp_2m"))
    kv[nkv++] = !c->spacing                     ? "spacing=uniform"
                : !strcmp(c->spacing, "karras") ? "spacing=karras"
                                                : "spacing=logsnr";
  if (c->sde) kv[nkv++] = "sde=true";
  dxt_plugin p;
  dx_sampler s = open_sampler(ctx, &p, c->sampler, kv, nkv);
  oracle o = {d, M, S, predict};
  int64_t shape[4] = {64, 1, 8, 8};
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F64, 4, shape);
  ck_assert_msg(dx_sample(ctx, &s, d, predict, oracle_model, &o, 1234, x) == DX_OK, "%s: %s",
                c->sampler, dx_error_message(ctx));
  int64_t n = dx_numel(x);
  double *v = dxt_values(ctx, x), mean = 0, var = 0, cm, cv;
  for (int64_t k = 0; k < n; k++)
    mean += v[k] / (double)n;
  for (int64_t k = 0; k < n; k++)
    var += (v[k] - mean) * (v[k] - mean) / (double)(n - 1);
  chain_moments(d->alpha_bar, d->T, c, &cm, &cv);
  char word[8];
  fprintf(stderr,
          "oracle samples, %-10s steps %4lld eta %g predict %-3s: mean %.4f variance %.4f "
          "(data %.2f %.2f; exact for this sampler %.4f %.4f)\n",
          c->sampler, (long long)c->steps, c->eta,
          dx_words_at(DX_PREDICT_WORDS, (int)predict, word, sizeof word), mean, var, M, S * S, cm,
          cv);
  /* 4 standard errors of the mean and variance of n normal draws: against
   * the data's (m, s^2), and, sharper, against the sampler's own exact
   * moments, which differ from (m, s^2) by its discretisation error. */
  double tol_mean = 4 * S / sqrt((double)n), tol_var = 4 * cv * sqrt(2.0 / (double)(n - 1));
  ck_assert_msg(c->own_only || (fabs(mean - M) < tol_mean && fabs(var - S * S) < tol_var),
                "%s steps %lld: mean %.4f variance %.4f, want %.2f %.2f", c->sampler,
                (long long)c->steps, mean, var, M, S * S);
  ck_assert_msg(fabs(mean - cm) < tol_mean && fabs(var - cv) < tol_var,
                "%s steps %lld: mean %.4f variance %.4f, exact %.4f %.4f", c->sampler,
                (long long)c->steps, mean, var, cm, cv);
  free(v);
  dx_tensor_free(ctx, x);
  dx_sampler_release(&s);
  dxt_plugin_free(&p);
}

START_TEST(ancestral_samplers_reproduce_the_data_distribution) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = cosine_schedule(ctx, 1000);
  const chain_spec specs[4] = {{"beta_tilde", 0, 0, NULL, false, false},
                               {"beta", 0, 0, NULL, false, false},
                               {"beta_tilde", 250, 0, NULL, false, false},
                               {"beta", 100, 0, NULL, false, false}};
  for (int k = 0; k < 4; k++)
    check_samples(ctx, d, &specs[k], DX_PREDICT_EPS);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(ddim_reproduces_the_data_distribution) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = cosine_schedule(ctx, 1000);
  const chain_spec specs[2] = {{"ddim", 100, 0.0, NULL, false, false},
                               {"ddim", 250, 1.0, NULL, false, false}};
  for (int k = 0; k < 2; k++)
    check_samples(ctx, d, &specs[k], DX_PREDICT_EPS);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* DPM-Solver++(2M) on its logSNR steps at 20 steps for each prediction
 * target, and at 10 and 50; and at 20 steps evenly spaced in t. At 20
 * Karras steps, whose exact variance is 9 % above the data's (0.1743
 * against 0.16), against its own exact moments only. */
START_TEST(dpm_solver_reproduces_the_data_distribution) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = cosine_schedule(ctx, 1000);
  const chain_spec at20 = {"dpmpp_2m", 20, 0, "logsnr", false, false},
                   at50 = {"dpmpp_2m", 50, 0, "logsnr", false, false};
  const chain_spec even20 = {"dpmpp_2m", 20, 0, NULL, false, false},
                   at10 = {"dpmpp_2m", 10, 0, "logsnr", false, false},
                   karras20 = {"dpmpp_2m", 20, 0, "karras", false, true};
  check_samples(ctx, d, &at20, DX_PREDICT_EPS);
  check_samples(ctx, d, &at20, DX_PREDICT_X0);
  check_samples(ctx, d, &at20, DX_PREDICT_V);
  check_samples(ctx, d, &at50, DX_PREDICT_EPS);
  check_samples(ctx, d, &at10, DX_PREDICT_EPS);
  check_samples(ctx, d, &even20, DX_PREDICT_EPS);
  check_samples(ctx, d, &karras20, DX_PREDICT_EPS);
  check_samples(ctx, d, &karras20, DX_PREDICT_V);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* SDE-DPM-Solver++(2M) at 50 logSNR steps for two prediction targets and at
 * 20 steps evenly spaced in t; at 20 logSNR steps, whose exact variance is
 * 8 % above the data's (0.1732 against 0.16; 10 steps: 0.1317), and at 20
 * Karras steps (0.1881), against their own exact moments only. */
START_TEST(sde_dpm_solver_reproduces_the_data_distribution) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = cosine_schedule(ctx, 1000);
  const chain_spec at50 = {"dpmpp_2m", 50, 0, "logsnr", true, false};
  const chain_spec even20 = {"dpmpp_2m", 20, 0, NULL, true, false};
  const chain_spec at20 = {"dpmpp_2m", 20, 0, "logsnr", true, true};
  const chain_spec karras20 = {"dpmpp_2m", 20, 0, "karras", true, true};
  check_samples(ctx, d, &at50, DX_PREDICT_EPS);
  check_samples(ctx, d, &at50, DX_PREDICT_V);
  check_samples(ctx, d, &at20, DX_PREDICT_EPS);
  check_samples(ctx, d, &even20, DX_PREDICT_EPS);
  check_samples(ctx, d, &karras20, DX_PREDICT_EPS);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* The same oracle written as an x0- or v-predictor samples the same way. */
START_TEST(every_prediction_target_samples_alike) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = cosine_schedule(ctx, 1000);
  const chain_spec ddim = {"ddim", 100, 0.0, NULL, false, false},
                   anc = {"beta", 100, 0, NULL, false, false};
  check_samples(ctx, d, &ddim, DX_PREDICT_X0);
  check_samples(ctx, d, &ddim, DX_PREDICT_V);
  check_samples(ctx, d, &anc, DX_PREDICT_V);
  check_samples(ctx, d, &anc, DX_PREDICT_X0);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* --- (b) bits/dim against an independent evaluation -------------------------------- */

/* Images on the 256-level grid drawn from N(M, S^2) (clamped to the grid's
 * ends), with an independent generator. */
static dx_tensor *gaussian_images(dx_ctx *ctx, int64_t n, int64_t side, uint64_t seed) {
  int64_t shape[4] = {n, 1, side, side}, count = n * side * side;
  double *v = malloc((size_t)count * sizeof *v);
  srand48((long)seed);
  for (int64_t k = 0; k < count; k++) {
    double z = sqrt(-2 * log(1 - drand48())) * cos(2 * M_PI * drand48());
    double level = fmin(fmax(round((M + S * z + 1) * 127.5), 0), 255);
    v[k] = level / 127.5 - 1;
  }
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, x, v, DX_F64);
  free(v);
  return x;
}

typedef struct expected {
  double total, prior, decoder, sd; /* bits/dim; sd: Monte Carlo standard deviation of ddpmx's */
} expected;

/* -log P(x0's bin) as a function of the standard normal eps that made x_1:
 * its mean and mean square over eps by the trapezoid rule on [-10, 10]. */
static void decoder_moments(const dx_diffusion *d, double x0, double lv, const oracle *o,
                            double *m1, double *m2) {
  double ab = d->alpha_bar[0], a = sqrt(ab), b = sqrt(1 - ab), V = ab * o->s * o->s + 1 - ab;
  double A = a * o->s * o->s / V, B = (1 - ab) * o->m / V, h = 20.0 / 4000;
  *m1 = *m2 = 0;
  for (int k = 0; k <= 4000; k++) {
    double e = -10 + k * h, xt = a * x0 + b * e;
    double mean = d->posterior_mean_coef1[0] * (A * xt + B) + d->posterior_mean_coef2[0] * xt;
    double f = -dx_discretized_gaussian_log_likelihood(x0, mean, 0.5 * lv);
    double w = h * exp(-0.5 * e * e) / sqrt(2 * M_PI) * (k == 0 || k == 4000 ? 0.5 : 1);
    *m1 += w * f, *m2 += w * f * f;
  }
}

/* The bound for the oracle o (written as E[x0 | x_t] = A x_t + B) on images
 * x, averaged over the noise exactly: the KL at t > 1 is quadratic in eps,
 * KL = k0 + k1 (u - A b eps)^2 with u = (1 - A a) x0 - B, so its mean and
 * variance are closed forms; the decoder's are a 1-D quadrature. */
static expected expected_bound(const dx_diffusion *d, const double *x, int64_t P, const oracle *o,
                               const double *logvar) {
  expected e = {0};
  double var = 0;
  for (int64_t i = 0; i < d->T; i++) {
    double ab = d->alpha_bar[i], a = sqrt(ab), b = sqrt(1 - ab), V = ab * o->s * o->s + 1 - ab;
    double A = a * o->s * o->s / V, B = (1 - ab) * o->m / V, c1 = d->posterior_mean_coef1[i];
    double lv1 = d->log_beta_tilde_clipped[i], lv2 = logvar[i];
    double k0 = 0.5 * (-1 + lv2 - lv1 + exp(lv1 - lv2)), k1 = 0.5 * exp(-lv2) * c1 * c1;
    for (int64_t q = 0; q < P; q++) {
      double mean, sq;
      if (i == 0) {
        decoder_moments(d, x[q], logvar[0], o, &mean, &sq);
        e.decoder += mean / (P * M_LN2);
      } else {
        double u = (1 - A * a) * x[q] - B, g = A * b;
        mean = k0 + k1 * (u * u + g * g);
        sq = mean * mean + k1 * k1 * (4 * u * u * g * g + 2 * g * g * g * g);
      }
      e.total += mean / (P * M_LN2);
      var += (sq - mean * mean) / ((double)P * P * M_LN2 * M_LN2);
    }
  }
  double abT = d->alpha_bar[d->T - 1];
  for (int64_t q = 0; q < P; q++)
    e.prior += 0.5 * (abT * x[q] * x[q] - abT - log(1 - abT)) / (P * M_LN2);
  e.total += e.prior;
  e.sd = sqrt(var);
  return e;
}

static dx_bpd_result ddpmx_bpd(dx_ctx *ctx, const dx_diffusion *d, const char *sampler,
                               const oracle *o, const dx_tensor *x0, double *per_t) {
  dxt_plugin p;
  const char *kv[1] = {"clip=false"}; /* the independent bound has no clipping */
  dx_sampler s = open_sampler(ctx, &p, sampler, kv, 1);
  dx_bpd_result r = {.per_t = per_t};
  ck_assert_msg(dx_bits_per_dim(ctx, &s, d, o->predict, oracle_model, (void *)o, x0, 77, &r) ==
                    DX_OK,
                "%s", dx_error_message(ctx));
  dx_sampler_release(&s);
  dxt_plugin_free(&p);
  return r;
}

START_TEST(bits_per_dim_matches_an_independent_bound) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = linear_schedule(ctx, 1000);
  dx_tensor *x0 = gaussian_images(ctx, 64, 8, 3);
  int64_t P = dx_numel(x0);
  double *x = dxt_values(ctx, x0), *per_t = malloc(1000 * sizeof *per_t);
  const char *samplers[2] = {"beta_tilde", "beta"};
  const double *logvars[2] = {d->log_beta_tilde_clipped, d->log_beta};
  for (int k = 0; k < 2; k++) {
    oracle o = {d, M, S, DX_PREDICT_EPS};
    dx_bpd_result r = ddpmx_bpd(ctx, d, samplers[k], &o, x0, per_t);
    expected e = expected_bound(d, x, P, &o, logvars[k]);
    fprintf(stderr,
            "oracle bits/dim, sigma^2 = %-10s: ddpmx total %.4f (prior %.2e, decoder %.4f); "
            "independent %.4f (prior %.2e, decoder %.4f), Monte Carlo sd %.4f\n",
            samplers[k], r.total, r.prior, r.decoder, e.total, e.prior, e.decoder, e.sd);
    ck_assert_msg(fabs(r.total - e.total) < 4 * e.sd, "%s: total %.5f vs %.5f (sd %.5f)",
                  samplers[k], r.total, e.total, e.sd);
    ck_assert_double_eq_tol(r.prior, e.prior, 1e-12);
    double sum = r.prior;
    for (int i = 0; i < 1000; i++)
      sum += per_t[i];
    ck_assert_double_eq_tol(sum, r.total, 1e-9);
    ck_assert_double_eq(per_t[0], r.decoder);
  }
  free(x), free(per_t);
  dx_tensor_free(ctx, x0);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* --- (c) a wrong model scores worse ---------------------------------------------------- */

START_TEST(a_wrong_model_scores_worse) {
  dx_ctx *ctx = dxt_ctx(2);
  dx_diffusion *d = linear_schedule(ctx, 1000);
  dx_tensor *x0 = gaussian_images(ctx, 64, 8, 3);
  int64_t P = dx_numel(x0);
  double *x = dxt_values(ctx, x0);
  oracle right = {d, M, S, DX_PREDICT_EPS};
  oracle wrong[2] = {{d, M + 0.3, S, DX_PREDICT_EPS}, {d, M, 2 * S, DX_PREDICT_EPS}};
  dx_bpd_result r = ddpmx_bpd(ctx, d, "beta_tilde", &right, x0, NULL);
  expected er = expected_bound(d, x, P, &right, d->log_beta_tilde_clipped);
  for (int k = 0; k < 2; k++) {
    dx_bpd_result w = ddpmx_bpd(ctx, d, "beta_tilde", &wrong[k], x0, NULL);
    expected ew = expected_bound(d, x, P, &wrong[k], d->log_beta_tilde_clipped);
    fprintf(stderr,
            "wrong model (m %.1f, s %.1f): ddpmx %.4f bits/dim, independent %.4f; oracle %.4f\n",
            wrong[k].m, wrong[k].s, w.total, ew.total, r.total);
    /* Worse by many standard deviations of the two estimates. */
    ck_assert_msg(w.total > r.total + 5 * hypot(er.sd, ew.sd),
                  "wrong model %d: %.4f vs oracle %.4f", k, w.total, r.total);
    ck_assert_msg(fabs(w.total - ew.total) < 4 * ew.sd, "wrong model %d: %.5f vs %.5f", k, w.total,
                  ew.total);
  }
  free(x);
  dx_tensor_free(ctx, x0);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("oracle");
  TCase *tc = tcase_create("oracle");
  tcase_set_timeout(tc, 300);
  DXT_ADD(tc, ancestral_samplers_reproduce_the_data_distribution);
  DXT_ADD(tc, ddim_reproduces_the_data_distribution);
  DXT_ADD(tc, dpm_solver_reproduces_the_data_distribution);
  DXT_ADD(tc, sde_dpm_solver_reproduces_the_data_distribution);
  DXT_ADD(tc, every_prediction_target_samples_alike);
  DXT_ADD(tc, bits_per_dim_matches_an_independent_bound);
  DXT_ADD(tc, a_wrong_model_scores_worse);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(suite()); }
