/* Element-wise ops: forward against naive float64 loops written here,
 * backward against central finite differences (dxt_gradcheck, float64,
 * tolerance 1e-6 relative), float32 against float64 (1e-5 relative), and the
 * multi-threaded broadcast paths against naive host reductions. */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"

typedef struct shp {
  int nd;
  int64_t s[4];
} shp;

static int64_t shp_numel(shp a) {
  int64_t n = 1;
  for (int d = 0; d < a.nd; d++)
    n *= a.s[d];
  return n;
}

/* --- unary maps ------------------------------------------------------------------- */

enum {
  U_SILU,
  U_GELU_ERF,
  U_GELU_TANH,
  U_EXP,
  U_LOG,
  U_SQRT,
  U_SQUARE,
  U_ABS,
  U_TANH,
  U_CLAMP,
  U_SCALE,
  U_ADD_SCALAR,
  U_COUNT
};

typedef struct unary_case {
  const char *name;
  double lo, hi; /* input range: positive for log/sqrt */
} unary_case;

static const unary_case unary_cases[U_COUNT] = {
    [U_SILU] = {"silu", -4, 4},
    [U_GELU_ERF] = {"gelu_erf", -4, 4},
    [U_GELU_TANH] = {"gelu_tanh", -4, 4},
    [U_EXP] = {"exp", -2, 2},
    [U_LOG] = {"log", 0.2, 3},
    [U_SQRT] = {"sqrt", 0.2, 3},
    [U_SQUARE] = {"square", -2, 2},
    [U_ABS] = {"abs", -2, 2},
    [U_TANH] = {"tanh", -3, 3},
    [U_CLAMP] = {"clamp", -2, 2},
    [U_SCALE] = {"scale", -2, 2},
    [U_ADD_SCALAR] = {"add_scalar", -2, 2},
};

#define CLAMP_LO (-0.5)
#define CLAMP_HI 0.7

/* The textbook formulas, in double. */
static double unary_ref(int op, double x) {
  switch (op) {
  case U_SILU: return x / (1 + exp(-x));
  case U_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
  case U_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  case U_EXP: return exp(x);
  case U_LOG: return log(x);
  case U_SQRT: return sqrt(x);
  case U_SQUARE: return x * x;
  case U_ABS: return fabs(x);
  case U_TANH: return tanh(x);
  case U_CLAMP: return x < CLAMP_LO ? CLAMP_LO : x > CLAMP_HI ? CLAMP_HI : x;
  case U_SCALE: return -1.75 * x;
  case U_ADD_SCALAR: return x + 0.625;
  }
  return NAN;
}

static dx_tensor *unary_apply(dx_ctx *ctx, int op, dx_tensor *x) {
  switch (op) {
  case U_SILU: return dx_silu(ctx, x);
  case U_GELU_ERF: return dx_gelu(ctx, x, DX_GELU_ERF);
  case U_GELU_TANH: return dx_gelu(ctx, x, DX_GELU_TANH);
  case U_EXP: return dx_exp(ctx, x);
  case U_LOG: return dx_log(ctx, x);
  case U_SQRT: return dx_sqrt(ctx, x);
  case U_SQUARE: return dx_square(ctx, x);
  case U_ABS: return dx_abs(ctx, x);
  case U_TANH: return dx_tanh(ctx, x);
  case U_CLAMP: return dx_clamp(ctx, x, CLAMP_LO, CLAMP_HI);
  case U_SCALE: return dx_scale(ctx, x, -1.75);
  case U_ADD_SCALAR: return dx_add_scalar(ctx, x, 0.625);
  }
  return NULL;
}

static dx_tensor *unary_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return unary_apply(ctx, *(int *)user, in[0]);
}

/* Odd sizes, batch 1 with 1x1 spatial, a 1-D vector, and one large enough
 * (40960 > DX_CPU_PAR_MIN) to take the threaded path. */
static const shp unary_shapes[] = {
    {4, {2, 3, 5, 7}}, {4, {1, 4, 1, 1}}, {1, {9}}, {4, {2, 4, 64, 80}}};

