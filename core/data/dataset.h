/* Datasets for training and evaluation (private to libddpmx; the trainer and
 * the CLI use it, plugins never do).
 *
 * A dataset is opened once, held as uint8 in memory (CHW per image), and turned
 * into float batches on demand. Which images make a batch is decided by
 * dx_batch_order: a pure function of (seed, step, batch size), so a resumed run
 * sees exactly the batches an uninterrupted run would. docs/data.md describes
 * the formats, where files are looked for and the preprocessing.
 *
 * The functions are exported (DX_API) only so that the CLI and the tests can
 * reach them; the header is not part of the installed SDK. */
#ifndef DX_DATA_DATASET_H
#define DX_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"

/* Where the Debian package dataset-fashion-mnist installs its files. */
#define DX_FASHION_MNIST_PATH "/usr/share/datasets/fashion-mnist"

typedef enum dx_data_kind {
  DX_DATA_FASHION_MNIST, /* IDX files, default path above */
  DX_DATA_MNIST,         /* IDX files, path required */
  DX_DATA_CIFAR10,       /* binary batches data_batch_1..5.bin, test_batch.bin */
  DX_DATA_FOLDER         /* a folder of PNG images of one size */
} dx_data_kind;
/* The word of each kind (data.dataset), in the order of the values. */
#define DX_DATA_KIND_WORDS "fashion-mnist|mnist|cifar10|folder"

typedef enum dx_data_split { DX_SPLIT_TRAIN, DX_SPLIT_TEST } dx_data_split;

typedef struct dx_dataset dx_dataset;

/* Reads the split into memory. path NULL (or "") means the kind's default,
 * which only fashion-mnist has. On failure *out is NULL, the status is
 * DX_ERR_IO (missing or unreadable), DX_ERR_PARSE (corrupt), DX_ERR_INVALID
 * (bad argument) or DX_ERR_NOMEM, and err holds one line naming the path. */
DX_API dx_status dx_dataset_open(dx_data_kind kind, const char *path, dx_data_split split,
                                 char *err, size_t errlen, dx_dataset **out);
DX_API void dx_dataset_free(dx_dataset *ds);

DX_API int64_t dx_dataset_count(const dx_dataset *ds);
DX_API int64_t dx_dataset_channels(const dx_dataset *ds);
/* Image size as stored (pad_pow2 false) or as dx_dataset_batch writes it with
 * pad_pow2 (each side rounded up to a power of two: 28 -> 32). */
DX_API int64_t dx_dataset_height(const dx_dataset *ds, bool pad_pow2);
DX_API int64_t dx_dataset_width(const dx_dataset *ds, bool pad_pow2);
/* The class label of image i, or -1 where the format has none (folder). */
DX_API int dx_dataset_label(const dx_dataset *ds, int64_t i);
/* The raw pixels of image i: channels x height x width bytes. */
DX_API const uint8_t *dx_dataset_image(const dx_dataset *ds, int64_t i);

typedef struct dx_data_transform {
  bool flip;     /* mirror each image left-right with probability 1/2 */
  bool pad_pow2; /* centre on a power-of-two canvas filled with -1 (black) */
  uint64_t seed; /* the flips are a function of (seed, step, position in batch) */
  int64_t step;
  int64_t first; /* position of indices[0] in the step's batch: a rank's share of it */
} dx_data_transform;

/* out: (n, C, H, W) floats, H and W as dx_dataset_height/width(ds, pad_pow2),
 * pixel v mapped to v / 127.5 - 1. tf NULL: no flip, no padding. An index
 * outside [0, count) is DX_ERR_INVALID. */
DX_API dx_status dx_dataset_batch(const dx_dataset *ds, const int64_t *indices, int64_t n,
                                  const dx_data_transform *tf, float *out, char *err,
                                  size_t errlen);

/* Batch order. Positions 0, 1, 2, ... of the training stream run through
 * epoch 0's permutation of the dataset, then epoch 1's, and so on; step k with
 * batch size B takes positions k*B .. k*B+B-1 (a batch may straddle two
 * epochs). Each epoch's permutation depends only on (seed, epoch), so any
 * step can be computed without replaying the ones before it. */
typedef struct dx_batch_order dx_batch_order;

DX_API dx_status dx_batch_order_create(int64_t count, uint64_t seed, char *err, size_t errlen,
                                       dx_batch_order **out);
DX_API void dx_batch_order_free(dx_batch_order *bo);
/* Writes the batch dataset indices of step into out (negative steps continue
 * the stream backwards, so every step is defined). Keeps the last
 * epoch's permutation, so consecutive steps cost O(batch) amortised. */
DX_API void dx_batch_order_indices(dx_batch_order *bo, int64_t step, int64_t batch, int64_t *out);
/* The permutation of 0..count-1 for one epoch (Fisher-Yates). */
DX_API void dx_epoch_permutation(int64_t count, uint64_t seed, int64_t epoch, int64_t *perm);

#endif
