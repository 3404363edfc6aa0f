/* The PNG decoder of the store (sample grids read back), in memory. */
#include "fuzz.h"
#include "util/png.h"

dx_status dxf_png(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dx_image img;
  dx_status s = dx_png_decode(data, size, &img, err, errlen);
  if (s == DX_OK) dx_image_free(&img);
  return s;
}