START_TEST(unary_forward_matches_reference) {
  dx_ctx *ctx = dxt_ctx(2);
  for (int op = 0; op < U_COUNT; op++)
    for (size_t si = 0; si < sizeof unary_shapes / sizeof *unary_shapes; si++)
      for (int dt = DX_F32; dt <= DX_F64; dt++) {
        shp s = unary_shapes[si];
        dx_tensor *x =
            dxt_param(ctx, dt, s.nd, s.s, unary_cases[op].lo, unary_cases[op].hi, op + 1);
        dx_tensor *y = unary_apply(ctx, op, x);
        ck_assert_msg(y != NULL, "%s: %s", unary_cases[op].name, dx_error_message(ctx));
        int64_t n = shp_numel(s);
        double *xv = dxt_values(ctx, x), *yv = dxt_values(ctx, y), *ref = malloc(n * sizeof *ref);
        for (int64_t i = 0; i < n; i++)
          ref[i] = unary_ref(op, xv[i]);
        double err = dxt_rel_err(yv, ref, n, 1e-3);
        /* float64: the same formula up to rounding; float32: a few ulps */
        ck_assert_msg(err < (dt == DX_F64 ? 1e-14 : 1e-6), "%s %s: error %g", unary_cases[op].name,
                      dx_dtype_name(dt), err);
        free(xv), free(yv), free(ref);
        dx_tensor_free(ctx, x);
        dx_step_reset(ctx);
      }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(unary_gradients) {
  int op = _i;
  dx_ctx *ctx = dxt_ctx(1);
  for (size_t si = 0; si < 3; si++) { /* the small shapes */
    shp s = unary_shapes[si];
    dx_tensor *x =
        dxt_param(ctx, DX_F64, s.nd, s.s, unary_cases[op].lo, unary_cases[op].hi, 10 + op);
    dxt_gradcheck(ctx, unary_fn, &x, 1, &op, NULL);
    dxt_f32_vs_f64(ctx, unary_fn, &x, 1, &op, 1e-5);
    dx_tensor_free(ctx, x);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* float32 GELU (erf form) computes erfc in its own vectorised arithmetic
 * (dx_cpu_erfcf): over [-10, 10], each output within 1e-6 (1 + x^2/2) of the
 * float64 formula relative to itself, and each derivative within 1e-6
 * absolute; the loop is long enough to be threaded. The tail 0.5 x
 * erfc(-x/sqrt2) for negative x keeps its relative accuracy, where 1 + erf
 * would cancel; x^2/2 is erfc's condition number there, which rounding
 * x/sqrt2 to float alone (~6e-8) turns into a few 1e-6 at x = -10. */
START_TEST(gelu_float32_tails) {
  dx_ctx *ctx = dxt_ctx(2);
  enum { N = 40001 };
  int64_t s[1] = {N};
  double *xv = malloc(N * sizeof *xv), *g = malloc(N * sizeof *g), *y = malloc(N * sizeof *y);
  for (int i = 0; i < N; i++)
    xv[i] = -10 + 20.0 * i / (N - 1);
  dx_tensor *x = dx_param_new(ctx, DX_F32, 1, s, NULL);
  dx_tensor_write(ctx, x, xv, DX_F64);
  dx_tensor *out = dx_gelu(ctx, x, DX_GELU_ERF);
  ck_assert_ptr_nonnull(out);
  dx_tensor_read(ctx, out, y, DX_F64);
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, out)), DX_OK);
  dx_tensor_read(ctx, x->grad, g, DX_F64);
  double worst = 0, worst_g = 0;
  for (int i = 0; i < N; i++) {
    double v = (float)xv[i], ref = 0.5 * v * erfc(-v / sqrt(2.0));
    double dref = 0.5 * erfc(-v / sqrt(2.0)) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
    double e = (ref == 0 ? fabs(y[i]) : fabs(y[i] - ref) / fabs(ref)) / (1 + 0.5 * v * v);
    if (!(e <= worst)) worst = e;
    if (!(fabs(g[i] - dref) <= worst_g)) worst_g = fabs(g[i] - dref);
  }
  ck_assert_msg(worst < 1e-6, "gelu float32: relative error / (1 + x^2/2) %g", worst);
  ck_assert_msg(worst_g < 1e-6, "gelu' float32: error %g", worst_g);
  free(xv), free(g), free(y);
  dx_ctx_free(ctx);
}
END_TEST

