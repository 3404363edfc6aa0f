/* CUDA kernels and copies: device memory from the pool, host <-> device
 * copies through pinned buffers, fills, conversions and axpy.
 *
 * An upload (write) copies the host data into one of the pinned buffers,
 * which the host may then forget, and sends it on the upload stream; the
 * compute stream waits for it by an event, so the host returns at once and
 * prepares the next batch while the device computes. The upload first waits
 * for the compute work queued so far, because the destination may be arena
 * memory that the previous step's kernels still use. A pinned buffer is
 * reused only once its previous upload has finished. An upload ahead
 * (write_start) is the same copy without the compute stream's wait, which
 * write_finish adds just before the data is used: the next batch lands while
 * the current step runs. */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda.h"

static void *cuda_alloc(dx_backend *be, size_t bytes) {
  return dx_cuda_pool_alloc(&dx_cuda_of(be)->pool, bytes);
}

static void finish_uploads_to(dx_backend *be, const void *dst);

/* Memory an upload ahead may still be landing in is reused only after it:
 * the compute stream waits for that upload before anything queued later. */
static void cuda_free(dx_backend *be, void *p) {
  dx_cuda *c = dx_cuda_of(be);
  finish_uploads_to(be, p);
  for (int i = 0; i < DX_CUDA_AHEAD; i++)
    if (c->ahead[i].dst == p) c->ahead[i].dst = NULL;
  dx_cuda_pool_free(&c->pool, p);
}

/* Host-side conversion: dst (n, dst_dt) = src (n, src_dt). */
static void convert_host(void *dst, dx_dtype dst_dt, const void *src, dx_dtype src_dt, int64_t n) {
  if (dst_dt == src_dt) {
    memcpy(dst, src, (size_t)n * dx_cuda_esize(dst_dt));
  } else if (dst_dt == DX_F32) {
    float *d = (float *)dst;
    const double *s = (const double *)src;
    for (int64_t i = 0; i < n; i++)
      d[i] = (float)s[i];
  } else {
    double *d = (double *)dst;
    const float *s = (const float *)src;
    for (int64_t i = 0; i < n; i++)
      d[i] = s[i];
  }
}

/* Makes st hold at least bytes of pinned memory; false (recorded) if not. */
static bool staging_reserve(dx_backend *be, dx_cuda_staging *st, size_t bytes) {
  if (st->bytes >= bytes) return true;
  if (st->host) cudaFreeHost(st->host);
  st->host = NULL;
  st->bytes = 0;
  if (!dx_cuda_ok(be, cudaHostAlloc(&st->host, bytes, cudaHostAllocDefault), "pinned host buffer"))
    return false;
  st->bytes = bytes;
  return true;
}

/* Fills st with t's values converted from src (host) once st's previous
 * upload has finished; false (recorded) on failure. */
static bool stage(dx_backend *be, dx_cuda_staging *st, const dx_tensor *t, const void *src,
                  dx_dtype src_dt) {
  int64_t n = dx_cuda_numel(t);
  if (!dx_cuda_ok(be, cudaEventSynchronize(st->done), "waiting for an earlier upload") ||
      !staging_reserve(be, st, (size_t)n * dx_cuda_esize(t->dtype)))
    return false;
  convert_host(st->host, t->dtype, src, src_dt, n);
  return true;
}

/* Sends st to t on the upload stream, after every kernel queued so far (t
 * may be memory they still use), and records st->done when it lands. */
static bool send(dx_backend *be, dx_cuda_staging *st, dx_tensor *t) {
  dx_cuda *c = dx_cuda_of(be);
  size_t bytes = (size_t)dx_cuda_numel(t) * dx_cuda_esize(t->dtype);
  return dx_cuda_ok(be, cudaEventRecord(c->queued, c->stream), "upload: mark") &&
         dx_cuda_ok(be, cudaStreamWaitEvent(c->upload, c->queued, 0), "upload: wait for compute") &&
         dx_cuda_ok(be,
                    cudaMemcpyAsync(t->data, st->host, bytes, cudaMemcpyHostToDevice, c->upload),
                    "upload") &&
         dx_cuda_ok(be, cudaEventRecord(st->done, c->upload), "upload: done");
}

/* t (n, t's dtype) = src (n, src_dt) from the host; kernels queued next see it */
static void cuda_write(dx_backend *be, dx_tensor *t, const void *src, dx_dtype src_dt) {
  dx_cuda *c = dx_cuda_of(be);
  if (dx_cuda_numel(t) == 0) return;
  dx_cuda_staging *st = &c->stage[c->next_stage];
  c->next_stage = (c->next_stage + 1) % DX_CUDA_STAGES;
  if (stage(be, st, t, src, src_dt) && send(be, st, t))
    dx_cuda_ok(be, cudaStreamWaitEvent(c->stream, st->done, 0), "compute: wait for upload");
}

/* --- uploads ahead of time (write_start, write_finish) ----------------------------- */

/* Makes the compute stream wait for a's upload. */
static void finish(dx_backend *be, dx_cuda_ahead *a) {
  if (!a->pending) return;
  a->pending = false;
  dx_cuda_ok(be, cudaStreamWaitEvent(dx_cuda_of(be)->stream, a->buf.done, 0),
             "compute: wait for an upload");
}

/* The slot of an upload to dst: its last one, else the least recent that is
 * finished, else the least recent (finished now). */
