/* attention_full: multi-head self-attention over all positions (Vaswani et
 * al. 2017), pre-normed and residual, as in the middle of the
 * annotated-diffusion U-Net. Quadratic in H*W: meant for the coarsest level.
 *
 *   y = x + conv1x1(v softmax_j(q_i . k_j / sqrt(d))^T)
 *
 * Parameter names follow PreNormRes(Attn) in the peer network. */
#include <math.h>
#include <stdlib.h>

#include <ddpmx/block.h>

typedef struct attn {
  int64_t heads, dim_head, ch;
  dx_tensor *norm_w, *norm_b, *qkv_w, *out_w, *out_b;
} attn;

static const dx_param_spec params[] = {
    {"heads", DX_PARAM_INT, "4", "[1, 64]", NULL, "number of attention heads"},
    {"dim_head", DX_PARAM_INT, "32", "[1, 1024]", NULL, "width of each head"},
};

static dx_status create(dx_module *m, const dx_params *p, const dx_block_shape *s, void **state) {
  dx_ctx *ctx = dx_module_ctx(m);
  attn *a = calloc(1, sizeof *a);
  if (!a) return dx_set_error(ctx, DX_ERR_NOMEM, "attention_full: out of memory");
  *state = a;
  a->heads = dx_params_int(p, "heads");
  a->dim_head = dx_params_int(p, "dim_head");
  a->ch = s->in_ch;
  int64_t hid = a->heads * a->dim_head, c[1] = {a->ch};
  int64_t qkv[4] = {3 * hid, a->ch, 1, 1}, out[4] = {a->ch, hid, 1, 1};
  a->norm_w = dx_module_param(m, "norm.weight", 1, c, DX_INIT_ONES, 0);
  a->norm_b = dx_module_param(m, "norm.bias", 1, c, DX_INIT_ZEROS, 0);
  a->qkv_w = dx_module_param(m, "fn.to_qkv.weight", 4, qkv, DX_INIT_FAN_IN_UNIFORM, a->ch);
  a->out_w = dx_module_param(m, "fn.to_out.weight", 4, out, DX_INIT_FAN_IN_UNIFORM, hid);
  a->out_b = dx_module_param(m, "fn.to_out.bias", 1, c, DX_INIT_FAN_IN_UNIFORM, hid);
  return dx_status_of(ctx);
}

/* q, k or v (part 0, 1, 2) as (b, heads, d, n), through its own rows of
 * to_qkv's weight: no qkv tensor to cut into copies. */
static dx_tensor *head_part(dx_ctx *ctx, const attn *a, dx_tensor *xn, int part) {
  int64_t hid = a->heads * a->dim_head, wrows[4] = {1, 3 * hid, a->ch, 1};
  int64_t wpart[4] = {hid, a->ch, 1, 1};
  dx_tensor *w = dx_reshape(
      ctx, dx_slice_channels(ctx, dx_reshape(ctx, a->qkv_w, 4, wrows), part * hid, hid), 4, wpart);
  int64_t heads[4] = {xn->shape[0], a->heads, a->dim_head, xn->shape[2] * xn->shape[3]};
  return dx_reshape(ctx, dx_conv2d(ctx, xn, w, NULL, 1, 0, 1), 4, heads);
}

static dx_tensor *forward(dx_ctx *ctx, void *state, dx_tensor *x, dx_tensor *temb, bool training) {
  (void)temb, (void)training;
  attn *a = state;
  int64_t b = x->shape[0], h = x->shape[2], w = x->shape[3];
  dx_tensor *xn = dx_group_norm(ctx, x, 1, a->norm_w, a->norm_b, 1e-5);
  if (!xn) return NULL;
  dx_tensor *q = dx_scale(ctx, head_part(ctx, a, xn, 0), 1.0 / sqrt((double)a->dim_head));
  dx_tensor *k = head_part(ctx, a, xn, 1), *v = head_part(ctx, a, xn, 2);
  dx_tensor *sim =
      dx_softmax_inplace(ctx, dx_matmul(ctx, q, k, true, false), -1); /* (b, heads, n, n) */
  dx_tensor *o = dx_matmul(ctx, v, sim, false, true);                 /* (b, heads, d, n) */
  int64_t image[4] = {b, a->heads * a->dim_head, h, w};
  o = dx_conv2d(ctx, dx_reshape(ctx, o, 4, image), a->out_w, a->out_b, 1, 0, 1);
  return dx_add(ctx, o, x);
}

static void destroy(void *state) { free(state); }

static const dx_block_ops ops = {DX_BLOCK_ROLE_ATTN, create, forward, destroy};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_BLOCK,
    "attention_full",
    "1.0.0",
    "multi-head self-attention over all positions, pre-norm, residual",
    "y = x + conv1x1(v softmax_j(q_i.k_j / sqrt(d))^T), q,k,v = conv1x1(GN1(x))",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
