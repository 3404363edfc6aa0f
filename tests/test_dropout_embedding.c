/* Dropout (statistics, scaling, reproducibility, gradient with the mask held
 * fixed) and the sinusoidal time embedding (against values computed by
 * Python's math module in double, and against the formula evaluated here). */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"

/* --- dropout ------------------------------------------------------------------- */

START_TEST(dropout_zeroes_about_p_and_scales_the_rest) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t s[4] = {8, 25, 25, 40}; /* 200000 elements */
  double p = 0.3;
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    dx_tensor *x = dxt_param(ctx, dt, 4, s, 0.5, 1.5, 1); /* never 0: a zero means dropped */
    dx_set_seed(ctx, 1234);
    dx_tensor *y = dx_dropout(ctx, x, p, true);
    ck_assert_ptr_nonnull(y);
    double *xv = dxt_values(ctx, x), *yv = dxt_values(ctx, y);
    int64_t n = 200000, zeros = 0;
    for (int64_t i = 0; i < n; i++) {
      if (yv[i] == 0)
        zeros++;
      else
        ck_assert_double_eq_tol(yv[i], xv[i] / (1 - p), 1e-6 * yv[i]);
    }
    /* Binomial: standard error sqrt(p(1-p)/n) = 0.00102; allow 5 of them. */
    ck_assert_double_lt(fabs((double)zeros / (double)n - p), 0.0052);
    free(xv), free(yv);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(dropout_is_reproducible_from_the_seed) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[2] = {7, 33};
  dx_tensor *x = dxt_param(ctx, DX_F32, 2, s, 0.5, 1.5, 2);
  dx_set_seed(ctx, 99);
  double *a = dxt_values(ctx, dx_dropout(ctx, x, 0.5, true));
  double *b = dxt_values(ctx, dx_dropout(ctx, x, 0.5, true)); /* the stream moved on */
  dx_set_seed(ctx, 99);
  double *c = dxt_values(ctx, dx_dropout(ctx, x, 0.5, true));
  int differ = 0;
  for (int i = 0; i < 7 * 33; i++) {
    ck_assert_double_eq(a[i], c[i]);
    differ += (a[i] == 0) != (b[i] == 0);
  }
  ck_assert_int_gt(differ, 0);
  free(a), free(b), free(c);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(dropout_identity_and_bad_p) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[1] = {10};
  dx_tensor *x = dxt_param(ctx, DX_F64, 1, s, -1, 1, 3);
  uint64_t before = dx_next_rng_offset(ctx, 0);
  ck_assert_ptr_eq(dx_dropout(ctx, x, 0.5, false), x);
  ck_assert_ptr_eq(dx_dropout(ctx, x, 0.0, true), x);
  ck_assert_uint_eq(dx_next_rng_offset(ctx, 0), before); /* nothing drawn */
  double bad[3] = {1.0, -0.1, NAN};
  for (int i = 0; i < 3; i++) {
    ck_assert_ptr_null(dx_dropout(ctx, x, bad[i], true));
    ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
    dx_clear_error(ctx);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* Reseeding before every call holds the mask fixed across the probes. */
static dx_tensor *dropout_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  dx_set_seed(ctx, 42);
  return dx_dropout(ctx, in[0], 0.25, true);
}

START_TEST(dropout_gradient) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {2, 3, 5, 7};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, s, 0.5, 1.5, 4);
  dxt_gradcheck(ctx, dropout_fn, &x, 1, NULL, NULL);
  dxt_f32_vs_f64(ctx, dropout_fn, &x, 1, NULL, 1e-6);
  /* d sum(y)/dx is the mask itself: 0 or 1/(1-p) */
  dx_zero_grad(ctx, x);
  dx_tensor *y = dropout_fn(ctx, &x, NULL);
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, y)), DX_OK);
  double *yv = dxt_values(ctx, y), *g = dxt_values(ctx, x->grad);
  for (int i = 0; i < 210; i++)
    ck_assert_double_eq(g[i], yv[i] == 0 ? 0.0 : 1 / 0.75);
  free(yv), free(g);
  dx_ctx_free(ctx);
}
END_TEST

/* --- time embedding ------------------------------------------------------------------ */

