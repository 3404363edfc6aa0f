/* The CUDA backend module (libddpmx_cuda.so): its one entry point, which
 * opens a device and assembles the kernel table from the families, and the
 * error bookkeeping every family uses (module.h describes the contract). */
#include <stdio.h>
#include <stdlib.h>

#include "backend/cuda/cuda.h"
#include "backend/module.h"

/* The pool reserved when the backend opens, unless the experiment's
 * cuda.pool_mb says otherwise: enough for the parameters, optimiser state
 * and activations of the CIFAR-10 U-Net at batch 128, capped at half of the
 * free memory so that a second process can still start. Later regions are
 * at least GROW. */
#define POOL_FIRST ((size_t)8 << 30)
#define POOL_GROW ((size_t)1 << 30)

static void record(dx_backend *be, dx_status st, const char *what, const char *why) {
  dx_cuda *c = dx_cuda_of(be);
  if (c->status != DX_OK) return;
  c->status = st;
  snprintf(c->errmsg, sizeof c->errmsg, "cuda:%d (%s): %s: %s", c->device, c->gpu_name, what, why);
}

bool dx_cuda_ok(dx_backend *be, cudaError_t err, const char *what) {
  if (err == cudaSuccess) return true;
  record(be, err == cudaErrorMemoryAllocation ? DX_ERR_NOMEM : DX_ERR_DEVICE, what,
         cudaGetErrorString(err));
  return false;
}

bool dx_cuda_blas_ok(dx_backend *be, cublasStatus_t st, const char *what) {
  if (st == CUBLAS_STATUS_SUCCESS) return true;
  record(be, st == CUBLAS_STATUS_ALLOC_FAILED ? DX_ERR_NOMEM : DX_ERR_DEVICE, what,
         cublasGetStatusString(st));
  return false;
}

bool dx_cuda_dnn_ok(dx_backend *be, cudnnStatus_t st, const char *what) {
  if (st == CUDNN_STATUS_SUCCESS) return true;
  record(be, st == CUDNN_STATUS_ALLOC_FAILED ? DX_ERR_NOMEM : DX_ERR_DEVICE, what,
         cudnnGetErrorString(st));
  return false;
}

void dx_cuda_launched(dx_backend *be, const char *kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) dx_cuda_ok(be, err, kernel);
}

/* Waits for the compute stream; reports and clears the first failure. */
static dx_status cuda_synchronize(dx_backend *be, char *err, size_t errlen) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_ok(be, cudaStreamSynchronize(c->stream), "synchronize");
  dx_status st = c->status;
  if (st != DX_OK && err && errlen) snprintf(err, errlen, "%s", c->errmsg);
  c->status = DX_OK;
  c->errmsg[0] = '\0';
  return st;
}

static void cuda_set_threads(dx_backend *be, int threads) {
  (void)be, (void)threads; /* the host threads only launch kernels */
}

static void cuda_destroy(dx_backend *be) {
  if (!be) return;
  dx_cuda *c = dx_cuda_of(be);
  if (c) {
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->upload) cudaStreamSynchronize(c->upload);
    dx_cuda_conv_free(c);
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->blas) cublasDestroy(c->blas);
    for (int i = 0; i < DX_CUDA_STAGES; i++) {
      if (c->stage[i].host) cudaFreeHost(c->stage[i].host);
      if (c->stage[i].done) cudaEventDestroy(c->stage[i].done);
    }
    if (c->readback.host) cudaFreeHost(c->readback.host);
    for (int i = 0; i < DX_CUDA_AHEAD; i++) {
      if (c->ahead[i].buf.host) cudaFreeHost(c->ahead[i].buf.host);
      if (c->ahead[i].buf.done) cudaEventDestroy(c->ahead[i].buf.done);
    }
    if (c->queued) cudaEventDestroy(c->queued);
    if (c->stream) cudaStreamDestroy(c->stream);
    if (c->upload) cudaStreamDestroy(c->upload);
    dx_cuda_pool_release(&c->pool);
    free(c);
  }
  free(be);
}

/* Streams, events, library handles, the pool (pool_bytes, 0: POOL_FIRST
 * or half the free memory). */
