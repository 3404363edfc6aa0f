/* uint8 images -> a float batch (N, C, H, W) in [-1, 1], with the optional
 * random horizontal flip and power-of-two padding. */
#include <string.h>

#include "data/dataset_internal.h"
#include "data/mix.h"

/* Whether image j of the batch of `step` is mirrored: one bit of a hash of
 * (seed, step, j), so the same batch position flips the same way whenever the
 * step is replayed, e.g. after a resume. */
static bool flips(uint64_t seed, int64_t step, int64_t j) {
  return dx_mix64(dx_mix_key(DX_STREAM_FLIP, seed, (uint64_t)step) ^ (uint64_t)j) >> 63;
}

/* One image (c, h, w) onto its slot (c, hp, wp) at row `top`, column `left`;
 * the slot already holds the padding value. */
static void put_image(const uint8_t *src, int64_t c, int64_t h, int64_t w, bool mirror, float *dst,
                      int64_t hp, int64_t wp, int64_t top, int64_t left, const float *lut) {
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t y = 0; y < h; y++) {
      const uint8_t *row = src + (ch * h + y) * w;
      float *out = dst + (ch * hp + y + top) * wp + left;
      if (mirror)
        for (int64_t x = 0; x < w; x++)
          out[x] = lut[row[w - 1 - x]];
      else
        for (int64_t x = 0; x < w; x++)
          out[x] = lut[row[x]];
    }
}

dx_status dx_dataset_batch(const dx_dataset *ds, const int64_t *indices, int64_t n,
                           const dx_data_transform *tf, float *out, char *err, size_t errlen) {
  static const dx_data_transform none = {0};
  if (!tf) tf = &none;
  const dx_images *img = &ds->img;
  for (int64_t j = 0; j < n; j++)
    if (indices[j] < 0 || indices[j] >= img->count)
      return dx_data_fail(err, errlen, DX_ERR_INVALID,
                          "batch index %lld is outside the dataset (0..%lld)",
                          (long long)indices[j], (long long)img->count - 1);
  /* Rounding v / 127.5 - 1 once, in double, makes 0 -> -1 and 255 -> 1 exact. */
  float lut[256];
  for (int v = 0; v < 256; v++)
    lut[v] = (float)(v / 127.5 - 1.0);
  int64_t hp = dx_dataset_height(ds, tf->pad_pow2), wp = dx_dataset_width(ds, tf->pad_pow2);
  int64_t top = (hp - img->h) / 2, left = (wp - img->w) / 2;
  size_t slot = (size_t)(img->c * hp * wp);
  for (int64_t j = 0; j < n; j++) {
    float *dst = out + (size_t)j * slot;
    if (hp != img->h || wp != img->w)
      for (size_t k = 0; k < slot; k++)
        dst[k] = -1.0f;
    bool mirror = tf->flip && flips(tf->seed, tf->step, j);
    put_image(dx_dataset_image(ds, indices[j]), img->c, img->h, img->w, mirror, dst, hp, wp, top,
              left, lut);
  }
  return DX_OK;
}
