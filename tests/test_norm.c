/* Group norm: forward against a naive float64 reference and against values
 * from PyTorch, gradients against finite differences and PyTorch's autograd,
 * float32 against float64, awkward shapes and bad arguments. */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"
#include "tensor/internal.h" /* dx_be: to remove a backend kernel */

/* y = (x - mean) / sqrt(var + eps) * gamma + beta per (n, group), two-pass. */
static void ref_group_norm(const double *x, const double *gamma, const double *beta, int64_t n,
                           int64_t c, int64_t s, int groups, double eps, double *y) {
  int64_t cg = c / groups, d = cg * s;
  for (int64_t t = 0; t < n * groups; t++) {
    const double *xg = x + t * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; i++)
      mean += xg[i];
    mean /= (double)d;
    for (int64_t i = 0; i < d; i++)
      var += (xg[i] - mean) * (xg[i] - mean);
    var /= (double)d;
    for (int64_t i = 0; i < d; i++) {
      int64_t ch = (t % groups) * cg + i / s;
      double v = (xg[i] - mean) / sqrt(var + eps);
      y[t * d + i] = v * (gamma ? gamma[ch] : 1) + (beta ? beta[ch] : 0);
    }
  }
}

typedef struct gn_case {
  int ndim;
  int64_t shape[4];
  int groups;
  bool gamma, beta;
} gn_case;

static const gn_case cases[] = {
    {4, {2, 6, 5, 3}, 3, true, true},                               /* odd spatial */
    {4, {3, 4, 7, 5}, 4, true, true},                               /* groups = C */
    {4, {2, 6, 4, 4}, 1, true, true},                               /* one group: over C*H*W */
    {4, {2, 6, 1, 1}, 2, true, true},                               /* 1x1 spatial */
    {4, {1, 8, 3, 3}, 2, true, false},                              /* batch 1, gamma only */
    {4, {2, 4, 3, 2}, 2, false, true},                              /* beta only */
    {4, {2, 4, 3, 3}, 4, false, false}, {2, {5, 6}, 2, true, true}, /* (N, C) */
    {3, {2, 6, 7}, 2, true, true},                                  /* (N, C, L) */
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static double gn_eps = 1e-5;

/* in: x, gamma, beta; gamma or beta left out as the case says. */
static dx_tensor *gn_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  const gn_case *k = user;
  return dx_group_norm(ctx, in[0], k->groups, k->gamma ? in[1] : NULL, k->beta ? in[2] : NULL,
                       gn_eps);
}

/* Twice on the same input, joined: the backward must accumulate into dx. */
static dx_tensor *gn_twice_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  dx_tensor *y[2] = {gn_fn(ctx, in, user), gn_fn(ctx, in, user)};
  return dx_concat(ctx, y, 2);
}

static void make_inputs(dx_ctx *ctx, const gn_case *k, dx_tensor **in, uint64_t seed) {
  int64_t c[1] = {k->shape[1]};
  in[0] = dxt_param(ctx, DX_F64, k->ndim, k->shape, -2, 3, seed);
  in[1] = dxt_param(ctx, DX_F64, 1, c, 0.5, 1.5, seed + 1);
  in[2] = dxt_param(ctx, DX_F64, 1, c, -1, 1, seed + 2);
}

static void free_inputs(dx_ctx *ctx, dx_tensor **in) {
  for (int i = 0; i < 3; i++)
    dx_tensor_free(ctx, in[i]);
}

static int64_t spatial_of(const gn_case *k) {
  int64_t s = 1;
  for (int d = 2; d < k->ndim; d++)
    s *= k->shape[d];
  return s;
}

