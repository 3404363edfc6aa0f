/* uint8 images -> a float batch (N, C, H, W) in [-1, 1], with the optional
 * random horizontal flip and power-of-two padding. */
#include <string.h>

#include "data/dataset_internal.h"
#include "data/mix.h"
#include "util/err.h"

/* Whether image j of the batch of `step` is mirrored: one bit of a hash of
 * (seed, step, j), so the same batch position flips the same way whenever the
 * step is replayed, e.g. after a resume. */
static bool flips(uint64_t seed, int64_t step, int64_t j) {
  return dx_mix64(dx_mix_key(DX_STREAM_FLIP, seed, (uint64_t)step) ^ (uint64_t)j) >> 63;
}

/* Where an image of c x h x w lands in its slot of c x hp x wp: at row top,
 * column left. */
typedef struct placement {
  int64_t c, h, w, hp, wp, top, left;
} placement;

/* One image onto its slot, which already holds the padding value. */
static void put_image(const uint8_t *src, const placement *p, bool mirror, const float *lut,
                      float *dst) {
  for (int64_t ch = 0; ch < p->c; ch++)
    for (int64_t y = 0; y < p->h; y++) {
      const uint8_t *row = src + (ch * p->h + y) * p->w;
      float *out = dst + (ch * p->hp + y + p->top) * p->wp + p->left;
      int64_t w = p->w;
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
      return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                     "batch index %lld is outside the dataset (0..%lld)", (long long)indices[j],
                     (long long)img->count - 1);
  /* Rounding v / 127.5 - 1 once, in double, makes 0 -> -1 and 255 -> 1 exact. */
  float lut[256];
  for (int v = 0; v < 256; v++)
    lut[v] = (float)(v / 127.5 - 1.0);
  placement p = {.c = img->c, .h = img->h, .w = img->w};
  p.hp = dx_dataset_height(ds, tf->pad_pow2);
  p.wp = dx_dataset_width(ds, tf->pad_pow2);
  p.top = (p.hp - p.h) / 2;
  p.left = (p.wp - p.w) / 2;
  size_t slot = (size_t)(p.c * p.hp * p.wp);
  for (int64_t j = 0; j < n; j++) {
    float *dst = out + (size_t)j * slot;
    if (p.hp != p.h || p.wp != p.w)
      for (size_t k = 0; k < slot; k++)
        dst[k] = -1.0f;
    bool mirror = tf->flip && flips(tf->seed, tf->step, tf->first + j);
    put_image(dx_dataset_image(ds, indices[j]), &p, mirror, lut, dst);
  }
  return DX_OK;
}
