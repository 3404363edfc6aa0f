/* CIFAR-10, binary version (Krizhevsky 2009): each batch file is a run of
 * 3073-byte records, one label byte (0..9) then a 32x32 image as 1024 red,
 * 1024 green and 1024 blue bytes, rows top to bottom: already CHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/images.h"
#include "util/err.h"
#include "util/file.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
/* The real batches hold 10000 records each; a file is read no further than
 * that, so a gzipped batch cannot decompress without end. */
#define CIFAR_MAX_RECORDS 10000

static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                          "data_batch_3.bin", "data_batch_4.bin",
                                          "data_batch_5.bin"};
static const char *const test_files[] = {"test_batch.bin"};

/* Appends the records of one batch file to img (labels and pixels split). */
static dx_status append_records(dx_images *img, const char *path, const uint8_t *buf, size_t len,
                                char *err, size_t errlen) {
  if (len == 0 || len % CIFAR_RECORD)
    return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                   "%s: %zu bytes is not a whole number of %d-byte CIFAR-10 records; "
                   "truncated or not a CIFAR-10 binary batch",
                   path, len, CIFAR_RECORD);
  int64_t n = (int64_t)(len / CIFAR_RECORD), old = img->count;
  uint8_t *px = realloc(img->pixels, (size_t)(old + n) * CIFAR_PIXELS);
  if (px) img->pixels = px;
  uint8_t *lb = px ? realloc(img->labels, (size_t)(old + n)) : NULL;
  if (lb) img->labels = lb;
  if (!px || !lb) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "%s: out of memory", path);
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *rec = buf + (size_t)i * CIFAR_RECORD;
    if (rec[0] >= CIFAR_CLASSES)
      return dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                     "%s: record %lld has label %u (expected 0..9); not a CIFAR-10 binary "
                     "batch",
                     path, (long long)i, rec[0]);
    img->labels[old + i] = rec[0];
    memcpy(img->pixels + (size_t)(old + i) * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
  }
  img->count = old + n;
  return DX_OK;
}

static dx_status load_file(dx_images *img, const char *dir, const char *name, char *err,
                           size_t errlen) {
  char *path = dx_data_join(dir, name);
  if (!path) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  uint8_t *buf = NULL;
  size_t len = 0;
  dx_status s = DX_OK;
  if (!dx_data_is_file(path))
    s = dx_errf(err, errlen, DX_ERR_IO, NULL,
                "%s not found; check data.path (CIFAR-10 binary version: data_batch_1..5.bin, "
                "test_batch.bin)",
                path);
  size_t cap = (size_t)CIFAR_MAX_RECORDS * CIFAR_RECORD;
  if (s == DX_OK) s = dx_file_read_upto(path, cap + 1, &buf, &len, err, errlen);
  if (s == DX_OK && len > cap)
    s = dx_errf(err, errlen, DX_ERR_PARSE, NULL,
                "%s holds more than %d records (%zu bytes), the size of a CIFAR-10 batch; not a "
                "CIFAR-10 binary batch",
                path, CIFAR_MAX_RECORDS, cap);
  if (s == DX_OK) s = append_records(img, path, buf, len, err, errlen);
  free(buf);
  free(path);
  return s;
}

dx_status dx_cifar_load(const char *dir, dx_data_split split, dx_images *img, char *err,
                        size_t errlen) {
  const char *const *names = split == DX_SPLIT_TRAIN ? train_files : test_files;
  size_t n = split == DX_SPLIT_TRAIN ? sizeof train_files / sizeof *train_files
                                     : sizeof test_files / sizeof *test_files;
  memset(img, 0, sizeof *img);
  img->c = 3;
  img->h = img->w = CIFAR_SIDE;
  for (size_t i = 0; i < n; i++) {
    dx_status s = load_file(img, dir, names[i], err, errlen);
    if (s != DX_OK) {
      dx_images_release(img);
      return s;
    }
  }
  return DX_OK;
}
