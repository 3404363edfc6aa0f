/* dx_linear and dx_matmul: products through the backend's batched GEMM, with
 * their backwards beside them. Row-major throughout: a stored (r, c) matrix
 * has leading dimension c. */
#include "tensor/internal.h"

/* One operand of a batched product: batch matrices of stored size rows x cols. */
typedef struct operand {
  const dx_tensor *t;
  int64_t rows, cols, batch;
} operand;

static operand operand_of(const dx_tensor *t) {
  operand o = {t, t->shape[t->ndim - 2], t->shape[t->ndim - 1], 1};
  for (int i = 0; i < t->ndim - 2; i++)
    o.batch *= t->shape[i];
  return o;
}

/* C += op(A) op(B) over the batch, where A, B, C are stored matrices; op(A)
 * is m x k and op(B) is k x n. */
static void product(dx_backend *be, bool ta, bool tb, operand a, operand b, dx_tensor *c,
                    double beta) {
  int64_t m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols, n = tb ? b.rows : b.cols;
  be->gemm(be, c->dtype, ta, tb, m, n, k, 1.0, a.t->data, a.cols, a.rows * a.cols, b.t->data,
           b.cols, b.rows * b.cols, beta, c->data, n, m * n, a.batch);
}

/* --- batched matmul ------------------------------------------------------------ */

/* With Y = op(A) op(B): d op(A) = dY op(B)^T and d op(B) = op(A)^T dY, each
 * written back in the operand's stored orientation (transposed when its
 * flag is set), so A^T's gradient lands in A's layout. A gradient buffer
 * made here is written with beta = 0 rather than zeroed and added to. */
static void matmul_backward(dx_ctx *ctx, dx_node *n) {
  dx_backend *be = ctx->be;
  dx_tensor *a = n->in[0], *b = n->in[1];
  bool ta = n->iarg[0], tb = n->iarg[1], fresh;
  operand oa = operand_of(a), ob = operand_of(b), dy = operand_of(n->out->grad);
  if (dx_wants_grad(a)) {
    dx_tensor *ga = dx_grad_to_write(ctx, a, &fresh);
    if (!ga) return;
    double beta = fresh ? 0.0 : 1.0;
    if (ta)
      product(be, tb, true, ob, dy, ga, beta); /* A = (dY op(B)^T)^T = op(B) dY^T */
    else
      product(be, false, !tb, dy, ob, ga, beta); /* A = dY op(B)^T */
  }
  if (dx_wants_grad(b)) {
    dx_tensor *gb = dx_grad_to_write(ctx, b, &fresh);
    if (!gb) return;
    double beta = fresh ? 0.0 : 1.0;
    if (tb)
      product(be, true, ta, dy, oa, gb, beta); /* B = (op(A)^T dY)^T = dY^T op(A) */
    else
      product(be, !ta, false, oa, dy, gb, beta); /* B = op(A)^T dY */
  }
}

dx_tensor *dx_matmul(dx_ctx *ctx, dx_tensor *a, dx_tensor *b, bool ta, bool tb) {
  DX_REQUIRE_INPUTS(ctx, a, b);
  if (!dx_check_compatible(ctx, "matmul", a, b)) return NULL;
  char as[64], bs[64];
  dx_shape_str(a, as, sizeof as), dx_shape_str(b, bs, sizeof bs);
  if (a->ndim < 2 || a->ndim != b->ndim)
    return dx_fail(ctx, DX_ERR_INVALID, "matmul: a %s and b %s must have the same rank, 2 to 4", as,
                   bs);
  for (int i = 0; i < a->ndim - 2; i++)
    if (a->shape[i] != b->shape[i])
      return dx_fail(ctx, DX_ERR_INVALID, "matmul: leading dims of a %s and b %s differ at dim %d",
                     as, bs, i);
  operand oa = operand_of(a), ob = operand_of(b);
  int64_t m = ta ? oa.cols : oa.rows, k = ta ? oa.rows : oa.cols;
  int64_t kb = tb ? ob.cols : ob.rows, n = tb ? ob.rows : ob.cols;
  if (k != kb)
    return dx_fail(ctx, DX_ERR_INVALID,
                   "matmul: inner sizes differ: a %s%s gives k = %lld, b %s%s gives k = %lld", as,
                   ta ? " transposed" : "", (long long)k, bs, tb ? " transposed" : "",
                   (long long)kb);
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->gemm, "matmul")) return NULL;
  int64_t shape[DX_MAX_DIMS];
  for (int i = 0; i < a->ndim - 2; i++)
    shape[i] = a->shape[i];
  shape[a->ndim - 2] = m, shape[a->ndim - 1] = n;
  dx_tensor *y = dx_tensor_new(ctx, a->dtype, a->ndim, shape);
  if (!y) return NULL;
  product(ctx->be, ta, tb, oa, ob, y, 0.0);
  dx_tensor *in[2] = {a, b};
  dx_node *node = dx_record(ctx, "matmul", matmul_backward, y, 2, in);
  if (node) node->iarg[0] = ta, node->iarg[1] = tb, node->reads = DX_READS_IN(0) | DX_READS_IN(1);
  return y;
}