/* An addition's backward hands dy's buffer on to an operand without a
 * gradient yet (the minuend of a subtraction too, never the subtrahend, nor
 * a parameter): h and g
 * are intermediates used again before or after, so in one order the
 * hand-on happens and the later use adds into it, in the other the operand
 * already has a gradient and the other operand takes the buffer. */
static dx_tensor *add_uses_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  int order = *(int *)user;
  dx_tensor *h = dx_scale(ctx, in[0], 1.5), *g = dx_square(ctx, in[0]), *hh = NULL;
  if (order == 0) hh = dx_mul(ctx, h, h);
  dx_tensor *z = dx_sub(ctx, dx_add(ctx, h, g), g);
  dx_tensor *w = dx_add(ctx, dx_add(ctx, z, z), dx_sub(ctx, g, h));
  w = dx_add(ctx, w, dx_sub(ctx, in[0], dx_scale(ctx, g, 0.5))); /* x keeps its own buffer */
  if (order == 1) hh = dx_mul(ctx, h, h);
  return dx_mul(ctx, w, hh);
}

START_TEST(addition_hands_its_gradient_on) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[2] = {3, 5};
  dx_tensor *x = dxt_param(ctx, DX_F64, 2, s, -1, 1, 3);
  int orders[2] = {0, 1};
  for (int i = 0; i < 2; i++)
    dxt_gradcheck(ctx, add_uses_fn, &x, 1, &orders[i], NULL);
  for (int i = 0; i < 2; i++)
    dxt_f32_vs_f64(ctx, add_uses_fn, &x, 1, &orders[i], 1e-5);
  dx_tensor_free(ctx, x);
  dx_ctx_free(ctx);
}
END_TEST

/* Kinks: abs'(0) = 0 as sign(0); clamp passes the gradient strictly inside
 * (lo, hi) only (tensor.h; PyTorch also passes it at the bounds). */
START_TEST(kinks_follow_the_contract) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[1] = {6};
  double xv[6] = {-1, CLAMP_LO, 0, 0.25, CLAMP_HI, 1}, g[6];
  double clamp_grad[6] = {0, 0, 1, 1, 0, 0}, abs_grad[6] = {-1, -1, 0, 1, 1, 1};
  dx_tensor *x = dx_param_new(ctx, DX_F64, 1, s, NULL);
  dx_tensor_write(ctx, x, xv, DX_F64);
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, dx_clamp(ctx, x, CLAMP_LO, CLAMP_HI))), DX_OK);
  dx_tensor_read(ctx, x->grad, g, DX_F64);
  for (int i = 0; i < 6; i++)
    ck_assert_double_eq(g[i], clamp_grad[i]);
  dx_step_reset(ctx); /* a fresh tape */
  dx_zero_grad(ctx, x);
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, dx_abs(ctx, x))), DX_OK);
  dx_tensor_read(ctx, x->grad, g, DX_F64);
  for (int i = 0; i < 6; i++)
    ck_assert_double_eq(g[i], abs_grad[i]);
  dx_ctx_free(ctx);
}
END_TEST

/* --- binary with broadcasting ------------------------------------------------------- */

typedef struct pair {
  shp a, b;
} pair;

#define NCHW                                                                                       \
  {                                                                                                \
    4, { 2, 3, 4, 5 }                                                                              \
  }
