/* Private to the CPU backend: NumPy-style broadcasting geometry and the
 * parallel loop that walks it, shared by the element-wise and reduction
 * kernels.
 *
 * Three operands take part: operand 0 has the full (broadcast) shape; 1 and 2
 * are stretched to it. After dropping size-1 dims of the full shape and
 * merging neighbours that every operand treats alike, a U-Net case such as
 * (N,C,H,W) op (N,C,1,1) becomes a 2-D walk (N*C planes of H*W) and a
 * same-shape op becomes one flat loop.
 *
 * The walk is organised around a "focus" operand, the one being written:
 * tasks never share an element of it, so kernels that accumulate into a
 * broadcast operand (the backward of a broadcast, a reduction) need no atomics
 * and give the same result for any thread count. */
#ifndef DX_CPU_BROADCAST_H
#define DX_CPU_BROADCAST_H

#include "backend/cpu/cpu.h"

#define DX_BCAST_OPERANDS 3

typedef struct dx_bcast {
  int nd; /* coalesced dims, 1..4; the last is the innermost run */
  int64_t size[DX_MAX_DIMS];
  int64_t stride[DX_BCAST_OPERANDS][DX_MAX_DIMS]; /* elements; 0 along a stretched dim */
  int64_t numel;                                  /* of the full shape */
} dx_bcast;

/* full has the broadcast shape; x1 and x2 (either may be NULL) broadcast to
 * it (the core has checked that they do). Along the innermost dim every
 * stride is 0 or 1. */
void dx_bcast_init(dx_bcast *g, const dx_tensor *full, const dx_tensor *x1, const dx_tensor *x2);

/* Callbacks of a walk. off[k] is operand k's element offset at the start of a
 * run of n elements along the innermost dim; inner strides are in g. */
typedef struct dx_bcast_fns {
  /* The focus advances along the run (stride 1): write n focus elements. */
  void (*run)(void *arg, const int64_t off[DX_BCAST_OPERANDS], int64_t n);
  /* The focus is fixed along the run (stride 0): return the run's
   * contribution, summed in double; then put adds a task's total to it. */
  double (*sum)(void *arg, const int64_t off[DX_BCAST_OPERANDS], int64_t n);
  void (*put)(void *arg, int64_t focus_off, double total);
} dx_bcast_fns;

/* Visits every element of the full shape once, in runs, in parallel when the
 * shape is large (DX_CPU_PAR_MIN). sum/put may be NULL when the focus is not
 * stretched along the innermost dim (dx_bcast_focus_runs). */
void dx_bcast_walk(const dx_bcast *g, int focus, const dx_bcast_fns *fns, void *arg);

/* True when operand k advances along the innermost dim (walk calls run). */
static inline bool dx_bcast_focus_runs(const dx_bcast *g, int k) {
  return g->stride[k][g->nd - 1] != 0;
}

/* task(ctx, t) for t in [0, n), spread over the OpenMP team when parallel.
 * The serial case never enters a parallel region: libgomp allocates a fresh
 * one-thread team for a region whose if() clause is false, and a warm
 * training step must not allocate. */
void dx_cpu_for(int64_t n, bool parallel, void (*task)(const void *ctx, int64_t t),
                const void *ctx);

/* Typed primitives shared by the kernel families. */
/* y (n) += c * x (n, stride sx in {0, 1}) */
void dx_cpu_axpy_run(dx_dtype dt, void *y, double c, const void *x, int64_t sx, int64_t n);
/* sum of x (n), in double */
double dx_cpu_sum_run(dx_dtype dt, const void *x, int64_t n);

#endif
