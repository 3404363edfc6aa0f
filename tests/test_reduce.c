/* Reductions: sum and mean over everything or over an axes mask, against
 * naive float64 loops written here; gradients by finite differences
 * (float64, 1e-6 relative) and float32 against float64 (1e-6: the backend
 * sums in double). */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"

/* The output slot that element i of x (shape s) lands in when the dims in
 * axes are summed away (kept dims keep their index, row-major). */
static int64_t slot_of(int64_t i, int nd, const int64_t *s, unsigned axes) {
  int64_t out = 0, mul = 1;
  for (int d = nd - 1; d >= 0; d--) {
    int64_t id = i % s[d];
    i /= s[d];
    if (!(axes & (1u << d))) {
      out += id * mul;
      mul *= s[d];
    }
  }
  return out;
}

/* y[j] = sum of x over the dims in axes, naively; returns the number of
 * elements summed into each output. */
static int64_t naive_sum_axes(const double *x, int nd, const int64_t *s, unsigned axes, double *y,
                              int64_t ny) {
  int64_t n = 1, count = 1;
  for (int d = 0; d < nd; d++) {
    n *= s[d];
    if (axes & (1u << d)) count *= s[d];
  }
  for (int64_t j = 0; j < ny; j++)
    y[j] = 0;
  for (int64_t i = 0; i < n; i++)
    y[slot_of(i, nd, s, axes)] += x[i];
  return count;
}

typedef struct red_case {
  unsigned axes; /* 0: dx_sum / dx_mean over everything */
  bool mean;
} red_case;

static dx_tensor *reduce_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  const red_case *c = user;
  if (c->axes == 0) return c->mean ? dx_mean(ctx, in[0]) : dx_sum(ctx, in[0]);
  return c->mean ? dx_mean_axes(ctx, in[0], c->axes) : dx_sum_axes(ctx, in[0], c->axes);
}

/* Forward values and the gradient of sum(y * dy), which is dy stretched
 * (divided by the count for a mean), against the naive loops. */
static void check_reduce(dx_ctx *ctx, dx_dtype dt, int nd, const int64_t *s, red_case c,
                         double tol) {
  dx_tensor *x = dxt_param(ctx, dt, nd, s, -1, 1, 11 + c.axes);
  dx_tensor *y = reduce_fn(ctx, &x, &c);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  unsigned axes = c.axes ? c.axes : (1u << nd) - 1;
  for (int d = 0; c.axes && d < nd; d++)
    ck_assert_int_eq(y->shape[d], axes & (1u << d) ? 1 : s[d]);
  if (!c.axes) ck_assert(y->ndim == 1 && y->shape[0] == 1);
  int64_t ny = dx_numel(y), nx = dx_numel(x);
  double *xv = dxt_values(ctx, x), *ref = malloc(ny * sizeof *ref);
  int64_t count = naive_sum_axes(xv, nd, s, axes, ref, ny);
  for (int64_t j = 0; c.mean && j < ny; j++)
    ref[j] /= (double)count;
  double *yv = dxt_values(ctx, y);
  ck_assert_msg(dxt_rel_err(yv, ref, ny, 1e-12) < tol, "axes 0x%x forward: %g", axes,
                dxt_rel_err(yv, ref, ny, 1e-12));
  /* Backward: x's gradient at i is dy at i's output slot (/count). */
  dx_tensor *dy = dxt_param(ctx, dt, y->ndim, y->shape, -1, 1, 5);
  ck_assert_int_eq(dx_backward_seed(ctx, y, dy), DX_OK);
  double *dyv = dxt_values(ctx, dy), *gx = dxt_values(ctx, x->grad),
         *want = malloc(nx * sizeof *want);
  for (int64_t i = 0; i < nx; i++)
    want[i] = dyv[slot_of(i, nd, s, axes)] / (c.mean ? (double)count : 1.0);
  ck_assert_msg(dxt_rel_err(gx, want, nx, 1e-12) < tol, "axes 0x%x backward", axes);
  free(xv), free(ref), free(yv), free(dyv), free(gx), free(want);
  dx_tensor_free(ctx, x), dx_tensor_free(ctx, dy);
  dx_step_reset(ctx);
}

