/* Private to the CUDA backend (libddpmx_cuda.so): its state, the device
 * memory pool, and the helpers every kernel family uses. Included by the
 * host-only files (compiled as C) and by the kernel files (compiled as C++ by
 * nvcc), so it stays in the common subset of the two.
 *
 * Every kernel runs on the backend's compute stream; the only other stream
 * carries batch uploads (memory.cu). Kernels cannot fail in the table's
 * contract, so a failed launch or library call is recorded in the backend
 * (the first one wins) and reported by the synchronize slot, which the core
 * calls wherever it reads results back. */
#ifndef DX_CUDA_H
#define DX_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- the device memory pool (pool.c) ----------------------------------------
 * One large cudaMalloc made when the backend is created serves parameters,
 * gradients, optimiser state, EMA weights, the per-step arena and the kernel
 * workspace. Blocks are split and coalesced in address order; a request the
 * pool cannot serve adds another region (counted in `grows`), which happens
 * only while the first steps find their peak. A warm step calls no cudaMalloc. */
typedef struct dx_cuda_block dx_cuda_block;
typedef struct dx_cuda_pool {
  dx_cuda_block *head; /* every block of every region, in address order per region */
  size_t reserved;     /* bytes obtained from cudaMalloc */
  size_t in_use, peak;
  unsigned long grows; /* cudaMalloc calls after the first */
  size_t grow_bytes;   /* least size of a region added later */
} dx_cuda_pool;

int dx_cuda_pool_init(dx_cuda_pool *p, size_t first_bytes, size_t grow_bytes);
void *dx_cuda_pool_alloc(dx_cuda_pool *p, size_t bytes);
void dx_cuda_pool_free(dx_cuda_pool *p, void *ptr);
void dx_cuda_pool_release(dx_cuda_pool *p);

/* A pinned host buffer and the event that says when the device is done with it. */
typedef struct dx_cuda_staging {
  void *host;
  size_t bytes;
  cudaEvent_t done;
} dx_cuda_staging;

typedef struct dx_cuda_conv_cache dx_cuda_conv_cache; /* conv.c */

/* Pinned upload buffers, used in turn: a buffer is reused only when its
 * upload has finished, which waits for the compute work queued before it.
 * A step uploads its batch and a few small tables (the schedule's
 * coefficients gathered per sample); with this many buffers the host waits
 * for the device only once the device is that many uploads behind. */
#define DX_CUDA_STAGES 16
#define DX_CUDA_SUM_SLOTS 512

/* An upload begun by write_start that the compute stream has not yet been
 * told to wait for (write_finish), with a pinned buffer of its own, so that
 * the ordinary uploads between the two never wait for it. The trainer keeps
 * two batches in turn, one in use and one arriving; a few more slots cost
 * nothing. */
#define DX_CUDA_AHEAD 4
typedef struct dx_cuda_ahead {
  const void *dst;        /* device memory written; NULL: unused */
  bool pending;           /* the compute stream does not wait for it yet */
  unsigned long long seq; /* when it started: the oldest slot is reused first */
  dx_cuda_staging buf;
} dx_cuda_ahead;

typedef struct dx_cuda {
  int device;
  char gpu_name[256];
  cudaStream_t stream; /* every kernel */
  cudaStream_t upload; /* host -> device copies of batches */
  cudaEvent_t queued;  /* marks the compute stream's work at an upload */
  cublasHandle_t blas;
  cudnnHandle_t dnn;
  dx_cuda_pool pool;
  dx_cuda_staging stage[DX_CUDA_STAGES]; /* uploads take these in turn */
  int next_stage;
  dx_cuda_staging readback;           /* device -> host */
  dx_cuda_ahead ahead[DX_CUDA_AHEAD]; /* write_start's uploads */
  unsigned long long ahead_seq;
  double *d_sum; /* DX_CUDA_SUM_SLOTS doubles on the device: sum_squares' partials */
  dx_cuda_conv_cache *conv;
  bool deterministic; /* cuDNN: only algorithms that give the same bits every run */
  bool tf32;          /* cuBLAS and cuDNN may use TF32 tensor cores (off: FP32 as the CPU) */
  int sm_count;
  /* the first failure, reported by synchronize */
  dx_status status;
  char errmsg[512];
} dx_cuda;

static inline dx_cuda *dx_cuda_of(dx_backend *be) { return (dx_cuda *)be->impl; }

