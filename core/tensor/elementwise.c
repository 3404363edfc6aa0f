/* Element-wise ops: broadcasting arithmetic, unary maps, compare and where,
 * each with its backward beside it. The kernels are the backend's unary,
 * binary, compare and where slots. */
#include "tensor/internal.h"

/* --- binary with broadcasting ------------------------------------------------- */

static const char *const binary_names[] = {"add", "sub", "mul", "div"};

/* NumPy's rule: align shapes on the right; sizes must match or one be 1. */
static bool broadcast_shape(dx_ctx *ctx, const char *op, const dx_tensor *a, const dx_tensor *b,
                            int *ndim, int64_t *shape) {
  *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int d = 0; d < *ndim; d++) {
    int da = d - (*ndim - a->ndim), db = d - (*ndim - b->ndim);
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[64], y[64];
      dx_fail(ctx, DX_ERR_INVALID, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)",
              op, dx_shape_str(a, x, sizeof x), dx_shape_str(b, y, sizeof y), d, (long long)sa,
              (long long)sb);
      return false;
    }
    shape[d] = sa == 1 ? sb : sa;
  }
  return true;
}

/* An operand of an addition (or the minuend of a subtraction) of y's own
 * shape whose gradient is exactly dy: it can take y's buffer once the other
 * operand has been served (dx_grad_hand_on). */
static bool passes_dy(const dx_node *n, const dx_tensor *x, const dx_tensor *other, bool first) {
  dx_binary_op op = (dx_binary_op)n->iarg[0];
  return x != other && dx_wants_grad(x) && !x->grad && !(x->flags & DX_TENSOR_PERSISTENT) &&
         dx_same_shape(x, n->out) && (op == DX_BIN_ADD || (op == DX_BIN_SUB && first));
}

/* The backend reduces dy over each operand's stretched dims. Residual
 * additions hand dy's buffer on to one operand instead of zeroing one and
 * adding dy into it. */
static void binary_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *a = n->in[0], *b = n->in[1];
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->binary_bwd, n->op)) return;
  bool take_a = passes_dy(n, a, b, true), take_b = !take_a && passes_dy(n, b, a, false);
  dx_tensor *ga = dx_wants_grad(a) && !take_a ? dx_grad(ctx, a) : NULL;
  dx_tensor *gb = dx_wants_grad(b) && !take_b ? dx_grad(ctx, b) : NULL;
  if (dx_status_of(ctx) != DX_OK) return;
  if (ga || gb) ctx->be->binary_bwd(ctx->be, (dx_binary_op)n->iarg[0], a, b, n->out->grad, ga, gb);
  if ((take_a && !dx_grad_hand_on(n, a)) || (take_b && !dx_grad_hand_on(n, b))) {
    dx_tensor *gx = dx_grad(ctx, take_a ? a : b); /* not expected: passes_dy checked it */
    if (gx) ctx->be->axpy(ctx->be, gx, 1.0, n->out->grad);
  }
}

static dx_tensor *binary(dx_ctx *ctx, dx_binary_op op, dx_tensor *a, dx_tensor *b) {
  const char *name = binary_names[op];
  int ndim;
  int64_t shape[DX_MAX_DIMS];
  if (!dx_check_compatible(ctx, name, a, b) || !broadcast_shape(ctx, name, a, b, &ndim, shape))
    return NULL;
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->binary, name)) return NULL;
  dx_tensor *y = dx_tensor_new(ctx, a->dtype, ndim, shape);
  if (!y) return NULL;
  ctx->be->binary(ctx->be, op, a, b, y);
  dx_tensor *in[2] = {a, b};
  dx_node *n = dx_record(ctx, name, binary_backward, y, 2, in);
  if (n) n->iarg[0] = op;
  if (n && (op == DX_BIN_ADD || op == DX_BIN_SUB)) n->reads = 0; /* d(a +- b) is +-dy */
  if (n && op == DX_BIN_MUL) n->reads = DX_READS_IN(0) | DX_READS_IN(1);
  return y;
}

/* One public wrapper per arithmetic op. */
#define DX_BINARY_OP(fn, op)                                                                       \
  dx_tensor *fn(dx_ctx *ctx, dx_tensor *a, dx_tensor *b) {                                         \
    DX_REQUIRE_INPUTS(ctx, a, b);                                                                  \
    return binary(ctx, op, a, b);                                                                  \
  }
DX_BINARY_OP(dx_add, DX_BIN_ADD)
DX_BINARY_OP(dx_sub, DX_BIN_SUB)
DX_BINARY_OP(dx_mul, DX_BIN_MUL)
DX_BINARY_OP(dx_div, DX_BIN_DIV)

/* --- unary maps ------------------------------------------------------------------ */

/* dx += dy * f'(x); the kernel reuses y = f(x) where f' is cheaper from it. */
static void unary_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *gx = dx_grad(ctx, x);
  if (!gx || !dx_kernel_ok(ctx, (const void *)ctx->be->unary_bwd, n->op)) return;
  ctx->be->unary_bwd(ctx->be, (dx_unary_op)n->iarg[0], x, n->out, n->out->grad, gx, n->farg[0],
                     n->farg[1]);
}

