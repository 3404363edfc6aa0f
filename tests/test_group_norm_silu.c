/* dx_group_norm_silu, SiLU(GN(x) (1 + scale) + shift) in one op: forward and
 * gradients against the same sequence of separate ops (group norm, add,
 * mul, SiLU, as the ResNet block wrote it before), gradients against
 * finite differences in float64, float32 against float64, the same results
 * on one and two threads, the composed path of a backend without the fused
 * kernel, and bad arguments. */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"
#include "tensor/internal.h" /* dx_be: to remove the fused kernels */

typedef struct gns_case {
  int ndim;
  int64_t shape[4];
  int groups;
  bool gamma, beta, film;
} gns_case;

static const gns_case cases[] = {
    {4, {2, 6, 5, 3}, 3, true, true, true},   /* odd spatial */
    {4, {3, 4, 7, 5}, 4, true, true, true},   /* groups = C */
    {4, {2, 6, 4, 4}, 1, true, true, true},   /* one group */
    {4, {1, 8, 3, 3}, 2, true, false, false}, /* no FiLM: GN -> SiLU */
    {4, {2, 4, 3, 2}, 2, false, false, true}, /* no affine */
    {4, {2, 6, 1, 1}, 2, true, true, true},   /* 1x1 maps */
    {2, {5, 6}, 2, true, true, true},         /* (N, C) */
    {3, {2, 6, 7}, 2, false, true, true},     /* (N, C, L) */
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static const double eps = 1e-5;

/* in: x, gamma, beta, film; those the case leaves out are passed as NULL. */
static dx_tensor *fused(dx_ctx *ctx, dx_tensor **in, void *user) {
  const gns_case *k = user;
  return dx_group_norm_silu(ctx, in[0], k->groups, k->gamma ? in[1] : NULL, k->beta ? in[2] : NULL,
                            eps, k->film ? in[3] : NULL);
}

/* The sequence the fused op replaces, one op at a time. */
static dx_tensor *separate(dx_ctx *ctx, dx_tensor **in, void *user) {
  const gns_case *k = user;
  dx_tensor *x = in[0];
  dx_tensor *h =
      dx_group_norm(ctx, x, k->groups, k->gamma ? in[1] : NULL, k->beta ? in[2] : NULL, eps);
  if (k->film) {
    int64_t c = x->shape[1], shape[4] = {x->shape[0], 2 * c, 1, 1};
    dx_tensor *ss[2];
    ck_assert_int_eq(dx_chunk(ctx, dx_reshape(ctx, in[3], x->ndim, shape), 2, ss), DX_OK);
    h = dx_add(ctx, dx_mul(ctx, h, dx_add_scalar(ctx, ss[0], 1.0)), ss[1]);
  }
  return dx_silu(ctx, h);
}

/* Used twice, joined: the backward must accumulate. */
static dx_tensor *fused_twice(dx_ctx *ctx, dx_tensor **in, void *user) {
  dx_tensor *y[2] = {fused(ctx, in, user), fused(ctx, in, user)};
  return dx_concat(ctx, y, 2);
}

static void make_inputs(dx_ctx *ctx, const gns_case *k, dx_tensor **in, uint64_t seed) {
  int64_t c[1] = {k->shape[1]}, f[2] = {k->shape[0], 2 * k->shape[1]};
  in[0] = dxt_param(ctx, DX_F64, k->ndim, k->shape, -2, 3, seed);
  in[1] = dxt_param(ctx, DX_F64, 1, c, 0.5, 1.5, seed + 1);
  in[2] = dxt_param(ctx, DX_F64, 1, c, -1, 1, seed + 2);
  in[3] = dxt_param(ctx, DX_F64, 2, f, -0.8, 0.8, seed + 3);
}

static void free_inputs(dx_ctx *ctx, dx_tensor **in) {
  for (int i = 0; i < 4; i++)
    dx_tensor_free(ctx, in[i]);
}

/* max relative difference between two tensors' values */
static double differ(dx_ctx *ca, const dx_tensor *a, dx_ctx *cb, const dx_tensor *b) {
  ck_assert_int_eq(dx_numel(a), dx_numel(b));
  double *va = dxt_values(ca, a), *vb = dxt_values(cb, b);
  double err = dxt_rel_err(va, vb, dx_numel(a), 1e-12);
  free(va), free(vb);
  return err;
}

/* Forward values and the gradients of every input, fused against separate. */
static void compare_with_separate(const gns_case *k, uint64_t seed, dxt_fn f, double tol) {
  dx_ctx *ca = dxt_ctx(1), *cb = dxt_ctx(1);
  dx_tensor *a[4], *b[4];
  make_inputs(ca, k, a, seed);
  make_inputs(cb, k, b, seed);
  dx_tensor *ya = f(ca, a, (void *)k), *yb = separate(cb, b, (void *)k);
  ck_assert_msg(ya && yb, "%s / %s", dx_error_message(ca), dx_error_message(cb));
  double err = differ(ca, ya, cb, yb);
  ck_assert_msg(err < tol, "y: relative difference %.3g", err);
  /* The same seed gradient through both: gradcheck leaves it behind. */
  dxt_gradcheck_opts o = {.max_probe = 3};
  dxt_gradcheck(ca, f, a, 4, (void *)k, &o);
  dxt_gradcheck(cb, separate, b, 4, (void *)k, &o);
  for (int i = 0; i < 4; i++) {
    if (!a[i]->grad) {
      ck_assert_ptr_null(b[i]->grad);
      continue;
    }
    err = differ(ca, a[i]->grad, cb, b[i]->grad);
    ck_assert_msg(err < tol, "input %d: gradient relative difference %.3g", i, err);
  }
  free_inputs(ca, a), free_inputs(cb, b);
  dx_ctx_free(ca), dx_ctx_free(cb);
}

START_TEST(matches_the_separate_ops) {
  for (int i = 0; i < N_CASES; i++)
    compare_with_separate(&cases[i], 10 + (uint64_t)i, fused, 1e-12);
}
END_TEST

START_TEST(gradients_match_finite_differences) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_CASES; i++) {
    dx_tensor *in[4];
    make_inputs(ctx, &cases[i], in, 30 + (uint64_t)i);
    double err = dxt_gradcheck(ctx, fused, in, 4, (void *)&cases[i], NULL);
    ck_assert_msg(err < 1e-6, "case %d", i);
    free_inputs(ctx, in);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(backward_accumulates) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_tensor *in[4];
  make_inputs(ctx, &cases[0], in, 50);
  dxt_gradcheck(ctx, fused_twice, in, 4, (void *)&cases[0], NULL);
  free_inputs(ctx, in);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(float32_matches_float64) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_CASES; i++) {
    dx_tensor *in[4];
    make_inputs(ctx, &cases[i], in, 70 + (uint64_t)i);
    dxt_f32_vs_f64(ctx, fused, in, 4, (void *)&cases[i], 2e-5);
    free_inputs(ctx, in);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* The ResNet block's shape class with two threads: the same bits as on one. */
START_TEST(two_threads_give_the_same_bits) {
  gns_case k = {4, {8, 16, 28, 28}, 8, true, true, true};
  dx_ctx *ctx = dxt_ctx(2), *one = dxt_ctx(1);
  dx_tensor *in[4], *in1[4];
  make_inputs(ctx, &k, in, 90);
  make_inputs(one, &k, in1, 90);
  dxt_gradcheck_opts o = {.max_probe = 20};
  dxt_gradcheck(ctx, fused, in, 4, &k, &o);
  dxt_gradcheck(one, fused, in1, 4, &k, &o);
  for (int i = 0; i < 4; i++)
    ck_assert_double_eq(differ(ctx, in[i]->grad, one, in1[i]->grad), 0);
  free_inputs(ctx, in), free_inputs(one, in1);
  dx_ctx_free(ctx), dx_ctx_free(one);
}
END_TEST

/* A backend without the fused kernels (a device module that has not written
 * them) gets the op composed from the separate ones. */
static dx_tensor *fused_composed(dx_ctx *ctx, dx_tensor **in, void *user) {
  dx_be(ctx)->group_norm_silu_fwd = NULL;
  return fused(ctx, in, user);
}

START_TEST(composed_without_the_fused_kernel) {
  compare_with_separate(&cases[0], 110, fused_composed, 1e-14);
  compare_with_separate(&cases[3], 111, fused_composed, 1e-14);
}
END_TEST

START_TEST(bad_arguments_are_errors) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s4[4] = {2, 6, 3, 3}, f_ok[2] = {2, 12}, f_bad[2] = {2, 6};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F64, 4, s4);
  dx_tensor *bad = dx_tensor_zeros(ctx, DX_F64, 2, f_bad);
  ck_assert_ptr_null(dx_group_norm_silu(ctx, x, 3, NULL, NULL, 1e-5, bad));
  ck_assert_str_eq(dx_error_message(ctx), "group_norm_silu: film has shape (2, 6); x (2, 6, 3, 3) "
                                          "needs (2, 12): the scales, then the shifts");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_group_norm_silu(ctx, x, 4, NULL, NULL, 1e-5, NULL));
  ck_assert_str_eq(dx_error_message(ctx),
                   "group_norm_silu: 4 groups do not divide the 6 channels of (2, 6, 3, 3)");
  dx_clear_error(ctx);
  dx_tensor *f32 = dx_tensor_zeros(ctx, DX_F32, 2, f_ok);
  ck_assert_ptr_null(dx_group_norm_silu(ctx, x, 3, NULL, NULL, 1e-5, f32));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("group_norm_silu");
  TCase *tc = tcase_create("group_norm_silu");
  DXT_ADD(tc, matches_the_separate_ops);
  DXT_ADD(tc, gradients_match_finite_differences);
  DXT_ADD(tc, backward_accumulates);
  DXT_ADD(tc, float32_matches_float64);
  DXT_ADD(tc, two_threads_give_the_same_bits);
  DXT_ADD(tc, composed_without_the_fused_kernel);
  DXT_ADD(tc, bad_arguments_are_errors);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