START_TEST(forward_matches_reference) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_CASES; i++) {
    const gn_case *k = &cases[i];
    dx_tensor *in[3];
    make_inputs(ctx, k, in, 10 + (uint64_t)i);
    dx_tensor *y = gn_fn(ctx, in, (void *)k);
    ck_assert_msg(y != NULL, "case %d: %s", i, dx_error_message(ctx));
    double *x = dxt_values(ctx, in[0]), *g = dxt_values(ctx, in[1]), *b = dxt_values(ctx, in[2]);
    double *got = dxt_values(ctx, y), *want = malloc((size_t)dx_numel(y) * sizeof *want);
    ref_group_norm(x, k->gamma ? g : NULL, k->beta ? b : NULL, k->shape[0], k->shape[1],
                   spatial_of(k), k->groups, gn_eps, want);
    double err = dxt_rel_err(got, want, dx_numel(y), 1e-12);
    ck_assert_msg(err < 1e-13, "case %d: relative error %.3g", i, err);
    free(x), free(g), free(b), free(got), free(want);
    free_inputs(ctx, in);
    dx_step_reset(ctx);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* x[i] = sin(0.7 i)(1 + i mod 5), gamma_c = 0.5 + 0.25 c, beta_c = 0.1 c - 0.2,
 * seed dy[i] = cos(0.3 i); values printed by
 *   /usr/bin/python3 -c 'import torch, math; ...
 *     gn = torch.nn.GroupNorm(2, 4, eps=1e-5).double(); y = gn(x); y.backward(dy)'
 * (torch 1.13, float64) with x of shape (2, 4, 2, 3). */
static const double torch_y[48] = {
    -0.29627734627543972,  0.032789529344000992,  0.45877534045949753,   0.58557863165202306,
    0.13150314673618696,   -0.38586751357624571,  -0.91221835232532544,  -1.3735504574942086,
    -1.2117704292158975,   -0.21220894596013126,  0.0072759144398633988, 0.51271958804566442,
    1.321497250355647,     0.58987906426262438,   -1.1768141572879991,   -0.63540450243932689,
    -1.2483958372530495,   -1.1893254502356956,   0.026185241164872457,  2.3088325951687625,
    0.63433716765910708,   1.1322203662418757,    0.57661860846420487,   -1.1549894379515728,
    -0.90000902120033777,  -0.2630752954676559,   -0.30613096670611467,  -0.055763488431259417,
    0.41824449582395901,   0.8295915416149604,    0.30548825466170504,   0.23303718840074536,
    -0.25450566815239928,  -0.91349975096872948,  -1.2662323056855409,   -0.088573616706108457,
    -0.10419558092727527,  0.66124099529145408,   1.4062486308208666,    1.4683535495351741,
    -0.050566222786697132, -0.4815042851088791,   -1.426128084259211,    -1.9973931936658056,
    -1.5149824645439409,   -0.055018841445263325, 0.59740550734831321,   1.3716457180351043};
static const double torch_dx[48] = {
    0.33154930240548741,   0.25563535966610357,  0.1389272371935279,    0.062038425838767203,
    0.084837573327252627,  0.11177756620754588,  0.076380385725588029,  0.030304658342048423,
    -0.079926916812736684, -0.2744106423651777,  -0.33601047230969511,  -0.40110247721871189,
    -0.81115194067259266,  -0.66868377553870628, -0.42514882980753549,  -0.29992063034556971,
    -0.092372898638066858, 0.069038512449479644, 0.23497757220825169,   0.26377224035938485,
    0.4360007655546021,    0.4394830255111527,   0.43180607890046696,   0.42219988001913289,
    0.20906324316542563,   0.18346266702805947,  0.12809498219785276,   0.082227439912176181,
    0.048278712044905012,  0.020645473567322589, -0.1199324184742159,   -0.14402047796677209,
    -0.15344610242473827,  -0.14264537903526819, -0.10269867563658275,  -0.0090294643781645145,
    -0.33097731886222675,  -0.12337129374675729, 0.078166350639993443,  0.18533532316461243,
    0.083271050202512742,  0.079931452457823182, 0.10451844757746132,   0.02380333746795521,
    0.0010710444056097335, 0.035235040579226995, -0.032910165731456442, -0.10407326815475454};
static const double torch_dgamma[4] = {-0.63058641415148442, 2.7208716734239395,
                                       -0.37493506064653903, -1.5341814047992819};
static const double torch_dbeta[4] = {3.3328396279303809, -9.3180234991405229, 0.90130928687788869,
                                      8.9084647832505439};

static void expect_close(dx_ctx *ctx, const dx_tensor *t, const double *want, int64_t n, double tol,
                         const char *what) {
  ck_assert_int_eq(dx_numel(t), n);
  double *got = dxt_values(ctx, t);
  double err = dxt_rel_err(got, want, n, 1e-12);
  ck_assert_msg(err < tol, "%s: relative error %.3g against PyTorch", what, err);
  free(got);
}

START_TEST(matches_pytorch) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[4] = {2, 4, 2, 3}, c[1] = {4};
  double xv[48], dyv[48], gv[4], bv[4];
  for (int i = 0; i < 48; i++)
    xv[i] = sin(0.7 * i) * (1 + i % 5), dyv[i] = cos(0.3 * i);
  for (int i = 0; i < 4; i++)
    gv[i] = 0.5 + 0.25 * i, bv[i] = 0.1 * i - 0.2;
  dx_tensor *x = dx_param_new(ctx, DX_F64, 4, shape, NULL),
            *g = dx_param_new(ctx, DX_F64, 1, c, NULL), *b = dx_param_new(ctx, DX_F64, 1, c, NULL);
  dx_tensor_write(ctx, x, xv, DX_F64), dx_tensor_write(ctx, g, gv, DX_F64),
      dx_tensor_write(ctx, b, bv, DX_F64);
  dx_tensor *y = dx_group_norm(ctx, x, 2, g, b, 1e-5);
  dx_tensor *dy = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, dy, dyv, DX_F64);
  ck_assert_int_eq(dx_backward_seed(ctx, y, dy), DX_OK);
  expect_close(ctx, y, torch_y, 48, 1e-14, "y");
  expect_close(ctx, x->grad, torch_dx, 48, 1e-13, "dx");
  expect_close(ctx, g->grad, torch_dgamma, 4, 1e-13, "dgamma");
  expect_close(ctx, b->grad, torch_dbeta, 4, 1e-13, "dbeta");
  dx_ctx_free(ctx);
}
END_TEST

