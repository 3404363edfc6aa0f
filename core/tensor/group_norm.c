/* Group normalisation (Wu & He 2018), as torch.nn.GroupNorm: forward and
 * backward. The forward saves each group's mean and 1/std for the backward.
 * Also group norm -> FiLM -> SiLU fused into one op (the ResNet block's). */
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

/* The checks dx_group_norm and dx_group_norm_silu share. */
static bool check_group_norm(dx_ctx *ctx, const char *op, dx_tensor *x, int groups,
                             dx_tensor *gamma, dx_tensor *beta, double eps) {
  char a[64];
  if (x->ndim < 2) {
    dx_fail(ctx, DX_ERR_INVALID, "%s: x %s needs at least 2 dims (N, C, ...)", op,
            dx_shape_str(x, a, sizeof a));
    return false;
  }
  if (groups < 1 || x->shape[1] % groups) {
    dx_fail(ctx, DX_ERR_INVALID, "%s: %d groups do not divide the %lld channels of %s", op, groups,
            (long long)x->shape[1], dx_shape_str(x, a, sizeof a));
    return false;
  }
  if (!(eps >= 0)) {
    dx_fail(ctx, DX_ERR_INVALID, "%s: eps %g must be >= 0", op, eps);
    return false;
  }
  return check_affine(ctx, x, gamma, "gamma") && check_affine(ctx, x, beta, "beta");
}

/* y like x, and each group's mean and 1/std (N*G), which the backward reads. */
static bool new_outputs(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor **y, dx_tensor **mean,
                        dx_tensor **rstd) {
  int64_t stats_shape[1] = {x->shape[0] * groups};
  *y = dx_tensor_new_like(ctx, x);
  *mean = dx_tensor_new(ctx, x->dtype, 1, stats_shape);
  *rstd = dx_tensor_new(ctx, x->dtype, 1, stats_shape);
  return *y && *mean && *rstd;
}

static void save_stats(dx_node *n, dx_tensor *mean, dx_tensor *rstd, int groups) {
  if (!n) return;
  n->saved[0] = mean;
  n->saved[1] = rstd;
  n->iarg[0] = groups;
  /* x, gamma (beta and film for the fused op) and the statistics; never y. */
  n->reads = DX_READS_ALL & ~DX_READS_OUT;
}

dx_tensor *dx_group_norm(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma, dx_tensor *beta,
                         double eps) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_group_norm(ctx, "group_norm", x, groups, gamma, beta, eps)) return NULL;
  dx_backend *be = ctx->be;
  if (!dx_kernel_ok(ctx, (const void *)be->group_norm_fwd, "group_norm")) return NULL;
  dx_tensor *y, *mean, *rstd;
  if (!new_outputs(ctx, x, groups, &y, &mean, &rstd)) return NULL;
  be->group_norm_fwd(be, x, gamma, beta, groups, eps, y, mean, rstd);
  dx_tensor *in[3] = {x, gamma, beta};
  save_stats(dx_record(ctx, "group_norm", group_norm_backward, y, 3, in), mean, rstd, groups);
  return y;
}

/* --- group norm -> FiLM -> SiLU ------------------------------------------------ */

static void group_norm_silu_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2], *film = n->in[3];
  dx_tensor *dx = dx_wants_grad(x) ? dx_grad(ctx, x) : NULL;
  dx_tensor *dgamma = dx_wants_grad(gamma) ? dx_grad(ctx, gamma) : NULL;
  dx_tensor *dbeta = dx_wants_grad(beta) ? dx_grad(ctx, beta) : NULL;
  dx_tensor *dfilm = dx_wants_grad(film) ? dx_grad(ctx, film) : NULL;
  /* The per-(image, channel) sums that dgamma and dbeta are made of. */
  int64_t ws_shape[1] = {2 * x->shape[0] * x->shape[1]};
  dx_tensor *ws = dgamma || dbeta ? dx_tensor_new(ctx, DX_F64, 1, ws_shape) : NULL;
  if (dx_status_of(ctx) != DX_OK) return;
  ctx->be->group_norm_silu_bwd(ctx->be, x, gamma, beta, film, n->saved[0], n->saved[1],
                               (int)n->iarg[0], n->out->grad, ws, dx, dgamma, dbeta, dfilm);
}

/* The same op from its parts, for a backend without the fused kernel. */
static dx_tensor *group_norm_silu_composed(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma,
                                           dx_tensor *beta, double eps, dx_tensor *film) {
  dx_tensor *h = dx_group_norm(ctx, x, groups, gamma, beta, eps);
  if (film) {
    int64_t shape[DX_MAX_DIMS] = {x->shape[0], 2 * x->shape[1], 1, 1};
    dx_tensor *f = dx_reshape(ctx, film, x->ndim, shape);
    dx_tensor *scale = dx_add_scalar(ctx, dx_slice_channels(ctx, f, 0, x->shape[1]), 1.0);
    h = dx_add(ctx, dx_mul(ctx, h, scale), dx_slice_channels(ctx, f, x->shape[1], x->shape[1]));
  }
  return dx_silu(ctx, h);
}

dx_tensor *dx_group_norm_silu(dx_ctx *ctx, dx_tensor *x, int groups, dx_tensor *gamma,
                              dx_tensor *beta, double eps, dx_tensor *film) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (!check_group_norm(ctx, "group_norm_silu", x, groups, gamma, beta, eps)) return NULL;
  if (film) {
    bool ok = dx_check_compatible(ctx, "group_norm_silu", x, film) && film->ndim >= 2 &&
              film->shape[0] == x->shape[0] && film->shape[1] == 2 * x->shape[1] &&
              dx_numel(film) == 2 * x->shape[0] * x->shape[1];
    if (dx_status_of(ctx) != DX_OK) return NULL;
    if (!ok) {
      char a[64], b[64];
      return dx_fail(ctx, DX_ERR_INVALID,
                     "group_norm_silu: film has shape %s; x %s needs (%lld, %lld): the scales, "
                     "then the shifts",
                     dx_shape_str(film, a, sizeof a), dx_shape_str(x, b, sizeof b),
                     (long long)x->shape[0], (long long)(2 * x->shape[1]));
    }
  }
  dx_backend *be = ctx->be;
  if (!be->group_norm_silu_fwd || !be->group_norm_silu_bwd)
    return group_norm_silu_composed(ctx, x, groups, gamma, beta, eps, film);
  dx_tensor *y, *mean, *rstd;
  if (!new_outputs(ctx, x, groups, &y, &mean, &rstd)) return NULL;
  be->group_norm_silu_fwd(be, x, gamma, beta, film, groups, eps, y, mean, rstd);
  dx_tensor *in[4] = {x, gamma, beta, film};
  save_stats(dx_record(ctx, "group_norm_silu", group_norm_silu_backward, y, 4, in), mean, rstd,
             groups);
  return y;
}