/* From Python 3 (math.sin/cos, double): dim 8, half 4, f_k = 10000^(-k/3). */
static const double t_known[2] = {1, 999};
static const double emb_known[2][8] = {
    {0.8414709848078965, 0.04639922346473126, 0.0021544330233656027, 9.999999983333325e-05,
     0.5403023058681398, 0.9989229760406304, 0.9999976792064809, 0.999999995},
    {-0.026460752737064126, 0.6848642293578692, 0.8356485008858456, 0.09973391573129901,
     0.9996498529808264, -0.7286706988386812, -0.5492645837547137, 0.995014143644653},
};

START_TEST(time_embedding_known_values) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[1] = {2};
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    dx_tensor *t = dx_tensor_new(ctx, dt, 1, s);
    dx_tensor_write(ctx, t, t_known, DX_F64);
    dx_tensor *e = dx_time_embedding(ctx, t, 8);
    ck_assert(e && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 8 &&
              e->dtype == (dx_dtype)dt);
    double v[16];
    dx_tensor_read(ctx, e, v, DX_F64);
    /* float32 output is the double result rounded once (|err| <= 2^-25), which
     * a float32 product t * f_k (off by ~1e-4 rad at t = 999) would miss */
    double tol = dt == DX_F64 ? 1e-13 : 3e-8; /* f64: t * ulp(f_k) at t = 999 */
    for (int i = 0; i < 2; i++)
      for (int k = 0; k < 8; k++)
        ck_assert_double_eq_tol(v[i * 8 + k], emb_known[i][k], tol);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* The formula of DESIGN 6 evaluated here, over many timesteps and sizes. */
START_TEST(time_embedding_matches_formula) {
  dx_ctx *ctx = dxt_ctx(2);
  int dims[3] = {4, 10, 128};
  int64_t s[1] = {300};
  double tv[300];
  for (int i = 0; i < 300; i++)
    tv[i] = (i * 7919) % 1000;
  for (int d = 0; d < 3; d++) {
    int dim = dims[d], half = dim / 2;
    dx_tensor *t = dx_tensor_new(ctx, DX_F64, 1, s);
    dx_tensor_write(ctx, t, tv, DX_F64);
    double *e = dxt_values(ctx, dx_time_embedding(ctx, t, dim));
    for (int i = 0; i < 300; i++)
      for (int k = 0; k < half; k++) {
        double f = pow(10000.0, -(double)k / (half - 1));
        ck_assert_double_eq_tol(e[i * dim + k], sin(tv[i] * f), 1e-12);
        ck_assert_double_eq_tol(e[i * dim + half + k], cos(tv[i] * f), 1e-12);
      }
    free(e);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(time_embedding_rejects_bad_arguments) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s1[1] = {3}, s2[2] = {3, 1};
  dx_tensor *t = dxt_param(ctx, DX_F32, 1, s1, 0, 10, 1);
  dx_tensor *e = dx_time_embedding(ctx, t, 6);
  ck_assert(e && !(e->flags & DX_TENSOR_REQUIRES_GRAD)); /* not differentiable in t */
  int bad[3] = {7, 2, 0};
  for (int i = 0; i < 3; i++) {
    ck_assert_ptr_null(dx_time_embedding(ctx, t, bad[i]));
    ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
    dx_clear_error(ctx);
  }
  ck_assert_ptr_null(dx_time_embedding(ctx, dx_tensor_zeros(ctx, DX_F32, 2, s2), 8));
  ck_assert_str_eq(dx_error_message(ctx), "time_embedding: t must be 1-D (N), got (3, 1)");
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dropout_embedding");
  TCase *tc = tcase_create("dropout_embedding");
  DXT_ADD(tc, dropout_zeroes_about_p_and_scales_the_rest);
  DXT_ADD(tc, dropout_is_reproducible_from_the_seed);
  DXT_ADD(tc, dropout_identity_and_bad_p);
  DXT_ADD(tc, dropout_gradient);
  DXT_ADD(tc, time_embedding_known_values);
  DXT_ADD(tc, time_embedding_matches_formula);
  DXT_ADD(tc, time_embedding_rejects_bad_arguments);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