/* --- linear ---------------------------------------------------------------------- */

/* x (R,I) viewed as rows: R is the product of x's leading dims. */
static operand rows_of(const dx_tensor *t) {
  operand o = {t, dx_numel(t) / t->shape[t->ndim - 1], t->shape[t->ndim - 1], 1};
  return o;
}

/* Y = X W^T + 1 b^T, so dX = dY W, dW = dY^T X and db = dY^T 1. */
static void linear_backward(dx_ctx *ctx, dx_node *n) {
  dx_backend *be = ctx->be;
  dx_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
  operand ox = rows_of(x), ow = operand_of(w), dy = rows_of(n->out->grad);
  if (dx_wants_grad(x)) {
    dx_tensor *gx = dx_grad(ctx, x);
    if (!gx) return;
    product(be, false, false, dy, ow, gx, 1.0);
  }
  if (dx_wants_grad(w)) {
    dx_tensor *gw = dx_grad(ctx, w);
    if (!gw) return;
    product(be, true, false, dy, ox, gw, 1.0);
  }
  if (dx_wants_grad(b)) {
    dx_tensor *gb = dx_grad(ctx, b);
    if (!gb) return;
    /* db (1,O) += 1^T (1,R) dY (R,O), with n->saved[0] the ones column */
    product(be, true, false, rows_of(n->saved[0]), dy, gb, 1.0);
  }
}

dx_tensor *dx_linear(dx_ctx *ctx, dx_tensor *x, dx_tensor *w, dx_tensor *b) {
  DX_REQUIRE_INPUTS(ctx, x, w);
  if (!dx_check_compatible(ctx, "linear", x, w) || (b && !dx_check_compatible(ctx, "linear", x, b)))
    return NULL;
  char xs[64], ws[64], bs[64];
  dx_shape_str(x, xs, sizeof xs), dx_shape_str(w, ws, sizeof ws);
  int64_t in_f = x->shape[x->ndim - 1];
  if (x->ndim < 2 || w->ndim != 2 || w->shape[1] != in_f)
    return dx_fail(ctx, DX_ERR_INVALID,
                   "linear: x %s (...,I) needs w (O,I) with the same I; got w %s", xs, ws);
  int64_t out_f = w->shape[0];
  if (b && (b->ndim != 1 || b->shape[0] != out_f))
    return dx_fail(ctx, DX_ERR_INVALID, "linear: bias %s must be (%lld), one per output feature",
                   dx_shape_str(b, bs, sizeof bs), (long long)out_f);
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->gemm, "linear")) return NULL;
  int64_t shape[DX_MAX_DIMS];
  for (int i = 0; i < x->ndim - 1; i++)
    shape[i] = x->shape[i];
  shape[x->ndim - 1] = out_f;
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, x->ndim, shape);
  if (!y) return NULL;
  operand ox = rows_of(x);
  dx_tensor *ones = NULL;
  if (b) {
    /* The bias enters as the rank-1 product 1 b^T (R,O): the backend's GEMM
     * then does all the work, and db is the same product transposed. */
    int64_t os[2] = {ox.rows, 1}, bshape[2] = {1, out_f};
    ones = dx_tensor_full(ctx, x->dtype, 2, os, 1.0);
    dx_tensor *brow = ones ? dx_tensor_view(ctx, b, 2, bshape) : NULL;
    if (!brow) return NULL;
    product(ctx->be, false, false, rows_of(ones), rows_of(brow), y, 0.0);
  }
  product(ctx->be, false, true, ox, operand_of(w), y, b ? 1.0 : 0.0);
  dx_tensor *in[3] = {x, w, b};
  dx_node *n = dx_record(ctx, "linear", linear_backward, y, b ? 3 : 2, in);
  if (n) n->saved[0] = ones, n->reads = DX_READS_IN(0) | DX_READS_IN(1) | DX_READS_SAVED(0);
  return y;
}
