/* PNG encoding and decoding through libpng: sample grids going into the
 * store, images coming out of it, and PNG-folder datasets. */
#ifndef DX_UTIL_PNG_H
#define DX_UTIL_PNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"

/* 8-bit pixels, rows top to bottom, channels interleaved (gray or RGB). */
typedef struct dx_image {
  int64_t width, height, channels; /* channels: 1 or 3 */
  uint8_t *pixels;                 /* height * width * channels, malloc'ed */
} dx_image;

DX_API void dx_image_free(dx_image *img);

/* 8-bit grayscale for 1 channel, RGB for 3. The buffer is malloc'ed. */
DX_API dx_status dx_png_encode(const dx_image *img, uint8_t **png, size_t *len, char *err,
                               size_t errlen);
DX_API dx_status dx_png_write_file(const dx_image *img, const char *path, char *err, size_t errlen);

/* Any PNG libpng reads, converted to 8-bit gray or RGB (alpha dropped,
 * 16-bit samples reduced to 8, palettes expanded to RGB), up to these sizes,
 * checked in the header before anything is allocated for the pixels. */
#define DX_PNG_MAX_SIDE 16384
#define DX_PNG_MAX_PIXELS ((int64_t)1 << 26)
DX_API dx_status dx_png_decode(const uint8_t *png, size_t len, dx_image *out, char *err,
                               size_t errlen);
DX_API dx_status dx_png_read_file(const char *path, dx_image *out, char *err, size_t errlen);

/* What the header says, without decoding the pixels: the size, and whether
 * the image has colour (a palette counts as colour). */
typedef struct dx_png_header {
  int64_t width, height;
  bool color;
} dx_png_header;

DX_API dx_status dx_png_read_header(const char *path, dx_png_header *out, char *err, size_t errlen);

#endif