static dx_tensor *unary(dx_ctx *ctx, dx_unary_op op, const char *name, dx_tensor *x, double p0,
                        double p1) {
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->unary, name)) return NULL;
  dx_tensor *y = dx_tensor_new_like(ctx, x);
  if (!y) return NULL;
  ctx->be->unary(ctx->be, op, x, y, p0, p1);
  dx_node *n = dx_record(ctx, name, unary_backward, y, 1, &x);
  if (n) {
    n->iarg[0] = op;
    n->farg[0] = p0;
    n->farg[1] = p1;
    if (op == DX_UN_SCALE || op == DX_UN_ADD_SCALAR) n->reads = 0; /* f' is a constant */
  }
  return y;
}

/* One public wrapper per parameterless map. */
#define DX_UNARY_OP(fn, op, name)                                                                  \
  dx_tensor *fn(dx_ctx *ctx, dx_tensor *x) {                                                       \
    DX_REQUIRE_INPUTS(ctx, x);                                                                     \
    return unary(ctx, op, name, x, 0, 0);                                                          \
  }
DX_UNARY_OP(dx_silu, DX_UN_SILU, "silu")
DX_UNARY_OP(dx_exp, DX_UN_EXP, "exp")
DX_UNARY_OP(dx_log, DX_UN_LOG, "log")
DX_UNARY_OP(dx_sqrt, DX_UN_SQRT, "sqrt")
DX_UNARY_OP(dx_square, DX_UN_SQUARE, "square")
DX_UNARY_OP(dx_abs, DX_UN_ABS, "abs")
DX_UNARY_OP(dx_tanh, DX_UN_TANH, "tanh")

dx_tensor *dx_scale(dx_ctx *ctx, dx_tensor *x, double s) {
  DX_REQUIRE_INPUTS(ctx, x);
  return unary(ctx, DX_UN_SCALE, "scale", x, s, 0);
}

dx_tensor *dx_add_scalar(dx_ctx *ctx, dx_tensor *x, double s) {
  DX_REQUIRE_INPUTS(ctx, x);
  return unary(ctx, DX_UN_ADD_SCALAR, "add_scalar", x, s, 0);
}

dx_tensor *dx_gelu(dx_ctx *ctx, dx_tensor *x, dx_gelu_approx approx) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (approx != DX_GELU_ERF && approx != DX_GELU_TANH)
    return dx_fail(ctx, DX_ERR_INVALID, "gelu: unknown approximation %d", (int)approx);
  return unary(ctx, approx == DX_GELU_ERF ? DX_UN_GELU_ERF : DX_UN_GELU_TANH, "gelu", x, 0, 0);
}

dx_tensor *dx_clamp(dx_ctx *ctx, dx_tensor *x, double lo, double hi) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!(lo <= hi)) return dx_fail(ctx, DX_ERR_INVALID, "clamp: lo %g is above hi %g", lo, hi);
  return unary(ctx, DX_UN_CLAMP, "clamp", x, lo, hi);
}

/* --- compare, where ----------------------------------------------------------------- */

/* A mask: never recorded, so no gradient flows through a comparison. */
dx_tensor *dx_compare(dx_ctx *ctx, dx_tensor *x, dx_cmp_op op, double v) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (op < DX_CMP_LT || op > DX_CMP_GE)
    return dx_fail(ctx, DX_ERR_INVALID, "compare: unknown comparison %d", (int)op);
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->compare, "compare")) return NULL;
  dx_tensor *y = dx_tensor_new_like(ctx, x);
  if (y) ctx->be->compare(ctx->be, op, x, v, y);
  return y;
}

/* The gradient goes to a where cond holds and to b elsewhere; cond gets none. */
static void where_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *a = n->in[0], *b = n->in[1];
  dx_tensor *ga = dx_wants_grad(a) ? dx_grad(ctx, a) : NULL;
  dx_tensor *gb = dx_wants_grad(b) ? dx_grad(ctx, b) : NULL;
  if (dx_status_of(ctx) != DX_OK || !dx_kernel_ok(ctx, (const void *)ctx->be->where_bwd, "where"))
    return;
  ctx->be->where_bwd(ctx->be, n->saved[0], n->out->grad, ga, gb);
}

static bool same_shapes(dx_ctx *ctx, const dx_tensor *cond, const dx_tensor *a,
                        const dx_tensor *b) {
  if (dx_same_shape(cond, a) && dx_same_shape(a, b)) return true;
  char x[64], y[64], z[64];
  dx_fail(ctx, DX_ERR_INVALID, "where: cond %s, a %s and b %s must have one shape",
          dx_shape_str(cond, x, sizeof x), dx_shape_str(a, y, sizeof y),
          dx_shape_str(b, z, sizeof z));
  return false;
}

dx_tensor *dx_where(dx_ctx *ctx, dx_tensor *cond, dx_tensor *a, dx_tensor *b) {
  DX_REQUIRE_INPUTS(ctx, cond, a, b);
  if (!dx_check_compatible(ctx, "where", a, b) || !dx_check_compatible(ctx, "where", cond, a) ||
      !same_shapes(ctx, cond, a, b))
    return NULL;
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->where, "where")) return NULL;
  dx_tensor *y = dx_tensor_new_like(ctx, a);
  if (!y) return NULL;
  ctx->be->where(ctx->be, cond, a, b, y);
  dx_tensor *in[2] = {a, b};
  dx_node *n = dx_record(ctx, "where", where_backward, y, 2, in);
  if (n) n->saved[0] = cond, n->reads = DX_READS_SAVED(0);
  return y;
}
