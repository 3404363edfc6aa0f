/* dx_conv2d: 2-D convolution (cross-correlation, as PyTorch's Conv2d), with
 * its backward beside it. The backend does the arithmetic; this file checks
 * shapes, sizes the workspace and records the tape. */
#include "tensor/internal.h"

/* Fills d from x, w and the hyper-parameters; false with an error otherwise. */
static bool describe(dx_ctx *ctx, const dx_tensor *x, const dx_tensor *w, const dx_tensor *b,
                     int stride, int pad, int groups, dx_conv2d_desc *d) {
  char xs[64], ws[64], bs[64];
  dx_shape_str(x, xs, sizeof xs), dx_shape_str(w, ws, sizeof ws);
  if (x->ndim != 4 || w->ndim != 4) {
    dx_fail(ctx, DX_ERR_INVALID,
            "conv2d: x %s and w %s must both be 4-D (N,C,H,W), (Co,Ci/groups,kh,kw)", xs, ws);
    return false;
  }
  if (stride < 1 || pad < 0 || groups < 1) {
    dx_fail(ctx, DX_ERR_INVALID,
            "conv2d: stride %d, pad %d, groups %d: need stride >= 1, pad >= 0, groups >= 1", stride,
            pad, groups);
    return false;
  }
  int64_t ci = x->shape[1], co = w->shape[0];
  if (ci % groups || co % groups || w->shape[1] * groups != ci) {
    dx_fail(ctx, DX_ERR_INVALID,
            "conv2d: x %s has %lld channels and w %s expects %lld x %d groups; both channel counts "
            "(%lld in, %lld out) must divide by groups",
            xs, (long long)ci, ws, (long long)w->shape[1], groups, (long long)ci, (long long)co);
    return false;
  }
  if (b && (b->ndim != 1 || b->shape[0] != co)) {
    dx_fail(ctx, DX_ERR_INVALID, "conv2d: bias %s must be (%lld), one per output channel",
            dx_shape_str(b, bs, sizeof bs), (long long)co);
    return false;
  }
  *d = (dx_conv2d_desc){.n = x->shape[0],
                        .ci = ci,
                        .h = x->shape[2],
                        .w = x->shape[3],
                        .co = co,
                        .kh = w->shape[2],
                        .kw = w->shape[3],
                        .stride = stride,
                        .pad = pad,
                        .groups = groups,
                        .dtype = x->dtype};
  int64_t hp = d->h + 2 * (int64_t)pad, wp = d->w + 2 * (int64_t)pad;
  if (d->kh > hp || d->kw > wp) {
    dx_fail(ctx, DX_ERR_INVALID,
            "conv2d: kernel %lldx%lld is larger than the padded input %lldx%lld of x %s",
            (long long)d->kh, (long long)d->kw, (long long)hp, (long long)wp, xs);
    return false;
  }
  d->ho = (hp - d->kh) / stride + 1;
  d->wo = (wp - d->kw) / stride + 1;
  return true;
}

/* The workspace a kernel asked for, from the arena; NULL when none is needed. */
static bool workspace(dx_ctx *ctx, const dx_conv2d_desc *d, void **ws) {
  size_t bytes = ctx->be->conv2d_workspace ? ctx->be->conv2d_workspace(ctx->be, d) : 0;
  *ws = bytes ? dx_scratch(ctx, bytes) : NULL;
  return !bytes || *ws;
}

static void conv2d_backward(dx_ctx *ctx, dx_node *n) {
  dx_backend *be = ctx->be;
  dx_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
  dx_conv2d_desc d;
  if (!describe(ctx, x, w, b, (int)n->iarg[0], (int)n->iarg[1], (int)n->iarg[2], &d)) return;
  void *ws;
  if (!workspace(ctx, &d, &ws)) return;
  dx_tensor *dy = n->out->grad;
  if (dx_wants_grad(x)) {
    dx_tensor *gx = dx_grad(ctx, x);
    if (!gx || !dx_kernel_ok(ctx, (const void *)be->conv2d_bwd_data, "conv2d backward (data)"))
      return;
    be->conv2d_bwd_data(be, &d, dy, w, gx, ws);
  }
  dx_tensor *gw = dx_wants_grad(w) ? dx_grad(ctx, w) : NULL;
  dx_tensor *gb = dx_wants_grad(b) ? dx_grad(ctx, b) : NULL;
  if (dx_status_of(ctx) != DX_OK || (!gw && !gb)) return;
  if (!dx_kernel_ok(ctx, (const void *)be->conv2d_bwd_filter, "conv2d backward (filter)")) return;
  be->conv2d_bwd_filter(be, &d, x, dy, gw, gb, ws);
}

dx_tensor *dx_conv2d(dx_ctx *ctx, dx_tensor *x, dx_tensor *w, dx_tensor *b, int stride, int pad,
                     int groups) {
  DX_REQUIRE_INPUTS(ctx, x, w);
  if (!dx_check_compatible(ctx, "conv2d", x, w) || (b && !dx_check_compatible(ctx, "conv2d", x, b)))
    return NULL;
  dx_conv2d_desc d;
  if (!describe(ctx, x, w, b, stride, pad, groups, &d)) return NULL;
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->conv2d_fwd, "conv2d")) return NULL;
  int64_t shape[4] = {d.n, d.co, d.ho, d.wo};
  dx_tensor *y = dx_tensor_new(ctx, x->dtype, 4, shape);
  void *ws;
  if (!y || !workspace(ctx, &d, &ws)) return NULL;
  ctx->be->conv2d_fwd(ctx->be, &d, x, w, b, y, ws);
  dx_tensor *in[3] = {x, w, b};
  dx_node *n = dx_record(ctx, "conv2d", conv2d_backward, y, b ? 3 : 2, in);
  if (n) {
    n->iarg[0] = stride, n->iarg[1] = pad, n->iarg[2] = groups;
    n->reads = DX_READS_IN(0) | DX_READS_IN(1); /* x for dw, w for dx; never y */
  }
  return y;
}
