/* dx_matmul and dx_linear: forward against naive float64 loops, gradients
 * against central finite differences (float64, tolerance 1e-6 relative),
 * float32 against float64 (1e-5 relative), shape errors. */
#include <stdlib.h>
#include <string.h>

#include "dx_test.h"

/* Stored element (i, j) of a row-major (rows, cols) matrix, read as op(X)(i, j). */
static double at(const double *x, int64_t cols, bool t, int64_t i, int64_t j) {
  return t ? x[j * cols + i] : x[i * cols + j];
}

/* y (batch, m, n) = op(a) op(b), naive triple loop in float64. */
static void ref_matmul(const double *a, const double *b, double *y, int64_t batch, int64_t m,
                       int64_t n, int64_t k, bool ta, bool tb) {
  int64_t acols = ta ? m : k, bcols = tb ? k : n;
  for (int64_t s = 0; s < batch; s++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t p = 0; p < k; p++)
          acc += at(a + s * m * k, acols, ta, i, p) * at(b + s * k * n, bcols, tb, p, j);
        y[(s * m + i) * n + j] = acc;
      }
}

typedef struct mm_case {
  int ndim;
  int64_t lead[2]; /* leading dims used when ndim > 2 */
  int64_t m, n, k;
  bool ta, tb;
} mm_case;

/* The stored shape of an operand of r x c (before op) under case c. */
static void stored_shape(const mm_case *c, int64_t r, int64_t cl, bool t, int64_t *shape) {
  for (int i = 0; i < c->ndim - 2; i++)
    shape[i] = c->lead[i];
  shape[c->ndim - 2] = t ? cl : r;
  shape[c->ndim - 1] = t ? r : cl;
}

static dx_tensor *matmul_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  const mm_case *c = user;
  return dx_matmul(ctx, in[0], in[1], c->ta, c->tb);
}

static const mm_case mm_cases[] = {
    {2, {1, 1}, 5, 7, 3, false, false}, {2, {1, 1}, 5, 7, 3, true, false},
    {2, {1, 1}, 5, 7, 3, false, true},  {2, {1, 1}, 5, 7, 3, true, true},
    {3, {4, 1}, 3, 6, 5, false, true},                                      /* attention's q k^T */
    {3, {3, 1}, 1, 4, 2, true, false},                                      /* one-row products */
    {4, {2, 3}, 4, 2, 6, true, true},   {4, {2, 2}, 1, 1, 1, false, false}, /* 1x1 matrices */
};

static void make_operands(dx_ctx *ctx, const mm_case *c, dx_dtype dt, dx_tensor **in,
                          uint64_t seed) {
  int64_t sa[4], sb[4];
  stored_shape(c, c->m, c->k, c->ta, sa);
  stored_shape(c, c->k, c->n, c->tb, sb);
  in[0] = dxt_param(ctx, dt, c->ndim, sa, -1, 1, seed);
  in[1] = dxt_param(ctx, dt, c->ndim, sb, -1, 1, seed + 1);
}

START_TEST(matmul_forward_matches_naive) {
  dx_ctx *ctx = dxt_ctx(2);
  const mm_case *c = &mm_cases[_i];
  dx_tensor *in[2];
  make_operands(ctx, c, DX_F64, in, 10 + (uint64_t)_i);
  dx_tensor *y = dx_matmul(ctx, in[0], in[1], c->ta, c->tb);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  int64_t batch = c->ndim > 2 ? c->lead[0] * (c->ndim > 3 ? c->lead[1] : 1) : 1;
  ck_assert_int_eq(y->ndim, c->ndim);
  ck_assert_int_eq(y->shape[c->ndim - 2], c->m);
  ck_assert_int_eq(y->shape[c->ndim - 1], c->n);
  double *a = dxt_values(ctx, in[0]), *b = dxt_values(ctx, in[1]), *got = dxt_values(ctx, y);
  double *want = malloc((size_t)(batch * c->m * c->n) * sizeof *want);
  ref_matmul(a, b, want, batch, c->m, c->n, c->k, c->ta, c->tb);
  ck_assert_double_le(dxt_rel_err(got, want, batch * c->m * c->n, 1e-12), 1e-13);
  free(a), free(b), free(got), free(want);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(matmul_gradients) {
  dx_ctx *ctx = dxt_ctx(2);
  mm_case c = mm_cases[_i];
  dx_tensor *in[2];
  make_operands(ctx, &c, DX_F64, in, 20 + (uint64_t)_i);
  dxt_gradcheck(ctx, matmul_fn, in, 2, &c, NULL);
  dxt_f32_vs_f64(ctx, matmul_fn, in, 2, &c, 1e-5);
  dx_ctx_free(ctx);
}
END_TEST

/* A used twice, Y = A A^T: its gradient must sum both contributions, which
 * fails if a backward overwrites instead of accumulating. */
static dx_tensor *gram_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  return dx_matmul(ctx, in[0], in[0], false, true);
}

