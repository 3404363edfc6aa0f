/* Softmax over an axis: forward against a naive float64 reference on every
 * axis of tensors of rank 1..4, stability for large inputs, gradients against
 * finite differences, float32 against float64, the in-place form, bad axes. */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"

/* y = exp(x - max) / sum exp(x - max) along axis, one (outer, inner) column
 * at a time, in long double so that it does not share the library's rounding. */
static void ref_softmax(const double *x, int ndim, const int64_t *shape, int axis, double *y) {
  int64_t outer = 1, len = shape[axis], inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= shape[d];
  for (int d = axis + 1; d < ndim; d++)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const double *xc = x + o * len * inner + i;
      long double m = xc[0], s = 0;
      for (int64_t l = 1; l < len; l++)
        m = xc[l * inner] > m ? xc[l * inner] : m;
      for (int64_t l = 0; l < len; l++)
        s += expl(xc[l * inner] - m);
      for (int64_t l = 0; l < len; l++)
        y[o * len * inner + l * inner + i] = (double)(expl(xc[l * inner] - m) / s);
    }
}

typedef struct sm_case {
  int ndim;
  int64_t shape[4];
} sm_case;

static const sm_case shapes[] = {
    {4, {2, 3, 4, 5}}, {3, {3, 1, 7}}, {2, {4, 9}}, {1, {6}}, {4, {1, 2, 1, 3}},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static dx_tensor *softmax_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return dx_softmax(ctx, in[0], *(int *)user);
}

/* softmax(x) along channels, twice, joined: dx must accumulate. */
static dx_tensor *softmax_twice_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  dx_tensor *y[2] = {dx_softmax(ctx, in[0], *(int *)user), dx_softmax(ctx, in[0], *(int *)user)};
  return dx_concat(ctx, y, 2);
}

/* Runs softmax on x along axis and compares with the reference. */
static double forward_error(dx_ctx *ctx, dx_tensor *x, int axis) {
  int ax = axis < 0 ? axis + x->ndim : axis;
  dx_tensor *y = dx_softmax(ctx, x, axis);
  ck_assert_msg(y != NULL, "softmax axis %d: %s", axis, dx_error_message(ctx));
  ck_assert(dx_same_shape(x, y));
  int64_t n = dx_numel(x);
  double *xv = dxt_values(ctx, x), *got = dxt_values(ctx, y),
         *want = malloc((size_t)n * sizeof *want);
  ref_softmax(xv, x->ndim, x->shape, ax, want);
  double err = dxt_rel_err(got, want, n, 1e-12);
  free(xv), free(got), free(want);
  return err;
}

START_TEST(forward_matches_reference_on_every_axis) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_SHAPES; i++) {
    dx_tensor *x = dxt_param(ctx, DX_F64, shapes[i].ndim, shapes[i].shape, -4, 4, 1 + (uint64_t)i);
    for (int axis = -shapes[i].ndim; axis < shapes[i].ndim; axis++) {
      double err = forward_error(ctx, x, axis);
      ck_assert_msg(err < 1e-14, "shape %d axis %d: relative error %.3g", i, axis, err);
    }
    dx_step_reset(ctx);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* Rows offset by +-1000s, each with one element 1000 below the others: exp
 * of any element but the largest overflows (float32 past 88, float64 past
 * 709), so only the maximum is a safe shift. The result must equal the
 * softmax of the unshifted pattern, along rows (contiguous) and along columns
 * (the transpose, axis 0), in float32 as in float64. */
START_TEST(large_inputs_are_stable) {
  dx_ctx *ctx = dxt_ctx(1);
  static const double pattern[5] = {-1000, 0, -1, -1.5, -0.5}, offset[3] = {1000, -1000, -3000};
  int64_t rows[2] = {3, 5}, cols[2] = {5, 3};
  double v[15], vt[15], want[15], want_t[15];
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 5; k++)
      v[i * 5 + k] = vt[k * 3 + i] = offset[i] + pattern[k];
  for (int i = 0; i < 3; i++)
    ref_softmax(pattern, 1, &rows[1], 0, want + i * 5);
  for (int i = 0; i < 15; i++)
    want_t[i % 5 * 3 + i / 5] = want[i];
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    dx_tensor *x = dx_tensor_new(ctx, (dx_dtype)dt, 2, rows),
              *xt = dx_tensor_new(ctx, (dx_dtype)dt, 2, cols);
    dx_tensor_write(ctx, x, v, DX_F64);
    dx_tensor_write(ctx, xt, vt, DX_F64);
    double *got = dxt_values(ctx, dx_softmax(ctx, x, -1)),
           *got_t = dxt_values(ctx, dx_softmax(ctx, xt, 0));
    double tol = dt == DX_F32 ? 1e-6 : 1e-14;
    ck_assert_msg(dxt_rel_err(got, want, 15, 1e-12) < tol, "%s rows", dx_dtype_name((dx_dtype)dt));
    ck_assert_msg(dxt_rel_err(got_t, want_t, 15, 1e-12) < tol, "%s columns",
                  dx_dtype_name((dx_dtype)dt));
    free(got), free(got_t);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(gradients_match_finite_differences) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_SHAPES; i++) {
    dx_tensor *x = dxt_param(ctx, DX_F64, shapes[i].ndim, shapes[i].shape, -2, 2, 20 + (uint64_t)i);
    for (int axis = -shapes[i].ndim; axis < shapes[i].ndim; axis++)
      dxt_gradcheck(ctx, softmax_fn, &x, 1, &axis, NULL);
    dx_tensor_free(ctx, x);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* On every axis of a 4-D tensor: the backward accumulates into dx (softmax
 * twice on one input), and float32 agrees with float64. */
START_TEST(accumulates_and_float32_matches_float64) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shapes[0].shape, -3, 3, 40);
  for (int axis = 0; axis < 4; axis++) {
    dxt_gradcheck(ctx, softmax_twice_fn, &x, 1, &axis, NULL);
    dxt_f32_vs_f64(ctx, softmax_fn, &x, 1, &axis, 1e-6);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* The linear attention's shapes (b, heads, d, n) with n not a multiple of the
 * kernel's column tile, on two threads: over d (axis -2) and over n (-1). */
START_TEST(attention_shapes_on_two_threads) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t shape[4] = {2, 4, 32, 150};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -5, 5, 60);
  dxt_gradcheck_opts o = {.max_probe = 40};
  for (int axis = -2; axis <= -1; axis++) {
    double err = forward_error(ctx, x, axis);
    ck_assert_msg(err < 1e-14, "axis %d: relative error %.3g", axis, err);
    dxt_gradcheck(ctx, softmax_fn, &x, 1, &axis, &o);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* dx_softmax_inplace without the tape writes over x and returns it, with
 * dx_softmax's values on both kernels' paths (rows and columns); with a node
 * on the tape (whose backward might read x) it leaves x alone, and its
 * gradient is dx_softmax's. */
static dx_tensor *softmax_inplace_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return dx_softmax_inplace(ctx, dx_scale(ctx, in[0], 1.0), *(int *)user);
}

