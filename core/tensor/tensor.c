/* Tensor lifetime: arena activations, persistent parameters, host copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

const char *dx_dtype_name(dx_dtype dt) { return dt == DX_F64 ? "float64" : "float32"; }

bool dx_same_shape(const dx_tensor *a, const dx_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

const char *dx_shape_str(const dx_tensor *t, char *buf, size_t len) {
  size_t off = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < t->ndim && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  if (off < len) snprintf(buf + off, len - off, ")");
  return buf;
}

static bool valid_shape(dx_ctx *ctx, int ndim, const int64_t *shape) {
  if (ndim < 1 || ndim > DX_MAX_DIMS) {
    dx_fail(ctx, DX_ERR_INVALID, "tensor rank %d is outside 1..%d", ndim, DX_MAX_DIMS);
    return false;
  }
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 1) {
      dx_fail(ctx, DX_ERR_INVALID, "tensor dimension %d has size %lld; sizes must be >= 1", i,
              (long long)shape[i]);
      return false;
    }
  return true;
}

static void init_header(dx_tensor *t, dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape) {
  memset(t, 0, sizeof *t);
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  t->dtype = dt;
  t->device = ctx->device;
}

dx_tensor *dx_tensor_new(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape) {
  if (!valid_shape(ctx, ndim, shape)) return NULL;
  dx_tensor *t = dx_arena_alloc(&ctx->meta, sizeof *t);
  if (!t) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory for a tensor header");
  init_header(t, ctx, dt, ndim, shape);
  size_t bytes = (size_t)dx_numel(t) * dx_dtype_size(dt);
  t->data = dx_arena_alloc(&ctx->data, bytes);
  if (!t->data) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory: tensor of %zu bytes", bytes);
  return t;
}

dx_tensor *dx_tensor_new_like(dx_ctx *ctx, const dx_tensor *t) {
  return dx_tensor_new(ctx, t->dtype, t->ndim, t->shape);
}

dx_tensor *dx_tensor_full(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape, double v) {
  dx_tensor *t = dx_tensor_new(ctx, dt, ndim, shape);
  if (t) ctx->be->fill(ctx->be, t, v);
  return t;
}

dx_tensor *dx_tensor_zeros(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape) {
  return dx_tensor_full(ctx, dt, ndim, shape, 0.0);
}

dx_tensor *dx_tensor_view(dx_ctx *ctx, const dx_tensor *base, int ndim, const int64_t *shape) {
  dx_tensor *t = dx_arena_alloc(&ctx->meta, sizeof *t);
  if (!t) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory for a tensor header");
  init_header(t, ctx, base->dtype, ndim, shape);
  t->data = base->data;
  return t;
}

/* --- persistent tensors ------------------------------------------------------ */

struct dx_persistent {
  dx_persistent *prev, *next;
  dx_tensor t, g;
  char *name;
};

/* Refuses, naming the sizes, a host tensor larger than the memory left:
 * the weights and gradients are written at once, and an allocation the
 * kernel granted without the memory behind it would be killed there. */
static dx_status fits_in_memory(dx_ctx *ctx, const dx_tensor *t, size_t need, bool with_grad) {
  size_t left = dx_host_memory_left();
  if (need <= left) return DX_OK;
  char shape[96], a[32], b[32];
  dx_fail(ctx, DX_ERR_NOMEM,
          "out of memory: a tensor of shape %s needs %s%s, and only %s of memory is left",
          dx_shape_str(t, shape, sizeof shape), dx_bytes_str(need, a, sizeof a),
          with_grad ? " with its gradient" : "", dx_bytes_str(left, b, sizeof b));
  return DX_ERR_NOMEM;
}

static dx_persistent *persistent_new(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape,
                                     bool with_grad) {
  if (!valid_shape(ctx, ndim, shape)) return NULL;
  dx_persistent *p = calloc(1, sizeof *p);
  if (!p) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory for a parameter");
  init_header(&p->t, ctx, dt, ndim, shape);
  size_t bytes = (size_t)dx_numel(&p->t) * dx_dtype_size(dt);
  if (ctx->device.kind == DX_DEVICE_CPU &&
      fits_in_memory(ctx, &p->t, bytes * (with_grad ? 2 : 1), with_grad) != DX_OK) {
    free(p);
    return NULL;
  }
  p->t.data = ctx->be->alloc(ctx->be, bytes);
  if (with_grad) {
    init_header(&p->g, ctx, dt, ndim, shape);
    p->g.data = ctx->be->alloc(ctx->be, bytes);
  }
  if (!p->t.data || (with_grad && !p->g.data)) {
    ctx->be->free(ctx->be, p->t.data);
    ctx->be->free(ctx->be, p->g.data);
    free(p);
    return dx_fail(ctx, DX_ERR_NOMEM, "out of memory: parameter of %zu bytes", bytes);
  }
  p->t.flags = DX_TENSOR_PERSISTENT;
  if (with_grad) {
    p->g.flags = DX_TENSOR_PERSISTENT;
    ctx->be->fill(ctx->be, &p->g, 0.0);
    p->t.grad = &p->g;
    p->t.flags |= DX_TENSOR_REQUIRES_GRAD;
  }
  p->next = ctx->persistent;
  if (p->next) p->next->prev = p;
  ctx->persistent = p;
  return p;
}