static const pair pairs[] = {
    {NCHW, NCHW},
    {NCHW, {4, {2, 3, 1, 1}}},
    {{4, {2, 3, 1, 1}}, NCHW},
    {NCHW, {4, {1, 3, 1, 1}}},
    {{4, {1, 3, 1, 1}}, NCHW},
    {NCHW, {4, {2, 1, 1, 1}}},
    {{4, {2, 1, 1, 1}}, NCHW},
    {NCHW, {1, {1}}},
    {{1, {1}}, NCHW},
    {NCHW, {3, {3, 1, 1}}},                 /* lower rank, right-aligned */
    {{4, {1, 3, 1, 5}}, {4, {2, 1, 4, 1}}}, /* both stretched */
    {{4, {1, 4, 1, 1}}, {4, {1, 4, 1, 1}}}, /* batch 1, 1x1 spatial */
    {{4, {3, 4, 1, 1}}, {4, {1, 4, 1, 1}}},
    {{2, {5, 1}}, {2, {1, 7}}},
    {{1, {1}}, {1, {1}}},
};
#define NPAIRS ((int)(sizeof pairs / sizeof *pairs))

static const char *const bin_names[4] = {"add", "sub", "mul", "div"};

static dx_tensor *binary_apply(dx_ctx *ctx, int op, dx_tensor *a, dx_tensor *b) {
  switch (op) {
  case 0: return dx_add(ctx, a, b);
  case 1: return dx_sub(ctx, a, b);
  case 2: return dx_mul(ctx, a, b);
  default: return dx_div(ctx, a, b);
  }
}

static double binary_ref(int op, double a, double b) {
  switch (op) {
  case 0: return a + b;
  case 1: return a - b;
  case 2: return a * b;
  default: return a / b;
  }
}

/* d(a op b)/da and d(a op b)/db, by hand. */
static void binary_ref_grad(int op, double a, double b, double *da, double *db) {
  double g[4][2] = {{1, 1}, {1, -1}, {b, a}, {1 / b, -a / (b * b)}};
  *da = g[op][0];
  *db = g[op][1];
}

static dx_tensor *binary_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return binary_apply(ctx, *(int *)user, in[0], in[1]);
}

/* The broadcast shape of two shapes, right-aligned into 4 dims. */
static shp bcast_shape(shp a, shp b) {
  shp y = {4, {1, 1, 1, 1}};
  for (int d = 0; d < 4; d++) {
    int64_t sa = d >= 4 - a.nd ? a.s[d - 4 + a.nd] : 1, sb = d >= 4 - b.nd ? b.s[d - 4 + b.nd] : 1;
    y.s[d] = sa > sb ? sa : sb;
  }
  return y;
}

/* The element of shape t that the 4-D index idx reads (size-1 dims stretch). */
static int64_t bcast_index(shp t, const int64_t idx[4]) {
  int64_t off = 0;
  for (int d = 0; d < t.nd; d++)
    off = off * t.s[d] + (t.s[d] == 1 ? 0 : idx[4 - t.nd + d]);
  return off;
}

static void unravel(shp y, int64_t i, int64_t idx[4]) {
  for (int d = 3; d >= 0; d--) {
    idx[d] = i % y.s[d];
    i /= y.s[d];
  }
}

/* Forward and both gradients (seed dy) the slow, obvious way. */
static void binary_reference(int op, pair p, const double *a, const double *b, const double *dy,
                             double *y, double *ga, double *gb) {
  shp ys = bcast_shape(p.a, p.b);
  for (int64_t i = 0; i < shp_numel(ys); i++) {
    int64_t idx[4];
    unravel(ys, i, idx);
    int64_t ia = bcast_index(p.a, idx), ib = bcast_index(p.b, idx);
    double da, db;
    y[i] = binary_ref(op, a[ia], b[ib]);
    binary_ref_grad(op, a[ia], b[ib], &da, &db);
    ga[ia] += dy[i] * da;
    gb[ib] += dy[i] * db;
  }
}

