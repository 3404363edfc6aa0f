/* The dataset's layout, shared by dataset.c (open, accessors) and
 * transform.c (batches). Private to core/data. */
#ifndef DX_DATA_DATASET_INTERNAL_H
#define DX_DATA_DATASET_INTERNAL_H

#include "data/images.h"

struct dx_dataset {
  dx_data_kind kind;
  dx_images img;
};

/* The smallest power of two >= n (n >= 1). */
int64_t dx_data_pow2(int64_t n);

#endif
