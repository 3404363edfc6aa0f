#include "dx_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dx_ctx *dxt_ctx(int threads) {
  char err[256] = "";
  dx_ctx_opts o = {.threads = threads};
  dx_ctx *ctx = dx_ctx_create(&o, err, sizeof err);
  ck_assert_msg(ctx != NULL, "dx_ctx_create: %s", err);
  return ctx;
}

/* splitmix64: a tiny independent generator so that test data does not depend
 * on the library's own random kernels. */
static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

dx_tensor *dxt_param(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape, double lo, double hi,
                     uint64_t seed) {
  dx_tensor *t = dx_param_new(ctx, dt, ndim, shape, NULL);
  ck_assert_msg(t != NULL, "dx_param_new: %s", dx_error_message(ctx));
  int64_t n = dx_numel(t);
  double *v = malloc((size_t)n * sizeof *v);
  uint64_t s = seed * 7919 + 1;
  for (int64_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * (double)(splitmix(&s) >> 11) * 0x1.0p-53;
  dx_tensor_write(ctx, t, v, DX_F64);
  free(v);
  return t;
}

double *dxt_values(dx_ctx *ctx, const dx_tensor *t) {
  double *v = malloc((size_t)dx_numel(t) * sizeof *v);
  ck_assert_ptr_nonnull(v);
  dx_tensor_read(ctx, t, v, DX_F64);
  return v;
}

double dxt_rel_err(const double *a, const double *b, int64_t n, double floor) {
  double err = 0, scale = floor;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]);
    if (d > err || isnan(d)) err = isnan(d) ? INFINITY : d;
    if (fabs(b[i]) > scale) scale = fabs(b[i]);
  }
  return err / scale;
}

/* sum(y * r) on the host; r is the fixed seed gradient. */
static double objective(dx_ctx *ctx, dxt_fn f, dx_tensor **in, void *user, const double *r,
                        int64_t nr) {
  dx_step_reset(ctx);
  bool old = dx_set_grad_enabled(ctx, false);
  dx_tensor *y = f(ctx, in, user);
  dx_set_grad_enabled(ctx, old);
  ck_assert_msg(y != NULL, "forward failed: %s", dx_error_message(ctx));
  ck_assert_int_eq(dx_numel(y), nr);
  double *yv = dxt_values(ctx, y), s = 0;
  for (int64_t i = 0; i < nr; i++)
    s += yv[i] * r[i];
  free(yv);
  return s;
}

static double *seed_values(int64_t n) {
  double *r = malloc((size_t)n * sizeof *r);
  uint64_t s = 4242;
  for (int64_t i = 0; i < n; i++)
    r[i] = 2.0 * (double)(splitmix(&s) >> 11) * 0x1.0p-53 - 1.0;
  return r;
}

/* Runs forward + backward with seed r; returns y's element count, and the
 * seed through *r_out (caller frees). Input gradients are left in in[i]->grad. */
static int64_t forward_backward(dx_ctx *ctx, dxt_fn f, dx_tensor **in, int n_in, void *user,
                                double **r_out) {
  dx_step_reset(ctx);
  for (int i = 0; i < n_in; i++)
    dx_zero_grad(ctx, in[i]);
  dx_tensor *y = f(ctx, in, user);
  ck_assert_msg(y != NULL, "forward failed: %s", dx_error_message(ctx));
  int64_t n = dx_numel(y);
  double *r = seed_values(n);
  dx_tensor *dy = dx_tensor_new(ctx, y->dtype, y->ndim, y->shape);
  dx_tensor_write(ctx, dy, r, DX_F64);
  ck_assert_msg(dx_backward_seed(ctx, y, dy) == DX_OK, "backward failed: %s",
                dx_error_message(ctx));
  *r_out = r;
  return n;
}