/* Operands: a in [-1, 1), b in [0.5, 2) so that division stays tame. */
static void make_pair(dx_ctx *ctx, dx_dtype dt, pair p, uint64_t seed, dx_tensor **in) {
  in[0] = dxt_param(ctx, dt, p.a.nd, p.a.s, -1, 1, seed);
  in[1] = dxt_param(ctx, dt, p.b.nd, p.b.s, 0.5, 2, seed + 100);
}

/* One check of forward and both gradients against binary_reference. */
static void check_binary_against_reference(dx_ctx *ctx, int op, pair p, dx_dtype dt, double tol) {
  dx_tensor *in[2];
  make_pair(ctx, dt, p, 7 + op, in);
  dx_tensor *y = binary_apply(ctx, op, in[0], in[1]);
  ck_assert_msg(y != NULL, "%s: %s", bin_names[op], dx_error_message(ctx));
  shp ys = bcast_shape(p.a, p.b);
  int64_t n = shp_numel(ys), na = shp_numel(p.a), nb = shp_numel(p.b);
  ck_assert_int_eq(dx_numel(y), n);
  dx_tensor *dy = dxt_param(ctx, dt, y->ndim, y->shape, -1, 1, 99);
  ck_assert_int_eq(dx_backward_seed(ctx, y, dy), DX_OK);
  double *av = dxt_values(ctx, in[0]), *bv = dxt_values(ctx, in[1]), *dyv = dxt_values(ctx, dy);
  double *yr = calloc(n, sizeof *yr), *gar = calloc(na, sizeof *gar),
         *gbr = calloc(nb, sizeof *gbr);
  binary_reference(op, p, av, bv, dyv, yr, gar, gbr);
  double *yv = dxt_values(ctx, y), *gav = dxt_values(ctx, in[0]->grad),
         *gbv = dxt_values(ctx, in[1]->grad);
  ck_assert_msg(dxt_rel_err(yv, yr, n, 1e-12) < tol, "%s forward", bin_names[op]);
  ck_assert_msg(dxt_rel_err(gav, gar, na, 1e-12) < tol, "%s grad a: %g", bin_names[op],
                dxt_rel_err(gav, gar, na, 1e-12));
  ck_assert_msg(dxt_rel_err(gbv, gbr, nb, 1e-12) < tol, "%s grad b: %g", bin_names[op],
                dxt_rel_err(gbv, gbr, nb, 1e-12));
  free(av), free(bv), free(dyv), free(yr), free(gar), free(gbr), free(yv), free(gav), free(gbv);
  dx_tensor_free(ctx, in[0]), dx_tensor_free(ctx, in[1]), dx_tensor_free(ctx, dy);
  dx_step_reset(ctx);
}

/* Every op on one pair of shapes, in float64 (tolerance tol64) and float32. */
static void check_all_ops(int threads, pair p, double tol64) {
  dx_ctx *ctx = dxt_ctx(threads);
  for (int op = 0; op < 4; op++) {
    check_binary_against_reference(ctx, op, p, DX_F64, tol64);
    check_binary_against_reference(ctx, op, p, DX_F32, 1e-5);
  }
  dx_ctx_free(ctx);
}

START_TEST(binary_matches_reference) { check_all_ops(1, pairs[_i], 1e-14); }
END_TEST

