/* dx_ctx: the state a computation needs, passed explicitly (no globals).
 *
 * A context owns the backend (CPU now, CUDA later), the per-step arena that
 * holds activations and the autograd tape, the persistent store of parameters,
 * the thread count and the error buffer. One context per thread of work. */
#ifndef DDPMX_CTX_H
#define DDPMX_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dx_ctx dx_ctx;

typedef enum dx_device_kind {
  DX_DEVICE_CPU = 0,
  DX_DEVICE_CUDA = 1,
  DX_DEVICE_AUTO = 2 /* a request only: CUDA when the module and a GPU are there, else the CPU */
} dx_device_kind;
/* The word of each kind, in order: an experiment's device is cpu, cuda, cuda:N or auto. */
#define DX_DEVICE_WORDS "cpu|cuda|auto"

typedef struct dx_device {
  dx_device_kind kind;
  int index; /* cuda:N; 0 for the CPU */
} dx_device;

/* Settings of a GPU backend (an experiment's `cuda` section); all zero is
 * the default, and the CPU backend ignores them. */
typedef struct dx_gpu_opts {
  /* Let cuDNN time its algorithms and take the fastest, which may be one
   * whose results differ in the last bits from run to run. Off: only
   * algorithms that give the same bits every run. */
  bool fastest_algorithms;
  bool tf32;         /* allow TF32 tensor cores in matrix products and convolutions */
  size_t pool_bytes; /* device memory reserved up front; 0: 8 GiB or half the free memory */
} dx_gpu_opts;

typedef struct dx_ctx_opts {
  dx_device device;
  /* 0: $DDPMX_THREADS, else every CPU the process may use (its affinity
   * mask, capped by a cgroup CPU quota). Applied when the context is created
   * to OpenMP (for the creating thread) and to OpenBLAS, whose settings are
   * process-wide: contexts used from one thread share the last setting. */
  int threads;
  size_t arena_bytes; /* initial arena size; 0: a sensible default */
  dx_gpu_opts gpu;
} dx_ctx_opts;

/* Creates a context. On failure returns NULL and, if err is not NULL, writes
 * the reason there (errlen bytes at most). */
DX_API dx_ctx *dx_ctx_create(const dx_ctx_opts *opts, char *err, size_t errlen);
DX_API void dx_ctx_free(dx_ctx *ctx);

/* The device the context runs on (never DX_DEVICE_AUTO), and its name:
 * "cpu", or the GPU's name as its driver gives it. */
DX_API dx_device dx_ctx_device(const dx_ctx *ctx);
DX_API const char *dx_ctx_device_name(const dx_ctx *ctx);
DX_API int dx_ctx_threads(const dx_ctx *ctx);

/* --- errors ------------------------------------------------------------ */

/* Records an error unless one is already recorded; returns the status in
 * force (so `return dx_set_error(ctx, ...)` reads naturally). */
DX_API dx_status dx_set_error(dx_ctx *ctx, dx_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
DX_API dx_status dx_status_of(const dx_ctx *ctx);
DX_API const char *dx_error_message(const dx_ctx *ctx);
DX_API void dx_clear_error(dx_ctx *ctx);

/* Waits until the device has finished what was queued. Returns DX_OK, or
 * the device's failure since the last call (out of memory, a kernel that
 * failed), which is also recorded in the context as one line. A device may run kernels
 * asynchronously, so the core calls this wherever results are read back;
 * dx_tensor_read does it for every read. */
DX_API dx_status dx_synchronize(dx_ctx *ctx);

/* --- the per-step arena -------------------------------------------------- */

/* Releases every activation, gradient of an activation and tape node made
 * since the last reset. Parameters and their gradients are untouched. After
 * the first few steps the arena has grown to the step's peak and a reset
 * hands memory back without calling the system allocator. */
DX_API void dx_step_reset(dx_ctx *ctx);

typedef struct dx_arena_stats {
  size_t used;         /* bytes in use now (metadata and data) */
  size_t peak;         /* high-water mark since creation */
  size_t capacity;     /* bytes reserved */
  uint64_t sys_allocs; /* times the arena asked the system for memory */
} dx_arena_stats;
DX_API dx_arena_stats dx_arena_stats_of(const dx_ctx *ctx);

/* Workspace for one kernel call (backend memory): valid until the next call
 * of dx_scratch on this context, which may return the same buffer. */
DX_API void *dx_scratch(dx_ctx *ctx, size_t bytes);

/* --- autograd mode ------------------------------------------------------- */

/* While disabled, ops record nothing (sampling, evaluation). Returns the
 * previous setting so that callers can restore it. */
DX_API bool dx_set_grad_enabled(dx_ctx *ctx, bool enabled);
DX_API bool dx_grad_enabled(const dx_ctx *ctx);

/* Dropout and other stochastic ops draw from a counter-based stream keyed by
 * (seed, counter): reproducible and identical on every backend. */
DX_API void dx_set_seed(dx_ctx *ctx, uint64_t seed);
DX_API uint64_t dx_next_rng_offset(dx_ctx *ctx, uint64_t count);
/* This context computes samples [first, first + n) of a batch of `total`
 * (data-parallel ranks; 0, 0, 0 or a whole batch: no split). A draw of
 * `count` values over the n samples then takes the offsets that its samples
 * would take in a draw over the whole batch, so each sample's dropout mask
 * is the same however the batch is split. Kept across dx_set_seed. */
DX_API void dx_set_rng_share(dx_ctx *ctx, int64_t first, int64_t n, int64_t total);

/* --- pieces of work on the CPU threads ----------------------------------- */

/* Runs piece(w, i, arg) for every i < n. On the CPU with several threads,
 * without the tape and outside a parallel region, the pieces are shared out
 * between the threads as each comes free, and each piece runs start to end
 * on one thread in a context of its own (one thread, no tape, kept with ctx
 * and reset after the call, so nothing a piece makes outlives it: it writes
 * its results into tensors of ctx). The threads then meet once per call,
 * not once per op, and a thread that falls behind takes fewer pieces. Elsewhere the
 * pieces run in order in ctx. The first error of a piece becomes ctx's, and
 * no piece starts after it. */
typedef void (*dx_piece_fn)(dx_ctx *w, int64_t i, void *arg);
DX_API dx_status dx_run_pieces(dx_ctx *ctx, int64_t n, dx_piece_fn piece, void *arg);

#ifdef __cplusplus
}
#endif
#endif
