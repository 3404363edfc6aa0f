/* The gradient all-reduce in fused buckets, and parameter broadcast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"
#include "comm/params.h"

typedef struct bucket {
  int64_t first, count; /* params[first .. first + count) */
  int64_t numel;
} bucket;

struct dx_grad_sync {
  dx_comm *comm;
  dx_ctx *ctx;
  dx_tensor *const *params;
  int64_t n, n_buckets;
  bucket *buckets;
  float *buf; /* the largest bucket */
  double seconds;
};

dx_grad_sync *dx_grad_sync_create(dx_comm *c, dx_ctx *ctx, dx_tensor *const *params, int64_t n,
                                  size_t bucket_bytes, char *err, size_t errlen) {
  dx_grad_sync *g = calloc(1, sizeof *g);
  if (g) g->buckets = calloc((size_t)(n > 0 ? n : 1), sizeof *g->buckets);
  if (!g || !g->buckets) {
    free(g);
    return snprintf(err, errlen, "out of memory for the gradient buckets"), NULL;
  }
  *g = (dx_grad_sync){.comm = c, .ctx = ctx, .params = params, .n = n, .buckets = g->buckets};
  int64_t cap = (int64_t)(bucket_bytes / sizeof(float)), largest = 0;
  for (int64_t i = 0; i < n; i++) {
    if (params[i]->dtype != DX_F32) {
      snprintf(err, errlen, "gradient all-reduce: parameter %lld is %s; only float32 is reduced",
               (long long)i, dx_dtype_name(params[i]->dtype));
      dx_grad_sync_free(g);
      return NULL;
    }
    int64_t k = dx_numel(params[i]);
    bucket *b = g->n_buckets ? &g->buckets[g->n_buckets - 1] : NULL;
    if (!b || (b->numel + k > cap && b->count > 0)) {
      b = &g->buckets[g->n_buckets++];
      *b = (bucket){.first = i};
    }
    b->count++, b->numel += k;
    if (b->numel > largest) largest = b->numel;
  }
  g->buf = malloc((size_t)(largest > 0 ? largest : 1) * sizeof *g->buf);
  if (!g->buf) {
    dx_grad_sync_free(g);
    return snprintf(err, errlen, "out of memory for the gradient buckets"), NULL;
  }
  return g;
}

void dx_grad_sync_free(dx_grad_sync *g) {
  if (!g) return;
  free(g->buckets);
  free(g->buf);
  free(g);
}

int64_t dx_grad_sync_buckets(const dx_grad_sync *g) { return g->n_buckets; }
double dx_grad_sync_seconds(const dx_grad_sync *g) { return g->seconds; }

/* Copies bucket b's gradients into (to_buf) or out of the fused buffer. */
static dx_status move(dx_grad_sync *g, const bucket *b, bool to_buf, char *err, size_t errlen) {
  int64_t off = 0;
  for (int64_t i = b->first; i < b->first + b->count; i++) {
    dx_tensor *p = g->params[i];
    if (!p->grad)
      return snprintf(err, errlen, "gradient all-reduce: parameter %lld has no gradient",
                      (long long)i),
             DX_ERR_INTERNAL;
    dx_status st = to_buf ? dx_tensor_read(g->ctx, p->grad, g->buf + off, DX_F32)
                          : dx_tensor_write(g->ctx, p->grad, g->buf + off, DX_F32);
    if (st != DX_OK)
      return snprintf(err, errlen, "gradient all-reduce: %s", dx_error_message(g->ctx)), st;
    off += dx_numel(p);
  }
  return DX_OK;
}

dx_status dx_grad_sync_mean(dx_grad_sync *g, char *err, size_t errlen) {
  if (g->comm->size == 1) return DX_OK;
  float inv = 1.0f / (float)g->comm->size;
  for (int64_t k = 0; k < g->n_buckets; k++) {
    const bucket *b = &g->buckets[k];
    dx_status st = move(g, b, true, err, errlen);
    if (st != DX_OK) return st;
    double t0 = dx_comm_now();
    st = dx_comm_allreduce_sum(g->comm, g->buf, b->numel, DX_COMM_F32);
    g->seconds += dx_comm_now() - t0;
    if (st != DX_OK) return snprintf(err, errlen, "%s", dx_comm_error(g->comm)), st;
    for (int64_t i = 0; i < b->numel; i++)
      g->buf[i] *= inv;
    if ((st = move(g, b, false, err, errlen)) != DX_OK) return st;
  }
  return DX_OK;
}

dx_status dx_comm_bcast_tensors(dx_comm *c, dx_ctx *ctx, dx_tensor *const *ts, int64_t n, int root,
                                char *err, size_t errlen) {
  if (c->size == 1) return DX_OK;
  err[0] = '\0';
  size_t largest = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t bytes = (size_t)dx_numel(ts[i]) * dx_dtype_size(ts[i]->dtype);
    if (bytes > largest) largest = bytes;
  }
  void *buf = malloc(largest ? largest : 1);
  if (!buf) return snprintf(err, errlen, "out of memory broadcasting parameters"), DX_ERR_NOMEM;
  dx_status st = DX_OK;
  for (int64_t i = 0; i < n && st == DX_OK; i++) {
    size_t bytes = (size_t)dx_numel(ts[i]) * dx_dtype_size(ts[i]->dtype);
    if (c->rank == root) st = dx_tensor_read(ctx, ts[i], buf, ts[i]->dtype);
    if (st == DX_OK && (st = dx_comm_bcast(c, buf, bytes, root)) != DX_OK)
      snprintf(err, errlen, "%s", dx_comm_error(c));
    else if (st == DX_OK && c->rank != root)
      st = dx_tensor_write(ctx, ts[i], buf, ts[i]->dtype);
    if (st != DX_OK && !err[0])
      snprintf(err, errlen, "broadcasting parameters: %s", dx_error_message(ctx));
  }
  free(buf);
  return st;
}
