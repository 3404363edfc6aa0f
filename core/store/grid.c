/* The make_grid layout (torchvision.utils.make_grid with padding 2 and
 * pad_value 0): images left to right, top to bottom, each framed by padding. */
#include "store/grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"

void dx_grid_size(int64_t n, int64_t h, int64_t w, int64_t nrow, int64_t *grid_h, int64_t *grid_w) {
  int64_t ncol = nrow < n ? nrow : n;
  int64_t nrows = (n + ncol - 1) / ncol;
  *grid_w = ncol * (w + DX_GRID_PADDING) + DX_GRID_PADDING;
  *grid_h = nrows * (h + DX_GRID_PADDING) + DX_GRID_PADDING;
}

/* save_image's mapping after make_grid, with [-1, 1] in place of [0, 1]. */
static uint8_t to_byte(float x) {
  double v = ((double)x + 1.0) * 0.5 * 255.0;
  if (!(v > 0.0)) return 0; /* NaN too */
  if (v >= 255.0) return 255;
  return (uint8_t)floor(v + 0.5);
}

/* Image k of x, shape (n, c, h, w), into the grid at its cell. */
static void place(const float *x, int64_t k, int64_t c, int64_t h, int64_t w, int64_t ncol,
                  dx_image *g) {
  int64_t top = (k / ncol) * (h + DX_GRID_PADDING) + DX_GRID_PADDING;
  int64_t left = (k % ncol) * (w + DX_GRID_PADDING) + DX_GRID_PADDING;
  const float *img = x + k * c * h * w;
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t i = 0; i < h; i++) {
      uint8_t *row = g->pixels + ((top + i) * g->width + left) * c + ch;
      const float *src = img + (ch * h + i) * w;
      for (int64_t j = 0; j < w; j++)
        row[j * c] = to_byte(src[j]);
    }
}

dx_status dx_grid_make(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t nrow,
                       dx_image *out, char *err, size_t errlen) {
  out->pixels = NULL;
  if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || nrow < 1) {
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                   "a grid needs images (n, c, h, w) with n, h, w, nrow >= 1 and c 1 or 3;"
                   " got (%lld, %lld, %lld, %lld), nrow %lld",
                   (long long)n, (long long)c, (long long)h, (long long)w, (long long)nrow);
  }
  int64_t ncol = nrow < n ? nrow : n;
  dx_grid_size(n, h, w, nrow, &out->height, &out->width);
  out->channels = c;
  out->pixels = calloc((size_t)(out->height * out->width * c), 1); /* padding is 0 */
  if (!out->pixels)
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for a %lldx%lld grid",
                   (long long)out->width, (long long)out->height);
  for (int64_t k = 0; k < n; k++)
    place(x, k, c, h, w, ncol, out);
  return DX_OK;
}