/* Records the first failure; returns false when err is a failure. */
bool dx_cuda_ok(dx_backend *be, cudaError_t err, const char *what);
bool dx_cuda_blas_ok(dx_backend *be, cublasStatus_t st, const char *what);
bool dx_cuda_dnn_ok(dx_backend *be, cudnnStatus_t st, const char *what);
/* After a kernel launch: records a launch failure naming the kernel. */
void dx_cuda_launched(dx_backend *be, const char *kernel);

/* Each kernel family fills its slots of the table. */
void dx_cuda_init_memory(dx_backend *be);      /* memory.cu */
void dx_cuda_init_random(dx_backend *be);      /* random.cu: rand, dropout, time embedding */
void dx_cuda_init_gemm(dx_backend *be);        /* gemm.c */
void dx_cuda_init_conv(dx_backend *be);        /* conv.c */
void dx_cuda_init_elementwise(dx_backend *be); /* elementwise.cu */
void dx_cuda_init_reduce(dx_backend *be);      /* reduce.cu */
void dx_cuda_init_norm(dx_backend *be);        /* norm.cu: group norm (+ FiLM, SiLU), softmax */
void dx_cuda_init_movement(dx_backend *be);    /* movement.cu */
void dx_cuda_init_optim(dx_backend *be);       /* optim.cu */
void dx_cuda_conv_free(dx_cuda *c);            /* conv.c */

/* Sizes without calling up into core/tensor. */
static inline int64_t dx_cuda_numel(const dx_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}
static inline size_t dx_cuda_esize(dx_dtype dt) { return dt == DX_F32 ? 4 : 8; }

#ifdef __cplusplus
}
#endif

/* --- for the kernel files (nvcc) ------------------------------------------- */
#ifdef __CUDACC__

#define DX_CUDA_THREADS 256

/* Blocks for a grid-stride loop over n elements: enough to fill the device
 * several times over, never more than needed. */
static inline unsigned dx_cuda_blocks(const dx_cuda *c, int64_t n) {
  int64_t want = (n + DX_CUDA_THREADS - 1) / DX_CUDA_THREADS;
  int64_t cap = (int64_t)c->sm_count * 32;
  if (want > cap) want = cap;
  return (unsigned)(want > 0 ? want : 1);
}

/* The grid-stride loop, 64-bit indices. */
#define DX_CUDA_FOR(i, n)                                                                          \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
       i += (int64_t)gridDim.x * blockDim.x)

/* Launches kern<float> or kern<double> over a grid-stride loop of n elements
 * on the compute stream and records a launch failure. Kernels take tensor
 * data as void pointers and cast them to T, so that one argument list serves
 * both instances. */
#define DX_CUDA_LAUNCH_T(be, dt, n, kern, ...)                                                     \
  do {                                                                                             \
    dx_cuda *c_ = dx_cuda_of(be);                                                                  \
    int64_t n_ = (n);                                                                              \
    if (n_ <= 0) break;                                                                            \
    if ((dt) == DX_F32)                                                                            \
      kern<float><<<dx_cuda_blocks(c_, n_), DX_CUDA_THREADS, 0, c_->stream>>>(__VA_ARGS__);        \
    else                                                                                           \
      kern<double><<<dx_cuda_blocks(c_, n_), DX_CUDA_THREADS, 0, c_->stream>>>(__VA_ARGS__);       \
    dx_cuda_launched(be, #kern);                                                                   \
  } while (0)

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024), in
 * double; every thread gets the total. Shuffles within warps, then one value
 * per warp through shared memory: no atomics, a fixed order. */
static __device__ inline double dx_cuda_block_sum(double v) {
  __shared__ double part[32];
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_down_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads(); /* part[] may still be read by a previous call */
  if (lane == 0) part[warp] = v;
  __syncthreads();
  double t = 0;
  for (int w = 0; w < warps; w++)
    t += part[w];
  return t;
}

/* Maximum of v over the block; every thread gets it. */
static __device__ inline double dx_cuda_block_max(double v) {
  __shared__ double part[32];
  for (int o = 16; o > 0; o >>= 1)
    v = fmax(v, __shfl_down_sync(0xffffffffu, v, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  double t = part[0];
  for (int w = 1; w < warps; w++)
    t = fmax(t, part[w]);
  return t;
}

#endif /* __CUDACC__ */
#endif
