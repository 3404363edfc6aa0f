/* In-place updates of persistent tensors, for the optimiser and the EMA
 * (core/train/optim.c): fused backend kernels reached through the context,
 * never recorded on the tape. Each returns the context's status; a missing
 * kernel fails with DX_ERR_UNSUPPORTED naming it. */
#ifndef DX_TENSOR_UPDATE_H
#define DX_TENSOR_UPDATE_H

#include "backend/backend.h"
#include "ddpmx/tensor.h"

/* One Adam/AdamW step of p from p->grad, with moments m and v. */
dx_status dx_adam_update(dx_ctx *ctx, dx_tensor *p, dx_tensor *m, dx_tensor *v,
                         const dx_adam_args *a);
/* acc (1, float64) += sum of t^2. The sum stays in backend memory until
 * dx_tensor_read fetches it, so a norm over many tensors reads back once. */
dx_status dx_sum_squares_acc(dx_ctx *ctx, const dx_tensor *t, dx_tensor *acc);
/* t *= s */
dx_status dx_scale_inplace(dx_ctx *ctx, dx_tensor *t, double s);
/* y += w * (x - y) */
dx_status dx_lerp_inplace(dx_ctx *ctx, dx_tensor *y, const dx_tensor *x, double w);

#endif