START_TEST(binary_gradients) {
  dx_ctx *ctx = dxt_ctx(1);
  for (int op = 0; op < 4; op++) {
    dx_tensor *in[2];
    make_pair(ctx, DX_F64, pairs[_i], 3 + op, in);
    dxt_gradcheck(ctx, binary_fn, in, 2, &op, NULL);
    dxt_f32_vs_f64(ctx, binary_fn, in, 2, &op, 1e-5);
    dx_tensor_free(ctx, in[0]), dx_tensor_free(ctx, in[1]);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* Shapes above DX_CPU_PAR_MIN on 2 threads: the chunked flat loop, the
 * per-plane walk, and the parallel per-element reductions of the backward. */
static const pair large_pairs[] = {
    {{4, {4, 8, 40, 40}}, {4, {4, 8, 40, 40}}},
    {{4, {4, 8, 40, 40}}, {4, {4, 8, 1, 1}}},
    {{4, {1, 8, 1, 1}}, {4, {4, 8, 40, 40}}},
    {{4, {4, 8, 40, 40}}, {4, {4, 1, 1, 1}}},
    {{1, {1}}, {4, {4, 8, 40, 40}}},
    {{4, {4, 8, 40, 40}}, {4, {1, 8, 40, 40}}},
    {{4, {4, 1, 40, 1}}, {4, {1, 8, 1, 40}}},
};

START_TEST(binary_large_threaded) { check_all_ops(2, large_pairs[_i], 1e-12); }
END_TEST

/* Only one side requires a gradient: the other's is skipped, not written. */
static dx_tensor *const_div_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return dx_div(ctx, user, in[0]);
}

START_TEST(binary_with_a_constant_operand) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t xs[4] = {2, 3, 1, 1}, cs[4] = {2, 3, 4, 5};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, xs, 0.5, 2, 1);
  dx_tensor *c = dx_tensor_new_persistent(ctx, DX_F64, 4, cs);
  dx_tensor_fill(ctx, c, 3.0);
  dxt_gradcheck(ctx, const_div_fn, &x, 1, c, NULL);
  dx_tensor *y = dx_div(ctx, c, x);
  ck_assert(dx_backward(ctx, dx_sum(ctx, y)) == DX_OK);
  ck_assert_ptr_null(c->grad);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(binary_rejects_bad_operands) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t a[4] = {2, 3, 4, 5}, b[4] = {2, 2, 1, 1};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F32, 4, a), *y = dx_tensor_zeros(ctx, DX_F32, 4, b);
  ck_assert_ptr_null(dx_add(ctx, x, y));
  ck_assert_str_eq(dx_error_message(ctx),
                   "add: shapes (2, 3, 4, 5) and (2, 2, 1, 1) do not broadcast (dim 1: 3 vs 2)");
  dx_clear_error(ctx);
  dx_tensor *z = dx_tensor_zeros(ctx, DX_F64, 4, a);
  ck_assert_ptr_null(dx_mul(ctx, x, z));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_clamp(ctx, x, 1, -1));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_gelu(ctx, x, (dx_gelu_approx)7));
  dx_ctx_free(ctx);
}
END_TEST

/* --- compare, where ------------------------------------------------------------------ */

START_TEST(compare_gives_a_mask_without_gradient) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[1] = {5};
  double xv[5] = {-1, 0.5, 0.75, 1, 2}, m[5];
  double want[4][5] = {{1, 1, 0, 0, 0}, {1, 1, 1, 0, 0}, {0, 0, 0, 1, 1}, {0, 0, 1, 1, 1}};
  dx_cmp_op ops[4] = {DX_CMP_LT, DX_CMP_LE, DX_CMP_GT, DX_CMP_GE};
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    dx_tensor *x = dx_param_new(ctx, dt, 1, s, NULL);
    dx_tensor_write(ctx, x, xv, DX_F64);
    for (int k = 0; k < 4; k++) {
      dx_tensor *y = dx_compare(ctx, x, ops[k], 0.75);
      ck_assert_ptr_nonnull(y);
      ck_assert(!(y->flags & DX_TENSOR_REQUIRES_GRAD));
      ck_assert_int_eq(y->dtype, dt);
      dx_tensor_read(ctx, y, m, DX_F64);
      for (int i = 0; i < 5; i++)
        ck_assert_double_eq(m[i], want[k][i]);
    }
  }
  dx_ctx_free(ctx);
}
END_TEST

/* where(cond, a, b) with cond a fixed 0/1 pattern in each dtype. */
static dx_tensor *where_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  dx_tensor **cond = user;
  return dx_where(ctx, cond[in[0]->dtype], in[0], in[1]);
}

