/* dx_module: named, initialised parameters for blocks. */
#include "model/module.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dx_module {
  dx_ctx *ctx;
  dx_param_list *list;
  char *prefix;
  uint64_t seed;
  uint64_t *offset;
  dx_dtype dtype;
};

dx_module *dx_module_create(dx_ctx *ctx, dx_param_list *list, const char *prefix, uint64_t seed,
                            uint64_t *offset) {
  dx_module *m = calloc(1, sizeof *m);
  if (!m || !(m->prefix = strdup(prefix ? prefix : ""))) {
    free(m);
    dx_set_error(ctx, DX_ERR_NOMEM, "out of memory creating module '%s'", prefix ? prefix : "");
    return NULL;
  }
  m->ctx = ctx;
  m->list = list;
  m->seed = seed;
  m->offset = offset;
  m->dtype = DX_F32;
  return m;
}

void dx_module_set_dtype(dx_module *m, dx_dtype dt) { m->dtype = dt; }

void dx_module_free(dx_module *m) {
  if (!m) return;
  free(m->prefix);
  free(m);
}

dx_ctx *dx_module_ctx(dx_module *m) { return m->ctx; }

static dx_status list_push(dx_ctx *ctx, dx_param_list *l, dx_tensor *t) {
  if (l->n == l->cap) {
    int64_t cap = l->cap ? l->cap * 2 : 64;
    dx_tensor **items = realloc(l->items, (size_t)cap * sizeof *items);
    if (!items) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory growing the parameter list");
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = t;
  return DX_OK;
}

/* U(-b, b), b = 1/sqrt(fan_in): what torch.nn.Conv2d and Linear give both
 * weight (kaiming_uniform_ with a = sqrt(5) reduces to this bound) and bias. */
static dx_status init_fan_in(dx_module *m, dx_tensor *t, int64_t fan_in) {
  if (fan_in < 1)
    return dx_set_error(m->ctx, DX_ERR_INVALID, "parameter '%s': fan_in must be >= 1", t->name);
  int64_t n = dx_numel(t);
  double *v = malloc((size_t)n * sizeof *v);
  if (!v) return dx_set_error(m->ctx, DX_ERR_NOMEM, "out of memory initialising '%s'", t->name);
  dx_tensor_rand(m->ctx, t, m->seed, *m->offset);
  *m->offset += (uint64_t)n;
  dx_tensor_read(m->ctx, t, v, DX_F64);
  double b = 1.0 / sqrt((double)fan_in);
  for (int64_t i = 0; i < n; i++)
    v[i] = (2.0 * v[i] - 1.0) * b;
  dx_tensor_write(m->ctx, t, v, DX_F64);
  free(v);
  return dx_status_of(m->ctx);
}

dx_tensor *dx_module_param(dx_module *m, const char *name, int ndim, const int64_t *shape,
                           dx_init init, int64_t fan_in) {
  char full[256];
  int len = snprintf(full, sizeof full, "%s%s%s", m->prefix, *m->prefix ? "." : "", name);
  if (len < 0 || (size_t)len >= sizeof full) {
    dx_set_error(m->ctx, DX_ERR_INVALID, "parameter name '%s.%s' is too long", m->prefix, name);
    return NULL;
  }
  if (dx_param_list_find(m->list, full)) {
    dx_set_error(m->ctx, DX_ERR_INVALID, "parameter '%s' is declared twice", full);
    return NULL;
  }
  dx_tensor *t = dx_param_new(m->ctx, m->dtype, ndim, shape, full);
  if (!t) return NULL;
  dx_status st = init == DX_INIT_FAN_IN_UNIFORM
                     ? init_fan_in(m, t, fan_in)
                     : dx_tensor_fill(m->ctx, t, init == DX_INIT_ONES ? 1.0 : 0.0);
  if (st != DX_OK || list_push(m->ctx, m->list, t) != DX_OK) {
    dx_tensor_free(m->ctx, t);
    return NULL;
  }
  return t;
}

dx_tensor *dx_param_list_find(const dx_param_list *list, const char *name) {
  for (int64_t i = 0; i < list->n; i++)
    if (strcmp(list->items[i]->name, name) == 0) return list->items[i];
  return NULL;
}

int64_t dx_param_list_numel(const dx_param_list *list) {
  int64_t n = 0;
  for (int64_t i = 0; i < list->n; i++)
    n += dx_numel(list->items[i]);
  return n;
}

void dx_param_list_free(dx_ctx *ctx, dx_param_list *list) {
  for (int64_t i = 0; i < list->n; i++)
    dx_tensor_free(ctx, list->items[i]);
  free(list->items);
  *list = (dx_param_list){0};
}