START_TEST(matmul_gradient_accumulates_over_uses) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[3] = {2, 3, 4};
  dx_tensor *a = dxt_param(ctx, DX_F64, 3, shape, -1, 1, 5);
  dxt_gradcheck(ctx, gram_fn, &a, 1, NULL, NULL);
  dx_ctx_free(ctx);
}
END_TEST

/* Intermediates as operands: matmul_backward writes a gradient buffer it
 * makes (not zeroed, perhaps a dead buffer with an earlier gradient in it)
 * with beta = 0, and adds into one that exists. */
static dx_tensor *chain_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  dx_tensor *h1 = dx_scale(ctx, in[0], 0.5), *h2 = dx_scale(ctx, in[1], 1.5);
  dx_tensor *y = dx_tanh(ctx, dx_matmul(ctx, h1, h2, false, false)); /* (4, 3) */
  return dx_mul(ctx, dx_matmul(ctx, y, h2, false, true), h1);        /* (4, 5) */
}

START_TEST(matmul_gradient_of_intermediates) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t sa[2] = {4, 5}, sb[2] = {5, 3};
  dx_tensor *in[2] = {dxt_param(ctx, DX_F64, 2, sa, -1, 1, 7),
                      dxt_param(ctx, DX_F64, 2, sb, -1, 1, 8)};
  dxt_gradcheck(ctx, chain_fn, in, 2, NULL, NULL);
  dxt_f32_vs_f64(ctx, chain_fn, in, 2, NULL, 1e-5);
  dx_ctx_free(ctx);
}
END_TEST

/* A large batch of small products takes the thread-per-product path; one
 * large product takes BLAS's own threads. Both against the naive loop. */
START_TEST(matmul_batched_paths_agree_with_naive) {
  dx_ctx *ctx = dxt_ctx(2);
  const mm_case cs[2] = {{3, {64, 1}, 9, 11, 7, true, false},
                         {3, {2, 1}, 300, 250, 260, false, true}};
  for (int t = 0; t < 2; t++) {
    const mm_case *c = &cs[t];
    dx_tensor *in[2];
    make_operands(ctx, c, DX_F64, in, 40 + (uint64_t)t);
    dx_tensor *y = dx_matmul(ctx, in[0], in[1], c->ta, c->tb);
    ck_assert_ptr_nonnull(y);
    int64_t total = c->lead[0] * c->m * c->n;
    double *a = dxt_values(ctx, in[0]), *b = dxt_values(ctx, in[1]), *got = dxt_values(ctx, y);
    double *want = malloc((size_t)total * sizeof *want);
    ref_matmul(a, b, want, c->lead[0], c->m, c->n, c->k, c->ta, c->tb);
    ck_assert_double_le(dxt_rel_err(got, want, total, 1e-12), 1e-13);
    free(a), free(b), free(got), free(want);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(matmul_shape_errors_are_clear) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s1[3] = {2, 3, 4}, s2[3] = {2, 5, 6}, s3[3] = {3, 4, 6}, s4[2] = {4, 6};
  dx_tensor *a = dx_tensor_new(ctx, DX_F32, 3, s1), *b = dx_tensor_new(ctx, DX_F32, 3, s2);
  ck_assert_ptr_null(dx_matmul(ctx, a, b, false, false));
  ck_assert_str_eq(dx_error_message(ctx),
                   "matmul: inner sizes differ: a (2, 3, 4) gives k = 4, b (2, 5, 6) gives k = 5");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_matmul(ctx, a, b, true, true));
  ck_assert_str_eq(dx_error_message(ctx),
                   "matmul: inner sizes differ: a (2, 3, 4) transposed gives k = 3, b (2, 5, 6) "
                   "transposed gives k = 6");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_matmul(ctx, a, dx_tensor_new(ctx, DX_F32, 3, s3), false, false));
  ck_assert_str_eq(dx_error_message(ctx),
                   "matmul: leading dims of a (2, 3, 4) and b (3, 4, 6) differ at dim 0");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_matmul(ctx, a, dx_tensor_new(ctx, DX_F32, 2, s4), false, false));
  ck_assert_str_eq(dx_error_message(ctx),
                   "matmul: a (2, 3, 4) and b (4, 6) must have the same rank, 2 to 4");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_matmul(ctx, a, dx_tensor_new(ctx, DX_F64, 3, s2), false, false));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

