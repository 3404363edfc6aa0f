/* Parameter scopes: the model gives each block a dx_module whose prefix
 * names its parameters as PyTorch's state_dict would ("downs.0.1" + "." +
 * "block1.proj.weight"), and collects every parameter in one ordered list
 * (the checkpoint and optimiser walk it in that order). */
#ifndef DX_MODEL_MODULE_H
#define DX_MODEL_MODULE_H

#include "ddpmx/block.h"

typedef struct dx_param_list {
  dx_tensor **items;
  int64_t n, cap;
} dx_param_list;

void dx_param_list_free(dx_ctx *ctx, dx_param_list *list); /* frees the tensors too */
dx_tensor *dx_param_list_find(const dx_param_list *list, const char *name);
int64_t dx_param_list_numel(const dx_param_list *list);

/* Initialisation draws come from (seed, *offset), and *offset advances by
 * each parameter's size, so a model built twice from one seed is identical. */
dx_module *dx_module_create(dx_ctx *ctx, dx_param_list *list, const char *prefix, uint64_t seed,
                            uint64_t *offset);
/* Parameters are float32 unless set otherwise (float64 for gradient checks). */
void dx_module_set_dtype(dx_module *m, dx_dtype dt);
void dx_module_free(dx_module *m);

#endif
