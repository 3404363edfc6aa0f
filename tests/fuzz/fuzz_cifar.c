/* The CIFAR-10 reader (binary version): the input is the test batch. */
#include "data/dataset.h"
#include "fuzz.h"

dx_status dxf_cifar(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dxf_write("test_batch.bin", data, size);
  dx_dataset *ds = NULL;
  dx_status s = dx_dataset_open(DX_DATA_CIFAR10, dxf_dir(), DX_SPLIT_TEST, err, errlen, &ds);
  if (s == DX_OK) s = dxf_read_all(ds, err, errlen);
  dx_dataset_free(ds);
  dxf_clear();
  return s;
}