START_TEST(where_routes_values_and_gradients) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {2, 3, 5, 7};
  dx_tensor *in[2] = {dxt_param(ctx, DX_F64, 4, s, -1, 1, 1),
                      dxt_param(ctx, DX_F64, 4, s, -1, 1, 2)};
  dx_tensor *u = dxt_param(ctx, DX_F64, 4, s, 0, 1, 3);
  dx_tensor *cond[2] = {dx_tensor_new_persistent(ctx, DX_F32, 4, s),
                        dx_tensor_new_persistent(ctx, DX_F64, 4, s)};
  dx_tensor_copy(ctx, cond[DX_F64], dx_compare(ctx, u, DX_CMP_LT, 0.4));
  dx_tensor_copy(ctx, cond[DX_F32], cond[DX_F64]);
  double *c = dxt_values(ctx, cond[DX_F64]), *a = dxt_values(ctx, in[0]),
         *b = dxt_values(ctx, in[1]);
  double *y = dxt_values(ctx, where_fn(ctx, in, cond));
  int64_t ones = 0;
  for (int i = 0; i < 210; i++) {
    ck_assert_double_eq(y[i], c[i] != 0 ? a[i] : b[i]);
    ones += c[i] != 0;
  }
  ck_assert(ones > 0 && ones < 210); /* both branches exercised */
  dxt_gradcheck(ctx, where_fn, in, 2, cond, NULL);
  dxt_f32_vs_f64(ctx, where_fn, in, 2, cond, 1e-7);
  free(c), free(a), free(b), free(y);
  dx_ctx_free(ctx);
}
END_TEST

/* Huber loss per element, as the loss plugins will compose it:
 * |d| <= 1 ? 0.5 d^2 : |d| - 0.5 (Huber 1964). */
static dx_tensor *huber_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  dx_tensor *d = dx_sub(ctx, in[0], in[1]);
  dx_tensor *ad = dx_abs(ctx, d);
  dx_tensor *small = dx_compare(ctx, ad, DX_CMP_LE, 1.0);
  return dx_mean(ctx, dx_where(ctx, small, dx_scale(ctx, dx_square(ctx, d), 0.5),
                               dx_add_scalar(ctx, ad, -0.5)));
}

START_TEST(huber_composition) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s[4] = {3, 2, 4, 4};
  dx_tensor *in[2] = {dxt_param(ctx, DX_F64, 4, s, -2, 2, 5),
                      dxt_param(ctx, DX_F64, 4, s, -1, 1, 6)};
  double *a = dxt_values(ctx, in[0]), *b = dxt_values(ctx, in[1]), want = 0;
  for (int i = 0; i < 96; i++) {
    double d = fabs(a[i] - b[i]);
    want += d <= 1 ? 0.5 * d * d : d - 0.5;
  }
  double got;
  dx_tensor_read(ctx, huber_fn(ctx, in, NULL), &got, DX_F64);
  ck_assert_double_eq_tol(got, want / 96, 1e-14);
  dxt_gradcheck(ctx, huber_fn, in, 2, NULL, NULL);
  free(a), free(b);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("elementwise");
  TCase *tc = tcase_create("elementwise");
  DXT_ADD(tc, unary_forward_matches_reference);
  tcase_add_loop_test(tc, unary_gradients, 0, U_COUNT);
  DXT_ADD(tc, gelu_float32_tails);
  DXT_ADD(tc, addition_hands_its_gradient_on);
  DXT_ADD(tc, kinks_follow_the_contract);
  tcase_add_loop_test(tc, binary_matches_reference, 0, NPAIRS);
  tcase_add_loop_test(tc, binary_gradients, 0, NPAIRS);
  tcase_add_loop_test(tc, binary_large_threaded, 0,
                      (int)(sizeof large_pairs / sizeof *large_pairs));
  DXT_ADD(tc, binary_with_a_constant_operand);
  DXT_ADD(tc, binary_rejects_bad_operands);
  DXT_ADD(tc, compare_gives_a_mask_without_gradient);
  DXT_ADD(tc, where_routes_values_and_gradients);
  DXT_ADD(tc, huber_composition);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
