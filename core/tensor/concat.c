/* Concatenation and slicing along channels (dim 1): forward and backward.
 * Each backward routes the matching channel slice of the gradient back with
 * copy_channels in accumulate mode. Tensors of rank 2..4 are accepted: the
 * dims after the channels travel together. */
#include "tensor/internal.h"

/* x and ref agree on every dim but the channels. */
static bool same_but_channels(const dx_tensor *x, const dx_tensor *ref) {
  if (x->ndim != ref->ndim) return false;
  for (int d = 0; d < x->ndim; d++)
    if (d != 1 && x->shape[d] != ref->shape[d]) return false;
  return true;
}

static bool check_channels_op(dx_ctx *ctx, const char *op, const dx_tensor *x) {
  if (x->ndim >= 2) return dx_kernel_ok(ctx, (const void *)ctx->be->copy_channels, op);
  char a[64];
  dx_fail(ctx, DX_ERR_INVALID, "%s: %s has no channel dim (rank 2..4 wanted)", op,
          dx_shape_str(x, a, sizeof a));
  return false;
}

static void concat_backward(dx_ctx *ctx, dx_node *n) {
  int64_t c0 = 0;
  for (int i = 0; i < n->n_in; i++) {
    dx_tensor *x = n->in[i];
    dx_tensor *dx = dx_wants_grad(x) ? dx_grad(ctx, x) : NULL;
    if (dx) ctx->be->copy_channels(ctx->be, n->out->grad, c0, dx, 0, x->shape[1], true);
    c0 += x->shape[1];
  }
}

/* One tape node: at most DX_NODE_MAX_IN inputs, checked by the caller. */
static dx_tensor *concat_node(dx_ctx *ctx, dx_tensor *const *xs, int n) {
  int64_t shape[DX_MAX_DIMS], c0 = 0;
  for (int d = 0; d < xs[0]->ndim; d++)
    shape[d] = xs[0]->shape[d];
  shape[1] = 0;
  for (int i = 0; i < n; i++)
    shape[1] += xs[i]->shape[1];
  dx_tensor *y = dx_tensor_new(ctx, xs[0]->dtype, xs[0]->ndim, shape);
  if (!y) return NULL;
  for (int i = 0; i < n; i++) {
    ctx->be->copy_channels(ctx->be, xs[i], 0, y, c0, xs[i]->shape[1], false);
    c0 += xs[i]->shape[1];
  }
  dx_node *node = dx_record(ctx, "concat", concat_backward, y, n, xs);
  if (node) node->reads = 0; /* the backward only routes dy */
  return y;
}

static bool check_concat(dx_ctx *ctx, dx_tensor *const *xs, int n) {
  char a[64], b[64];
  if (n < 1 || !xs) {
    dx_fail(ctx, DX_ERR_INVALID, "concat: no tensors given");
    return false;
  }
  for (int i = 0; i < n; i++) {
    if (!xs[i]) {
      dx_fail(ctx, DX_ERR_INVALID, "NULL tensor %d passed to dx_concat", i);
      return false;
    }
    if (!check_channels_op(ctx, "concat", xs[i]) ||
        !dx_check_compatible(ctx, "concat", xs[0], xs[i]))
      return false;
    if (!same_but_channels(xs[i], xs[0])) {
      dx_fail(ctx, DX_ERR_INVALID, "concat: %s and %s differ in a dim other than channels",
              dx_shape_str(xs[0], a, sizeof a), dx_shape_str(xs[i], b, sizeof b));
      return false;
    }
  }
  return true;
}

/* More inputs than a node holds are joined a few at a time: the running
 * result is the first input of the next node. */
dx_tensor *dx_concat(dx_ctx *ctx, dx_tensor *const *xs, int n) {
  if (dx_status_of(ctx) != DX_OK || !check_concat(ctx, xs, n)) return NULL;
  int done = n < DX_NODE_MAX_IN ? n : DX_NODE_MAX_IN;
  dx_tensor *y = concat_node(ctx, xs, done);
  while (y && done < n) {
    dx_tensor *part[DX_NODE_MAX_IN] = {y};
    int k = 1;
    while (k < DX_NODE_MAX_IN && done < n)
      part[k++] = xs[done++];
    y = concat_node(ctx, part, k);
  }
  return y;
}

static void slice_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  if (dx) ctx->be->copy_channels(ctx->be, n->out->grad, 0, dx, n->iarg[0], n->out->shape[1], true);
}

dx_tensor *dx_slice_channels(dx_ctx *ctx, dx_tensor *x, int64_t c0, int64_t nc) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_channels_op(ctx, "slice_channels", x)) return NULL;
  if (c0 < 0 || nc < 1 || c0 + nc > x->shape[1]) {
    char a[64];
    return dx_fail(
        ctx, DX_ERR_INVALID, "slice_channels: channels [%lld, %lld) are not inside the %lld of %s",
        (long long)c0, (long long)(c0 + nc), (long long)x->shape[1], dx_shape_str(x, a, sizeof a));
  }
  int64_t shape[DX_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    shape[d] = x->shape[d];
  shape[1] = nc;
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, x->ndim, shape);
  if (!y) return NULL;
  ctx->be->copy_channels(ctx->be, x, c0, y, 0, nc, false);
  dx_node *n = dx_record(ctx, "slice_channels", slice_backward, y, 1, &x);
  if (n) n->iarg[0] = c0, n->reads = 0;
  return y;
}

dx_status dx_chunk(dx_ctx *ctx, dx_tensor *x, int n, dx_tensor **out) {
  if (dx_status_of(ctx) != DX_OK) return dx_status_of(ctx);
  if (!x || !out) return dx_set_error(ctx, DX_ERR_INVALID, "NULL argument passed to dx_chunk");
  if (!check_channels_op(ctx, "chunk", x)) return dx_status_of(ctx);
  if (n < 1 || x->shape[1] % n) {
    char a[64];
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "chunk: %lld channels of %s do not split into %d equal parts",
                        (long long)x->shape[1], dx_shape_str(x, a, sizeof a), n);
  }
  int64_t nc = x->shape[1] / n;
  for (int i = 0; i < n; i++)
    out[i] = dx_slice_channels(ctx, x, i * nc, nc);
  return dx_status_of(ctx);
}
