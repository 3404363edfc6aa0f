/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw data. ddpmx writes F32 checkpoints in
 * PyTorch layouts and reads F32/F64 (the reference dumps). */
#ifndef DX_SAFETENSORS_H
#define DX_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/tensor.h"
#include "util/json.h"

#define DX_ST_MAX_DIMS 8

typedef struct dx_st_entry {
  const char *name;
  dx_dtype dtype;
  int ndim;
  int64_t shape[DX_ST_MAX_DIMS];
  const void *data; /* points into the loaded file */
} dx_st_entry;

typedef struct dx_safetensors {
  uint8_t *file;
  dx_json *header;
  const dx_json *meta; /* __metadata__ or NULL */
  dx_st_entry *entries;
  int64_t n;
} dx_safetensors;

dx_status dx_safetensors_read(const char *path, dx_safetensors **out, char *err, size_t errlen);
void dx_safetensors_free(dx_safetensors *st);
const dx_st_entry *dx_safetensors_find(const dx_safetensors *st, const char *name);
/* A __metadata__ string, or NULL. */
const char *dx_safetensors_meta(const dx_safetensors *st, const char *key);
/* Copies entry `name` into t after checking that the element counts agree
 * (and the shapes, where the ranks agree). */
dx_status dx_safetensors_load(dx_ctx *ctx, const dx_safetensors *st, const char *name,
                              dx_tensor *t);

typedef struct dx_st_item {
  const char *name;
  const dx_tensor *tensor; /* written as F32 */
} dx_st_item;

/* Writes atomically: a temporary file beside path, fsync'ed, then renamed,
 * so a crash never leaves a half-written file under the final name.
 * meta holds n_meta key/value pairs (meta[2i], meta[2i+1]). */
dx_status dx_safetensors_write(dx_ctx *ctx, const char *path, const dx_st_item *items, int64_t n,
                               const char *const *meta, int64_t n_meta, char *err, size_t errlen);

#endif
