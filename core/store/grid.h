/* Sample grids: a batch of images laid out as one picture, the way
 * torchvision.utils.make_grid does (padding 2, value 0); util/png.h encodes
 * it. */
#ifndef DX_GRID_H
#define DX_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"
#include "util/png.h"

#define DX_GRID_PADDING 2

/* make_grid's layout of n images: ncol = min(nrow, n) across, nrows =
 * ceil(n / ncol) down; width = ncol (w + 2) + 2, height = nrows (h + 2) + 2. */
DX_API void dx_grid_size(int64_t n, int64_t h, int64_t w, int64_t nrow, int64_t *grid_h,
                         int64_t *grid_w);

/* Lays out x, shape (n, c, h, w) with values in [-1, 1] and c 1 or 3, as one
 * image: pixel = round((x + 1) / 2 * 255) clamped to [0, 255] (NaN -> 0).
 * Unlike make_grid, a single image is padded too, so the layout has one rule. */
DX_API dx_status dx_grid_make(const float *x, int64_t n, int64_t c, int64_t h, int64_t w,
                              int64_t nrow, dx_image *out, char *err, size_t errlen);

#endif
