/* Opening a dataset: where each kind's files are looked for,
 * and dispatch to the format readers. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "util/err.h"
#include "util/value.h"

void dx_images_release(dx_images *img) {
  free(img->pixels);
  free(img->labels);
  memset(img, 0, sizeof *img);
}

/* Resolves the folder to read; only Fashion-MNIST has a default, and only for
 * it does a missing folder come with the package to install. */
static dx_status resolve_dir(dx_data_kind kind, const char *path, const char **dir,
                             bool *is_default, char *err, size_t errlen) {
  *is_default = kind == DX_DATA_FASHION_MNIST &&
                (!path || !*path || strcmp(path, DX_FASHION_MNIST_PATH) == 0);
  *dir = *is_default ? DX_FASHION_MNIST_PATH : path;
  char word[32];
  if (!*dir || !**dir)
    return dx_errf(err, errlen, DX_ERR_CONFIG, NULL, "dataset %s needs data.path (a folder)",
                   dx_words_at(DX_DATA_KIND_WORDS, (int)kind, word, sizeof word) ? word
                                                                                 : "unknown");
  if (dx_data_is_dir(*dir)) return DX_OK;
  if (*is_default)
    return dx_errf(err, errlen, DX_ERR_IO, NULL,
                   "%s not found; install it with: apt-get install dataset-fashion-mnist "
                   "(or set data.path)",
                   *dir);
  return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s not found or not a folder; check data.path",
                 *dir);
}

static dx_status load(dx_data_kind kind, const char *dir, bool is_default, dx_data_split split,
                      dx_images *img, char *err, size_t errlen) {
  const char *idx_prefix = split == DX_SPLIT_TRAIN ? "train" : "t10k";
  switch (kind) {
  case DX_DATA_FASHION_MNIST:
  case DX_DATA_MNIST: return dx_idx_load(dir, idx_prefix, is_default, img, err, errlen);
  case DX_DATA_CIFAR10: return dx_cifar_load(dir, split, img, err, errlen);
  case DX_DATA_FOLDER: return dx_png_folder_load(dir, split, img, err, errlen);
  }
  return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "unknown dataset kind %d", (int)kind);
}

dx_status dx_dataset_open(dx_data_kind kind, const char *path, dx_data_split split, char *err,
                          size_t errlen, dx_dataset **out) {
  *out = NULL;
  if (split != DX_SPLIT_TRAIN && split != DX_SPLIT_TEST)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "unknown dataset split %d", (int)split);
  const char *dir;
  bool is_default;
  dx_status s = resolve_dir(kind, path, &dir, &is_default, err, errlen);
  if (s != DX_OK) return s;
  dx_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory opening %s", dir);
  ds->kind = kind;
  s = load(kind, dir, is_default, split, &ds->img, err, errlen);
  if (s != DX_OK) {
    free(ds);
    return s;
  }
  *out = ds;
  return DX_OK;
}

void dx_dataset_free(dx_dataset *ds) {
  if (!ds) return;
  dx_images_release(&ds->img);
  free(ds);
}

int64_t dx_dataset_count(const dx_dataset *ds) { return ds->img.count; }
int64_t dx_dataset_channels(const dx_dataset *ds) { return ds->img.c; }

int64_t dx_data_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n)
    p *= 2;
  return p;
}

int64_t dx_dataset_height(const dx_dataset *ds, bool pad_pow2) {
  return pad_pow2 ? dx_data_pow2(ds->img.h) : ds->img.h;
}

int64_t dx_dataset_width(const dx_dataset *ds, bool pad_pow2) {
  return pad_pow2 ? dx_data_pow2(ds->img.w) : ds->img.w;
}

int dx_dataset_label(const dx_dataset *ds, int64_t i) {
  return ds->img.labels && i >= 0 && i < ds->img.count ? ds->img.labels[i] : -1;
}

const uint8_t *dx_dataset_image(const dx_dataset *ds, int64_t i) {
  if (i < 0 || i >= ds->img.count) return NULL;
  return ds->img.pixels + (size_t)i * (size_t)(ds->img.c * ds->img.h * ds->img.w);
}
