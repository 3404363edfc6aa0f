/* Private to core/diffusion: table allocation shared by creation and
 * respacing, and small helpers shared by the tensor-level files. */
#ifndef DX_DIFFUSION_INTERNAL_H
#define DX_DIFFUSION_INTERNAL_H

#include "ddpmx/diffusion.h"

/* Tables for T steps in one block (beta first); contents unset. */
dx_diffusion *dx_diffusion_alloc(dx_ctx *ctx, int64_t T);
/* Fills every table from d->beta. */
void dx_diffusion_derive(dx_diffusion *d);

#endif
