/* Private to features_*.c: the network's parameters and its forward pass. */
#ifndef DX_TRAIN_FEATURES_INTERNAL_H
#define DX_TRAIN_FEATURES_INTERNAL_H

#include "model/module.h"
#include "train/features.h"

#define FNET_LAYERS 4

typedef struct fnet {
  dx_param_list params; /* in the order they are made: the file's order */
  dx_tensor *w[FNET_LAYERS], *b[FNET_LAYERS], *gamma[FNET_LAYERS], *beta[FNET_LAYERS];
  dx_tensor *fc_w, *fc_b;
  int64_t C, width, classes;
} fnet;

struct dx_features {
  dx_ctx *ctx;
  fnet net;
  dx_features_info info;
};

/* Parameters of a network for C-channel images, initialised from seed
 * (PyTorch's default initialisation). */
dx_status dx_fnet_build(dx_ctx *ctx, fnet *n, int64_t C, int64_t width, int64_t classes,
                        uint64_t seed);
void dx_fnet_free(dx_ctx *ctx, fnet *n);
/* x (N, C, H, W) -> logits (N, classes); *feat (N, 8 width) the features. */
dx_tensor *dx_fnet_forward(dx_ctx *ctx, const fnet *n, dx_tensor *x, dx_tensor **feat);
/* One line describing the architecture. */
void dx_fnet_describe(const fnet *n, char *out, size_t len);
/* The file <dir>/<dataset>.<ext>. */
void dx_features_file(const char *dir, const char *dataset, const char *ext, char *out, size_t len);
/* Writes the network and its JSON note; fills info->sha256. */
dx_status dx_features_save(dx_ctx *ctx, const fnet *n, const char *dir, dx_features_info *info,
                           char *err, size_t errlen);

#endif
