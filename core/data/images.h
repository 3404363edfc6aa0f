/* What each format reader fills in, and the readers themselves. Private to
 * core/data: dataset.c dispatches to one reader per format. */
#ifndef DX_DATA_IMAGES_H
#define DX_DATA_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

/* What one split may hold in memory: sizes in headers are checked against
 * these before anything is allocated (docs/data.md, "Limits"). */
#define DX_DATA_MAX_BYTES ((int64_t)1 << 34) /* pixel bytes of one split: 16 GiB */
#define DX_DATA_MAX_IMAGES (((int64_t)1 << 31) - 1)

/* count images of c x h x w bytes each, back to back; labels NULL when the
 * format has none. */
typedef struct dx_images {
  int64_t count, c, h, w;
  uint8_t *pixels;
  uint8_t *labels;
} dx_images;

void dx_images_release(dx_images *img);

/* IDX image + label files "<dir>/<prefix>-images-idx3-ubyte[.gz]" and
 * "<dir>/<prefix>-labels-idx1-ubyte[.gz]". install_hint: the path is the
 * Fashion-MNIST default, so a missing file says which package to install. */
dx_status dx_idx_load(const char *dir, const char *prefix, bool install_hint, dx_images *img,
                      char *err, size_t errlen);
dx_status dx_cifar_load(const char *dir, dx_data_split split, dx_images *img, char *err,
                        size_t errlen);
dx_status dx_png_folder_load(const char *dir, dx_data_split split, dx_images *img, char *err,
                             size_t errlen);

/* Helpers shared by the readers (file.c). */

bool dx_data_is_dir(const char *path);
bool dx_data_is_file(const char *path);
/* dir + "/" + name into a malloc'ed string (NULL when out of memory). */
char *dx_data_join(const char *dir, const char *name);

#endif