/* --- linear ----------------------------------------------------------------------- */

/* y (r, o) = x (r, i) w (o, i)^T + b (o), naive. */
static void ref_linear(const double *x, const double *w, const double *b, double *y, int64_t r,
                       int64_t i_f, int64_t o_f) {
  for (int64_t s = 0; s < r; s++)
    for (int64_t o = 0; o < o_f; o++) {
      double acc = b ? b[o] : 0;
      for (int64_t j = 0; j < i_f; j++)
        acc += x[s * i_f + j] * w[o * i_f + j];
      y[s * o_f + o] = acc;
    }
}

static dx_tensor *linear_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  bool bias = *(const bool *)user;
  return dx_linear(ctx, in[0], in[1], bias ? in[2] : NULL);
}

typedef struct lin_case {
  int ndim;
  int64_t xshape[3];
  int64_t out;
  bool bias;
} lin_case;

static const lin_case lin_cases[] = {
    {2, {5, 7}, 3, true},
    {2, {1, 4}, 6, true},    /* batch 1 */
    {3, {2, 3, 5}, 4, true}, /* tokens: (B, L, I) */
    {2, {6, 3}, 1, false},
};

START_TEST(linear_forward_and_gradients) {
  dx_ctx *ctx = dxt_ctx(2);
  const lin_case *c = &lin_cases[_i];
  int64_t in_f = c->xshape[c->ndim - 1], rows = 1;
  for (int d = 0; d < c->ndim - 1; d++)
    rows *= c->xshape[d];
  int64_t ws[2] = {c->out, in_f}, bs[1] = {c->out};
  dx_tensor *in[3] = {dxt_param(ctx, DX_F64, c->ndim, c->xshape, -1, 1, 60 + (uint64_t)_i),
                      dxt_param(ctx, DX_F64, 2, ws, -1, 1, 70 + (uint64_t)_i),
                      dxt_param(ctx, DX_F64, 1, bs, -1, 1, 80 + (uint64_t)_i)};
  dx_tensor *y = dx_linear(ctx, in[0], in[1], c->bias ? in[2] : NULL);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  ck_assert_int_eq(y->ndim, c->ndim);
  ck_assert_int_eq(y->shape[c->ndim - 1], c->out);
  double *x = dxt_values(ctx, in[0]), *w = dxt_values(ctx, in[1]), *b = dxt_values(ctx, in[2]);
  double *got = dxt_values(ctx, y), *want = malloc((size_t)(rows * c->out) * sizeof *want);
  ref_linear(x, w, c->bias ? b : NULL, want, rows, in_f, c->out);
  ck_assert_double_le(dxt_rel_err(got, want, rows * c->out, 1e-12), 1e-13);
  free(x), free(w), free(b), free(got), free(want);
  bool bias = c->bias;
  dxt_gradcheck(ctx, linear_fn, in, bias ? 3 : 2, &bias, NULL);
  dxt_f32_vs_f64(ctx, linear_fn, in, bias ? 3 : 2, &bias, 1e-5);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(linear_shape_errors_are_clear) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t xs[2] = {4, 5}, ws[2] = {3, 6}, wok[2] = {3, 5}, bs[1] = {4};
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 2, xs);
  ck_assert_ptr_null(dx_linear(ctx, x, dx_tensor_new(ctx, DX_F32, 2, ws), NULL));
  ck_assert_str_eq(dx_error_message(ctx),
                   "linear: x (4, 5) (...,I) needs w (O,I) with the same I; got w (3, 6)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(
      dx_linear(ctx, x, dx_tensor_new(ctx, DX_F32, 2, wok), dx_tensor_new(ctx, DX_F32, 1, bs)));
  ck_assert_str_eq(dx_error_message(ctx), "linear: bias (4) must be (3), one per output feature");
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("matmul");
  TCase *tc = tcase_create("matmul");
  int nmm = (int)(sizeof mm_cases / sizeof mm_cases[0]);
  tcase_add_loop_test(tc, matmul_forward_matches_naive, 0, nmm);
  tcase_add_loop_test(tc, matmul_gradients, 0, nmm);
  DXT_ADD(tc, matmul_gradient_accumulates_over_uses);
  DXT_ADD(tc, matmul_gradient_of_intermediates);
  DXT_ADD(tc, matmul_batched_paths_agree_with_naive);
  DXT_ADD(tc, matmul_shape_errors_are_clear);
  tcase_add_loop_test(tc, linear_forward_and_gradients, 0,
                      (int)(sizeof lin_cases / sizeof lin_cases[0]));
  DXT_ADD(tc, linear_shape_errors_are_clear);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
