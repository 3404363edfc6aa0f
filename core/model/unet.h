/* The U-Net of the annotated-diffusion tutorial, assembled from block
 * plugins: for the same dim and dim_mults it is the peer network of
 * ../shared/bench/peer_torch_unet.py parameter for parameter, with the same
 * state_dict names. */
#ifndef DX_MODEL_UNET_H
#define DX_MODEL_UNET_H

#include "ddpmx/block.h"
#include "model/module.h"

#define DX_UNET_MAX_LEVELS 6

typedef struct dx_block_spec {
  const dx_plugin_desc *desc; /* a DX_KIND_BLOCK plugin; NULL = no block here */
  const dx_params *params;
} dx_block_spec;

typedef struct dx_unet_config {
  int64_t in_channels;  /* image channels */
  int64_t out_channels; /* in_channels, doubled when the sampler learns the variance */
  int64_t dim;
  int n_levels;
  int64_t mults[DX_UNET_MAX_LEVELS];
  int64_t image_size; /* H = W; must be divisible by 2^(n_levels-1) */
  dx_block_spec block;
  dx_block_spec attention[DX_UNET_MAX_LEVELS];
  dx_block_spec mid_attention;
  dx_dtype dtype; /* of the parameters: DX_F32 (0) unless testing in float64 */
  /* > 0: a class embedding "classes_emb.weight" (classes + 1, 4 dim) added to
   * the time embedding; row `classes` is "no class" (classifier-free
   * guidance, Ho & Salimans 2021). */
  int64_t classes;
  /* The stem also takes an x0 estimate, concatenated before x (Chen et al.
   * 2022's self-conditioning): init_conv has 2 in_channels inputs. */
  bool self_condition;
  /* Training forward passes keep only each level's outputs and recompute
   * the rest during backward (tensor/checkpoint.h): less memory, about one
   * more forward pass of time, the same gradients. */
  bool recompute;
} dx_unet_config;

typedef struct dx_unet dx_unet;

/* Builds and initialises the network from seed (PyTorch's default init).
 * NULL on failure, with the reason in ctx. */
dx_unet *dx_unet_create(dx_ctx *ctx, const dx_unet_config *cfg, uint64_t seed);
void dx_unet_free(dx_unet *net);

/* x (N, in_channels, S, S), t (N) float timesteps -> (N, out_channels, S, S).
 * An unconditional call: "no class", and zeros for the self-conditioning input. */
dx_tensor *dx_unet_forward(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t, bool training);

/* What a conditional call adds; NULL members (or cond NULL) mean "no class"
 * and a zero x0 estimate. labels: N values in [0, classes], classes being
 * "no class"; refused when the net has no classes. x_self: (N, in_channels,
 * S, S), refused when the net does not self-condition. */
typedef struct dx_unet_cond {
  const int64_t *labels;
  dx_tensor *x_self;
} dx_unet_cond;
dx_tensor *dx_unet_forward_cond(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t,
                                const dx_unet_cond *cond, bool training);

dx_param_list *dx_unet_params(dx_unet *net);

#endif