dx_tensor *dx_tensor_new_persistent(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape) {
  dx_persistent *p = persistent_new(ctx, dt, ndim, shape, false);
  return p ? &p->t : NULL;
}

dx_tensor *dx_param_new(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape,
                        const char *name) {
  dx_persistent *p = persistent_new(ctx, dt, ndim, shape, true);
  if (!p) return NULL;
  if (name) {
    p->name = strdup(name);
    if (!p->name) {
      dx_tensor_free(ctx, &p->t);
      return dx_fail(ctx, DX_ERR_NOMEM, "out of memory for a parameter name");
    }
    p->t.name = p->name;
  }
  return &p->t;
}

static void persistent_release(dx_ctx *ctx, dx_persistent *p) {
  ctx->be->free(ctx->be, p->t.data);
  if (p->g.data) ctx->be->free(ctx->be, p->g.data);
  free(p->name);
  free(p);
}

void dx_tensor_free(dx_ctx *ctx, dx_tensor *t) {
  if (!t) return;
  if (!(t->flags & DX_TENSOR_PERSISTENT)) return; /* arena memory: reset frees it */
  dx_persistent *p = (dx_persistent *)((char *)t - offsetof(dx_persistent, t));
  if (p->prev)
    p->prev->next = p->next;
  else
    ctx->persistent = p->next;
  if (p->next) p->next->prev = p->prev;
  persistent_release(ctx, p);
}

void dx_persistent_free_all(dx_ctx *ctx) {
  for (dx_persistent *p = ctx->persistent, *next; p; p = next) {
    next = p->next;
    persistent_release(ctx, p);
  }
  ctx->persistent = NULL;
}

/* --- host copies and fills --------------------------------------------------- */

dx_status dx_tensor_write(dx_ctx *ctx, dx_tensor *t, const void *src, dx_dtype src_dt) {
  if (!t || !src) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_write: NULL argument");
  ctx->be->write(ctx->be, t, src, src_dt);
  return DX_OK;
}

dx_status dx_tensor_write_start(dx_ctx *ctx, dx_tensor *t, const void *src, dx_dtype src_dt) {
  if (!t || !src) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_write_start: NULL argument");
  if (!(t->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "dx_tensor_write_start: the tensor must be persistent (an arena tensor "
                        "may be reused before the copy lands)");
  if (ctx->be->write_start)
    ctx->be->write_start(ctx->be, t, src, src_dt);
  else
    ctx->be->write(ctx->be, t, src, src_dt);
  return DX_OK;
}

dx_status dx_tensor_write_finish(dx_ctx *ctx, const dx_tensor *t) {
  if (!t) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_write_finish: NULL tensor");
  if (ctx->be->write_finish) ctx->be->write_finish(ctx->be, t);
  return DX_OK;
}

dx_status dx_tensor_read(dx_ctx *ctx, const dx_tensor *t, void *dst, dx_dtype dst_dt) {
  if (!t || !dst) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_read: NULL argument");
  ctx->be->read(ctx->be, t, dst, dst_dt);
  return dx_synchronize(ctx); /* the values are only good if the device did not fail */
}

dx_status dx_tensor_fill(dx_ctx *ctx, dx_tensor *t, double v) {
  if (!t) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_fill: NULL tensor");
  ctx->be->fill(ctx->be, t, v);
  return DX_OK;
}

dx_status dx_tensor_copy(dx_ctx *ctx, dx_tensor *dst, const dx_tensor *src) {
  char a[64], b[64];
  if (!dst || !src) return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_copy: NULL tensor");
  if (dx_numel(dst) != dx_numel(src))
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_tensor_copy: shapes %s and %s differ in size",
                        dx_shape_str(dst, a, sizeof a), dx_shape_str(src, b, sizeof b));
  ctx->be->copy(ctx->be, dst, src);
  return DX_OK;
}

static dx_status draw(dx_ctx *ctx, dx_tensor *t, dx_rand_dist dist, uint64_t seed,
                      uint64_t offset) {
  if (!t) return dx_set_error(ctx, DX_ERR_INVALID, "random fill of a NULL tensor");
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->rand, "rand")) return ctx->status;
  ctx->be->rand(ctx->be, t, dist, seed, offset);
  return DX_OK;
}

dx_status dx_tensor_randn(dx_ctx *ctx, dx_tensor *t, uint64_t seed, uint64_t offset) {
  return draw(ctx, t, DX_RAND_NORMAL, seed, offset);
}

dx_status dx_tensor_rand(dx_ctx *ctx, dx_tensor *t, uint64_t seed, uint64_t offset) {
  return draw(ctx, t, DX_RAND_UNIFORM, seed, offset);
}

bool dx_check_compatible(dx_ctx *ctx, const char *op, const dx_tensor *a, const dx_tensor *b) {
  if (a->dtype != b->dtype) {
    dx_fail(ctx, DX_ERR_INVALID, "%s: dtypes %s and %s differ; convert one with dx_tensor_copy", op,
            dx_dtype_name(a->dtype), dx_dtype_name(b->dtype));
    return false;
  }
  if (a->device.kind != b->device.kind || a->device.index != b->device.index) {
    dx_fail(ctx, DX_ERR_INVALID, "%s: tensors live on different devices", op);
    return false;
  }
  return true;
}
