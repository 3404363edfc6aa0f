/* Group normalisation (Wu & He 2018), as torch.nn.GroupNorm: forward and
 * backward. The forward saves each group's mean and 1/std for the backward. */
#include "tensor/internal.h"

static void group_norm_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
  dx_tensor *dx = dx_wants_grad(x) ? dx_grad(ctx, x) : NULL;
  dx_tensor *dgamma = dx_wants_grad(gamma) ? dx_grad(ctx, gamma) : NULL;
  dx_tensor *dbeta = dx_wants_grad(beta) ? dx_grad(ctx, beta) : NULL;
  if (dx_status_of(ctx) != DX_OK ||
      !dx_kernel_ok(ctx, (const void *)ctx->be->group_norm_bwd, "group_norm backward"))
    return;
  ctx->be->group_norm_bwd(ctx->be, x, gamma, n->saved[0], n->saved[1], (int)n->iarg[0],
                          n->out->grad, dx, dgamma, dbeta);
}

/* gamma and beta, when given, must be C values of x's dtype. */
static bool check_affine(dx_ctx *ctx, const dx_tensor *x, const dx_tensor *p, const char *what) {
  if (!p) return true;
  if (!dx_check_compatible(ctx, "group_norm", x, p)) return false;
  if (dx_numel(p) != x->shape[1]) {
    char a[64], b[64];
    dx_fail(ctx, DX_ERR_INVALID,
            "group_norm: %s has shape %s; x %s needs %lld values (one per channel)", what,
            dx_shape_str(p, a, sizeof a), dx_shape_str(x, b, sizeof b), (long long)x->shape[1]);
    return false;
  }
  return true;
}

dx_tensor *dx_group_norm(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma, dx_tensor *beta,
                         double eps) {
  DX_REQUIRE_INPUTS(ctx, x);
  char a[64];
  if (x->ndim < 2)
    return dx_fail(ctx, DX_ERR_INVALID, "group_norm: x %s needs at least 2 dims (N, C, ...)",
                   dx_shape_str(x, a, sizeof a));
  if (groups < 1 || x->shape[1] % groups)
    return dx_fail(ctx, DX_ERR_INVALID,
                   "group_norm: %d groups do not divide the %lld channels of %s", groups,
                   (long long)x->shape[1], dx_shape_str(x, a, sizeof a));
  if (!(eps >= 0)) return dx_fail(ctx, DX_ERR_INVALID, "group_norm: eps %g must be >= 0", eps);
  if (!check_affine(ctx, x, gamma, "gamma") || !check_affine(ctx, x, beta, "beta")) return NULL;
  dx_backend *be = ctx->be;
  if (!dx_kernel_ok(ctx, (const void *)be->group_norm_fwd, "group_norm")) return NULL;
  int64_t stats_shape[1] = {x->shape[0] * groups};
  dx_tensor *y = dx_tensor_new_like(ctx, x);
  dx_tensor *mean = dx_tensor_new(ctx, x->dtype, 1, stats_shape);
  dx_tensor *rstd = dx_tensor_new(ctx, x->dtype, 1, stats_shape);
  if (!y || !mean || !rstd) return NULL;
  be->group_norm_fwd(be, x, gamma, beta, groups, eps, y, mean, rstd);
  dx_tensor *in[3] = {x, gamma, beta};
  dx_node *n = dx_record(ctx, "group_norm", group_norm_backward, y, 3, in);
  if (n) {
    n->saved[0] = mean;
    n->saved[1] = rstd;
    n->iarg[0] = groups;
  }
  return y;
}
