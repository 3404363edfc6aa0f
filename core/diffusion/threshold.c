/* Dynamic thresholding of the predicted x0 (Saharia et al. 2022, "Imagen",
 * sec. 2.3; diffusers' `thresholding` with `dynamic_thresholding_ratio`). */
#include <math.h>
#include <stdlib.h>

#include "diffusion/internal.h"

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-quantile of v[0..n-1] (sorted in place) with linear interpolation
 * between the two nearest ranks, as torch.quantile and numpy's default do. */
static double quantile(double *v, int64_t n, double p) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  double pos = p * (double)(n - 1), lo = floor(pos);
  int64_t k = (int64_t)lo;
  return k + 1 < n ? v[k] + (pos - lo) * (v[k + 1] - v[k]) : v[k];
}

dx_tensor *dx_dynamic_threshold(dx_ctx *ctx, dx_tensor *x0, double p) {
  if (!x0) return NULL;
  if (x0->ndim != 4 || p <= 0.0 || p > 1.0)
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "dynamic thresholding needs (N,C,H,W) and p in (0, 1]"),
           NULL;
  int64_t n = x0->shape[0], per = dx_numel(x0) / n;
  double *v = malloc((size_t)dx_numel(x0) * sizeof *v), *inv_s = malloc((size_t)n * sizeof *inv_s);
  if (!v || !inv_s) {
    free(v), free(inv_s);
    return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory thresholding"), NULL;
  }
  dx_tensor *out = NULL;
  /* The quantile needs a sort, which the tensor core does not offer: it is
   * taken on the host, once per step, and the rest stays on the device. */
  if (dx_tensor_read(ctx, x0, v, DX_F64) == DX_OK) {
    for (int64_t k = 0; k < n; k++) {
      double *row = v + k * per;
      for (int64_t j = 0; j < per; j++)
        row[j] = fabs(row[j]);
      /* s >= 1: an x0 already inside [-1, 1] is left alone. */
      inv_s[k] = 1.0 / fmax(quantile(row, per, p), 1.0);
    }
    /* clip(x0, -s, s) / s = clip(x0 / s, -1, 1) since s > 0. */
    dx_tensor *scale = dx_per_sample_tensor(ctx, inv_s, n, x0->dtype);
    out = dx_clamp(ctx, dx_mul(ctx, x0, scale), -1.0, 1.0);
  }
  free(v), free(inv_s);
  return out;
}
