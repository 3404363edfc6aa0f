/* Activation recomputation (gradient checkpointing; Chen et al. 2016,
 * "Training Deep Nets with Sublinear Memory Cost"): a segment of the forward
 * pass that keeps only its outputs and runs again during backward. */
#ifndef DX_TENSOR_CHECKPOINT_H
#define DX_TENSOR_CHECKPOINT_H

#include "ddpmx/tensor.h"

#define DX_SEGMENT_MAX_IO 8

/* A segment: out[0..n_out) <- a function of in[0..n_in) and of parameters.
 * It must compute the same thing each time it is called with the same
 * inputs and the same random stream (dropout draws from the context's
 * counter, which dx_checkpoint replays), and keep nothing between calls. */
typedef dx_status (*dx_segment_fn)(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out);

/* out <- fn(in). With the tape on, fn runs without it and only its outputs
 * stay in the arena: its intermediate activations are freed at once. The
 * tape gets the segment as one op, whose backward runs fn again with the
 * tape from the same random-stream position, walks that short tape into the
 * gradients of in and of the parameters, and frees it. The gradients equal
 * those of fn run directly, bit for bit: the same kernels on the same
 * values, summed in the same order. With the tape off, simply fn.
 * user must stay valid until the backward pass. */
dx_status dx_checkpoint(dx_ctx *ctx, dx_segment_fn fn, void *user, int n_in, dx_tensor *const *in,
                        int n_out, dx_tensor **out);

#endif
