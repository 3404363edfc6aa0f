/* A backend built as a module of its own, loaded at run time.
 *
 * The CUDA backend lives in libddpmx_cuda.so, so that libddpmx and the
 * `ddpmx` binary start on machines with neither a GPU nor the CUDA
 * libraries: libddpmx dlopens the module only when an experiment asks for
 * `device: cuda`, `cuda:N` or `auto` (core/backend/registry.c). Like a
 * SQLite extension, the module exports ONE function, and versions are
 * checked before anything else:
 *
 *   DX_MODULE_EXPORT dx_status dx_backend_module_create(
 *       int abi, int device_index, dx_backend **out, char *err, size_t errlen,
 *       const dx_gpu_opts *opts);
 *
 * - abi is the host's DX_BACKEND_ABI. A module built against another value
 *   returns DX_ERR_DEVICE at once, touching nothing, with a line such as
 *   "libddpmx_cuda.so was built for backend ABI 1, libddpmx uses 2; rebuild
 *   ddpmx". The host checks again that the table it gets back carries its
 *   own DX_BACKEND_ABI in be->abi.
 * - device_index >= 0: open that device. Failures return DX_ERR_DEVICE (or
 *   DX_ERR_NOMEM) with one line in err, e.g. "no CUDA device found
 *   (cudaGetDeviceCount: ...)" or "cuda:3: there are 2 CUDA devices
 *   (cuda:0 to cuda:1)".
 * - opts (never NULL) holds the experiment's settings for the device
 *   (determinism, TF32, the pool's size). It comes last, so that a module
 *   of another ABI, called with fewer arguments, refuses the call before it
 *   could read it.
 * - device_index == DX_BACKEND_ANY_DEVICE (for `device: auto`): open device
 *   0 when there is one. When there is none, return DX_OK with *out = NULL
 *   and the reason in err; the host then runs on the CPU.
 * - on success *out is a filled table: abi = DX_BACKEND_ABI, name "cuda",
 *   kind DX_DEVICE_CUDA, device_index, device_name (the GPU's name, which
 *   the run records), destroy and synchronize set, impl at the module's
 *   will. The host frees it with be->destroy(be) and never unloads the
 *   module (see registry.c).
 *
 * The module may use libddpmx's own functions (it links against it); it
 * must not call dx_ctx functions: a backend sits below the context. */
#ifndef DX_BACKEND_MODULE_H
#define DX_BACKEND_MODULE_H

#include "backend/backend.h"

#define DX_BACKEND_MODULE_ENTRY "dx_backend_module_create"
#define DX_BACKEND_ANY_DEVICE (-1)
/* The CUDA module's file name, looked for beside libddpmx, in the build
 * tree and in the installed library folder; $DDPMX_CUDA_MODULE names a file
 * to use instead. */
#define DX_CUDA_MODULE_FILE "libddpmx_cuda.so"

#define DX_MODULE_EXPORT __attribute__((visibility("default")))

typedef dx_status (*dx_backend_module_create_fn)(int abi, int device_index, dx_backend **out,
                                                 char *err, size_t errlen, const dx_gpu_opts *opts);

/* Declared for the module's own definition to be checked against. */
DX_MODULE_EXPORT dx_status dx_backend_module_create(int abi, int device_index, dx_backend **out,
                                                    char *err, size_t errlen,
                                                    const dx_gpu_opts *opts);

#endif
