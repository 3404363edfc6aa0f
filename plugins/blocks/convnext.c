/* convnext: the ConvNeXt-style block of the annotated-diffusion U-Net
 * (Liu et al. 2022, as adapted for diffusion by the annotated-diffusion
 * tutorial).
 *
 *   h = dwconv7x7(x) + Linear(GELU(t_emb))
 *   h = conv3x3(GELU(conv3x3(GN1(h)) -> mult*C) GN1 -> C)
 *   y = h + conv1x1(x)   (the identity when channels do not change)
 *
 * GN1 is a one-group GroupNorm (a LayerNorm over C, H, W). Parameter names
 * follow the peer network's state_dict (ConvNextBlock). */
#include <stdlib.h>

#include <ddpmx/block.h>

typedef struct convnext {
  bool norm;
  dx_tensor *mlp_w, *mlp_b, *ds_w, *ds_b;
  dx_tensor *n0_w, *n0_b, *c1_w, *c1_b, *n3_w, *n3_b, *c4_w, *c4_b;
  dx_tensor *res_w, *res_b;
  int64_t in_ch;
} convnext;

static const dx_param_spec params[] = {
    {"mult", DX_PARAM_INT, "2", "[1, 16]", NULL,
     "width of the hidden layer as a multiple of the output channels"},
    {"norm", DX_PARAM_BOOL, "true", NULL, NULL,
     "apply the one-group norm before the first 3x3 convolution"},
};

static dx_tensor *param(dx_module *m, const char *name, int64_t a, int64_t b, int64_t k,
                        int64_t fan_in) {
  int64_t s[4] = {a, b, k, k};
  return dx_module_param(m, name, b ? (k ? 4 : 2) : 1, s, DX_INIT_FAN_IN_UNIFORM, fan_in);
}

static dx_tensor *affine(dx_module *m, const char *name, int64_t c, dx_init init) {
  return dx_module_param(m, name, 1, &c, init, 0);
}

static dx_status create(dx_module *m, const dx_params *p, const dx_block_shape *s, void **state) {
  dx_ctx *ctx = dx_module_ctx(m);
  convnext *c = calloc(1, sizeof *c);
  if (!c) return dx_set_error(ctx, DX_ERR_NOMEM, "convnext: out of memory");
  *state = c;
  int64_t in = s->in_ch, out = s->out_ch, hid = out * dx_params_int(p, "mult");
  c->norm = dx_params_bool(p, "norm");
  c->in_ch = in;
  c->mlp_w = param(m, "mlp.1.weight", in, s->time_dim, 0, s->time_dim);
  c->mlp_b = param(m, "mlp.1.bias", in, 0, 0, s->time_dim);
  c->ds_w = param(m, "ds_conv.weight", in, 1, 7, 49);
  c->ds_b = param(m, "ds_conv.bias", in, 0, 0, 49);
  if (c->norm) {
    c->n0_w = affine(m, "net.0.weight", in, DX_INIT_ONES);
    c->n0_b = affine(m, "net.0.bias", in, DX_INIT_ZEROS);
  }
  c->c1_w = param(m, "net.1.weight", hid, in, 3, in * 9);
  c->c1_b = param(m, "net.1.bias", hid, 0, 0, in * 9);
  c->n3_w = affine(m, "net.3.weight", hid, DX_INIT_ONES);
  c->n3_b = affine(m, "net.3.bias", hid, DX_INIT_ZEROS);
  c->c4_w = param(m, "net.4.weight", out, hid, 3, hid * 9);
  c->c4_b = param(m, "net.4.bias", out, 0, 0, hid * 9);
  if (in != out) {
    c->res_w = param(m, "res_conv.weight", out, in, 1, in);
    c->res_b = param(m, "res_conv.bias", out, 0, 0, in);
  }
  return dx_status_of(ctx);
}

static dx_tensor *forward(dx_ctx *ctx, void *state, dx_tensor *x, dx_tensor *temb, bool training) {
  (void)training;
  convnext *c = state;
  dx_tensor *cond = dx_linear(ctx, dx_gelu(ctx, temb, DX_GELU_ERF), c->mlp_w, c->mlp_b);
  int64_t shape[4] = {x->shape[0], c->in_ch, 1, 1};
  dx_tensor *h = dx_add(ctx, dx_conv2d(ctx, x, c->ds_w, c->ds_b, 1, 3, (int)c->in_ch),
                        dx_reshape(ctx, cond, 4, shape));
  if (c->norm) h = dx_group_norm(ctx, h, 1, c->n0_w, c->n0_b, 1e-5);
  h = dx_gelu(ctx, dx_conv2d(ctx, h, c->c1_w, c->c1_b, 1, 1, 1), DX_GELU_ERF);
  h = dx_group_norm(ctx, h, 1, c->n3_w, c->n3_b, 1e-5);
  h = dx_conv2d(ctx, h, c->c4_w, c->c4_b, 1, 1, 1);
  dx_tensor *skip = c->res_w ? dx_conv2d(ctx, x, c->res_w, c->res_b, 1, 0, 1) : x;
  return dx_add(ctx, h, skip);
}

static void destroy(void *state) { free(state); }

static const dx_block_ops ops = {DX_BLOCK_ROLE_RES, create, forward, destroy};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_BLOCK,
    "convnext",
    "1.0.0",
    "ConvNeXt block: depthwise 7x7, time MLP added, norm-conv-GELU-norm-conv, residual",
    "h = dw7x7(x) + Linear(GELU(t_emb)); y = conv(GN1(GELU(conv(GN1(h))))) + res(x)",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