double dxt_gradcheck(dx_ctx *ctx, dxt_fn f, dx_tensor **in, int n_in, void *user,
                     const dxt_gradcheck_opts *opts) {
  double eps = opts && opts->eps > 0 ? opts->eps : 1e-6;
  double tol = opts && opts->tol > 0 ? opts->tol : 1e-6;
  int64_t max_probe = opts && opts->max_probe > 0 ? opts->max_probe : 4096;
  double *r;
  int64_t nr = forward_backward(ctx, f, in, n_in, user, &r);
  double worst = 0;
  for (int i = 0; i < n_in; i++) {
    ck_assert_msg(in[i]->dtype == DX_F64, "gradcheck input %d must be float64", i);
    int64_t n = dx_numel(in[i]);
    double *an = dxt_values(ctx, in[i]->grad), *x = dxt_values(ctx, in[i]);
    int64_t step = n > max_probe ? (n + max_probe - 1) / max_probe : 1, probes = 0;
    double *fd = calloc((size_t)n, sizeof *fd), *anp = calloc((size_t)n, sizeof *anp);
    for (int64_t j = 0; j < n; j += step, probes++) {
      double keep = x[j];
      x[j] = keep + eps;
      dx_tensor_write(ctx, in[i], x, DX_F64);
      double lp = objective(ctx, f, in, user, r, nr);
      x[j] = keep - eps;
      dx_tensor_write(ctx, in[i], x, DX_F64);
      double lm = objective(ctx, f, in, user, r, nr);
      x[j] = keep;
      dx_tensor_write(ctx, in[i], x, DX_F64);
      fd[probes] = (lp - lm) / (2 * eps);
      anp[probes] = an[j];
    }
    double err = dxt_rel_err(anp, fd, probes, 1e-3);
    if (err > worst) worst = err;
    ck_assert_msg(err <= tol,
                  "gradient of input %d: relative error %.3g > %.3g (probed %lld of %lld)", i, err,
                  tol, (long long)probes, (long long)n);
    free(an), free(x), free(fd), free(anp);
  }
  free(r);
  dx_step_reset(ctx);
  return worst;
}

double dxt_f32_vs_f64(dx_ctx *ctx, dxt_fn f, dx_tensor **in64, int n_in, void *user, double tol) {
  dx_tensor *in32[8];
  ck_assert_int_le(n_in, 8);
  for (int i = 0; i < n_in; i++) {
    in32[i] = dx_param_new(ctx, DX_F32, in64[i]->ndim, in64[i]->shape, NULL);
    ck_assert_ptr_nonnull(in32[i]);
    dx_tensor_copy(ctx, in32[i], in64[i]);
  }
  double *r, *r32;
  /* Output of each precision. */
  dx_step_reset(ctx);
  dx_tensor *ya = f(ctx, in64, user);
  ck_assert_msg(ya != NULL, "float64 forward failed: %s", dx_error_message(ctx));
  int64_t n = dx_numel(ya);
  double *out64 = dxt_values(ctx, ya);
  dx_step_reset(ctx);
  dx_tensor *yb = f(ctx, in32, user);
  ck_assert_msg(yb != NULL, "float32 forward failed: %s", dx_error_message(ctx));
  ck_assert_msg(yb->dtype == DX_F32, "float32 inputs gave a %s output", dx_dtype_name(yb->dtype));
  double *out32 = dxt_values(ctx, yb);
  double worst = dxt_rel_err(out32, out64, n, 1e-12);
  ck_assert_msg(worst <= tol, "float32 output differs from float64 by %.3g > %.3g", worst, tol);
  /* Gradients of each precision. */
  forward_backward(ctx, f, in64, n_in, user, &r);
  forward_backward(ctx, f, in32, n_in, user, &r32);
  for (int i = 0; i < n_in; i++) {
    int64_t m = dx_numel(in64[i]);
    double *g64 = dxt_values(ctx, in64[i]->grad), *g32 = dxt_values(ctx, in32[i]->grad);
    double err = dxt_rel_err(g32, g64, m, 1e-12);
    if (err > worst) worst = err;
    ck_assert_msg(err <= tol, "float32 gradient of input %d differs by %.3g > %.3g", i, err, tol);
    free(g64), free(g32);
  }
  free(r), free(r32), free(out64), free(out32);
  for (int i = 0; i < n_in; i++)
    dx_tensor_free(ctx, in32[i]);
  dx_step_reset(ctx);
  return worst;
}

int dxt_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
