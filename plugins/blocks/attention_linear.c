/* attention_linear: linear attention (Shen et al. 2021, "Efficient
 * Attention"), pre-normed and residual, as in the annotated-diffusion U-Net.
 *
 * With q, k, v of shape (B, heads, d, n), n = H*W: q is softmaxed over the
 * feature axis d and k over the positions n, so the context k v^T is a
 * (d x d) matrix and the cost is linear in n:
 *
 *   y = x + GN1(conv1x1(context^T q)),  context = softmax_n(k) v^T
 *
 * Parameter names follow PreNormRes(LinAttn) in the peer network. */
#include <math.h>
#include <stdlib.h>

#include <ddpmx/block.h>

typedef struct linattn {
  int64_t heads, dim_head, ch;
  dx_tensor *norm_w, *norm_b, *qkv_w, *out_w, *out_b, *out_norm_w, *out_norm_b;
} linattn;

static const dx_param_spec params[] = {
    {"heads", DX_PARAM_INT, "4", "[1, 64]", NULL, "number of attention heads"},
    {"dim_head", DX_PARAM_INT, "32", "[1, 1024]", NULL, "width of each head"},
};

static dx_status create(dx_module *m, const dx_params *p, const dx_block_shape *s, void **state) {
  dx_ctx *ctx = dx_module_ctx(m);
  linattn *a = calloc(1, sizeof *a);
  if (!a) return dx_set_error(ctx, DX_ERR_NOMEM, "attention_linear: out of memory");
  *state = a;
  a->heads = dx_params_int(p, "heads");
  a->dim_head = dx_params_int(p, "dim_head");
  a->ch = s->in_ch;
  int64_t hid = a->heads * a->dim_head, c[1] = {a->ch};
  int64_t qkv[4] = {3 * hid, a->ch, 1, 1}, out[4] = {a->ch, hid, 1, 1};
  a->norm_w = dx_module_param(m, "norm.weight", 1, c, DX_INIT_ONES, 0);
  a->norm_b = dx_module_param(m, "norm.bias", 1, c, DX_INIT_ZEROS, 0);
  a->qkv_w = dx_module_param(m, "fn.to_qkv.weight", 4, qkv, DX_INIT_FAN_IN_UNIFORM, a->ch);
  a->out_w = dx_module_param(m, "fn.to_out.0.weight", 4, out, DX_INIT_FAN_IN_UNIFORM, hid);
  a->out_b = dx_module_param(m, "fn.to_out.0.bias", 1, c, DX_INIT_FAN_IN_UNIFORM, hid);
  a->out_norm_w = dx_module_param(m, "fn.to_out.1.weight", 1, c, DX_INIT_ONES, 0);
  a->out_norm_b = dx_module_param(m, "fn.to_out.1.bias", 1, c, DX_INIT_ZEROS, 0);
  return dx_status_of(ctx);
}

/* One of q, k, v (part 0, 1, 2) as (b, heads, d, n): a 1x1 convolution of
 * xn with that part's rows of to_qkv's weight (a copy of a few kB), so that
 * no (b, 3 hid, h, w) qkv is made and sliced into copies. */
static dx_tensor *project(dx_ctx *ctx, const linattn *a, dx_tensor *xn, int part) {
  int64_t hid = a->heads * a->dim_head, rows[4] = {1, 3 * hid, a->ch, 1},
          filt[4] = {hid, a->ch, 1, 1};
  dx_tensor *w = dx_slice_channels(ctx, dx_reshape(ctx, a->qkv_w, 4, rows), part * hid, hid);
  int64_t heads[4] = {xn->shape[0], a->heads, a->dim_head, xn->shape[2] * xn->shape[3]};
  return dx_reshape(ctx, dx_conv2d(ctx, xn, dx_reshape(ctx, w, 4, filt), NULL, 1, 0, 1), 4, heads);
}

/* The scopes (dx_scope_begin) matter without the tape: q, k and v are each as
 * large as the block's input times heads * dim_head / channels, so the
 * context is made first and each stage is given back once used. Without
 * the tape the softmaxes run in place, so their scopes move nothing, and o
 * stays where it is made, above q: the scope that gave q back moved all of
 * o down onto it, where the block's end moves only its output. The
 * 1/sqrt(d) scales the (d x d) context rather than q (d x n): the same
 * product, one pass over a tensor n/d times smaller. */
static dx_tensor *forward(dx_ctx *ctx, void *state, dx_tensor *x, dx_tensor *temb, bool training) {
  (void)temb, (void)training;
  linattn *a = state;
  int64_t b = x->shape[0], h = x->shape[2], w = x->shape[3];
  dx_scope_begin(ctx);
  dx_tensor *xn = dx_group_norm(ctx, x, 1, a->norm_w, a->norm_b, 1e-5);
  if (!xn) return dx_scope_end(ctx, NULL);
  dx_scope_begin(ctx);
  dx_scope_begin(ctx);
  dx_tensor *k = dx_scope_end(ctx, dx_softmax_inplace(ctx, project(ctx, a, xn, 1), -1));
  dx_tensor *v = project(ctx, a, xn, 2);
  dx_tensor *context = dx_scope_end(
      ctx, dx_scale(ctx, dx_matmul(ctx, k, v, false, true), 1.0 / sqrt((double)a->dim_head)));
  dx_scope_begin(ctx);
  dx_tensor *q = dx_scope_end(ctx, dx_softmax_inplace(ctx, project(ctx, a, xn, 0), -2));
  dx_tensor *o = dx_matmul(ctx, context, q, true, false); /* (b, heads, d, n) */
  int64_t image[4] = {b, a->heads * a->dim_head, h, w};
  o = dx_scope_end(ctx, dx_conv2d(ctx, dx_reshape(ctx, o, 4, image), a->out_w, a->out_b, 1, 0, 1));
  return dx_add(ctx, dx_group_norm(ctx, o, 1, a->out_norm_w, a->out_norm_b, 1e-5), x);
}

static void destroy(void *state) { free(state); }

static const dx_block_ops ops = {DX_BLOCK_ROLE_ATTN, create, forward, destroy};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_BLOCK,
    "attention_linear",
    "1.0.0",
    "linear attention (softmax over features for q, over positions for k), pre-norm, residual",
    "y = x + GN1(conv1x1((softmax_n(k) v^T)^T softmax_d(q) / sqrt(d))), q,k,v = conv1x1(GN1(x))",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