START_TEST(in_place_without_the_tape) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t shape[4] = {2, 4, 32, 150};
  for (int dt = DX_F32; dt <= DX_F64; dt++)
    for (int axis = -2; axis <= -1; axis++) {
      dx_tensor *x = dxt_param(ctx, (dx_dtype)dt, 4, shape, -5, 5, 70 + (uint64_t)axis);
      bool was = dx_set_grad_enabled(ctx, false);
      double *want = dxt_values(ctx, dx_softmax(ctx, x, axis));
      dx_tensor *y = dx_softmax_inplace(ctx, x, axis);
      ck_assert_ptr_eq(y, x);
      double *got = dxt_values(ctx, y);
      ck_assert_msg(dxt_rel_err(got, want, dx_numel(x), 1e-30) == 0, "axis %d", axis);
      dx_set_grad_enabled(ctx, was);
      free(got), free(want);
      dx_tensor_free(ctx, x);
      dx_step_reset(ctx);
    }
  int64_t small[4] = {2, 3, 4, 5};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, small, -2, 2, 80);
  double *before = dxt_values(ctx, x);
  dx_tensor *h = dx_scale(ctx, x, 1.0); /* a node on the tape */
  double *h_before = dxt_values(ctx, h);
  ck_assert_ptr_ne(dx_softmax_inplace(ctx, h, 1), h);
  double *h_after = dxt_values(ctx, h);
  ck_assert(dxt_rel_err(h_after, h_before, dx_numel(h), 1e-30) == 0);
  dx_step_reset(ctx);
  for (int axis = 0; axis < 4; axis++)
    dxt_gradcheck(ctx, softmax_inplace_fn, &x, 1, &axis, NULL);
  double *after = dxt_values(ctx, x);
  ck_assert(dxt_rel_err(after, before, dx_numel(x), 1e-30) == 0);
  free(before), free(after), free(h_before), free(h_after);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(bad_axis_is_an_error) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[3] = {2, 3, 4};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F32, 3, shape);
  ck_assert_ptr_null(dx_softmax(ctx, x, 3));
  ck_assert_str_eq(dx_error_message(ctx), "softmax: axis 3 is outside (2, 3, 4) (valid: -3..2)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_softmax(ctx, x, -4));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_softmax(ctx, NULL, 0));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("softmax");
  TCase *tc = tcase_create("softmax");
  DXT_ADD(tc, forward_matches_reference_on_every_axis);
  DXT_ADD(tc, large_inputs_are_stable);
  DXT_ADD(tc, gradients_match_finite_differences);
  DXT_ADD(tc, accumulates_and_float32_matches_float64);
  DXT_ADD(tc, attention_shapes_on_two_threads);
  DXT_ADD(tc, in_place_without_the_tape);
  DXT_ADD(tc, bad_axis_is_an_error);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
