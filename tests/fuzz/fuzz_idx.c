/* The IDX reader (MNIST, Fashion-MNIST), plain or gzipped. The input's first
 * byte picks the file it becomes: odd, the label file; even, the image file.
 * The other file is a small good one. */
#include "data/dataset.h"
#include "fuzz.h"

/* Three 5x4 images, and three labels. */
static const uint8_t good_images[16 + 60] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 4, 7};
static const uint8_t good_labels[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};

dx_status dxf_idx(const uint8_t *data, size_t size, char *err, size_t errlen) {
  if (size == 0) return DX_OK;
  bool labels = data[0] & 1;
  dxf_write("train-images-idx3-ubyte", labels ? good_images : data + 1,
            labels ? sizeof good_images : size - 1);
  dxf_write("train-labels-idx1-ubyte", labels ? data + 1 : good_labels,
            labels ? size - 1 : sizeof good_labels);
  dx_dataset *ds = NULL;
  dx_status s = dx_dataset_open(DX_DATA_MNIST, dxf_dir(), DX_SPLIT_TRAIN, err, errlen, &ds);
  if (s == DX_OK) s = dxf_read_all(ds, err, errlen);
  dx_dataset_free(ds);
  dxf_clear();
  return s;
}