static dx_status open_device(dx_backend *be, dx_cuda *c, size_t pool_bytes, char *err,
                             size_t errlen) {
  struct cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties(&prop, c->device);
  if (e == cudaSuccess) e = cudaSetDevice(c->device);
  if (e != cudaSuccess) {
    snprintf(err, errlen, "cuda:%d: %s", c->device, cudaGetErrorString(e));
    return DX_ERR_DEVICE;
  }
  snprintf(c->gpu_name, sizeof c->gpu_name, "%.*s", (int)sizeof c->gpu_name - 1, prop.name);
  /* a GPU's name is far shorter than either buffer; cut, never overflow */
  snprintf(be->device_name, sizeof be->device_name, "%.*s", (int)sizeof be->device_name - 1,
           prop.name);
  c->sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
  bool ok =
      dx_cuda_ok(be, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "stream") &&
      dx_cuda_ok(be, cudaStreamCreateWithFlags(&c->upload, cudaStreamNonBlocking), "stream") &&
      dx_cuda_ok(be, cudaEventCreateWithFlags(&c->queued, cudaEventDisableTiming), "event");
  for (int i = 0; ok && i < DX_CUDA_STAGES; i++)
    ok = dx_cuda_ok(be, cudaEventCreateWithFlags(&c->stage[i].done, cudaEventDisableTiming),
                    "event");
  for (int i = 0; ok && i < DX_CUDA_AHEAD; i++)
    ok = dx_cuda_ok(be, cudaEventCreateWithFlags(&c->ahead[i].buf.done, cudaEventDisableTiming),
                    "event");
  ok = ok && dx_cuda_blas_ok(be, cublasCreate(&c->blas), "cublasCreate") &&
       dx_cuda_blas_ok(be, cublasSetStream(c->blas, c->stream), "cublasSetStream") &&
       /* FP32 by default, so that products match the CPU backend; TF32 only
        * when asked for. */
       dx_cuda_blas_ok(
           be,
           cublasSetMathMode(c->blas, c->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
           "cublasSetMathMode") &&
       dx_cuda_dnn_ok(be, cudnnCreate(&c->dnn), "cudnnCreate") &&
       dx_cuda_dnn_ok(be, cudnnSetStream(c->dnn, c->stream), "cudnnSetStream");
  if (!ok) {
    snprintf(err, errlen, "%s", c->errmsg);
    return c->status;
  }
  size_t free_b = 0, total_b = 0;
  if (!dx_cuda_ok(be, cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo")) {
    snprintf(err, errlen, "%s", c->errmsg);
    return c->status;
  }
  size_t first = pool_bytes;
  if (!first) first = free_b / 2 < POOL_FIRST ? free_b / 2 : POOL_FIRST;
  if (dx_cuda_pool_init(&c->pool, first, POOL_GROW) != 0) {
    snprintf(err, errlen,
             "cuda:%d (%s): cannot reserve a pool of %zu MiB of device memory (%zu MiB free)",
             c->device, c->gpu_name, first >> 20, free_b >> 20);
    return DX_ERR_NOMEM;
  }
  c->d_sum = dx_cuda_pool_alloc(&c->pool, DX_CUDA_SUM_SLOTS * sizeof(double));
  if (!c->d_sum) {
    snprintf(err, errlen, "cuda:%d: out of device memory", c->device);
    return DX_ERR_NOMEM;
  }
  return DX_OK;
}

DX_MODULE_EXPORT dx_status dx_backend_module_create(int abi, int device_index, dx_backend **out,
                                                    char *err, size_t errlen,
                                                    const dx_gpu_opts *opts) {
  *out = NULL;
  if (abi != DX_BACKEND_ABI) {
    snprintf(err, errlen, "%s was built for backend ABI %d, libddpmx uses %d; rebuild ddpmx",
             DX_CUDA_MODULE_FILE, DX_BACKEND_ABI, abi);
    return DX_ERR_DEVICE;
  }
  int count = 0, driver = 0, runtime = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    /* Without a driver the runtime reports an "insufficient" one: say
     * which of the two it is, with the versions. */
    cudaDriverGetVersion(&driver); /* 0 when no driver is installed */
    cudaRuntimeGetVersion(&runtime);
    if (e == cudaErrorInsufficientDriver && driver == 0)
      snprintf(err, errlen, "no CUDA device found: no NVIDIA driver is installed (libcuda.so.1)");
    else if (e == cudaErrorInsufficientDriver)
      snprintf(err, errlen,
               "no CUDA device found: the NVIDIA driver supports CUDA %d.%d, this build of ddpmx "
               "needs %d.%d; update the driver",
               driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
    else
      snprintf(err, errlen, "no CUDA device found (cudaGetDeviceCount: %s)",
               e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return device_index == DX_BACKEND_ANY_DEVICE ? DX_OK : DX_ERR_DEVICE;
  }
  int index = device_index == DX_BACKEND_ANY_DEVICE ? 0 : device_index;
  if (index >= count) {
    snprintf(err, errlen, "cuda:%d is out of range: there %s %d CUDA device%s (cuda:0 to cuda:%d)",
             index, count == 1 ? "is" : "are", count, count == 1 ? "" : "s", count - 1);
    return DX_ERR_DEVICE;
  }
  dx_backend *be = calloc(1, sizeof *be);
  dx_cuda *c = calloc(1, sizeof *c);
  if (!be || !c) {
    free(be), free(c);
    snprintf(err, errlen, "out of memory creating the CUDA backend");
    return DX_ERR_NOMEM;
  }
  be->abi = DX_BACKEND_ABI;
  be->name = "cuda";
  be->kind = DX_DEVICE_CUDA;
  be->device_index = index;
  be->impl = c;
  be->destroy = cuda_destroy;
  be->synchronize = cuda_synchronize;
  be->set_threads = cuda_set_threads;
  c->device = index;
  /* Reproducible by default, as the CPU backend is; cuda.deterministic:
   * false lets cuDNN pick its fastest algorithms by timing instead. */
  c->deterministic = !opts->fastest_algorithms;
  c->tf32 = opts->tf32;
  dx_status st = open_device(be, c, opts->pool_bytes, err, errlen);
  if (st != DX_OK) {
    cuda_destroy(be);
    return st;
  }
  dx_cuda_init_memory(be);
  dx_cuda_init_random(be);
  dx_cuda_init_gemm(be);
  dx_cuda_init_conv(be);
  dx_cuda_init_elementwise(be);
  dx_cuda_init_reduce(be);
  dx_cuda_init_norm(be);
  dx_cuda_init_movement(be);
  dx_cuda_init_optim(be);
  *out = be;
  return DX_OK;
}
