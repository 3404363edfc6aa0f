/* Tensors over the communicator: the gradient all-reduce of a training step
 * in a few fused buffers, and the broadcast of parameters from one rank.
 * Tensors are copied through host buffers with dx_tensor_read/write, so any
 * backend works; a device-aware implementation (NCCL) would fuse on the
 * device here, and the trainer would not change. */
#ifndef DX_COMM_PARAMS_H
#define DX_COMM_PARAMS_H

#include "comm/comm.h"
#include "ddpmx/tensor.h"

typedef struct dx_grad_sync dx_grad_sync;

/* Packs the gradients of params[0..n) (float32), in list order, into buffers
 * of at most bucket_bytes (one parameter larger than that gets its own).
 * NULL with the reason in err. */
dx_grad_sync *dx_grad_sync_create(dx_comm *c, dx_ctx *ctx, dx_tensor *const *params, int64_t n,
                                  size_t bucket_bytes, char *err, size_t errlen);
void dx_grad_sync_free(dx_grad_sync *g);
/* Every gradient <- its mean over the ranks, bucket by bucket in a fixed
 * order: identical on every rank. On failure the reason is in err. */
dx_status dx_grad_sync_mean(dx_grad_sync *g, char *err, size_t errlen);
/* Buckets, and seconds spent in the all-reduce itself (not the copies) since
 * creation: for the benchmark and docs/distributed.md. */
int64_t dx_grad_sync_buckets(const dx_grad_sync *g);
double dx_grad_sync_seconds(const dx_grad_sync *g);

/* ts[0..n) <- root's, tensor by tensor. */
dx_status dx_comm_bcast_tensors(dx_comm *c, dx_ctx *ctx, dx_tensor *const *ts, int64_t n, int root,
                                char *err, size_t errlen);

#endif
