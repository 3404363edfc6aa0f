/* Schedule plugins (DX_KIND_SCHEDULE): the noise schedule beta_1..beta_T. */
#ifndef DDPMX_SCHEDULE_H
#define DDPMX_SCHEDULE_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_schedule_ops {
  /* Fills beta[0..T-1] in float64; beta[0] is the paper's beta_1. The host
   * checks afterwards that every beta lies in (0, 1] and refuses the schedule
   * otherwise, so a plugin need not. Errors go to dx_set_error(ctx, ...). */
  dx_status (*betas)(dx_ctx *ctx, const dx_params *p, int64_t T, double *beta);
} dx_schedule_ops;

#ifdef __cplusplus
}
#endif
#endif
