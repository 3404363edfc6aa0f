/* Host memory, host copies, fills and axpy for the CPU backend. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"

static void *cpu_alloc(dx_backend *be, size_t bytes) {
  (void)be;
  size_t rounded = (bytes + 63) / 64 * 64;
  return aligned_alloc(64, rounded ? rounded : 64);
}

static void cpu_free(dx_backend *be, void *p) {
  (void)be;
  free(p);
}

#define DX_TYPED_FILE "backend/cpu/memory_typed.inc"
#include "backend/cpu/typed.h"

/* dst (n, dst_dt) = src (n, src_dt): a conversion between the two types,
 * so a plain if rather than a typed function (cpu.h). */
static void convert(void *dst, dx_dtype dst_dt, const void *src, dx_dtype src_dt, int64_t n) {
  if (dst_dt == src_dt) {
    memmove(dst, src, (size_t)n * dx_dtype_size(dst_dt));
  } else if (dst_dt == DX_F32) {
    float *d = dst;
    const double *s = src;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for",
              for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];);
  } else {
    double *d = dst;
    const float *s = src;
    DX_PAR_IF(n > DX_CPU_PAR_MIN, "omp parallel for", for (int64_t i = 0; i < n; i++) d[i] = s[i];);
  }
}

static void cpu_write(dx_backend *be, dx_tensor *t, const void *src, dx_dtype src_dt) {
  convert(t->data, t->dtype, src, src_dt, dx_numel(t));
}

static void cpu_read(dx_backend *be, const dx_tensor *t, void *dst, dx_dtype dst_dt) {
  convert(dst, dst_dt, t->data, t->dtype, dx_numel(t));
}

static void cpu_copy(dx_backend *be, dx_tensor *dst, const dx_tensor *src) {
  convert(dst->data, dst->dtype, src->data, src->dtype, dx_numel(dst));
}

static void cpu_fill(dx_backend *be, dx_tensor *t, double v) {
  int64_t n = dx_numel(t);
  if (v == 0.0)
    memset(t->data, 0, (size_t)n * dx_dtype_size(t->dtype));
  else
    DX_TYPED(t->dtype, fill, t->data, n, v);
}

static void cpu_axpy(dx_backend *be, dx_tensor *y, double a, const dx_tensor *x) {
  DX_TYPED(y->dtype, axpy, y->data, a, x->data, dx_numel(y));
}

void dx_cpu_init_memory(dx_backend *be) {
  be->alloc = cpu_alloc;
  be->free = cpu_free;
  be->write = cpu_write;
  be->read = cpu_read;
  be->copy = cpu_copy;
  be->fill = cpu_fill;
  be->axpy = cpu_axpy;
}
