/* The safetensors reader (checkpoints, reference weights) with its JSON
 * header: the input is the file. Every tensor it accepts is read through. */
#include <string.h>

#include "fuzz.h"
#include "model/safetensors.h"

dx_status dxf_safetensors(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dx_safetensors *st = NULL;
  dx_status s = dx_safetensors_read(dxf_write("w.safetensors", data, size), &st, err, errlen);
  for (int64_t i = 0; s == DX_OK && i < st->n; i++) {
    const dx_st_entry *e = &st->entries[i];
    int64_t count = 1;
    for (int d = 0; d < e->ndim; d++)
      count *= e->shape[d];
    /* The bytes it promises must be inside the file: ASan checks this copy. */
    size_t bytes = (size_t)count * (e->dtype == DX_F64 ? 8 : 4);
    volatile uint8_t sink = 0;
    for (size_t b = 0; b < bytes; b++)
      sink ^= ((const uint8_t *)e->data)[b];
    (void)sink;
    if (dx_safetensors_find(st, e->name) == NULL) s = DX_ERR_INTERNAL;
  }
  if (s == DX_OK) (void)dx_safetensors_meta(st, "format");
  dx_safetensors_free(st);
  dxf_clear();
  return s;
}