/* Every input (x, gamma, beta) against central differences, float64. */
START_TEST(gradients_match_finite_differences) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_CASES; i++) {
    const gn_case *k = &cases[i];
    dx_tensor *in[3];
    make_inputs(ctx, k, in, 30 + (uint64_t)i);
    double err = dxt_gradcheck(ctx, gn_fn, in, 3, (void *)k, NULL);
    ck_assert_msg(err < 1e-6, "case %d", i);
    free_inputs(ctx, in);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(backward_accumulates) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_tensor *in[3];
  make_inputs(ctx, &cases[0], in, 50);
  dxt_gradcheck(ctx, gn_twice_fn, in, 3, (void *)&cases[0], NULL);
  free_inputs(ctx, in);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(float32_matches_float64) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int i = 0; i < N_CASES; i++) {
    dx_tensor *in[3];
    make_inputs(ctx, &cases[i], in, 70 + (uint64_t)i);
    dxt_f32_vs_f64(ctx, gn_fn, in, 3, (void *)&cases[i], 2e-5);
    free_inputs(ctx, in);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* Activations far from zero (mean 1000, spread 1): float32 E[x^2] - E[x]^2
 * would lose every digit of the variance; the statistics must not. The
 * reference sees the same float32-rounded inputs, in float64. */
START_TEST(float32_statistics_are_stable) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[4] = {2, 4, 28, 28};
  dx_tensor *x64 = dxt_param(ctx, DX_F64, 4, shape, 999, 1001, 5);
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F32, 4, shape);
  dx_tensor_copy(ctx, x, x64);
  double *xv = dxt_values(ctx, x), *want = malloc(sizeof(double) * 2 * 4 * 784);
  ref_group_norm(xv, NULL, NULL, 2, 4, 784, 2, 1e-5, want);
  dx_tensor *y = dx_group_norm(ctx, x, 2, NULL, NULL, 1e-5);
  double *got = dxt_values(ctx, y);
  double err = dxt_rel_err(got, want, 2 * 4 * 784, 1e-12);
  ck_assert_msg(err < 1e-6, "float32 group norm of offset data: relative error %.3g", err);
  free(xv), free(want), free(got);
  dx_ctx_free(ctx);
}
END_TEST

/* The U-Net's shape class (28x28 maps) with two threads: forward against the
 * reference, gradients probed, and bit-identical results on one thread. */
START_TEST(large_maps_on_two_threads) {
  gn_case k = {4, {8, 12, 28, 28}, 4, true, true};
  dx_ctx *ctx = dxt_ctx(2), *one = dxt_ctx(1);
  dx_tensor *in[3], *in1[3];
  make_inputs(ctx, &k, in, 90);
  make_inputs(one, &k, in1, 90);
  dx_tensor *y = gn_fn(ctx, in, &k);
  int64_t n = dx_numel(y);
  double *x = dxt_values(ctx, in[0]), *g = dxt_values(ctx, in[1]), *b = dxt_values(ctx, in[2]);
  double *got = dxt_values(ctx, y), *want = malloc((size_t)n * sizeof *want);
  ref_group_norm(x, g, b, 8, 12, 784, 4, gn_eps, want);
  ck_assert_double_lt(dxt_rel_err(got, want, n, 1e-12), 1e-13);
  dxt_gradcheck_opts o = {.max_probe = 40};
  dxt_gradcheck(ctx, gn_fn, in, 3, &k, &o);
  dxt_gradcheck(one, gn_fn, in1, 3, &k, &o); /* leaves the same seed's gradients */
  for (int i = 0; i < 3; i++) {
    double *ga = dxt_values(ctx, in[i]->grad), *gb = dxt_values(one, in1[i]->grad);
    for (int64_t j = 0; j < dx_numel(in[i]); j++)
      ck_assert_double_eq(ga[j], gb[j]);
    free(ga), free(gb);
  }
  free(x), free(g), free(b), free(got), free(want);
  dx_ctx_free(ctx), dx_ctx_free(one);
}
END_TEST

