/* The feature network: four 3x3 convolutions (the last three of stride 2,
 * so 28 -> 14 -> 7 -> 4), each followed by group norm and SiLU, a global
 * mean over the image (the feature vector), and a linear classifier. Small
 * enough to train on two CPU cores in minutes, and size-agnostic thanks to
 * the global mean. */
#include <stdio.h>

#include "train/features_internal.h"

static const int64_t mult[FNET_LAYERS] = {1, 2, 4, 8};
static const int stride[FNET_LAYERS] = {1, 2, 2, 2};

static int groups_of(int64_t ch) { return ch < 8 ? (int)ch : 8; }

dx_status dx_fnet_build(dx_ctx *ctx, fnet *n, int64_t C, int64_t width, int64_t classes,
                        uint64_t seed) {
  *n = (fnet){.C = C, .width = width, .classes = classes};
  uint64_t offset = 0;
  dx_module *m = dx_module_create(ctx, &n->params, "", seed, &offset);
  if (!m) return dx_status_of(ctx) ? dx_status_of(ctx) : DX_ERR_NOMEM;
  int64_t in = C;
  for (int l = 0; l < FNET_LAYERS; l++) {
    int64_t out = width * mult[l], w[4] = {out, in, 3, 3}, v[1] = {out};
    char name[64];
    snprintf(name, sizeof name, "convs.%d.weight", l);
    n->w[l] = dx_module_param(m, name, 4, w, DX_INIT_FAN_IN_UNIFORM, in * 9);
    snprintf(name, sizeof name, "convs.%d.bias", l);
    n->b[l] = dx_module_param(m, name, 1, v, DX_INIT_FAN_IN_UNIFORM, in * 9);
    snprintf(name, sizeof name, "norms.%d.weight", l);
    n->gamma[l] = dx_module_param(m, name, 1, v, DX_INIT_ONES, 0);
    snprintf(name, sizeof name, "norms.%d.bias", l);
    n->beta[l] = dx_module_param(m, name, 1, v, DX_INIT_ZEROS, 0);
    in = out;
  }
  int64_t fw[2] = {classes, in}, fb[1] = {classes};
  n->fc_w = dx_module_param(m, "fc.weight", 2, fw, DX_INIT_FAN_IN_UNIFORM, in);
  n->fc_b = dx_module_param(m, "fc.bias", 1, fb, DX_INIT_FAN_IN_UNIFORM, in);
  dx_module_free(m);
  dx_status st = dx_status_of(ctx);
  if (st == DX_OK && !n->fc_b) st = DX_ERR_NOMEM;
  if (st != DX_OK) dx_fnet_free(ctx, n);
  return st;
}

void dx_fnet_free(dx_ctx *ctx, fnet *n) { dx_param_list_free(ctx, &n->params); }

dx_tensor *dx_fnet_forward(dx_ctx *ctx, const fnet *n, dx_tensor *x, dx_tensor **feat) {
  for (int l = 0; l < FNET_LAYERS; l++) {
    x = dx_conv2d(ctx, x, n->w[l], n->b[l], stride[l], 1, 1);
    x = dx_group_norm(ctx, x, groups_of(n->width * mult[l]), n->gamma[l], n->beta[l], 1e-5);
    x = dx_silu(ctx, x);
  }
  x = dx_mean_axes(ctx, x, (1u << 2) | (1u << 3));
  int64_t shape[2] = {-1, n->width * mult[FNET_LAYERS - 1]};
  x = dx_reshape(ctx, x, 2, shape);
  if (feat) *feat = x;
  return dx_linear(ctx, x, n->fc_w, n->fc_b);
}

void dx_fnet_describe(const fnet *n, char *out, size_t len) {
  int64_t w = n->width;
  snprintf(out, len,
           "conv3x3 %lld-%lld-%lld-%lld (strides 1,2,2,2) + GroupNorm + SiLU, global mean "
           "(%lld features), linear to %lld classes",
           (long long)w, (long long)(2 * w), (long long)(4 * w), (long long)(8 * w),
           (long long)(8 * w), (long long)n->classes);
}
