/* The backend registry: from a device request (cpu, cuda:N, auto) to a
 * backend table. The CPU backend is built in; the CUDA one is a module
 * loaded on demand (module.h), so that a machine without the CUDA libraries
 * never loads them. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/module.h"

static dx_status open_cpu(dx_backend **out, char *err, size_t errlen) {
  *out = dx_cpu_backend_create();
  if (*out) return DX_OK;
  snprintf(err, errlen, "out of memory creating the CPU backend");
  return DX_ERR_NOMEM;
}

/* dir/file into buf when that file exists. */
static bool found(char *buf, size_t len, const char *dir, const char *file) {
  if (!dir || !*dir) return false;
  if ((size_t)snprintf(buf, len, "%s/%s", dir, file) >= len) return false;
  return access(buf, F_OK) == 0;
}

/* Where the module is: $DDPMX_CUDA_MODULE alone when set; else beside
 * libddpmx (an install or the build tree's library folder), the build
 * tree's module folder, the installed library folder. */
static bool locate(char *path, size_t len) {
  const char *env = getenv("DDPMX_CUDA_MODULE");
  if (env && *env) {
    snprintf(path, len, "%s", env);
    return access(path, F_OK) == 0;
  }
  Dl_info info;
  if (dladdr((void *)dx_backend_open, &info) && info.dli_fname) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (slash && found(path, len, dir, DX_CUDA_MODULE_FILE)) return true;
  }
  return found(path, len, DDPMX_BUILD_MODULE_DIR, DX_CUDA_MODULE_FILE) ||
         found(path, len, DDPMX_INSTALL_MODULE_DIR, DX_CUDA_MODULE_FILE);
}

/* Loads the module and asks it for a backend on device `index` (or
 * DX_BACKEND_ANY_DEVICE). The module stays loaded for the life of the
 * process: the CUDA runtime registers exit handlers and kernels with the
 * driver, and unloading it under them crashes at exit. dlopen counts
 * references, so opening it again costs nothing. */
static dx_status open_module(const char *what, int index, const dx_gpu_opts *gpu, dx_backend **out,
                             char *err, size_t errlen) {
  char path[4096];
  if (!locate(path, sizeof path)) {
    const char *env = getenv("DDPMX_CUDA_MODULE");
    if (env && *env)
      snprintf(err, errlen, "device %s: DDPMX_CUDA_MODULE names %s, which does not exist", what,
               env);
    else
      snprintf(
          err, errlen,
          "device %s: this build of ddpmx has no CUDA module (%s was not built: it needs nvcc, the "
          "CUDA runtime, cuBLAS and cuDNN at build time); use device: cpu",
          what, DX_CUDA_MODULE_FILE);
    return DX_ERR_DEVICE;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, errlen, "device %s: cannot load the CUDA module: %s", what, dlerror());
    return DX_ERR_DEVICE;
  }
  dx_backend_module_create_fn create;
  *(void **)&create = dlsym(h, DX_BACKEND_MODULE_ENTRY);
  if (!create) {
    snprintf(err, errlen, "device %s: %s is not a ddpmx backend module (no %s)", what, path,
             DX_BACKEND_MODULE_ENTRY);
    return DX_ERR_DEVICE;
  }
  char why[DX_ERRMSG_MAX] = "";
  dx_gpu_opts defaults = {0};
  dx_status st = create(DX_BACKEND_ABI, index, out, why, sizeof why, gpu ? gpu : &defaults);
  if (st != DX_OK) {
    *out = NULL;
    if (why[0])
      snprintf(err, errlen, "device %s: %s", what, why);
    else
      snprintf(err, errlen, "device %s: the CUDA module failed with status %d and no message", what,
               (int)st);
    return st;
  }
  if (!*out) {
    snprintf(err, errlen, "device %s: %s", what, why[0] ? why : "no CUDA device");
    return index == DX_BACKEND_ANY_DEVICE ? DX_OK : DX_ERR_DEVICE;
  }
  dx_backend *be = *out;
  if (be->abi != DX_BACKEND_ABI || !be->destroy || !be->synchronize) {
    if (be->abi != DX_BACKEND_ABI)
      snprintf(err, errlen,
               "device %s: %s returned a backend table of ABI %d, but libddpmx uses ABI %d: "
               "rebuild ddpmx",
               what, path, be->abi, DX_BACKEND_ABI);
    else
      snprintf(err, errlen, "device %s: %s returned a backend table without destroy or synchronize",
               what, path);
    *out = NULL; /* its layout is unknown: leaking it is the only safe thing */
    return DX_ERR_DEVICE;
  }
  return DX_OK;
}

dx_status dx_backend_open(dx_device dev, const dx_gpu_opts *gpu, dx_backend **out, char *err,
                          size_t errlen) {
  *out = NULL;
  char what[32];
  switch (dev.kind) {
  case DX_DEVICE_CPU: return open_cpu(out, err, errlen);
  case DX_DEVICE_CUDA:
    if (dev.index < 0) {
      snprintf(err, errlen, "device cuda:%d: a device number is 0 or more", dev.index);
      return DX_ERR_DEVICE;
    }
    snprintf(what, sizeof what, "cuda:%d", dev.index);
    return open_module(what, dev.index, gpu, out, err, errlen);
  case DX_DEVICE_AUTO:
    /* CUDA when the module loads and reports a device; anything else,
     * whatever the reason, means the CPU. */
    if (open_module("auto", DX_BACKEND_ANY_DEVICE, gpu, out, err, errlen) == DX_OK && *out)
      return DX_OK;
    return open_cpu(out, err, errlen);
  }
  snprintf(err, errlen, "device: unknown kind %d", (int)dev.kind);
  return DX_ERR_INVALID;
}