/* Every non-empty axes mask of an odd-sized 4-D shape, and the full reductions. */
START_TEST(every_axes_mask_matches_reference) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {2, 3, 5, 7};
  for (unsigned axes = 0; axes < 16; axes++)
    for (int mean = 0; mean < 2; mean++) {
      red_case c = {axes, mean};
      check_reduce(ctx, DX_F64, 4, s, c, 1e-14);
      check_reduce(ctx, DX_F32, 4, s, c, 1e-6);
    }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(awkward_shapes) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t v[1] = {9}, one[1] = {1}, m[2] = {5, 1}, b1[4] = {1, 4, 1, 1};
  red_case all = {0, true}, row = {1, false}, col = {2, true}, ch = {2, false}, sp = {12, true};
  check_reduce(ctx, DX_F64, 1, v, all, 1e-14);
  check_reduce(ctx, DX_F64, 1, v, row, 1e-14);
  check_reduce(ctx, DX_F64, 1, one, all, 1e-14);
  check_reduce(ctx, DX_F64, 2, m, col, 1e-14);
  check_reduce(ctx, DX_F64, 4, b1, ch, 1e-14);
  check_reduce(ctx, DX_F64, 4, b1, sp, 1e-14);
  dx_ctx_free(ctx);
}
END_TEST

/* Per-sample loss, per-channel, spatial, all: above DX_CPU_PAR_MIN on 2 threads. */
START_TEST(large_threaded) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t s[4] = {4, 8, 40, 40};
  unsigned masks[] = {14, 13, 12, 3, 8, 1, 15};
  for (size_t k = 0; k < sizeof masks / sizeof *masks; k++) {
    red_case c = {masks[k], k % 2 == 0};
    check_reduce(ctx, DX_F32, 4, s, c, 1e-6);
  }
  red_case all = {0, true};
  check_reduce(ctx, DX_F32, 4, s, all, 1e-6);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(per_sample_mean_shape) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {3, 2, 2, 2};
  dx_tensor *x = dx_tensor_new(ctx, DX_F64, 4, s);
  double xv[24], y[3];
  for (int i = 0; i < 24; i++)
    xv[i] = i;
  dx_tensor_write(ctx, x, xv, DX_F64);
  dx_tensor *m = dx_mean_axes(ctx, x, 2 | 4 | 8);
  ck_assert(m->ndim == 4 && m->shape[0] == 3 && m->shape[1] == 1 && m->shape[3] == 1);
  dx_tensor_read(ctx, m, y, DX_F64);
  ck_assert_double_eq(y[0], 3.5); /* mean of 0..7 */
  ck_assert_double_eq(y[1], 11.5);
  ck_assert_double_eq(y[2], 19.5);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(gradients) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {2, 3, 4, 5};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, s, -1, 1, 3);
  for (unsigned axes = 0; axes < 16; axes++)
    for (int mean = 0; mean < 2; mean++) {
      red_case c = {axes, mean};
      dxt_gradcheck(ctx, reduce_fn, &x, 1, &c, NULL);
      dxt_f32_vs_f64(ctx, reduce_fn, &x, 1, &c, 1e-6);
    }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(bad_axes_are_errors) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[2] = {3, 4};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F32, 2, s);
  ck_assert_ptr_null(dx_sum_axes(ctx, x, 4));
  ck_assert_str_eq(dx_error_message(ctx),
                   "sum_axes: axes mask 0x4 does not name dims of a 2-D tensor (3, 4)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_mean_axes(ctx, x, 0));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("reduce");
  TCase *tc = tcase_create("reduce");
  DXT_ADD(tc, every_axes_mask_matches_reference);
  DXT_ADD(tc, awkward_shapes);
  DXT_ADD(tc, large_threaded);
  DXT_ADD(tc, per_sample_mean_shape);
  DXT_ADD(tc, gradients);
  DXT_ADD(tc, bad_axes_are_errors);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
