/* Permuting dims (a copy): forward and backward, which permutes back. */
#include "tensor/internal.h"

static void permute_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  dx_tensor *dx = dx_grad(ctx, x);
  if (!dx) return;
  int inverse[DX_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++)
    inverse[n->iarg[i]] = i;
  ctx->be->permute(ctx->be, n->out->grad, dx, inverse, true);
}

/* True when perm holds each of 0..ndim-1 once. */
static bool is_permutation(const int *perm, int ndim) {
  bool seen[DX_MAX_DIMS] = {false};
  for (int i = 0; i < ndim; i++) {
    if (perm[i] < 0 || perm[i] >= ndim || seen[perm[i]]) return false;
    seen[perm[i]] = true;
  }
  return true;
}

dx_tensor *dx_permute(dx_ctx *ctx, dx_tensor *x, const int *perm) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!perm || !is_permutation(perm, x->ndim)) {
    char a[64];
    return dx_fail(ctx, DX_ERR_INVALID,
                   "permute: the order given for %s is not a permutation of 0..%d",
                   dx_shape_str(x, a, sizeof a), x->ndim - 1);
  }
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->permute, "permute")) return NULL;
  int64_t shape[DX_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++)
    shape[i] = x->shape[perm[i]];
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, x->ndim, shape);
  if (!y) return NULL;
  ctx->be->permute(ctx->be, x, y, perm, false);
  dx_node *n = dx_record(ctx, "permute", permute_backward, y, 1, &x);
  if (n) n->reads = 0;
  if (n)
    for (int i = 0; i < x->ndim; i++)
      n->iarg[i] = perm[i];
  return y;
}
