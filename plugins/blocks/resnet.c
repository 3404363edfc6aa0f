/* resnet: the ResNet block of the annotated-diffusion U-Net.
 *
 *   h = SiLU(GN(conv3x3(x)) * (1 + scale) + shift),  (scale, shift) = Linear(SiLU(t_emb))
 *   h = SiLU(GN(conv3x3(dropout(h))))
 *   y = h + conv1x1(x)   (the identity when channels do not change)
 *
 * The scale-and-shift conditioning is FiLM (Perez et al. 2018) as used by
 * Dhariwal & Nichol 2021; weight standardisation (Qiao et al. 2019) is an
 * option. Parameter names follow the peer network's state_dict
 * (../shared/bench/peer_torch_unet.py, ResBlock). */
#include <math.h>
#include <stdlib.h>

#include <ddpmx/block.h>

typedef struct conv {
  dx_tensor *w, *b;
} conv;

typedef struct resnet {
  int groups;
  double dropout;
  bool standardize;
  dx_tensor *mlp_w, *mlp_b;
  conv proj1, proj2, res;
  dx_tensor *norm1_w, *norm1_b, *norm2_w, *norm2_b;
  int64_t out_ch;
} resnet;

static const dx_param_spec params[] = {
    {"groups", DX_PARAM_INT, "8", "[1, 1024]", NULL,
     "group-norm groups; must divide the block's output channels"},
    {"dropout", DX_PARAM_FLOAT, "0", "[0, 1)", NULL,
     "dropout before the second convolution (training only)"},
    {"weight_standardization", DX_PARAM_BOOL, "false", NULL, NULL,
     "standardise each 3x3 filter to zero mean and unit variance before use"},
};

static conv conv_params(dx_module *m, const char *w, const char *b, int64_t o, int64_t i,
                        int64_t k) {
  int64_t ws[4] = {o, i, k, k}, bs[1] = {o};
  conv c = {dx_module_param(m, w, 4, ws, DX_INIT_FAN_IN_UNIFORM, i * k * k),
            dx_module_param(m, b, 1, bs, DX_INIT_FAN_IN_UNIFORM, i * k * k)};
  return c;
}

static dx_status create(dx_module *m, const dx_params *p, const dx_block_shape *s, void **state) {
  dx_ctx *ctx = dx_module_ctx(m);
  resnet *r = calloc(1, sizeof *r);
  if (!r) return dx_set_error(ctx, DX_ERR_NOMEM, "resnet: out of memory");
  *state = r;
  r->groups = (int)dx_params_int(p, "groups");
  r->dropout = dx_params_float(p, "dropout");
  r->standardize = dx_params_bool(p, "weight_standardization");
  r->out_ch = s->out_ch;
  if (s->out_ch % r->groups)
    return dx_set_error(ctx, DX_ERR_CONFIG, "resnet: groups = %d does not divide %lld channels",
                        r->groups, (long long)s->out_ch);
  int64_t mw[2] = {2 * s->out_ch, s->time_dim}, mb[1] = {2 * s->out_ch}, c[1] = {s->out_ch};
  r->mlp_w = dx_module_param(m, "mlp.1.weight", 2, mw, DX_INIT_FAN_IN_UNIFORM, s->time_dim);
  r->mlp_b = dx_module_param(m, "mlp.1.bias", 1, mb, DX_INIT_FAN_IN_UNIFORM, s->time_dim);
  r->proj1 = conv_params(m, "block1.proj.weight", "block1.proj.bias", s->out_ch, s->in_ch, 3);
  r->norm1_w = dx_module_param(m, "block1.norm.weight", 1, c, DX_INIT_ONES, 0);
  r->norm1_b = dx_module_param(m, "block1.norm.bias", 1, c, DX_INIT_ZEROS, 0);
  r->proj2 = conv_params(m, "block2.proj.weight", "block2.proj.bias", s->out_ch, s->out_ch, 3);
  r->norm2_w = dx_module_param(m, "block2.norm.weight", 1, c, DX_INIT_ONES, 0);
  r->norm2_b = dx_module_param(m, "block2.norm.bias", 1, c, DX_INIT_ZEROS, 0);
  if (s->in_ch != s->out_ch)
    r->res = conv_params(m, "res_conv.weight", "res_conv.bias", s->out_ch, s->in_ch, 1);
  return dx_status_of(ctx);
}

/* w (O, I, k, k) -> (w - mean) / sqrt(var + eps) per output filter */
static dx_tensor *standardized(dx_ctx *ctx, dx_tensor *w) {
  const unsigned per_filter = 2 | 4 | 8;
  dx_tensor *mean = dx_mean_axes(ctx, w, per_filter);
  dx_tensor *centred = dx_sub(ctx, w, mean);
  dx_tensor *var = dx_mean_axes(ctx, dx_square(ctx, centred), per_filter);
  return dx_div(ctx, centred, dx_sqrt(ctx, dx_add_scalar(ctx, var, 1e-5)));
}

static dx_tensor *conv3x3(dx_ctx *ctx, const resnet *r, const conv *c, dx_tensor *x) {
  dx_tensor *w = r->standardize ? standardized(ctx, c->w) : c->w;
  return dx_conv2d(ctx, x, w, c->b, 1, 1, 1);
}

/* Each GroupNorm -> (FiLM) -> SiLU is one fused op, dx_group_norm_silu;
 * the FiLM takes the Linear layer's (N, 2C) output as it is, scales first. */
static dx_tensor *forward(dx_ctx *ctx, void *state, dx_tensor *x, dx_tensor *temb, bool training) {
  resnet *r = state;
  dx_tensor *film = dx_linear(ctx, dx_silu(ctx, temb), r->mlp_w, r->mlp_b);
  dx_tensor *h = dx_group_norm_silu(ctx, conv3x3(ctx, r, &r->proj1, x), r->groups, r->norm1_w,
                                    r->norm1_b, 1e-5, film);
  h = dx_dropout(ctx, h, r->dropout, training);
  h = dx_group_norm_silu(ctx, conv3x3(ctx, r, &r->proj2, h), r->groups, r->norm2_w, r->norm2_b,
                         1e-5, NULL);
  dx_tensor *skip = r->res.w ? dx_conv2d(ctx, x, r->res.w, r->res.b, 1, 0, 1) : x;
  return dx_add(ctx, h, skip);
}

static void destroy(void *state) { free(state); }

static const dx_block_ops ops = {DX_BLOCK_ROLE_RES, create, forward, destroy};

static const dx_plugin_desc desc = {
    DX_PLUGIN_ABI_VERSION,
    DX_KIND_BLOCK,
    "resnet",
    "1.0.0",
    "ResNet block: two conv3x3-GroupNorm-SiLU layers with time scale-shift and a residual",
    "y = SiLU(GN(conv(dropout(SiLU(GN(conv(x))(1+s)+b))))) + res(x), (s,b) = Linear(SiLU(t_emb))",
    params,
    DX_COUNT(params),
    &ops};

DX_PLUGIN_DEFINE(desc)
