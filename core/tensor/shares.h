/* A forward pass with the tape shared out over the batch between the CPU
 * threads (shares.c), for the U-Net's training pass. */
#ifndef DX_TENSOR_SHARES_H
#define DX_TENSOR_SHARES_H

#include <stdbool.h>

#include "ddpmx/tensor.h"

/* The forward pass of images [i0, i0 + n) of the batch, in the worker
 * context w (one thread, the tape on): returns its output, n rows. It must
 * read its inputs through views of the batch's tensors (dx_batch_view),
 * none of which may require a gradient, and must not write anything but
 * what it allocates in w. */
typedef dx_tensor *(*dx_share_fn)(dx_ctx *w, int64_t i0, int64_t n, void *arg);

/* Whether dx_run_shares can run a batch of n in ctx: the CPU, two threads
 * or more, grad mode on, outside a parallel region, and no earlier shares
 * still waiting for their backward. */
bool dx_shares_apply(const dx_ctx *ctx, int64_t n);

/* Runs fn on one share of out's first dim per thread, each in its own
 * worker context with its own tape, and writes each share's output into
 * its rows of out (allocated by the caller). When the outputs require a
 * gradient, out gets one node on ctx's tape: its backward walks every
 * share's tape, each on its thread, and adds the shares' gradients of
 * ctx's persistent tensors into theirs in share order. The workers keep
 * their tapes until then, or until dx_step_reset(ctx). Returns out, or
 * NULL with ctx's error set (a share's first error). */
dx_tensor *dx_run_shares(dx_ctx *ctx, dx_tensor *out, dx_share_fn fn, void *arg);

#endif
