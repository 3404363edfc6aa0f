/* A run of images of a batch as a tensor over the batch's own data, for
 * code that runs without the tape (the U-Net's forward pass in chunks). */
#ifndef DX_TENSOR_BATCH_VIEW_H
#define DX_TENSOR_BATCH_VIEW_H

#include "ddpmx/tensor.h"

/* Entries [i0, i0 + n) of x along its first dim, no copy: writing to the
 * view writes x. Nothing is recorded for a backward, so it is refused (NULL,
 * the error recorded) while grad mode is on and x requires a gradient. */
dx_tensor *dx_batch_view(dx_ctx *ctx, dx_tensor *x, int64_t i0, int64_t n);

#endif