START_TEST(bad_arguments_are_errors) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s4[4] = {2, 6, 3, 3}, s1[1] = {6}, s5[1] = {5};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F64, 4, s4);
  ck_assert_ptr_null(dx_group_norm(ctx, x, 4, NULL, NULL, 1e-5));
  ck_assert_str_eq(dx_error_message(ctx),
                   "group_norm: 4 groups do not divide the 6 channels of (2, 6, 3, 3)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_group_norm(ctx, x, 0, NULL, NULL, 1e-5));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  dx_tensor *g5 = dx_tensor_zeros(ctx, DX_F64, 1, s5);
  ck_assert_ptr_null(dx_group_norm(ctx, x, 3, g5, NULL, 1e-5));
  ck_assert_str_eq(
      dx_error_message(ctx),
      "group_norm: gamma has shape (5); x (2, 6, 3, 3) needs 6 values (one per channel)");
  dx_clear_error(ctx);
  dx_tensor *b32 = dx_tensor_zeros(ctx, DX_F32, 1, s1);
  ck_assert_ptr_null(dx_group_norm(ctx, x, 3, NULL, b32, 1e-5));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  dx_tensor *v = dx_tensor_zeros(ctx, DX_F64, 1, s1);
  ck_assert_ptr_null(dx_group_norm(ctx, v, 1, NULL, NULL, 1e-5));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

/* The ops whose backward has a kernel of its own (not the forward's run the
 * other way): with that kernel missing from the backend, backward is an
 * error naming it, not a crash. */
static void drop_group_norm_bwd(dx_backend *be) { be->group_norm_bwd = NULL; }
static void drop_softmax_bwd(dx_backend *be) { be->softmax_bwd = NULL; }
static void drop_upsample_bwd(dx_backend *be) { be->upsample_nearest_bwd = NULL; }
static dx_tensor *softmax_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  return dx_softmax(ctx, in[0], 1);
}
static dx_tensor *upsample_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  return dx_upsample_nearest(ctx, in[0], 2);
}

START_TEST(missing_backward_kernels_are_errors) {
  struct {
    dxt_fn f;
    void (*drop)(dx_backend *);
    const char *message;
  } ops[3] = {
      {gn_fn, drop_group_norm_bwd, "op group_norm backward is not implemented by the cpu backend"},
      {softmax_fn, drop_softmax_bwd, "op softmax backward is not implemented by the cpu backend"},
      {upsample_fn, drop_upsample_bwd,
       "op upsample_nearest backward is not implemented by the cpu backend"},
  };
  for (int i = 0; i < 3; i++) {
    dx_ctx *ctx = dxt_ctx(1);
    dx_tensor *in[3];
    make_inputs(ctx, &cases[0], in, 1);
    ops[i].drop(dx_be(ctx));
    dx_tensor *y = ops[i].f(ctx, in, (void *)&cases[0]);
    ck_assert_int_eq(dx_backward_seed(ctx, y, y), DX_ERR_UNSUPPORTED);
    ck_assert_str_eq(dx_error_message(ctx), ops[i].message);
    dx_ctx_free(ctx);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("norm");
  TCase *tc = tcase_create("group_norm");
  DXT_ADD(tc, forward_matches_reference);
  DXT_ADD(tc, matches_pytorch);
  DXT_ADD(tc, gradients_match_finite_differences);
  DXT_ADD(tc, backward_accumulates);
  DXT_ADD(tc, float32_matches_float64);
  DXT_ADD(tc, float32_statistics_are_stable);
  DXT_ADD(tc, large_maps_on_two_threads);
  DXT_ADD(tc, bad_arguments_are_errors);
  DXT_ADD(tc, missing_backward_kernels_are_errors);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