static dx_cuda_ahead *ahead_slot(dx_backend *be, const void *dst) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_ahead *best = NULL;
  for (int i = 0; i < DX_CUDA_AHEAD; i++)
    if (c->ahead[i].dst == dst) return &c->ahead[i];
  for (int pass = 0; pass < 2 && !best; pass++)
    for (int i = 0; i < DX_CUDA_AHEAD; i++) {
      dx_cuda_ahead *a = &c->ahead[i];
      if ((pass == 0 && a->pending) || (best && best->seq <= a->seq)) continue;
      best = a;
    }
  finish(be, best);
  return best;
}

/* t = src like write, but the compute stream waits for it only at
 * write_finish(t): the copy overlaps the kernels queued in between. */
static void cuda_write_start(dx_backend *be, dx_tensor *t, const void *src, dx_dtype src_dt) {
  dx_cuda *c = dx_cuda_of(be);
  if (dx_cuda_numel(t) == 0) return;
  dx_cuda_ahead *a = ahead_slot(be, t->data);
  /* a second start before the finish: the two land in order on the upload
   * stream, and the finish waits for the later one */
  a->dst = t->data;
  a->seq = ++c->ahead_seq;
  if (stage(be, &a->buf, t, src, src_dt) && send(be, &a->buf, t)) a->pending = true;
}

static void finish_uploads_to(dx_backend *be, const void *dst) {
  dx_cuda *c = dx_cuda_of(be);
  for (int i = 0; i < DX_CUDA_AHEAD; i++)
    if (c->ahead[i].dst == dst) finish(be, &c->ahead[i]);
}

static void cuda_write_finish(dx_backend *be, const dx_tensor *t) {
  finish_uploads_to(be, t->data);
}

/* dst (n, dst_dt) on the host = t; waits for the compute stream. */
static void cuda_read(dx_backend *be, const dx_tensor *t, void *dst, dx_dtype dst_dt) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = dx_cuda_numel(t);
  size_t bytes = (size_t)n * dx_cuda_esize(t->dtype);
  if (n == 0) return;
  finish_uploads_to(be, t->data); /* an upload ahead to t lands before the read */
  /* On failure dst holds NaN, never stale numbers; the error is recorded. */
  bool ok =
      staging_reserve(be, &c->readback, bytes) &&
      dx_cuda_ok(
          be, cudaMemcpyAsync(c->readback.host, t->data, bytes, cudaMemcpyDeviceToHost, c->stream),
          "download") &&
      dx_cuda_ok(be, cudaStreamSynchronize(c->stream), "download: synchronize");
  if (ok) {
    convert_host(dst, dst_dt, c->readback.host, t->dtype, n);
  } else if (dst_dt == DX_F32) {
    for (int64_t i = 0; i < n; i++)
      ((float *)dst)[i] = __builtin_nanf("");
  } else {
    for (int64_t i = 0; i < n; i++)
      ((double *)dst)[i] = __builtin_nan("");
  }
}

template <typename T> __global__ void fill_kernel(void *yv, int64_t n, double v) {
  T *y = (T *)yv, f = (T)v;
  DX_CUDA_FOR(i, n) y[i] = f;
}

/* t (n) = v */
static void cuda_fill(dx_backend *be, dx_tensor *t, double v) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = dx_cuda_numel(t);
  if (v == 0.0) {
    dx_cuda_ok(be, cudaMemsetAsync(t->data, 0, (size_t)n * dx_cuda_esize(t->dtype), c->stream),
               "fill");
    return;
  }
  DX_CUDA_LAUNCH_T(be, t->dtype, n, fill_kernel, t->data, n, v);
}

template <typename D, typename S> __global__ void convert_kernel(D *y, const S *x, int64_t n) {
  DX_CUDA_FOR(i, n) y[i] = (D)x[i];
}

/* dst (n) = src (n), converting the dtype */
static void cuda_copy(dx_backend *be, dx_tensor *dst, const dx_tensor *src) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = dx_cuda_numel(dst);
  if (n == 0) return;
  if (dst->dtype == src->dtype) {
    dx_cuda_ok(be,
               cudaMemcpyAsync(dst->data, src->data, (size_t)n * dx_cuda_esize(dst->dtype),
                               cudaMemcpyDeviceToDevice, c->stream),
               "copy");
  } else if (dst->dtype == DX_F32) {
    convert_kernel<float, double><<<dx_cuda_blocks(c, n), DX_CUDA_THREADS, 0, c->stream>>>(
        (float *)dst->data, (const double *)src->data, n);
    dx_cuda_launched(be, "convert_kernel");
  } else {
    convert_kernel<double, float><<<dx_cuda_blocks(c, n), DX_CUDA_THREADS, 0, c->stream>>>(
        (double *)dst->data, (const float *)src->data, n);
    dx_cuda_launched(be, "convert_kernel");
  }
}

template <typename T> __global__ void axpy_kernel(void *yv, double a, const void *xv, int64_t n) {
  T *y = (T *)yv, af = (T)a;
  const T *x = (const T *)xv;
  DX_CUDA_FOR(i, n) y[i] += af * x[i];
}

/* y (n) += a * x (n) */
static void cuda_axpy(dx_backend *be, dx_tensor *y, double a, const dx_tensor *x) {
  int64_t n = dx_cuda_numel(y);
  DX_CUDA_LAUNCH_T(be, y->dtype, n, axpy_kernel, y->data, a, x->data, n);
}

void dx_cuda_init_memory(dx_backend *be) {
  be->alloc = cuda_alloc;
  be->free = cuda_free;
  be->write = cuda_write;
  be->read = cuda_read;
  be->write_start = cuda_write_start;
  be->write_finish = cuda_write_finish;
  be->fill = cuda_fill;
  be->copy = cuda_copy;
  be->axpy = cuda_axpy;
}
