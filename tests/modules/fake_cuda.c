/* A stand-in for libddpmx_cuda.so, so that loading a device module and a
 * device that fails are tested on machines without a GPU: the CPU backend
 * dressed up as "cuda", built as a module with the one entry point of
 * core/backend/module.h. Its environment says how it behaves:
 *   FAKE_CUDA_DEVICES  how many devices it reports (default 1)
 *   FAKE_CUDA_FAIL     "adam": after the first Adam kernel every synchronize
 *                      reports a failed kernel, as a CUDA device reports an
 *                      asynchronous launch error at the next sync
 *   FAKE_CUDA_ABI      the ABI it writes into its table (default: the host's)
 * The settings it was opened with (an experiment's cuda section), when not
 * the defaults, follow the device's name, so that a test sees them arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/module.h"

/* An upload ahead (write_start) lands only at its write_finish, the latest
 * the backend contract allows, as on a GPU where the copy runs on a stream
 * of its own: a caller that uses the tensor before finishing it computes
 * with the old values, and its numbers leave the CPU's. */
#define PENDING 4
typedef struct pending {
  const dx_tensor *t;
  void *src;
  dx_dtype dt;
} pending;

typedef struct fake {
  void (*cpu_adam)(dx_backend *, dx_tensor *, const dx_tensor *, dx_tensor *, dx_tensor *,
                   const dx_adam_args *);
  void (*cpu_destroy)(dx_backend *);
  void (*cpu_write)(dx_backend *, dx_tensor *, const void *, dx_dtype);
  bool fail_after_adam, failed;
  pending ahead[PENDING];
} fake;

static void land(dx_backend *be, pending *p) {
  if (!p->t) return;
  ((fake *)be->impl)->cpu_write(be, (dx_tensor *)p->t, p->src, p->dt);
  free(p->src);
  *p = (pending){0};
}

static void fake_write_start(dx_backend *be, dx_tensor *t, const void *src, dx_dtype dt) {
  fake *f = be->impl;
  pending *p = NULL;
  for (int i = 0; i < PENDING && !p; i++)
    if (f->ahead[i].t == t || !f->ahead[i].t) p = &f->ahead[i];
  if (!p) p = &f->ahead[0];
  land(be, p); /* a second start for t, or no free slot: the older one lands first */
  size_t bytes = (size_t)dx_numel(t) * (dt == DX_F32 ? 4 : 8);
  p->src = malloc(bytes);
  if (!p->src) { /* cannot defer: write now */
    f->cpu_write(be, t, src, dt);
    return;
  }
  memcpy(p->src, src, bytes);
  p->t = t, p->dt = dt;
}

static void fake_write_finish(dx_backend *be, const dx_tensor *t) {
  fake *f = be->impl;
  for (int i = 0; i < PENDING; i++)
    if (f->ahead[i].t == t) land(be, &f->ahead[i]);
}

static int env_int(const char *name, int fallback) {
  const char *s = getenv(name);
  return s && *s ? atoi(s) : fallback;
}

static void fake_adam(dx_backend *be, dx_tensor *p, const dx_tensor *g, dx_tensor *m, dx_tensor *v,
                      const dx_adam_args *a) {
  fake *f = be->impl;
  f->cpu_adam(be, p, g, m, v, a);
  if (f->fail_after_adam) f->failed = true;
}

static dx_status fake_synchronize(dx_backend *be, char *err, size_t errlen) {
  fake *f = be->impl;
  if (!f->failed) return DX_OK;
  snprintf(err, errlen, "cuda:%d (%s): an illegal memory access was encountered", be->device_index,
           be->device_name);
  return DX_ERR_DEVICE;
}

static void fake_destroy(dx_backend *be) {
  fake *f = be->impl;
  void (*cpu_destroy)(dx_backend *) = f->cpu_destroy;
  for (int i = 0; i < PENDING; i++)
    free(f->ahead[i].src);
  free(f);
  cpu_destroy(be);
}

DX_MODULE_EXPORT dx_status dx_backend_module_create(int abi, int device_index, dx_backend **out,
                                                    char *err, size_t errlen,
                                                    const dx_gpu_opts *opts) {
  *out = NULL;
  if (abi != DX_BACKEND_ABI) {
    snprintf(err, errlen, "fake_cuda.so was built for backend ABI %d, libddpmx uses %d",
             DX_BACKEND_ABI, abi);
    return DX_ERR_DEVICE;
  }
  int devices = env_int("FAKE_CUDA_DEVICES", 1);
  if (devices == 0) {
    snprintf(err, errlen, "no CUDA device found (fake)");
    return device_index == DX_BACKEND_ANY_DEVICE ? DX_OK : DX_ERR_DEVICE;
  }
  if (device_index == DX_BACKEND_ANY_DEVICE) device_index = 0;
  if (device_index >= devices) {
    snprintf(err, errlen, "cuda:%d is out of range: there are %d CUDA devices (cuda:0 to cuda:%d)",
             device_index, devices, devices - 1);
    return DX_ERR_DEVICE;
  }
  fake *f = calloc(1, sizeof *f);
  dx_backend *be = f ? dx_cpu_backend_create() : NULL;
  if (!be) {
    free(f);
    snprintf(err, errlen, "out of memory");
    return DX_ERR_NOMEM;
  }
  const char *fail = getenv("FAKE_CUDA_FAIL");
  f->fail_after_adam = fail && strcmp(fail, "adam") == 0;
  f->cpu_adam = be->adam;
  f->cpu_write = be->write;
  f->cpu_destroy = be->destroy;
  be->abi = env_int("FAKE_CUDA_ABI", DX_BACKEND_ABI);
  be->name = "cuda";
  be->kind = DX_DEVICE_CUDA;
  be->device_index = device_index;
  snprintf(be->device_name, sizeof be->device_name, "Fake GPU %d", device_index);
  if (opts->fastest_algorithms || opts->tf32 || opts->pool_bytes)
    snprintf(be->device_name, sizeof be->device_name, "Fake GPU %d [%s%s pool %zu MiB]",
             device_index, opts->fastest_algorithms ? "fastest " : "deterministic ",
             opts->tf32 ? "tf32" : "fp32", opts->pool_bytes >> 20);
  be->impl = f;
  be->adam = fake_adam;
  be->synchronize = fake_synchronize;
  be->write_start = fake_write_start;
  be->write_finish = fake_write_finish;
  be->destroy = fake_destroy;
  *out = be;
  return DX_OK;
}
