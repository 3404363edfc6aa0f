/* What the dataset harnesses do with a dataset that opened: read every
 * image (up to 64) as one batch, padded and flipped, as training does. */
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz.h"

dx_status dxf_read_all(const dx_dataset *ds, char *err, size_t errlen) {
  int64_t n = dx_dataset_count(ds), idx[64];
  int64_t each = dx_dataset_channels(ds) * dx_dataset_height(ds, true) * dx_dataset_width(ds, true);
  n = n < 64 ? n : 64;
  while (n > 1 && n * each > ((int64_t)1 << 26)) /* a batch of at most 256 MiB */
    n /= 2;
  for (int64_t i = 0; i < n; i++)
    idx[i] = i;
  size_t floats = (size_t)(n * each);
  float *out = malloc(floats ? floats * sizeof *out : 1);
  dx_data_transform tf = {.flip = true, .pad_pow2 = true, .seed = 1, .step = 0};
  dx_status s = out ? dx_dataset_batch(ds, idx, n, &tf, out, err, errlen) : DX_ERR_NOMEM;
  free(out);
  return s;
}
